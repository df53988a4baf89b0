//! The console's pages for the access model (issue 10): Settings → APIs and Hierarchy, the
//! wizard's product, and the bindings of the account page and the group page, driven through
//! forms as a browser without JavaScript does.

use axum::http::StatusCode;
use serde_json::json;

use crate::console::{Browser, PASSWORD, console_user, csrf_of, signed_in_admin};
use crate::helpers::TestApp;

#[tokio::test]
async fn an_administrator_adds_edits_and_deletes_an_api_in_settings() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let list = b.get("/settings/apis").await;
    assert_eq!(list.status, StatusCode::OK);
    let html = list.text();
    assert!(
        html.contains("keygate") && html.contains(&format!("{}/api", app.issuer)),
        "{html}"
    );
    let csrf = csrf_of(&b.get("/settings/apis/new").await.text());
    // A bad identifier is refused inline, nothing lost.
    let bad = b
        .post(
            "/settings/apis/new",
            &[
                ("csrf", &csrf),
                ("name", "Billing"),
                ("identifier", "billing"),
                ("permissions", "invoices:read See invoices"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = bad.text();
    assert!(
        page.contains("absolute URI") && page.contains("invoices:read See invoices"),
        "{page}"
    );
    let ok = b
        .post(
            "/settings/apis/new",
            &[
                ("csrf", &csrf),
                ("name", "Billing"),
                ("identifier", "https://billing.example"),
                ("permissions", "invoices:read See invoices\ninvoices:write"),
            ],
        )
        .await;
    let listed = b.follow(&ok).await.text();
    assert!(listed.contains("API Billing added."), "{listed}");
    let apis = app
        .state
        .admin
        .list_apis(&keygate::domain::audit::Actor::system())
        .await
        .unwrap();
    let billing = apis.iter().find(|a| a.name == "Billing").unwrap();
    assert_eq!(billing.identifier, "https://billing.example");
    assert_eq!(billing.permissions.len(), 2);
    assert_eq!(billing.permissions[0].description, "See invoices");
    // Edit: dropping a permission.
    let edit = b
        .get(&format!("/settings/apis/{}/edit", billing.id))
        .await
        .text();
    assert!(edit.contains("invoices:write"), "{edit}");
    let saved = b
        .post(
            &format!("/settings/apis/{}/edit", billing.id),
            &[
                ("csrf", &csrf),
                ("name", "Billing"),
                ("identifier", "https://billing.example/v2"),
                ("permissions", "invoices:read See invoices"),
            ],
        )
        .await;
    assert!(b.follow(&saved).await.text().contains("API Billing saved."));
    // keygate's own cannot be edited.
    assert_eq!(
        b.get("/settings/apis/builtin-keygate/edit").await.status,
        StatusCode::FORBIDDEN
    );
    // Delete.
    let confirm = b
        .get(&format!("/settings/apis/{}/delete", billing.id))
        .await
        .text();
    assert!(confirm.contains("Delete Billing?"), "{confirm}");
    let deleted = b
        .post(
            &format!("/settings/apis/{}/delete", billing.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(b.follow(&deleted).await.text().contains("API deleted."));
}

#[tokio::test]
async fn the_hierarchy_page_adds_children_renames_moves_and_deletes_empty_nodes() {
    let app = TestApp::spawn().await;
    let mut b = signed_in_admin(&app).await;
    let csrf = csrf_of(&b.get("/settings/hierarchy/new").await.text());
    let add = |name: &'static str, kind: &'static str, parent: String| (name, kind, parent);
    let mut ids = Vec::new();
    for (name, kind, parent) in [add("acme", "Company", String::new())] {
        let res = b
            .post(
                "/settings/hierarchy/new",
                &[
                    ("csrf", &csrf),
                    ("name", name),
                    ("kind", kind),
                    ("parent", &parent),
                ],
            )
            .await;
        assert!(b.follow(&res).await.text().contains("Node acme added."));
    }
    let nodes = app
        .state
        .admin
        .list_nodes(&keygate::domain::audit::Actor::system())
        .await
        .unwrap();
    ids.push(nodes[0].id.clone());
    let child = b
        .post(
            "/settings/hierarchy/new",
            &[
                ("csrf", &csrf),
                ("name", "shop"),
                ("kind", "Project"),
                ("parent", &ids[0]),
            ],
        )
        .await;
    let page = b.follow(&child).await.text();
    assert!(page.contains("Node acme/shop added."), "{page}");
    // A slash in a name is refused inline.
    let bad = b
        .post(
            "/settings/hierarchy/new",
            &[
                ("csrf", &csrf),
                ("name", "a/b"),
                ("kind", ""),
                ("parent", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("must not contain /"));
    let nodes = app
        .state
        .admin
        .list_nodes(&keygate::domain::audit::Actor::system())
        .await
        .unwrap();
    let shop = nodes.iter().find(|n| n.name == "shop").unwrap().clone();
    // The parent offered when editing never includes the node itself.
    let edit = b
        .get(&format!("/settings/hierarchy/{}/edit", shop.id))
        .await
        .text();
    assert!(
        !edit.contains(&format!("<option value=\"{}\"", shop.id)),
        "{edit}"
    );
    // Rename and move to the root.
    let moved = b
        .post(
            &format!("/settings/hierarchy/{}/edit", shop.id),
            &[
                ("csrf", &csrf),
                ("name", "store"),
                ("kind", "Project"),
                ("parent", ""),
            ],
        )
        .await;
    assert!(b.follow(&moved).await.text().contains("Node store saved."));
    let deleted = b
        .post(
            &format!("/settings/hierarchy/{}/delete", shop.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(b.follow(&deleted).await.text().contains("Node deleted."));
}

#[tokio::test]
async fn the_wizard_binds_a_product_and_the_account_page_adds_and_removes_bindings() {
    let app = TestApp::spawn().await;
    let admin = app.account("root").roles(&["Administrator"]).create().await;
    let token = app.token(&admin).await;
    let post = |path: &'static str, body: serde_json::Value| {
        let token = token.clone();
        let app = &app;
        async move {
            app.post(path)
                .bearer(&token)
                .json(&body)
                .send()
                .await
                .json()
        }
    };
    let p = post(
        "/api/v1/apis",
        json!({"name": "P", "identifier": "https://p.example", "permissions": ["p:read"]}),
    )
    .await;
    let q = post(
        "/api/v1/apis",
        json!({"name": "Q", "identifier": "https://q.example", "permissions": ["q:read"]}),
    )
    .await;
    let p_role = post(
        "/api/v1/roles",
        json!({"name": "P reader", "api": p["id"], "permissions": ["p:read"]}),
    )
    .await;
    post(
        "/api/v1/roles",
        json!({"name": "Q reader", "api": q["id"], "permissions": ["q:read"]}),
    )
    .await;
    let node = post("/api/v1/nodes", json!({"name": "acme", "kind": "Company"})).await;

    let mut b = signed_in_admin(&app).await;
    let step1 = b.get("/settings/service-accounts/new").await.text();
    assert!(
        step1.contains("API (product)") && step1.contains("https://p.example"),
        "{step1}"
    );
    let csrf = csrf_of(&step1);
    let pid = p["id"].as_str().unwrap();
    let step2 = b
        .post(
            "/settings/service-accounts/new",
            &[
                ("csrf", &csrf),
                ("step", "roles"),
                ("name", "itential"),
                ("description", ""),
                ("auth", "client_secret"),
                ("api", pid),
            ],
        )
        .await
        .text();
    assert!(
        step2.contains("P reader") && !step2.contains("Q reader"),
        "{step2}"
    );
    assert!(step2.contains("only its roles are offered"), "{step2}");
    let p_role_id = p_role["id"].as_str().unwrap();
    let created = b
        .post(
            "/settings/service-accounts/new",
            &[
                ("csrf", &csrf),
                ("step", "create"),
                ("name", "itential"),
                ("description", ""),
                ("auth", "client_secret"),
                ("api", pid),
                ("role", p_role_id),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let list = app
        .get("/api/v1/service-accounts?q=itential")
        .bearer(&token)
        .send()
        .await
        .json();
    let account = &list["items"][0];
    assert_eq!(account["api"], pid);
    let id = account["id"].as_str().unwrap();

    // The account page shows the product and binds the role at a node, then removes it.
    let page = b
        .get(&format!("/settings/service-accounts/{id}"))
        .await
        .text();
    assert!(page.contains("Product: <strong>P</strong>"), "{page}");
    let node_id = node["id"].as_str().unwrap();
    let added = b
        .post(
            &format!("/settings/service-accounts/{id}/bindings"),
            &[("csrf", &csrf), ("role", p_role_id), ("node", node_id)],
        )
        .await;
    let page = b.follow(&added).await.text();
    assert!(page.contains("Binding added."), "{page}");
    assert!(page.contains("<code>acme</code> and below"), "{page}");
    let shown = app
        .get(&format!("/api/v1/service-accounts/{id}"))
        .bearer(&token)
        .send()
        .await
        .json();
    assert!(
        shown["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["node"] == "acme" && b["role"]["name"] == "P reader"),
        "{shown}"
    );
    let removed = b
        .post(
            &format!("/settings/service-accounts/{id}/bindings/remove"),
            &[("csrf", &csrf), ("role", p_role_id), ("node", node_id)],
        )
        .await;
    let page = b.follow(&removed).await.text();
    assert!(page.contains("Binding removed."), "{page}");
    assert!(!page.contains("<code>acme</code> and below"), "{page}");
}

#[tokio::test]
async fn the_group_page_lists_adds_and_removes_bindings_and_is_read_only_without_the_permission() {
    let app = TestApp::spawn().await;
    let admin = app.account("root").roles(&["Administrator"]).create().await;
    let token = app.token(&admin).await;
    let post = |path: &'static str, body: serde_json::Value| {
        let token = token.clone();
        let app = &app;
        async move {
            app.post(path)
                .bearer(&token)
                .json(&body)
                .send()
                .await
                .json()
        }
    };
    let api = post(
        "/api/v1/apis",
        json!({"name": "Mia", "identifier": "https://mia.example", "permissions": ["deploy:run"]}),
    )
    .await;
    let role = post(
        "/api/v1/roles",
        json!({"name": "Deployer", "api": api["id"], "permissions": ["deploy:run"]}),
    )
    .await;
    let node = post("/api/v1/nodes", json!({"name": "acme", "kind": "Company"})).await;
    let group = post(
        "/api/v1/groups",
        json!({"name": "ops", "description": "Operations"}),
    )
    .await;
    let (gid, role_id, node_id) = (
        group["id"].as_str().unwrap(),
        role["id"].as_str().unwrap(),
        node["id"].as_str().unwrap(),
    );
    let page_path = format!("/settings/groups/{gid}");
    let bindings = || async {
        app.get(&format!("/api/v1/groups/{gid}"))
            .bearer(&token)
            .send()
            .await
            .json()["bindings"]
            .clone()
    };

    let mut b = signed_in_admin(&app).await;
    let list = b.get("/settings/groups").await.text();
    assert!(list.contains(&format!("href=\"{page_path}\"")), "{list}");
    let page = b.get(&page_path).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("No role bindings yet."), "{html}");
    assert!(
        html.contains("Deployer (Mia)") && html.contains(">acme</option>"),
        "{html}"
    );
    let csrf = csrf_of(&html);

    // Without the CSRF token nothing changes.
    let forged = b
        .post(
            &format!("{page_path}/bindings"),
            &[("role", role_id), ("node", node_id)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(bindings().await, json!([]));

    let added = b
        .post(
            &format!("{page_path}/bindings"),
            &[("csrf", &csrf), ("role", role_id), ("node", node_id)],
        )
        .await;
    let html = b.follow(&added).await.text();
    assert!(html.contains("Binding added."), "{html}");
    assert!(html.contains("<code>acme</code> and below"), "{html}");
    assert_eq!(
        bindings().await,
        json!([{"role": {"id": role_id, "name": "Deployer", "api": api["id"]}, "node": "acme"}])
    );

    // A rule broken is said on the page, and nothing changes.
    let refused = b
        .post(
            &format!("{page_path}/bindings"),
            &[
                ("csrf", &csrf),
                ("role", "builtin-auditor"),
                ("node", node_id),
            ],
        )
        .await;
    let html = b.follow(&refused).await.text();
    assert!(html.contains("bound at the root only"), "{html}");
    assert_eq!(bindings().await.as_array().unwrap().len(), 1);

    // Someone who may read but not change groups sees the bindings, without the forms, and
    // is refused when posting anyway.
    console_user(&app, "manager", &["Service Account Manager"]).await;
    let mut m = Browser::new(&app);
    m.sign_in("manager", PASSWORD).await;
    let html = m.get(&page_path).await.text();
    assert!(html.contains("<code>acme</code> and below"), "{html}");
    assert!(
        !html.contains("Add binding") && !html.contains("/bindings/remove"),
        "{html}"
    );
    let m_csrf = csrf_of(&m.get("/settings/service-accounts").await.text());
    for action in ["bindings", "bindings/remove"] {
        let res = m
            .post(
                &format!("{page_path}/{action}"),
                &[("csrf", &m_csrf), ("role", role_id), ("node", node_id)],
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::FORBIDDEN,
            "{action}: {}",
            res.text()
        );
    }
    assert_eq!(bindings().await.as_array().unwrap().len(), 1);

    let removed = b
        .post(
            &format!("{page_path}/bindings/remove"),
            &[("csrf", &csrf), ("role", role_id), ("node", node_id)],
        )
        .await;
    let html = b.follow(&removed).await.text();
    assert!(html.contains("Binding removed."), "{html}");
    assert!(!html.contains("<code>acme</code> and below"), "{html}");
    assert_eq!(bindings().await, json!([]));
    // The group kept its name, description and members.
    let shown = app
        .get(&format!("/api/v1/groups/{gid}"))
        .bearer(&token)
        .send()
        .await
        .json();
    assert_eq!(shown["description"], "Operations");
}
