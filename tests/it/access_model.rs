//! The access model of issue 10, over real HTTP with real clients (reqwest, and
//! `jsonwebtoken` as an API verifying its tokens): APIs with their own audiences, roles per
//! API, products (Itential), the resource hierarchy with inherited bindings (Mia-Platform),
//! `resource`/`audience` at the token endpoint (AOS, RFC 8707), live grants in introspection
//! and whoami on every instance, and the migration of an older database.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use keygate::domain::audit::Actor;
use serde_json::{Value, json};

use crate::helpers::{
    Creds, TestApp, TestDb, eventually, keygate_audience, try_verify_jwt_for, verify_jwt_for,
};

/// How soon a change must reach tokens already out, on every instance.
const PROPAGATION: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------------------------
// A real HTTP client against a served instance

/// An answer read in full.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    #[track_caller]
    fn ok(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        &self.body
    }

    /// Asserts an error answer: its status, `error` code and (REST API 422) `field`.
    #[track_caller]
    fn refused(&self, status: StatusCode, error: &str, field: Option<&str>) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["error"], error, "{}", self.body);
        if let Some(f) = field {
            assert_eq!(self.body["field"], f, "{}", self.body);
        }
        &self.body
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// reqwest against one served keygate, with an administrator's token for its REST API.
struct Http {
    app: TestApp,
    client: reqwest::Client,
    root: String,
}

impl Http {
    async fn start() -> Self {
        Self::over(TestApp::builder().serving().start().await).await
    }

