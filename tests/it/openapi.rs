//! The OpenAPI document at /api/openapi.json: generated from the route table, it names
//! every route of the REST API, and every route it names answers.

use axum::http::{Method, StatusCode};

use crate::helpers::TestApp;

/// Every REST route, as the issue lists them; a route added without documentation, or
/// documented without being served, fails one of the tests below.
const EXPECTED: &[(&str, &str)] = &[
    ("get", "/api/v1/whoami"),
    ("delete", "/api/v1/session"),
    ("get", "/api/v1/service-accounts"),
    ("post", "/api/v1/service-accounts"),
    ("get", "/api/v1/service-accounts/{id}"),
    ("patch", "/api/v1/service-accounts/{id}"),
    ("delete", "/api/v1/service-accounts/{id}"),
    ("post", "/api/v1/service-accounts/{id}/regenerate"),
    ("get", "/api/v1/service-accounts/{id}/sessions"),
    ("delete", "/api/v1/service-accounts/{id}/sessions"),
    ("delete", "/api/v1/service-accounts/{id}/sessions/{jti}"),
    ("get", "/api/v1/roles"),
    ("post", "/api/v1/roles"),
    ("get", "/api/v1/roles/{id}"),
    ("patch", "/api/v1/roles/{id}"),
    ("delete", "/api/v1/roles/{id}"),
    ("get", "/api/v1/groups"),
    ("post", "/api/v1/groups"),
    ("get", "/api/v1/groups/{id}"),
    ("patch", "/api/v1/groups/{id}"),
    ("delete", "/api/v1/groups/{id}"),
    ("get", "/api/v1/audit-events"),
    ("get", "/api/v1/service-accounts/{id}/tokens"),
    ("post", "/api/v1/service-accounts/{id}/tokens"),
    ("delete", "/api/v1/service-accounts/{id}/tokens/{token_id}"),
    ("get", "/api/v1/service-accounts/{id}/keys"),
    ("post", "/api/v1/service-accounts/{id}/keys"),
    ("delete", "/api/v1/service-accounts/{id}/keys/{kid}"),
    ("get", "/api/v1/trusted-issuers"),
    ("post", "/api/v1/trusted-issuers"),
    ("get", "/api/v1/trusted-issuers/{id}"),
    ("patch", "/api/v1/trusted-issuers/{id}"),
    ("delete", "/api/v1/trusted-issuers/{id}"),
    ("get", "/api/v1/service-accounts/{id}/federated-credentials"),
    (
        "post",
        "/api/v1/service-accounts/{id}/federated-credentials",
    ),
    (
        "delete",
        "/api/v1/service-accounts/{id}/federated-credentials/{fid}",
    ),
    ("get", "/api/v1/signing-keys"),
    ("post", "/api/v1/signing-keys/rotate"),
    ("get", "/api/v1/policies"),
    ("patch", "/api/v1/policies"),
    ("get", "/api/v1/apis"),
    ("post", "/api/v1/apis"),
    ("get", "/api/v1/apis/{id}"),
    ("patch", "/api/v1/apis/{id}"),
    ("delete", "/api/v1/apis/{id}"),
    ("get", "/api/v1/nodes"),
    ("post", "/api/v1/nodes"),
    ("get", "/api/v1/nodes/{id}"),
    ("patch", "/api/v1/nodes/{id}"),
    ("delete", "/api/v1/nodes/{id}"),
];

#[tokio::test]
async fn every_route_is_in_the_document_and_nothing_else() {
    let app = TestApp::spawn().await;
    let res = app.get("/api/openapi.json").send().await;
    assert_eq!(res.status, StatusCode::OK);
    let doc = res.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().expect("paths");
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(documented, expected);
    // Writes document their body and secrets say they are shown once.
    let create = &paths["/api/v1/service-accounts"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["required"][0],
        "name"
    );
    assert!(
        create["responses"]["201"]["description"]
            .as_str()
            .unwrap()
            .contains("only in this response")
    );
    // The new resources document their bodies: an API's identifier, a node's parent, and
    // the bindings of accounts and groups.
    let api = &paths["/api/v1/apis"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        ["properties"];
    for field in ["name", "identifier", "description", "permissions"] {
        assert!(
            api.get(field).is_some(),
            "POST /apis documents {field}: {api}"
        );
    }
    let node = &paths["/api/v1/nodes"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        ["properties"];
    for field in ["name", "kind", "parent"] {
        assert!(
            node.get(field).is_some(),
            "POST /nodes documents {field}: {node}"
        );
    }
    for path in ["/api/v1/service-accounts/{id}", "/api/v1/groups/{id}"] {
        let body = &paths[path]["patch"]["requestBody"]["content"]["application/json"]["schema"]["properties"];
        assert!(
            body.get("bindings").is_some(),
            "PATCH {path} documents bindings: {body}"
        );
    }
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let app = TestApp::spawn().await;
    let doc = app.get("/api/openapi.json").send().await.json();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "x").replace("{jti}", "y");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = app.request(method.clone(), &concrete).send().await;
            // Unauthenticated: the route exists and asks for a token (an unknown route
            // would be 404 and a wrong method 405).
            assert_eq!(
                res.status,
                StatusCode::UNAUTHORIZED,
                "{method} {concrete}: {}",
                res.text()
            );
        }
    }
    let unknown = app.get("/api/v1/nope").send().await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error(), "not_found");
}
