//! The REST API's route table. The router is built from it and so is the OpenAPI 3
//! document at `/api/openapi.json`, so the two cannot drift apart.

use axum::routing::{MethodRouter, delete, get, patch, post};
use serde_json::{Map, Value, json};

use super::{access, accounts, keys};
use crate::app::AppState;
use crate::domain::permission::{
    AUDIT_READ, ROLES_WRITE, SERVICE_ACCOUNTS_READ, SERVICE_ACCOUNTS_WRITE,
};

/// A field of a JSON request body or a query string.
pub struct Field {
    /// Name.
    pub name: &'static str,
    /// JSON schema type: `string`, `integer`, `boolean` or `array` (of strings).
    pub kind: &'static str,
    /// Whether it must be given.
    pub required: bool,
    /// What it means.
    pub doc: &'static str,
}

const fn f(name: &'static str, kind: &'static str, required: bool, doc: &'static str) -> Field {
    Field {
        name,
        kind,
        required,
        doc,
    }
}

/// One operation of the REST API.
pub struct Route {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path below `/api/v1`, with `{param}` segments.
    pub path: &'static str,
    /// One line for the document.
    pub summary: &'static str,
    /// The permission the caller's token needs, if any.
    pub permission: Option<&'static str>,
    /// Query parameters.
    pub query: &'static [Field],
    /// JSON body fields.
    pub body: &'static [Field],
    /// Status of success.
    pub ok: u16,
    /// Whether the success response holds a client secret (shown once).
    pub secret: bool,
    /// The handler.
    pub handler: fn() -> MethodRouter<AppState>,
}

const ACCOUNT_FIELDS: &[Field] = &[
    f("name", "string", true, "unique, 1 to 100 characters"),
    f("description", "string", false, "at most 1000 characters"),
    f("roles", "array", false, "role names or ids"),
    f(
        "token_lifetime_secs",
        "integer",
        false,
        "60 to 86400; default 3600",
    ),
    f(
        "token_endpoint_auth_method",
        "string",
        false,
        "client_secret_basic (default) or private_key_jwt",
    ),
    f(
        "jwks",
        "object",
        false,
        "private_key_jwt: the public keys, a JWK Set",
    ),
    f(
        "public_key",
        "string",
        false,
        "private_key_jwt: the public key, PEM SubjectPublicKeyInfo",
    ),
    f(
        "generate_key",
        "boolean",
        false,
        "private_key_jwt: make a P-256 key pair; its key file is in this response only",
    ),
    f(
        "expires_at",
        "string",
        false,
        "RFC 3339: when the keys stop working",
    ),
];
const KEY_FIELDS: &[Field] = &[
    f("jwks", "object", false, "the public keys, a JWK Set"),
    f(
        "public_key",
        "string",
        false,
        "the public key, PEM SubjectPublicKeyInfo",
    ),
    f(
        "generate_key",
        "boolean",
        false,
        "make a P-256 key pair; its key file is in this response only",
    ),
    f(
        "expires_at",
        "string",
        false,
        "RFC 3339: when the key stops working",
    ),
];
const ACCOUNT_PATCH: &[Field] = &[
    f("name", "string", false, "unique, 1 to 100 characters"),
    f("description", "string", false, "at most 1000 characters"),
    f(
        "roles",
        "array",
        false,
        "role names or ids; replaces the direct roles",
    ),
    f(
        "groups",
        "array",
        false,
        "group names or ids; replaces the groups",
    ),
    f("token_lifetime_secs", "integer", false, "60 to 86400"),
    f(
        "enabled",
        "boolean",
        false,
        "false kills every token at once",
    ),
];
const ROLE_FIELDS: &[Field] = &[
    f("name", "string", true, "unique"),
    f("description", "string", false, ""),
    f(
        "permissions",
        "array",
        false,
        "permission strings such as invoices:read",
    ),
];
const GROUP_FIELDS: &[Field] = &[
    f("name", "string", true, "unique"),
    f("description", "string", false, ""),
    f("roles", "array", false, "role names or ids"),
    f("members", "array", false, "service-account ids"),
];