    async fn over(app: TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let admin = app.account("root").roles(&["Administrator"]).create().await;
        let mut http = Self {
            app,
            client,
            root: String::new(),
        };
        http.root = http.token(&admin, &[]).await;
        http
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app.base_url())
    }

    async fn read(res: reqwest::Response) -> Answer {
        let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        assert!(status.as_u16() < 500, "{status}: {body}");
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A REST call with `token` and an optional JSON body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::read(req.send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> Answer {
        self.call(reqwest::Method::GET, path, &self.root, None)
            .await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::POST, path, &self.root, Some(body))
            .await
    }

    async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::PATCH, path, &self.root, Some(body))
            .await
    }

    async fn delete(&self, path: &str) -> Answer {
        self.call(reqwest::Method::DELETE, path, &self.root, None)
            .await
    }

    /// `POST /oauth/token` (client credentials, HTTP Basic) with extra form parameters.
    async fn token_answer(&self, creds: &Creds, extra: &[(&str, &str)]) -> Answer {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        let res = self
            .client
            .post(self.url("/oauth/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        Self::read(res).await
    }

    /// An access token (the request must succeed).
    async fn token(&self, creds: &Creds, extra: &[(&str, &str)]) -> String {
        let a = self.token_answer(creds, extra).await;
        a.ok(StatusCode::OK)["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn jwks(&self) -> Value {
        let res = self
            .client
            .get(self.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        Self::read(res).await.ok(StatusCode::OK).clone()
    }

    /// Verifies `token` as the API with the identifier `audience` does.
    async fn verify_as(&self, token: &str, audience: &str) -> Value {
        verify_jwt_for(token, &self.jwks().await, &self.app.issuer, audience).1
    }

    /// RFC 7662 introspection by `caller` (HTTP Basic).
    async fn introspect(&self, caller: &Creds, token: &str) -> Value {
        let res = self
            .client
            .post(self.url("/oauth/introspect"))
            .basic_auth(&caller.client_id, Some(&caller.client_secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        Self::read(res).await.ok(StatusCode::OK).clone()
    }

    /// `GET /api/v1/whoami` with `token`.
    async fn whoami(&self, token: &str) -> Answer {
        self.call(reqwest::Method::GET, "/api/v1/whoami", token, None)
            .await
    }

    /// Creates an API (201); returns its JSON.
    async fn api(&self, name: &str, identifier: &str, permissions: &[&str]) -> Value {
        self.post(
            "/api/v1/apis",
            json!({"name": name, "identifier": identifier, "permissions": permissions}),
        )
        .await
        .ok(StatusCode::CREATED)
        .clone()
    }

    /// Creates a role of `api` (201); returns its JSON.
    async fn role(&self, name: &str, api: &str, permissions: &[&str]) -> Value {
        self.post(
            "/api/v1/roles",
            json!({"name": name, "api": api, "permissions": permissions}),
        )
        .await
        .ok(StatusCode::CREATED)
        .clone()
    }

    /// Creates a node (201); returns its JSON.
    async fn node(&self, name: &str, kind: &str, parent: Option<&str>) -> Value {
        self.post(
            "/api/v1/nodes",
            json!({"name": name, "kind": kind, "parent": parent}),
        )
        .await
        .ok(StatusCode::CREATED)
        .clone()
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn node_entry(path: &str, actions: &[&str]) -> Value {
    json!({"type": "keygate_node", "locations": [path], "actions": actions})
}

// ---------------------------------------------------------------------------------------------
// APIs

#[tokio::test]
async fn apis_are_created_read_changed_and_deleted_and_keygates_own_cannot_be() {
    let h = Http::start().await;
    let created = h
        .post(
            "/api/v1/apis",
            json!({
                "name": "Billing",
                "identifier": "https://billing.example/api",
                "description": "invoices",
                "permissions": [
                    {"name": "invoices:write", "description": "Write invoices"},
                    "invoices:read",
                ],
            }),
        )
        .await;
    let api = created.ok(StatusCode::CREATED).clone();
    assert_eq!(api["name"], "Billing");
    assert_eq!(api["identifier"], "https://billing.example/api");
    assert_eq!(api["description"], "invoices");
    assert_eq!(api["builtin"], false);
    assert_eq!(
        api["permissions"],
        json!([
            {"name": "invoices:read", "description": ""},
            {"name": "invoices:write", "description": "Write invoices"},
        ]),
        "objects or plain strings, sorted"
    );
    let path = format!("/api/v1/apis/{}", id(&api));
    assert_eq!(h.get(&path).await.ok(StatusCode::OK), &api);

    // The list: keygate's own first, with its identifier and its seven permissions.
    let list = h.get("/api/v1/apis").await.ok(StatusCode::OK).clone();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    let own = &items[0];
    assert_eq!(own["id"], "builtin-keygate");
    assert_eq!(own["name"], "keygate");
    assert_eq!(own["builtin"], true);
    assert_eq!(own["identifier"], keygate_audience(&h.app.issuer).as_str());
    let own_perms: Vec<&str> = own["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let mut all = keygate::domain::permission::ALL.to_vec();
    all.sort_unstable();
    assert_eq!(own_perms, all);
    assert_eq!(&items[1], &api);

    // PATCH changes only the fields it names.
    let v = h
        .patch(&path, json!({"description": "all of billing"}))
        .await
        .ok(StatusCode::OK)
        .clone();
    assert_eq!(v["description"], "all of billing");
    assert_eq!(v["name"], "Billing");
    assert_eq!(v["identifier"], "https://billing.example/api");
    assert_eq!(v["permissions"], api["permissions"]);
    let v = h
        .patch(
            &path,
            json!({"name": "Billing API", "identifier": "urn:example:billing"}),
        )
        .await
        .ok(StatusCode::OK)
        .clone();
    assert_eq!(v["name"], "Billing API");
    assert_eq!(v["identifier"], "urn:example:billing");
    assert_eq!(v["description"], "all of billing");
    assert_eq!(v["permissions"], api["permissions"]);
    assert_eq!(h.get(&path).await.ok(StatusCode::OK), &v);

    // A bad identifier: 422 naming the field, on create and on change.
    for bad in [
        "",
        "billing",
        "/relative/path",
        "https://billing.example/api#part",
        "https://billing.example/a b",
    ] {
        h.post(
            "/api/v1/apis",
            json!({"name": "Other", "identifier": bad, "permissions": []}),
        )
        .await
        .refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("identifier"),
        );
        h.patch(&path, json!({"identifier": bad})).await.refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("identifier"),
        );
    }
    // A permission with a space is no permission.
    h.post(
        "/api/v1/apis",
        json!({"name": "Other", "identifier": "urn:x:other", "permissions": ["a b"]}),
    )
    .await
    .refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("permissions"),
    );
    // A duplicate identifier (keygate's own too) or name: 409.
    for identifier in [
        "urn:example:billing".to_owned(),
        keygate_audience(&h.app.issuer),
    ] {
        h.post(
            "/api/v1/apis",
            json!({"name": "Other", "identifier": identifier}),
        )
        .await
        .refused(StatusCode::CONFLICT, "conflict", None);
    }
    h.post(
        "/api/v1/apis",
        json!({"name": "billing api", "identifier": "urn:x:other"}),
    )
    .await
    .refused(StatusCode::CONFLICT, "conflict", None);
    let other = h.api("Other", "urn:x:other", &[]).await;
    h.patch(
        &format!("/api/v1/apis/{}", id(&other)),
        json!({"identifier": "urn:example:billing"}),
    )
    .await
    .refused(StatusCode::CONFLICT, "conflict", None);

    // keygate's own API cannot be changed or deleted.
    for body in [
        json!({"description": "mine now"}),
        json!({"permissions": []}),
        json!({"identifier": "urn:x:hijack"}),
    ] {
        h.patch("/api/v1/apis/builtin-keygate", body).await.refused(
            StatusCode::FORBIDDEN,
            "forbidden",
            None,
        );
    }
    h.delete("/api/v1/apis/builtin-keygate").await.refused(
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    let own_after = h.get("/api/v1/apis/builtin-keygate").await;
    assert_eq!(own_after.ok(StatusCode::OK), own);

    // An unused API goes: 204, then 404.
    assert_eq!(h.delete(&path).await.status, StatusCode::NO_CONTENT);
    h.get(&path)
        .await
        .refused(StatusCode::NOT_FOUND, "not_found", None);
    h.delete(&path)
        .await
        .refused(StatusCode::NOT_FOUND, "not_found", None);

    // Reading needs service-accounts:read, changing roles:write.
    let nobody = h.app.account("nobody").create().await;
    let nobody = h.token(&nobody, &[]).await;
    let manager = h
        .app
        .account("manager")
        .roles(&["Service Account Manager"])
        .create()
        .await;
    let manager = h.token(&manager, &[]).await;
    let other_path = format!("/api/v1/apis/{}", id(&other));
    for t in [&nobody, &manager] {
        let read = h.call(reqwest::Method::GET, "/api/v1/apis", t, None).await;
        if *t == manager {
            read.ok(StatusCode::OK);
        } else {
            read.refused(StatusCode::FORBIDDEN, "forbidden", None);
        }
        h.call(
            reqwest::Method::POST,
            "/api/v1/apis",
            t,
            Some(json!({"name": "Mine", "identifier": "urn:x:mine"})),
        )
        .await
        .refused(StatusCode::FORBIDDEN, "forbidden", None);
        h.call(
            reqwest::Method::PATCH,
            &other_path,
            t,
            Some(json!({"name": "Mine"})),
        )
        .await
        .refused(StatusCode::FORBIDDEN, "forbidden", None);
        h.call(reqwest::Method::DELETE, &other_path, t, None)
            .await
            .refused(StatusCode::FORBIDDEN, "forbidden", None);
    }
}

#[tokio::test]
async fn an_api_in_use_is_409_naming_its_roles_and_a_removed_permission_leaves_them_audited() {
    let h = Http::start().await;
    let api = h
        .api(
            "Billing",
            "https://billing.example/api",
            &["invoices:read", "invoices:write"],
        )
        .await;
    let path = format!("/api/v1/apis/{}", id(&api));
    let reader = h
        .role(
            "Invoice Reader",
            &id(&api),
            &["invoices:read", "invoices:write"],
        )
        .await;
    let writer = h
        .role("Invoice Writer", "Billing", &["invoices:write"])
        .await;
    assert_eq!(writer["api"], api["id"], "the API by name");

    let res = h.delete(&path).await;
    let body = res.refused(StatusCode::CONFLICT, "conflict", None);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("Invoice Reader") && message.contains("Invoice Writer"),
        "{message}"
    );

    // An account holding the reader role; its token is for Billing.
    let c = h
        .app
        .account("billing")
        .roles(&["Invoice Reader"])
        .create()
        .await;
    let token = h.token(&c, &[]).await;
    assert_eq!(
        h.whoami(&token).await.ok(StatusCode::OK)["permissions"],
        json!(["invoices:read", "invoices:write"])
    );

    // Removing a permission from the API removes it from its roles, at once for live tokens.
    let v = h
        .patch(&path, json!({"permissions": ["invoices:read"]}))
        .await
        .ok(StatusCode::OK)
        .clone();
    assert_eq!(
        v["permissions"],
        json!([{"name": "invoices:read", "description": ""}])
    );
    let r = h.get(&format!("/api/v1/roles/{}", id(&reader))).await;
    assert_eq!(
        r.ok(StatusCode::OK)["permissions"],
        json!(["invoices:read"])
    );
    let w = h.get(&format!("/api/v1/roles/{}", id(&writer))).await;
    assert_eq!(w.ok(StatusCode::OK)["permissions"], json!([]));
    assert_eq!(
        h.whoami(&token).await.ok(StatusCode::OK)["permissions"],
        json!(["invoices:read"])
    );
    assert_eq!(
        h.token_answer(&c, &[]).await.ok(StatusCode::OK)["scope"],
        "invoices:read"
    );
    // …in the audit event of the change.
    let auditor = h.app.account("auditor").roles(&["Auditor"]).create().await;
    let auditor = h.token(&auditor, &[]).await;
    let events = h
        .call(
            reqwest::Method::GET,
            "/api/v1/audit-events?action=api.updated",
            &auditor,
            None,
        )
        .await;
    let events = events.ok(StatusCode::OK);
    let e = &events["items"][0];
    assert_eq!(e["target"]["id"], api["id"], "{e}");
    assert_eq!(
        e["detail"]["removed_permissions"],
        json!(["invoices:write"]),
        "{e}"
    );
    let mut changed: Vec<&str> = e["detail"]["roles_changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    changed.sort_unstable();
    assert_eq!(changed, vec!["Invoice Reader", "Invoice Writer"], "{e}");

    // Once no role uses it, it goes, and its tokens die with it.
    for r in [&reader, &writer] {
        let res = h
            .delete(&format!("/api/v1/roles/{}?confirm=true", id(r)))
            .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    }
    assert_eq!(h.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(h.whoami(&token).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_role_needs_an_api_that_defines_its_permissions() {
    let h = Http::start().await;
    let api = h
        .api("Billing", "https://billing.example/api", &["invoices:read"])
        .await;
    for body in [
        json!({"name": "Invoices", "permissions": ["invoices:read"]}),
        json!({"name": "Invoices", "api": "", "permissions": ["invoices:read"]}),
        json!({"name": "Invoices", "api": "no such API", "permissions": ["invoices:read"]}),
    ] {
        h.post("/api/v1/roles", body).await.refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("api"),
        );
    }
    for (api_ref, perm) in [
        (id(&api), "invoices:write"),
        ("Billing".to_owned(), "audit:read"),
        ("keygate".to_owned(), "invoices:read"),
    ] {
        h.post(
            "/api/v1/roles",
            json!({"name": "Invoices", "api": api_ref, "permissions": [perm]}),
        )
        .await
        .refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("permissions"),
        );
    }
    let role = h.role("Invoices", "Billing", &["invoices:read"]).await;
    assert_eq!(role["api"], api["id"]);
    let path = format!("/api/v1/roles/{}", id(&role));
    h.patch(&path, json!({"permissions": ["invoices:write"]}))
        .await
        .refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("permissions"),
        );
    h.patch(&path, json!({"api": "no such API"})).await.refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("api"),
    );
    // PATCH changes only what it names: the API and the permissions stay.
    let v = h
        .patch(&path, json!({"description": "d"}))
        .await
        .ok(StatusCode::OK)
        .clone();
    assert_eq!(v["api"], api["id"]);
    assert_eq!(v["permissions"], json!(["invoices:read"]));
    assert_eq!(v["description"], "d");
    let list = h.get("/api/v1/roles").await.ok(StatusCode::OK).clone();
    assert_eq!(list["items"].as_array().unwrap().len(), 5, "{list}");
    for r in list["items"].as_array().unwrap() {
        if r["builtin"] == true {
            assert_eq!(r["api"], "builtin-keygate", "{r}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Products (Itential)

#[tokio::test]
async fn an_account_bound_to_a_product_takes_only_its_roles_and_tokens_for_it() {
    let h = Http::start().await;
    let p = h
        .api("Product P", "https://p.example/api", &["p:read", "p:write"])
        .await;
    let q = h
        .api("Product Q", "https://q.example/api", &["q:read"])
        .await;
    h.role("P Reader", &id(&p), &["p:read"]).await;
    h.role("P Writer", &id(&p), &["p:write"]).await;
    h.role("Q Reader", &id(&q), &["q:read"]).await;

    // Only P's roles, on create…
    for roles in [
        json!(["Q Reader"]),
        json!(["P Reader", "Token Introspector"]),
    ] {
        h.post(
            "/api/v1/service-accounts",
            json!({"name": "svc", "api": id(&p), "roles": roles}),
        )
        .await
        .refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("roles"),
        );
    }
    let created = h
        .post(
            "/api/v1/service-accounts",
            json!({"name": "svc", "api": id(&p), "roles": ["P Reader"]}),
        )
        .await;
    let created = created.ok(StatusCode::CREATED).clone();
    let svc = Creds {
        id: id(&created),
        name: "svc".into(),
        client_id: created["client_id"].as_str().unwrap().into(),
        client_secret: created["client_secret"].as_str().unwrap().into(),
    };
    let acct_path = format!("/api/v1/service-accounts/{}", svc.id);
    assert_eq!(h.get(&acct_path).await.ok(StatusCode::OK)["api"], p["id"]);
    // …and on change.
    h.patch(&acct_path, json!({"roles": ["P Reader", "Q Reader"]}))
        .await
        .refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("roles"),
        );
    h.patch(
        &acct_path,
        json!({"bindings": [{"role": "Q Reader", "node": null}]}),
    )
    .await
    .refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("bindings"),
    );
    // Its product cannot change while it holds P's roles.
    h.patch(&acct_path, json!({"api": id(&q)})).await.refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("api"),
    );
    // Nor can an account holding Q's roles become P's.
    let other = h.app.account("other").roles(&["Q Reader"]).create().await;
    h.patch(
        &format!("/api/v1/service-accounts/{}", other.id),
        json!({"api": id(&p)}),
    )
    .await
    .refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("api"),
    );
    let v = h.get(&acct_path).await.ok(StatusCode::OK).clone();
    assert_eq!(v["api"], p["id"]);
    assert_eq!(v["roles"].as_array().unwrap().len(), 1);

    // A group holding roles of P and Q gives it only P's.
    h.post(
        "/api/v1/groups",
        json!({"name": "mixed", "roles": ["P Writer", "Q Reader", "Auditor"], "members": [svc.id]}),
    )
    .await
    .ok(StatusCode::CREATED);
    let answer = h.token_answer(&svc, &[]).await;
    let answer = answer.ok(StatusCode::OK).clone();
    assert_eq!(answer["scope"], "p:read p:write");
    let token = answer["access_token"].as_str().unwrap();
    let claims = h.verify_as(token, "https://p.example/api").await;
    assert_eq!(claims["aud"], "https://p.example/api");
    assert_eq!(claims["scope"], "p:read p:write");
    let who = h.whoami(token).await;
    let who = who.ok(StatusCode::OK);
    assert_eq!(who["aud"], "https://p.example/api");
    assert_eq!(who["permissions"], json!(["p:read", "p:write"]));
    let roles: Vec<&str> = who["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().or_else(|| r["name"].as_str()).unwrap())
        .collect();
    assert_eq!(roles, vec!["P Reader", "P Writer"], "{who}");
    // Another API, keygate's included, is not its target.
    for resource in [
        "https://q.example/api".to_owned(),
        keygate_audience(&h.app.issuer),
    ] {
        h.token_answer(&svc, &[("resource", &resource)])
            .await
            .refused(StatusCode::BAD_REQUEST, "invalid_target", None);
    }
    let again = h
        .token_answer(&svc, &[("resource", "https://p.example/api")])
        .await;
    assert_eq!(again.ok(StatusCode::OK)["scope"], "p:read p:write");

    // Without a product it may hold Q's roles again.
    let v = h
        .patch(
            &acct_path,
            json!({"api": null, "roles": ["P Reader", "Q Reader"]}),
        )
        .await;
    assert_eq!(v.ok(StatusCode::OK)["api"], Value::Null);
}

// ---------------------------------------------------------------------------------------------
// The resource hierarchy (Mia-Platform)

/// acme (Company) → acme/shop (Project) → acme/shop/prod and acme/shop/dev (Environment);
/// returns (acme, shop, prod, dev).
async fn mia_tree(h: &Http) -> (Value, Value, Value, Value) {
    let acme = h.node("acme", "Company", None).await;
    assert_eq!(acme["path"], "acme");
    assert_eq!(acme["parent_id"], Value::Null);
    assert_eq!(acme["kind"], "Company");
    // The parent by path…
    let shop = h.node("shop", "Project", Some("acme")).await;
    assert_eq!(shop["path"], "acme/shop");
    assert_eq!(shop["parent_id"], acme["id"]);
    // …or by id.
    let prod = h
        .node("prod", "Environment", Some(id(&shop).as_str()))
        .await;
    assert_eq!(prod["path"], "acme/shop/prod");
    assert_eq!(prod["parent_id"], shop["id"]);
    let dev = h.node("dev", "Environment", Some("acme/shop")).await;
    assert_eq!(dev["path"], "acme/shop/dev");
    (acme, shop, prod, dev)
}

#[tokio::test]
async fn nodes_form_a_tree_with_paths_and_refuse_clashes_and_deleting_what_is_used() {
    let h = Http::start().await;
    let (acme, shop, prod, dev) = mia_tree(&h).await;
    let list = h.get("/api/v1/nodes").await.ok(StatusCode::OK).clone();
    let paths: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        vec!["acme", "acme/shop", "acme/shop/dev", "acme/shop/prod"]
    );
    let one = h.get(&format!("/api/v1/nodes/{}", id(&prod))).await;
    assert_eq!(one.ok(StatusCode::OK), &prod);

    // A duplicate sibling name (whatever its case), a slash, an empty or too long name: 422.
    for (name, parent) in [
        ("shop", Some("acme")),
        ("SHOP", Some("acme")),
        ("acme", None),
        ("a/b", None),
        ("", None),
    ] {
        h.post("/api/v1/nodes", json!({"name": name, "parent": parent}))
            .await
            .refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("name"),
            );
    }
    h.post("/api/v1/nodes", json!({"name": "x".repeat(101)}))
        .await
        .refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("name"),
        );
    h.post(
        "/api/v1/nodes",
        json!({"name": "x", "parent": "no/such/node"}),
    )
    .await
    .refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("parent"),
    );
    // The same name elsewhere is fine.
    let other_shop = h.node("shop", "Project", None).await;
    assert_eq!(other_shop["path"], "shop");

    // Rename and move; PATCH changes only what it names, and paths below follow.
    let dev_path = format!("/api/v1/nodes/{}", id(&dev));
    h.patch(&dev_path, json!({"name": "prod"})).await.refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("name"),
    );
    h.patch(&dev_path, json!({"name": "a/b"})).await.refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("name"),
    );
    let v = h
        .patch(&dev_path, json!({"name": "staging"}))
        .await
        .ok(StatusCode::OK)
        .clone();
    assert_eq!(v["path"], "acme/shop/staging");
    assert_eq!(v["kind"], "Environment");
    let shop_path = format!("/api/v1/nodes/{}", id(&shop));
    let v = h
        .patch(&shop_path, json!({"name": "store"}))
        .await
        .ok(StatusCode::OK)
        .clone();
    assert_eq!(v["path"], "acme/store");
    let moved = h.get(&format!("/api/v1/nodes/{}", id(&prod))).await;
    assert_eq!(moved.ok(StatusCode::OK)["path"], "acme/store/prod");
    // A node cannot move below itself.
    h.patch(
        &format!("/api/v1/nodes/{}", id(&acme)),
        json!({"parent": id(&prod)}),
    )
    .await
    .refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("parent"),
    );
    let v = h
        .patch(&dev_path, json!({"parent": null}))
        .await
        .ok(StatusCode::OK)
        .clone();
    assert_eq!(v["path"], "staging");
    assert_eq!(v["parent_id"], Value::Null);
    assert_eq!(v["name"], "staging");

    // Deleting a node with children, or with bindings: 409; an empty one goes.
    h.delete(&format!("/api/v1/nodes/{}", id(&acme)))
        .await
        .refused(StatusCode::CONFLICT, "conflict", None);
    let api = h
        .api("Mia", "https://mia.example/api", &["deploy:run"])
        .await;
    h.role("Deployer", &id(&api), &["deploy:run"]).await;
    let c = h.app.account("ci").create().await;
    h.patch(
        &format!("/api/v1/service-accounts/{}", c.id),
        json!({"bindings": [{"role": "Deployer", "node": "acme/store/prod"}]}),
    )
    .await
    .ok(StatusCode::OK);
    let g = h
        .post(
            "/api/v1/groups",
            json!({"name": "ops", "bindings": [{"role": "Deployer", "node": "staging"}]}),
        )
        .await
        .ok(StatusCode::CREATED)
        .clone();
    for node in [&prod, &dev] {
        h.delete(&format!("/api/v1/nodes/{}", id(node)))
            .await
            .refused(StatusCode::CONFLICT, "conflict", None);
    }
    h.patch(
        &format!("/api/v1/groups/{}", id(&g)),
        json!({"bindings": []}),
    )
    .await
    .ok(StatusCode::OK);
    assert_eq!(h.delete(&dev_path).await.status, StatusCode::NO_CONTENT);
    h.get(&dev_path)
        .await
        .refused(StatusCode::NOT_FOUND, "not_found", None);

    // Reading needs service-accounts:read, changing roles:write.
    let manager = h
        .app
        .account("manager")
        .roles(&["Service Account Manager"])
        .create()
        .await;
    let manager = h.token(&manager, &[]).await;
    h.call(reqwest::Method::GET, "/api/v1/nodes", &manager, None)
        .await
        .ok(StatusCode::OK);
    h.call(
        reqwest::Method::POST,
        "/api/v1/nodes",
        &manager,
        Some(json!({"name": "mine"})),
    )
    .await
    .refused(StatusCode::FORBIDDEN, "forbidden", None);
    h.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/nodes/{}", id(&other_shop)),
        &manager,
        None,
    )
    .await
    .refused(StatusCode::FORBIDDEN, "forbidden", None);
}

