//! The service-account list for daily use (issue 13), driven through the router: a total
//! ("51–62 of 62"), Previous and Next, page sizes 25/50/100, sorting by name, creation and
//! last use both ways, a role filter that finds holders through groups (marked as such),
//! all kept in the address and by the toggle without JavaScript, and a ⋮ menu per row.

use axum::http::{StatusCode, header};
use keygate::admin::roles::{GroupInput, RoleInput};
use keygate::domain::audit::Actor;

use crate::console::{Browser, console_user, csrf_of, signed_in_admin, value_of};
use crate::helpers::{Creds, TestApp};

/// An attribute's text as the browser reads it.
fn unescape(s: &str) -> String {
    s.replace("&#38;", "&").replace("&amp;", "&")
}

/// The address of the link whose `rel` is `rel`, unescaped.
fn link(html: &str, rel: &str) -> Option<String> {
    let at = html.find(&format!("rel=\"{rel}\""))?;
    let start = html[..at].rfind("href=\"")? + 6;
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

/// The address of a column header's sort link (`name`, `created` or `last_used`).
fn sort_link(html: &str, column: &str) -> String {
    let n = ["name", "created", "last_used"]
        .iter()
        .position(|c| *c == column)
        .unwrap();
    let (i, m) = html
        .match_indices("<a class=\"sort\" href=\"")
        .nth(n)
        .unwrap();
    let start = i + m.len();
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

/// The account ids of the rows, in order.
fn row_ids(html: &str) -> Vec<String> {
    html.match_indices("<tr data-account-id=\"")
        .map(|(i, m)| {
            let start = i + m.len();
            let end = html[start..].find('"').unwrap() + start;
            html[start..end].to_owned()
        })
        .collect()
}

async fn set_times(app: &TestApp, c: &Creds, created: i64, last_used: Option<i64>) {
    sqlx::query("update service_accounts set created_at = $1, last_used_at = $2 where id = $3")
        .bind(created)
        .bind(last_used)
        .bind(&c.id)
        .execute(app.state.store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_list_shows_its_range_of_the_total_in_pages_of_25_50_or_100() {
    let app = TestApp::spawn().await;
    for i in 0..62 {
        app.account(&format!("acct-{i:02}")).create().await;
    }
    let mut b = signed_in_admin(&app).await;
    let first = b.get("/settings/service-accounts").await.text();
    assert!(first.contains("1\u{2013}50 of 62"), "{first}");
    assert_eq!(row_ids(&first).len(), 50);
    assert!(link(&first, "prev").is_none());
    let next = link(&first, "next").expect("a Next link");
    let second = b.get(&next).await.text();
    assert!(second.contains("51\u{2013}62 of 62"), "{second}");
    assert_eq!(row_ids(&second).len(), 12);
    assert!(second.contains(">acct-61<"), "{second}");
    assert!(link(&second, "next").is_none());
    let prev = link(&second, "prev").expect("a Previous link");
    assert_eq!(prev, "/settings/service-accounts");
    let back = b.get(&prev).await.text();
    assert_eq!(row_ids(&back), row_ids(&first));

    let small = b.get("/settings/service-accounts?size=25").await.text();
    assert!(small.contains("1\u{2013}25 of 62"), "{small}");
    let next = link(&small, "next").unwrap();
    assert!(next.contains("size=25"), "{next}");
    let page2 = b.get(&next).await.text();
    assert!(page2.contains("26\u{2013}50 of 62"), "{page2}");
    let page3 = b.get(&link(&page2, "next").unwrap()).await.text();
    assert!(page3.contains("51\u{2013}62 of 62"), "{page3}");
    // Previous from the third page of 25 is the second, read backwards by its cursor.
    let prev = link(&page3, "prev").unwrap();
    assert!(prev.contains("before="), "{prev}");
    let again = b.get(&prev).await.text();
    assert_eq!(row_ids(&again), row_ids(&page2));
    assert!(again.contains("26\u{2013}50 of 62"), "{again}");

    let all = b.get("/settings/service-accounts?size=100").await.text();
    assert!(all.contains("1\u{2013}62 of 62"), "{all}");
    assert_eq!(row_ids(&all).len(), 62);
    // Any other size is the default.
    let odd = b.get("/settings/service-accounts?size=7").await.text();
    assert_eq!(row_ids(&odd).len(), 50);
    // A search counts its matches.
    let found = b.get("/settings/service-accounts?q=acct-1").await.text();
    assert!(found.contains("1\u{2013}10 of 10"), "{found}");
}

#[tokio::test]
async fn columns_sort_by_name_creation_and_last_use_both_ways_across_pages() {
    let app = TestApp::spawn().await;
    let mut made = Vec::new();
    for i in 0..30 {
        // Names in the reverse order of creation; last used only for even ones.
        let c = app.account(&format!("svc-{:02}", 29 - i)).create().await;
        let used = (i % 2 == 0).then_some(1_000_000 + i * 10);
        set_times(&app, &c, 1_000 + i, used).await;
        made.push(c);
    }
    let ids = |v: &[&Creds]| v.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    let mut b = signed_in_admin(&app).await;

    let by_name = b.get("/settings/service-accounts").await.text();
    let mut want: Vec<&Creds> = made.iter().rev().collect();
    assert_eq!(row_ids(&by_name), ids(&want));
    assert!(by_name.contains("aria-sort=\"ascending\""), "{by_name}");
    // Name again: the other way round.
    let desc = sort_link(&by_name, "name");
    assert!(desc.contains("dir=desc"), "{desc}");
    let page = b.get(&desc).await.text();
    want.reverse();
    assert_eq!(row_ids(&page), ids(&want));
    assert!(page.contains("aria-sort=\"descending\""), "{page}");

    // Created: newest first, then oldest first in pages of 25.
    let created = sort_link(&by_name, "created");
    let page = b.get(&created).await.text();
    let newest: Vec<&Creds> = made.iter().rev().collect();
    assert_eq!(row_ids(&page), ids(&newest));
    let oldest = b
        .get("/settings/service-accounts?sort=created&dir=asc&size=25")
        .await
        .text();
    let first25: Vec<&Creds> = made.iter().take(25).collect();
    assert_eq!(row_ids(&oldest), ids(&first25));
    let next = link(&oldest, "next").unwrap();
    assert!(
        next.contains("sort=created") && next.contains("dir=asc"),
        "{next}"
    );
    let rest = b.get(&next).await.text();
    let last5: Vec<&Creds> = made.iter().skip(25).collect();
    assert_eq!(row_ids(&rest), ids(&last5));
    assert!(rest.contains("26\u{2013}30 of 30"), "{rest}");

    // Last used: most recent first, never-used last (oldest creation breaks no tie: id does).
    let page = b
        .get("/settings/service-accounts?sort=last_used&size=100")
        .await
        .text();
    let got = row_ids(&page);
    let used: Vec<&Creds> = made.iter().step_by(2).rev().collect();
    assert_eq!(got[..15], ids(&used)[..]);
    let mut never: Vec<String> = made
        .iter()
        .skip(1)
        .step_by(2)
        .map(|c| c.id.clone())
        .collect();
    never.sort();
    never.reverse();
    assert_eq!(got[15..], never[..]);
}

#[tokio::test]
async fn the_role_filter_finds_holders_direct_and_through_groups_marked_as_such() {
    let app = TestApp::spawn().await;
    let admin = &app.state.admin;
    let role = admin
        .create_role(
            &Actor::system(),
            RoleInput {
                name: "Deployer".into(),
                description: String::new(),
                permissions: vec!["deploy:run".into()],
                api: Some(app.api_defining(&["deploy:run"]).await),
            },
        )
        .await
        .unwrap()
        .id;
    let direct = app.account("direct").roles(&["Deployer"]).create().await;
    let grouped = app.account("grouped").create().await;
    let other = app.account("other").create().await;
    admin
        .save_group(
            &Actor::system(),
            None,
            GroupInput {
                name: "ops".into(),
                description: String::new(),
                role_ids: vec![role.clone()],
                member_ids: vec![grouped.id.clone()],
                bindings: None,
            },
        )
        .await
        .unwrap();
    let mut b = signed_in_admin(&app).await;
    let all = b.get("/settings/service-accounts").await.text();
    assert!(
        all.contains(&format!("<option value=\"{role}\" >Deployer</option>")),
        "{all}"
    );
    assert_eq!(row_ids(&all).len(), 3);
    let page = b
        .get(&format!("/settings/service-accounts?role={role}"))
        .await
        .text();
    assert_eq!(row_ids(&page), vec![direct.id.clone(), grouped.id.clone()]);
    assert!(!page.contains(&other.id));
    assert!(page.contains("1\u{2013}2 of 2"), "{page}");
    assert!(
        page.contains("Deployer <span class=\"via\">via group ops</span>"),
        "{page}"
    );
    assert!(
        page.contains("title=\"Deployer (via group ops)\""),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "<option value=\"{role}\" selected>Deployer</option>"
        )),
        "{page}"
    );
    // With a status filter too; an unknown role matches nobody.
    admin
        .set_enabled(&Actor::system(), &grouped.id, false)
        .await
        .unwrap();
    let page = b
        .get(&format!(
            "/settings/service-accounts?role={role}&status=disabled"
        ))
        .await
        .text();
    assert_eq!(row_ids(&page), vec![grouped.id.clone()]);
    let none = b.get("/settings/service-accounts?role=nope").await.text();
    assert!(row_ids(&none).is_empty());
    assert!(
        none.contains("No  service account with that role."),
        "{none}"
    );
}

#[tokio::test]
async fn toggling_without_javascript_keeps_search_filters_order_size_and_page() {
    let app = TestApp::spawn().await;
    let role = app
        .state
        .admin
        .create_role(
            &Actor::system(),
            RoleInput {
                name: "Reader".into(),
                description: String::new(),
                permissions: vec!["data:read".into()],
                api: Some(app.api_defining(&["data:read"]).await),
            },
        )
        .await
        .unwrap()
        .id;
    for i in 0..30 {
        app.account(&format!("billing-{i:02}"))
            .roles(&["Reader"])
            .create()
            .await;
    }
    let mut b = signed_in_admin(&app).await;
    let url =
        format!("/settings/service-accounts?q=billing&role={role}&sort=created&dir=asc&size=25");
    let page = b.get(&url).await.text();
    let page2_url = link(&page, "next").unwrap();
    let page2 = b.get(&page2_url).await.text();
    let target = row_ids(&page2)[0].clone();
    for (k, v) in [
        ("q", "billing".to_owned()),
        ("role", role.clone()),
        ("sort", "created".to_owned()),
        ("dir", "asc".to_owned()),
        ("size", "25".to_owned()),
    ] {
        assert!(
            unescape(&page2).contains(&format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{v}\">"
            )),
            "{k}: {page2}"
        );
    }
    let after = value_of(&page2, "name=\"after\" value=\"").unwrap();
    let csrf = csrf_of(&page2);
    let res = b
        .post(
            &format!("/settings/service-accounts/{target}/enabled"),
            &[
                ("csrf", &csrf),
                ("q", "billing"),
                ("role", &role),
                ("sort", "created"),
                ("dir", "asc"),
                ("size", "25"),
                ("after", &after),
                ("enabled", "false"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header(header::LOCATION).unwrap(), page2_url);
    let back = b.follow(&res).await.text();
    assert!(back.contains("26\u{2013}30 of 30"), "{back}");
    assert!(back.contains("disabled."), "{back}");
}

#[tokio::test]
async fn each_row_has_a_menu_with_view_and_for_writers_disable_regenerate_and_delete() {
    let app = TestApp::spawn().await;
    let c = app.account("billing").create().await;
    let mut b = signed_in_admin(&app).await;
    let page = b.get("/settings/service-accounts").await.text();
    assert!(
        page.contains("<summary aria-label=\"Actions for billing\">"),
        "{page}"
    );
    let id = &c.id;
    for want in [
        format!("<a href=\"/settings/service-accounts/{id}\">View</a>"),
        format!("<a href=\"/settings/service-accounts/{id}/regenerate\">Regenerate</a>"),
        format!("<a href=\"/settings/service-accounts/{id}/delete\" class=\"danger\">Delete</a>"),
        "<button type=\"submit\" class=\"menu-item\">Disable</button>".to_owned(),
    ] {
        assert!(page.contains(&want), "{want}: {page}");
    }
    // The switch is a switch: its state in aria-checked, its name the account's.
    assert!(page.contains("role=\"switch\""), "{page}");
    assert!(page.contains("aria-checked=\"true\""), "{page}");
    assert!(page.contains("aria-label=\"billing enabled\""), "{page}");

    console_user(&app, "auditor", &["Auditor"]).await;
    let mut ro = Browser::new(&app);
    ro.sign_in("auditor", crate::console::PASSWORD).await;
    let page = ro.get("/settings/service-accounts").await.text();
    assert!(page.contains(&format!("/settings/service-accounts/{id}\">View</a>")));
    assert!(!page.contains("Regenerate</a>"), "{page}");
    assert!(!page.contains("class=\"menu-item\""), "{page}");
}

#[tokio::test]
async fn a_role_held_by_thousands_filters_on_the_ordered_scan_with_the_same_answer() {
    use keygate::store::accounts::{NewAccount, insert_many};
    let app = TestApp::spawn().await;
    // 5,010 holders (more than the list matches from the holders' side) and 5 others.
    let ids: Vec<String> = (0..5_015).map(|i| format!("id-{i:05}")).collect();
    let names: Vec<String> = (0..5_015).map(|i| format!("bulk-{i:05}")).collect();
    let client_ids: Vec<String> = (0..5_015).map(|i| format!("cid-{i:05}")).collect();
    let holder = vec!["builtin-auditor".to_owned()];
    let none: Vec<String> = Vec::new();
    let news: Vec<NewAccount<'_>> = (0..5_015)
        .map(|i| NewAccount {
            id: &ids[i],
            name: &names[i],
            description: "",
            client_id: &client_ids[i],
            secret_hash: "",
            token_lifetime_secs: 3600,
            auth_method: "client_secret_basic",
            role_ids: if i % 1003 == 7 { &none } else { &holder },
            now: 1_000 + i64::try_from(i).unwrap(),
        })
        .collect();
    let mut tx = app.state.store.begin().await.unwrap();
    insert_many(&mut tx, &news).await.unwrap();
    tx.commit().await.unwrap();
    if app.state.store.backend() == keygate::store::Backend::Postgres {
        sqlx::query("analyze")
            .execute(app.state.store.pool())
            .await
            .unwrap();
    }
    let mut b = signed_in_admin(&app).await;
    let page = b
        .get("/settings/service-accounts?role=builtin-auditor&sort=created&dir=desc")
        .await
        .text();
    assert!(page.contains("1\u{2013}50 of 5,010"), "{page}");
    let rows = row_ids(&page);
    assert_eq!(rows[..3], ["id-05014", "id-05013", "id-05012"]);
    let next = b.get(&link(&page, "next").unwrap()).await.text();
    assert!(next.contains("51\u{2013}100 of 5,010"), "{next}");
    // Oldest first: id-00007 (7 % 1003 == 7) holds no role and is skipped.
    let oldest = b
        .get("/settings/service-accounts?role=builtin-auditor&sort=created&dir=asc&size=25")
        .await
        .text();
    let rows = row_ids(&oldest);
    assert_eq!(rows[6..8], ["id-00006", "id-00008"]);
}