/// Every operation of `/api/v1`.
pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/whoami",
        summary: "The account behind the token, its roles and what the token allows",
        permission: None,
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(super::whoami),
    },
    Route {
        method: "delete",
        path: "/session",
        summary: "Revoke the token used for this request",
        permission: None,
        query: &[],
        body: &[],
        ok: 204,
        secret: false,
        handler: || delete(super::end_session),
    },
    Route {
        method: "get",
        path: "/service-accounts",
        summary: "List service accounts by name",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[
            f("q", "string", false, "substring of the name"),
            f(
                "enabled",
                "boolean",
                false,
                "only enabled or disabled accounts",
            ),
            f(
                "cursor",
                "string",
                false,
                "next_cursor of the previous page",
            ),
            f("limit", "integer", false, "1 to 200; default 50"),
        ],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(accounts::list_service_accounts),
    },
    Route {
        method: "post",
        path: "/service-accounts",
        summary: "Create a service account; the client secret is in this response only",
        permission: Some(SERVICE_ACCOUNTS_WRITE),
        query: &[],
        body: ACCOUNT_FIELDS,
        ok: 201,
        secret: true,
        handler: || post(accounts::create_service_account),
    },
    Route {
        method: "get",
        path: "/service-accounts/{id}",
        summary: "One service account",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(accounts::get_service_account),
    },
    Route {
        method: "patch",
        path: "/service-accounts/{id}",
        summary: "Change name, description, lifetime, roles, groups or status",
        permission: Some(SERVICE_ACCOUNTS_WRITE),
        query: &[],
        body: ACCOUNT_PATCH,
        ok: 200,
        secret: false,
        handler: || patch(accounts::update_service_account),
    },
    Route {
        method: "delete",
        path: "/service-accounts/{id}",
        summary: "Delete a service account, its credentials and tokens",
        permission: Some(SERVICE_ACCOUNTS_WRITE),
        query: &[],
        body: &[],
        ok: 204,
        secret: false,
        handler: || delete(accounts::delete_service_account),
    },
    Route {
        method: "post",
        path: "/service-accounts/{id}/regenerate",
        summary: "New client ID and secret (in this response only); the old pair stops working",
        permission: Some(SERVICE_ACCOUNTS_WRITE),
        query: &[],
        body: &[f(
            "grace_period_seconds",
            "integer",
            false,
            "0 to 86400: how long the old pair and its tokens keep working",
        )],
        ok: 200,
        secret: true,
        handler: || post(accounts::regenerate_credentials),
    },
    Route {
        method: "get",
        path: "/service-accounts/{id}/keys",
        summary: "The public keys of a private_key_jwt account",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(keys::list_keys),
    },
    Route {
        method: "post",
        path: "/service-accounts/{id}/keys",
        summary: "Add a public key (pasted or generated: the key file is in this response only)",
        permission: Some(SERVICE_ACCOUNTS_WRITE),
        query: &[],
        body: KEY_FIELDS,
        ok: 201,
        secret: true,
        handler: || post(keys::add_key),
    },
    Route {
        method: "delete",
        path: "/service-accounts/{id}/keys/{kid}",
        summary: "Delete a key (not the last one: 409)",
        permission: Some(SERVICE_ACCOUNTS_WRITE),
        query: &[],
        body: &[],
        ok: 204,
        secret: false,
        handler: || delete(keys::delete_key),
    },
    Route {
        method: "get",
        path: "/service-accounts/{id}/sessions",
        summary: "The account's live access tokens, newest first",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(accounts::list_sessions),
    },
    Route {
        method: "delete",
        path: "/service-accounts/{id}/sessions",
        summary: "Revoke every token of the account",
        permission: Some(SERVICE_ACCOUNTS_WRITE),
        query: &[],
        body: &[],
        ok: 204,
        secret: false,
        handler: || delete(accounts::revoke_all_sessions),
    },
    Route {
        method: "delete",
        path: "/service-accounts/{id}/sessions/{jti}",
        summary: "Revoke one token of the account",
        permission: Some(SERVICE_ACCOUNTS_WRITE),
        query: &[],
        body: &[],
        ok: 204,
        secret: false,
        handler: || delete(accounts::revoke_session),
    },
    Route {
        method: "get",
        path: "/roles",
        summary: "Every role with its permissions",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(access::list_roles),
    },
    Route {
        method: "post",
        path: "/roles",
        summary: "Create a custom role",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: ROLE_FIELDS,
        ok: 201,
        secret: false,
        handler: || post(access::create_role),
    },
    Route {
        method: "get",
        path: "/roles/{id}",
        summary: "One role and how many hold it",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(access::get_role),
    },
    Route {
        method: "patch",
        path: "/roles/{id}",
        summary: "Change a custom role",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: ROLE_FIELDS,
        ok: 200,
        secret: false,
        handler: || patch(access::update_role),
    },
    Route {
        method: "delete",
        path: "/roles/{id}",
        summary: "Delete a custom role (in use: confirm=true removes it from its holders)",
        permission: Some(ROLES_WRITE),
        query: &[f(
            "confirm",
            "boolean",
            false,
            "required when the role is held",
        )],
        body: &[],
        ok: 204,
        secret: false,
        handler: || delete(access::delete_role),
    },
    Route {
        method: "get",
        path: "/groups",
        summary: "Every group with its roles and members",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(access::list_groups),
    },
    Route {
        method: "post",
        path: "/groups",
        summary: "Create a group",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: GROUP_FIELDS,
        ok: 201,
        secret: false,
        handler: || post(access::create_group),
    },
    Route {
        method: "get",
        path: "/groups/{id}",
        summary: "One group",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(access::get_group),
    },
    Route {
        method: "patch",
        path: "/groups/{id}",
        summary: "Change a group's name, roles or members",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: GROUP_FIELDS,
        ok: 200,
        secret: false,
        handler: || patch(access::update_group),
    },
    Route {
        method: "delete",
        path: "/groups/{id}",
        summary: "Delete a group",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: &[],
        ok: 204,
        secret: false,
        handler: || delete(access::delete_group),
    },
    Route {
        method: "get",
        path: "/audit-events",
        summary: "The audit log, newest first",
        permission: Some(AUDIT_READ),
        query: &[
            f("actor", "string", false, "actor name or id"),
            f("target", "string", false, "target name or id"),
            f(
                "action",
                "string",
                false,
                "action, or a prefix ending in '.'",
            ),
            f("since", "integer", false, "epoch seconds"),
            f("until", "integer", false, "epoch seconds"),
            f(
                "cursor",
                "integer",
                false,
                "next_cursor of the previous page",
            ),
            f("limit", "integer", false, "1 to 500; default 50"),
        ],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(access::list_audit_events),
    },
];