#[tokio::test]
async fn a_binding_at_a_node_applies_below_it_and_travels_in_authorization_details() {
    let h = Http::start().await;
    mia_tree(&h).await;
    let api = h
        .api(
            "Mia",
            "https://mia.example/api",
            &["deploy:read", "deploy:run", "logs:read", "test:run"],
        )
        .await;
    let mia = id(&api);
    h.role("Viewer", &mia, &["deploy:read"]).await;
    h.role("Deployer", &mia, &["deploy:run"]).await;
    h.role("Logs", &mia, &["logs:read"]).await;
    h.role("Tester", &mia, &["test:run"]).await;
    let c = h.app.account("ci").create().await;
    let acct = format!("/api/v1/service-accounts/{}", c.id);

    // Bindings: a role at the root, at acme, at acme/shop/prod, and (through a group) at
    // acme/shop/dev.
    let v = h
        .patch(
            &acct,
            json!({"bindings": [
                {"role": "Logs", "node": null},
                {"role": "Viewer", "node": "acme"},
                {"role": "Deployer", "node": "acme/shop/prod"},
            ]}),
        )
        .await
        .ok(StatusCode::OK)
        .clone();
    let role_ref = |name: &str| -> Value {
        let r = v["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["role"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {v}"));
        r.clone()
    };
    assert_eq!(role_ref("Logs")["node"], Value::Null);
    assert_eq!(role_ref("Viewer")["node"], "acme");
    assert_eq!(role_ref("Deployer")["node"], "acme/shop/prod");
    assert_eq!(role_ref("Deployer")["role"]["api"], mia.as_str());
    assert!(role_ref("Deployer")["role"]["id"].is_string());
    let got = h.get(&acct).await.ok(StatusCode::OK).clone();
    assert_eq!(got["bindings"], v["bindings"]);
    let names: Vec<&str> = got["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Logs"], "roles are the root-level bindings");
    h.post(
        "/api/v1/groups",
        json!({"name": "testers", "members": [c.id],
               "bindings": [{"role": "Tester", "node": "acme/shop/dev"}]}),
    )
    .await
    .ok(StatusCode::CREATED);

    // The token: for Mia (the only API it holds anything in), verified with jsonwebtoken
    // against the JWKS with Mia's identifier as audience.
    let answer = h.token_answer(&c, &[]).await;
    let answer = answer.ok(StatusCode::OK).clone();
    let token = answer["access_token"].as_str().unwrap().to_owned();
    let claims = h.verify_as(&token, "https://mia.example/api").await;
    assert_eq!(claims["aud"], "https://mia.example/api");
    assert_eq!(claims["scope"], "logs:read");
    let expected = json!([
        node_entry("acme", &["deploy:read", "logs:read"]),
        node_entry("acme/shop/dev", &["deploy:read", "logs:read", "test:run"]),
        node_entry(
            "acme/shop/prod",
            &["deploy:read", "deploy:run", "logs:read"]
        ),
    ]);
    assert_eq!(claims["authorization_details"], expected);
    // The token response carries the same (RFC 9396 §7).
    assert_eq!(answer["authorization_details"], expected);
    assert_eq!(answer["scope"], "logs:read");
    // An API expecting another identifier refuses it.
    let err = try_verify_jwt_for(
        &token,
        &h.jwks().await,
        &h.app.issuer,
        "https://other.example/api",
    )
    .unwrap_err();
    assert_eq!(
        err.kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidAudience
    );
    // The metadata names the type.
    let meta = h
        .client
        .get(h.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    let meta = Http::read(meta).await;
    assert_eq!(
        meta.ok(StatusCode::OK)["authorization_details_types_supported"],
        json!(["keygate_node"])
    );

    // The request's scope narrows both; entries left empty are dropped.
    let narrow = h.token_answer(&c, &[("scope", "deploy:run")]).await;
    let narrow = narrow.ok(StatusCode::OK);
    assert_eq!(narrow["scope"], "");
    assert_eq!(
        narrow["authorization_details"],
        json!([node_entry("acme/shop/prod", &["deploy:run"])])
    );
    let narrow = h.token_answer(&c, &[("scope", "logs:read test:run")]).await;
    let narrow = narrow.ok(StatusCode::OK);
    assert_eq!(narrow["scope"], "logs:read");
    assert_eq!(
        narrow["authorization_details"],
        json!([
            node_entry("acme", &["logs:read"]),
            node_entry("acme/shop/dev", &["logs:read", "test:run"]),
            node_entry("acme/shop/prod", &["logs:read"]),
        ])
    );
    let narrow = h.token_answer(&c, &[("scope", "logs:read")]).await;
    let claims = claims_of(narrow.ok(StatusCode::OK)["access_token"].as_str().unwrap());
    assert_eq!(claims["scope"], "logs:read");
    // A permission it holds nowhere (in Mia, or at all) is invalid_scope.
    for scope in ["deploy:read nope:x", "tokens:introspect"] {
        h.token_answer(&c, &[("scope", scope)]).await.refused(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            None,
        );
    }

    // whoami and introspection report the grants.
    let who = h.whoami(&token).await;
    let who = who.ok(StatusCode::OK);
    assert_eq!(who["aud"], "https://mia.example/api");
    assert_eq!(who["permissions"], json!(["logs:read"]));
    assert_eq!(who["authorization_details"], expected);
    let introspector = h
        .app
        .account("introspector")
        .roles(&["Token Introspector"])
        .create()
        .await;
    let intro = h.introspect(&introspector, &token).await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["aud"], "https://mia.example/api");
    assert_eq!(intro["scope"], "logs:read");
    assert_eq!(intro["authorization_details"], expected);

    // `roles` and `bindings` together, keygate's roles at a node, unknown roles or nodes: 422.
    for body in [
        json!({"roles": ["Logs"], "bindings": []}),
        json!({"bindings": [{"role": "Auditor", "node": "acme"}]}),
        json!({"bindings": [{"role": "No Such Role", "node": null}]}),
        json!({"bindings": [{"role": "Viewer", "node": "acme/nowhere"}]}),
    ] {
        h.patch(&acct, body.clone()).await.refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("bindings"),
        );
    }
    h.post(
        "/api/v1/groups",
        json!({"name": "g2", "bindings": [{"role": "Auditor", "node": "acme"}]}),
    )
    .await
    .refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("bindings"),
    );
    h.post(
        "/api/v1/groups",
        json!({"name": "g2", "roles": ["Logs"], "bindings": []}),
    )
    .await
    .refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("bindings"),
    );
    // Nothing changed, and keygate's roles at the root are fine.
    assert_eq!(
        h.get(&acct).await.ok(StatusCode::OK)["bindings"],
        v["bindings"]
    );
    let res = h
        .patch(
            &acct,
            json!({"bindings": [
                {"role": "Logs", "node": null},
                {"role": "Viewer", "node": "acme"},
                {"role": "Deployer", "node": "acme/shop/prod"},
                {"role": "Token Introspector", "node": null},
            ]}),
        )
        .await;
    res.ok(StatusCode::OK);
    // PATCH with `roles` alone replaces the root-level bindings and keeps the others.
    let res = h.patch(&acct, json!({"roles": ["Logs"]})).await;
    let bindings = res.ok(StatusCode::OK)["bindings"].clone();
    assert_eq!(bindings, v["bindings"]);
}