fn schema(kind: &str) -> Value {
    if kind == "array" {
        json!({"type": "array", "items": {"type": "string"}})
    } else {
        json!({ "type": kind })
    }
}

/// The OpenAPI 3.0 document of every route in [`ROUTES`].
pub fn openapi(issuer: &str) -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let mut params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(r.query.iter().map(|q| {
            json!({"name": q.name, "in": "query", "required": q.required,
                   "description": q.doc, "schema": schema(q.kind)})
        }));
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{}{}", r.method, r.path.replace(['/', '{', '}', '-'], "_")),
            "parameters": params,
            "security": [{"bearer": []}],
            "responses": {
                r.ok.to_string(): {"description": if r.secret {
                    "Success. Holds the client secret: it is shown only in this response."
                } else { "Success" }},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
                "409": {"$ref": "#/components/responses/Error"},
                "422": {"$ref": "#/components/responses/Error"},
            },
        });
        if let Some(p) = r.permission {
            op["description"] = format!("Needs the `{p}` permission.").into();
        }
        if !r.body.is_empty() {
            let props: Map<String, Value> = r
                .body
                .iter()
                .map(|b| {
                    let mut s = schema(b.kind);
                    s["description"] = b.doc.into();
                    (b.name.to_owned(), s)
                })
                .collect();
            let required: Vec<&str> = r
                .body
                .iter()
                .filter(|b| b.required)
                .map(|b| b.name)
                .collect();
            let mut body_schema =
                json!({"type": "object", "additionalProperties": false, "properties": props});
            if !required.is_empty() {
                body_schema["required"] = json!(required);
            }
            op["requestBody"] = json!({
                "required": !required.is_empty(),
                "content": {"application/json": {"schema": body_schema}},
            });
        }
        let entry = paths
            .entry(format!("/api/v1{}", r.path))
            .or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "keygate REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Everything the console does, for automation. Authorise with a \
                service account's access token from /oauth/token.",
        },
        // Paths start with a slash: the server URL must not end with one (OpenAPI 3 §4.7.5).
        "servers": [{"url": issuer.trim_end_matches('/')}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "responses": {"Error": {
                "description": "An error",
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "field": {"type": "string", "description": "the invalid field (422)"},
                    },
                }}},
            }},
        },
    })
}