// ---------------------------------------------------------------------------------------------
// Tokens for one API (AOS, RFC 8707)

#[tokio::test]
async fn resource_asks_for_a_token_of_one_api_which_no_other_api_accepts() {
    let h = Http::start().await;
    let data = "https://data.aos.example/v1";
    let api = h.api("AOS data", data, &["data:read", "data:write"]).await;
    h.api("Elsewhere", "https://elsewhere.example/api", &["e:use"])
        .await;
    h.role("Data Reader", &id(&api), &["data:read"]).await;
    let c = h
        .app
        .account("aos")
        .roles(&["Data Reader", "Token Introspector"])
        .create()
        .await;

    // Two APIs held, no resource: keygate's own.
    let plain = h.token(&c, &[]).await;
    let claims = h.verify_as(&plain, &keygate_audience(&h.app.issuer)).await;
    assert_eq!(claims["scope"], "tokens:introspect");

    // resource = the data service: aud = its identifier.
    let answer = h.token_answer(&c, &[("resource", data)]).await;
    let answer = answer.ok(StatusCode::OK).clone();
    assert_eq!(answer["scope"], "data:read");
    let token = answer["access_token"].as_str().unwrap().to_owned();
    let claims = h.verify_as(&token, data).await;
    assert_eq!(claims["aud"], data);
    assert_eq!(claims["scope"], "data:read");
    assert!(claims.get("authorization_details").is_none(), "{claims}");
    // `audience` is a synonym, and a JSON body may carry it too.
    let other = h.token(&c, &[("audience", data)]).await;
    assert_eq!(claims_of(&other)["aud"], data);
    let res = h
        .client
        .post(h.url("/oauth/token"))
        .json(&json!({
            "grant_type": "client_credentials", "client_id": c.client_id,
            "client_secret": c.client_secret, "resource": data,
        }))
        .send()
        .await
        .unwrap();
    let res = Http::read(res).await;
    assert_eq!(
        claims_of(res.ok(StatusCode::OK)["access_token"].as_str().unwrap())["aud"],
        data
    );

    // Another API refuses it: one verifying its own identifier…
    let err = try_verify_jwt_for(
        &token,
        &h.jwks().await,
        &h.app.issuer,
        "https://elsewhere.example/api",
    )
    .unwrap_err();
    assert_eq!(
        err.kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidAudience
    );
    // …and keygate's own REST API: 401 invalid_token, saying why.
    for path in ["/api/v1/service-accounts", "/api/v1/apis", "/api/v1/roles"] {
        let res = h.call(reqwest::Method::GET, path, &token, None).await;
        res.refused(StatusCode::UNAUTHORIZED, "invalid_token", None);
        let challenge = res.header("www-authenticate").expect("a challenge");
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert!(
            challenge.contains("error_description=") && challenge.contains("not for this API"),
            "{challenge}"
        );
    }
    // Nor may it introspect as a bearer, though its account may with a keygate token.
    let res = h
        .client
        .post(h.url("/oauth/introspect"))
        .bearer_auth(&token)
        .form(&[("token", plain.as_str())])
        .send()
        .await
        .unwrap();
    assert_ne!(Http::read(res).await.status, StatusCode::OK);
    let res = h
        .client
        .post(h.url("/oauth/introspect"))
        .bearer_auth(&plain)
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    let intro = Http::read(res).await;
    let intro = intro.ok(StatusCode::OK);
    assert_eq!(intro["active"], true);
    assert_eq!(intro["aud"], data);
    assert_eq!(intro["scope"], "data:read");

    // whoami concerns the token itself: any live keygate token, with its API's grants.
    let who = h.whoami(&token).await;
    let who = who.ok(StatusCode::OK);
    assert_eq!(who["aud"], data);
    assert_eq!(who["permissions"], json!(["data:read"]));
    let roles: Vec<&str> = who["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().or_else(|| r["name"].as_str()).unwrap())
        .collect();
    assert_eq!(roles, vec!["Data Reader"], "{who}");
    let who = h.whoami(&plain).await;
    assert_eq!(
        who.ok(StatusCode::OK)["permissions"],
        json!(["tokens:introspect"])
    );

    // resource = keygate's own.
    let own = h
        .token(&c, &[("resource", &keygate_audience(&h.app.issuer))])
        .await;
    assert_eq!(claims_of(&own)["scope"], "tokens:introspect");

    // A second resource, both resource and audience, an unknown API, one where nothing is
    // held: invalid_target.
    let base = [("grant_type", "client_credentials")];
    for extra in [
        vec![("resource", data), ("resource", data)],
        vec![("resource", data), ("audience", data)],
        vec![
            ("audience", data),
            ("audience", "https://elsewhere.example/api"),
        ],
        vec![("resource", "https://unknown.example/api")],
        vec![("resource", "https://elsewhere.example/api")],
        vec![("audience", "https://elsewhere.example/api")],
    ] {
        let mut form: Vec<(&str, &str)> = base.to_vec();
        form.extend(extra.iter().copied());
        let res = h
            .client
            .post(h.url("/oauth/token"))
            .basic_auth(&c.client_id, Some(&c.client_secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        Http::read(res)
            .await
            .refused(StatusCode::BAD_REQUEST, "invalid_target", None);
    }
    let res = h
        .client
        .post(h.url("/oauth/token"))
        .json(&json!({
            "grant_type": "client_credentials", "client_id": c.client_id,
            "client_secret": c.client_secret, "resource": [data, data],
        }))
        .send()
        .await
        .unwrap();
    Http::read(res)
        .await
        .refused(StatusCode::BAD_REQUEST, "invalid_target", None);
    // A scope outside the asked API is invalid_scope.
    h.token_answer(&c, &[("resource", data), ("scope", "tokens:introspect")])
        .await
        .refused(StatusCode::BAD_REQUEST, "invalid_scope", None);

    // And it ends its own session.
    let res = h
        .call(reqwest::Method::DELETE, "/api/v1/session", &token, None)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert_eq!(h.whoami(&token).await.status, StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// Live grants on every instance

#[tokio::test]
async fn removing_a_binding_shrinks_live_tokens_within_a_second_on_every_instance() {
    let h = Http::start().await;
    let second = h.app.another_instance().await;
    mia_tree(&h).await;
    let api = h
        .api(
            "Mia",
            "https://mia.example/api",
            &["deploy:read", "deploy:run"],
        )
        .await;
    h.role("Viewer", &id(&api), &["deploy:read"]).await;
    h.role("Deployer", &id(&api), &["deploy:run"]).await;
    let c = h.app.account("ci").create().await;
    let acct = format!("/api/v1/service-accounts/{}", c.id);
    h.patch(
        &acct,
        json!({"bindings": [
            {"role": "Viewer", "node": "acme"},
            {"role": "Deployer", "node": "acme/shop/prod"},
        ]}),
    )
    .await
    .ok(StatusCode::OK);
    let introspector = h
        .app
        .account("introspector")
        .roles(&["Token Introspector"])
        .create()
        .await;
    let token = h.token(&c, &[]).await;
    let full = json!([
        node_entry("acme", &["deploy:read"]),
        node_entry("acme/shop/prod", &["deploy:read", "deploy:run"]),
    ]);
    assert_eq!(
        h.introspect(&introspector, &token).await["authorization_details"],
        full
    );
    // The second instance knows the account and its grants (cached).
    let on_second = second.introspect(&introspector, &token).await;
    assert_eq!(on_second["authorization_details"], full);
    assert_eq!(on_second["aud"], "https://mia.example/api");

    // Remove the Deployer binding on the first.
    h.patch(
        &acct,
        json!({"bindings": [{"role": "Viewer", "node": "acme"}]}),
    )
    .await
    .ok(StatusCode::OK);
    let shrunk = json!([
        node_entry("acme", &["deploy:read"]),
        node_entry("acme/shop/prod", &["deploy:read"]),
    ]);
    assert!(
        eventually(PROPAGATION, async || {
            h.introspect(&introspector, &token).await["authorization_details"] == shrunk
        })
        .await,
        "the first instance still reports {}",
        h.introspect(&introspector, &token).await
    );
    assert!(
        eventually(PROPAGATION, async || {
            second.introspect(&introspector, &token).await["authorization_details"] == shrunk
        })
        .await,
        "the second instance still reports {}",
        second.introspect(&introspector, &token).await
    );
    let who = second.whoami(&token).await;
    assert_eq!(who.status, StatusCode::OK, "{}", who.text());
    assert_eq!(who.json()["authorization_details"], shrunk);

    // A change to a role reaches them too: Viewer loses deploy:read, nothing is left.
    let viewer = h.get("/api/v1/roles").await.ok(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Viewer")
        .map(id)
        .unwrap();
    h.patch(
        &format!("/api/v1/roles/{viewer}"),
        json!({"permissions": []}),
    )
    .await
    .ok(StatusCode::OK);
    assert!(
        eventually(PROPAGATION, async || {
            let v = second.introspect(&introspector, &token).await;
            v["active"] == true && v.get("authorization_details").is_none()
        })
        .await,
        "the second instance still reports {}",
        second.introspect(&introspector, &token).await
    );
    // Deleting the API kills its tokens on every instance.
    h.delete(&format!("/api/v1/roles/{viewer}?confirm=true"))
        .await;
    let deployer = h.get("/api/v1/roles").await.ok(StatusCode::OK)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Deployer")
        .map(id)
        .unwrap();
    h.delete(&format!("/api/v1/roles/{deployer}?confirm=true"))
        .await;
    let res = h.delete(&format!("/api/v1/apis/{}", id(&api))).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert!(
        eventually(PROPAGATION, async || {
            second.introspect(&introspector, &token).await["active"] == false
        })
        .await
    );
}

// ---------------------------------------------------------------------------------------------
// Migration of an older database

/// Applies the migrations of `dir` up to and including `last` to the database at `url`,
/// through sqlx's own migrator (from a copy of those files, so their checksums are the
/// ones keygate later checks).
async fn migrate_up_to(url: &str, postgres: bool, last: i64) {
    let backend = if postgres { "postgres" } else { "sqlite" };
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let dir = std::env::temp_dir().join(format!(
        "keygate-old-migrations-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let version: i64 = name.split('_').next().unwrap().parse().unwrap();
        if version <= last {
            std::fs::copy(entry.path(), dir.join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(dir.as_path()).await.unwrap();
    if postgres {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        migrator.run(&pool).await.unwrap();
        for sql in OLD_DATA {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    } else {
        use std::str::FromStr as _;
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .unwrap()
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        migrator.run(&pool).await.unwrap();
        for sql in OLD_DATA {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn uuid_like() -> String {
    keygate::domain::secret::random_bytes::<8>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What an older keygate held: a custom role of custom permissions, a role mixing keygate's
/// and custom ones, an account and a group holding them (portable SQL).
const OLD_DATA: [&str; 7] = [
    "insert into roles (id, name, description, builtin, created_at, updated_at) \
         values ('old-invoices', 'Invoices', 'billing', 0, 1, 1)",
    "insert into roles (id, name, description, builtin, created_at, updated_at) \
         values ('old-mixed', 'Mixed', '', 0, 1, 1)",
    "insert into role_permissions (role_id, permission) values \
         ('old-invoices', 'invoices:read'), ('old-invoices', 'invoices:write'), \
         ('old-mixed', 'audit:read'), ('old-mixed', 'reports:read')",
    "insert into service_accounts (id, name, client_id, secret_hash, created_at, updated_at) \
         values ('old-account', 'legacy', 'kgc_legacy', 'x', 1, 1)",
    "insert into account_roles (account_id, role_id) values \
         ('old-account', 'old-invoices'), ('old-account', 'old-mixed')",
    "insert into groups (id, name, description, created_at, updated_at) \
         values ('old-group', 'billing-team', '', 1, 1)",
    "insert into group_roles (group_id, role_id) values ('old-group', 'old-mixed')",
];

#[tokio::test]
async fn an_older_database_keeps_every_role_binding_and_permission() {
    let db: Arc<TestDb> = TestDb::fresh().await;
    migrate_up_to(&db.url, db.is_postgres(), 20261201000002).await;
    let app = TestApp::builder().over(db).serving().start().await;
    let h = Http::over(app).await;

    // The custom permissions moved to the API the migration made.
    let custom = h
        .get("/api/v1/apis/custom")
        .await
        .ok(StatusCode::OK)
        .clone();
    assert_eq!(custom["identifier"], "urn:keygate:custom");
    assert_eq!(custom["builtin"], false);
    let defined: Vec<&str> = custom["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        defined,
        vec!["invoices:read", "invoices:write", "reports:read"]
    );
    let role = |id: &str| {
        let h = &h;
        let path = format!("/api/v1/roles/{id}");
        async move { h.get(&path).await.ok(StatusCode::OK).clone() }
    };
    let invoices = role("old-invoices").await;
    assert_eq!(invoices["api"], custom["id"]);
    assert_eq!(invoices["name"], "Invoices");
    assert_eq!(
        invoices["permissions"],
        json!(["invoices:read", "invoices:write"])
    );
    // The mixed role kept keygate's permissions and has a twin with the rest, held by the
    // same holders.
    let mixed = role("old-mixed").await;
    assert_eq!(mixed["api"], "builtin-keygate");
    assert_eq!(mixed["permissions"], json!(["audit:read"]));
    let twin = role("old-mixed-custom").await;
    assert_eq!(twin["api"], custom["id"]);
    assert_eq!(twin["name"], "Mixed (custom)");
    assert_eq!(twin["permissions"], json!(["reports:read"]));
    assert_eq!(
        twin["held_by"],
        json!({"service_accounts": 1, "groups": 1, "console_users": 0})
    );
    let account = h.get("/api/v1/service-accounts/old-account").await;
    let mut names: Vec<String> = account.ok(StatusCode::OK)["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["Invoices", "Mixed", "Mixed (custom)"]);
    let effective = h
        .app
        .state
        .admin
        .effective_permissions(&Actor::system(), "old-account")
        .await
        .unwrap();
    let mut held: Vec<&str> = effective.iter().map(|e| e.permission.as_str()).collect();
    held.sort_unstable();
    held.dedup();
    assert_eq!(
        held,
        vec![
            "audit:read",
            "invoices:read",
            "invoices:write",
            "reports:read"
        ]
    );

    // The administrator renames it and gives it the API's real identifier; roles follow.
    let v = h
        .patch(
            "/api/v1/apis/custom",
            json!({"name": "Billing", "identifier": "https://billing.example/api"}),
        )
        .await
        .ok(StatusCode::OK)
        .clone();
    assert_eq!(v["permissions"], custom["permissions"]);
    assert_eq!(role("old-invoices").await["api"], custom["id"]);
}
