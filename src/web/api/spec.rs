//! The REST API's route table. The router is built from it and so is the OpenAPI 3
//! document at `/api/openapi.json`, so the two cannot drift apart.

use axum::routing::{MethodRouter, delete, get, patch, post};
use serde_json::{Map, Value, json};

use super::{access, accounts, federation, keys, personal_tokens, policies, signing_keys};
use crate::app::AppState;
use crate::domain::permission::{
    AUDIT_READ, POLICIES_WRITE, ROLES_WRITE, SERVICE_ACCOUNTS_READ, SERVICE_ACCOUNTS_WRITE,
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
    f(
        "api",
        "string",
        false,
        "the product: the id of the one API it is bound to",
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
const ISSUER_FIELDS: &[Field] = &[
    f("name", "string", true, "unique, 1 to 100 characters"),
    f(
        "issuer",
        "string",
        true,
        "the platform's issuer URL (http or https; https advised), compared exactly with iss",
    ),
    f(
        "jwks_uri",
        "string",
        false,
        "where its keys are; default: jwks_uri of its /.well-known/openid-configuration",
    ),
    f(
        "audience",
        "string",
        false,
        "what the token's aud must contain; default: keygate's issuer URL",
    ),
];
const ISSUER_PATCH: &[Field] = &[
    f("name", "string", false, "unique, 1 to 100 characters"),
    f("issuer", "string", false, "the platform's issuer URL"),
    f("jwks_uri", "string", false, "null: back to discovery"),
    f(
        "audience",
        "string",
        false,
        "null: back to keygate's issuer URL",
    ),
];
const CREDENTIAL_FIELDS: &[Field] = &[
    f(
        "trusted_issuer",
        "string",
        true,
        "the id of a trusted issuer",
    ),
    f(
        "subject",
        "string",
        false,
        "the exact sub; at least one of subject or conditions",
    ),
    f(
        "conditions",
        "objects",
        false,
        "[{claim, equals | matches}]: claims that must equal a value or match a glob (* and ?)",
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
    f(
        "api",
        "string",
        false,
        "the product: the id of the one API it is bound to, or null for none",
    ),
    f(
        "bindings",
        "objects",
        false,
        "{role, node} objects (node: a path, or null for the root); replaces them all; not with roles",
    ),
];
const ROLE_FIELDS: &[Field] = &[
    f("name", "string", true, "unique"),
    f(
        "api",
        "string",
        true,
        "the id or name of the API whose permissions it holds",
    ),
    f("description", "string", false, ""),
    f(
        "permissions",
        "array",
        false,
        "permissions the role's API defines, such as invoices:read",
    ),
];
const PERSONAL_TOKEN_FIELDS: &[Field] = &[
    f("name", "string", true, "1 to 100 characters"),
    f("expires_in_days", "integer", true, "1 to 90"),
    f(
        "scope",
        "string",
        false,
        "space-separated permissions, within what the account holds; default all",
    ),
    f(
        "resource",
        "string",
        false,
        "the identifier of the API it is for; default as for a token request",
    ),
];
const API_FIELDS: &[Field] = &[
    f("name", "string", true, "unique, 1 to 100 characters"),
    f(
        "identifier",
        "string",
        true,
        "absolute URI without fragment, unique: the aud of its tokens",
    ),
    f("description", "string", false, "at most 1000 characters"),
    f(
        "permissions",
        "objects",
        false,
        "the permissions it defines: {name, description} objects or plain strings",
    ),
];
const NODE_FIELDS: &[Field] = &[
    f(
        "name",
        "string",
        true,
        "1 to 100 characters, no /, unique among siblings",
    ),
    f(
        "kind",
        "string",
        false,
        "a label such as Company, Project, Environment",
    ),
    f(
        "parent",
        "string",
        false,
        "the parent's id or path; absent or null: below the root",
    ),
];
const GROUP_FIELDS: &[Field] = &[
    f("name", "string", true, "unique"),
    f("description", "string", false, ""),
    f(
        "roles",
        "array",
        false,
        "role names or ids (bindings at the root)",
    ),
    f("members", "array", false, "service-account ids"),
    f(
        "bindings",
        "objects",
        false,
        "{role, node} objects (node: a path, or null for the root); replaces them all",
    ),
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
        path: "/service-accounts/{id}/tokens",
        summary: "Personal access tokens of an account (id may be me), never their values",
        permission: None,
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(personal_tokens::list),
    },
    Route {
        method: "post",
        path: "/service-accounts/{id}/tokens",
        summary: "Make a personal access token (id may be me); the token is in this response only",
        permission: None,
        query: &[],
        body: PERSONAL_TOKEN_FIELDS,
        ok: 201,
        secret: true,
        handler: || post(personal_tokens::create),
    },
    Route {
        method: "delete",
        path: "/service-accounts/{id}/tokens/{token_id}",
        summary: "Delete a personal access token, at once on every instance",
        permission: None,
        query: &[],
        body: &[],
        ok: 204,
        secret: false,
        handler: || delete(personal_tokens::delete),
    },
    Route {
        method: "get",
        path: "/service-accounts/{id}/keys",
        summary: "The public keys of a private_key_jwt account: items of {kid, alg (one JWS \
                  algorithm: RS256 for an RSA key without a named alg, which also accepts \
                  PS256), public_jwk, created_at, expires_at, last_used_at}",
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
        path: "/trusted-issuers",
        summary: "Trusted external issuers (workload identity federation)",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(federation::list_trusted_issuers),
    },
    Route {
        method: "post",
        path: "/trusted-issuers",
        summary: "Trust an external issuer's tokens",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: ISSUER_FIELDS,
        ok: 201,
        secret: false,
        handler: || post(federation::create_trusted_issuer),
    },
    Route {
        method: "get",
        path: "/trusted-issuers/{id}",
        summary: "One trusted issuer",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(federation::get_trusted_issuer),
    },
    Route {
        method: "patch",
        path: "/trusted-issuers/{id}",
        summary: "Change a trusted issuer",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: ISSUER_PATCH,
        ok: 200,
        secret: false,
        handler: || patch(federation::update_trusted_issuer),
    },
    Route {
        method: "delete",
        path: "/trusted-issuers/{id}",
        summary: "Stop trusting an issuer (its federated credentials go with it)",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: &[],
        ok: 204,
        secret: false,
        handler: || delete(federation::delete_trusted_issuer),
    },
    Route {
        method: "get",
        path: "/service-accounts/{id}/federated-credentials",
        summary: "The account's federated credentials",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(federation::list_federated_credentials),
    },
    Route {
        method: "post",
        path: "/service-accounts/{id}/federated-credentials",
        summary: "Let a trusted issuer's tokens with this subject and these claims stand in for the account",
        permission: Some(SERVICE_ACCOUNTS_WRITE),
        query: &[],
        body: CREDENTIAL_FIELDS,
        ok: 201,
        secret: false,
        handler: || post(federation::add_federated_credential),
    },
    Route {
        method: "delete",
        path: "/service-accounts/{id}/federated-credentials/{fid}",
        summary: "Delete a federated credential",
        permission: Some(SERVICE_ACCOUNTS_WRITE),
        query: &[],
        body: &[],
        ok: 204,
        secret: false,
        handler: || delete(federation::delete_federated_credential),
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
        path: "/apis",
        summary: "Every API (resource server), keygate's own first",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(access::list_apis),
    },
    Route {
        method: "post",
        path: "/apis",
        summary: "Create an API",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: API_FIELDS,
        ok: 201,
        secret: false,
        handler: || post(access::create_api),
    },
    Route {
        method: "get",
        path: "/apis/{id}",
        summary: "One API",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(access::get_api),
    },
    Route {
        method: "patch",
        path: "/apis/{id}",
        summary: "Change the fields named (a removed permission leaves its roles)",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: API_FIELDS,
        ok: 200,
        secret: false,
        handler: || patch(access::update_api),
    },
    Route {
        method: "delete",
        path: "/apis/{id}",
        summary: "Delete an API no role uses",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: &[],
        ok: 204,
        secret: false,
        handler: || delete(access::delete_api),
    },
    Route {
        method: "get",
        path: "/nodes",
        summary: "Every node of the resource tree, by path",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(access::list_nodes),
    },
    Route {
        method: "post",
        path: "/nodes",
        summary: "Create a node",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: NODE_FIELDS,
        ok: 201,
        secret: false,
        handler: || post(access::create_node),
    },
    Route {
        method: "get",
        path: "/nodes/{id}",
        summary: "One node (id or path)",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(access::get_node),
    },
    Route {
        method: "patch",
        path: "/nodes/{id}",
        summary: "Rename, move or relabel a node",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: NODE_FIELDS,
        ok: 200,
        secret: false,
        handler: || patch(access::update_node),
    },
    Route {
        method: "delete",
        path: "/nodes/{id}",
        summary: "Delete a node without children or bindings",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: &[],
        ok: 204,
        secret: false,
        handler: || delete(access::delete_node),
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
    Route {
        method: "get",
        path: "/signing-keys",
        summary: "The published token-signing keys (kid, created_at, retires_at, signing)",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(signing_keys::list_signing_keys),
    },
    Route {
        method: "post",
        path: "/signing-keys/rotate",
        summary: "Rotate the token-signing key: the new key signs at once; the old one stays \
                  in the JWKS until no token it signed is alive (retires_at)",
        permission: Some(ROLES_WRITE),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || post(signing_keys::rotate_signing_key),
    },
    Route {
        method: "get",
        path: "/policies",
        summary: "The account policies (null: off or unlimited)",
        permission: Some(SERVICE_ACCOUNTS_READ),
        query: &[],
        body: &[],
        ok: 200,
        secret: false,
        handler: || get(policies::get_policies),
    },
    Route {
        method: "patch",
        path: "/policies",
        summary: "Change the policies named (null: off); with dry_run, list the accounts the \
                  change affects ({affected: [{id, name, change}]}) and save nothing",
        permission: Some(POLICIES_WRITE),
        query: &[],
        body: POLICY_FIELDS,
        ok: 200,
        secret: false,
        handler: || patch(policies::update_policies),
    },
];

const POLICY_FIELDS: &[Field] = &[
    f(
        "max_roles_per_account",
        "integer",
        false,
        "1 to 1000 roles, held directly and through groups; null: unlimited (default)",
    ),
    f(
        "max_token_lifetime_secs",
        "integer",
        false,
        "60 to 86400; longer account lifetimes are capped at mint time; default 86400",
    ),
    f(
        "max_personal_token_days",
        "integer",
        false,
        "0 to 36500; 0: no new personal tokens; default 90",
    ),
    f(
        "credential_lifetime_days",
        "integer",
        false,
        "client secrets and keys expire this many days after they were made; null: never (default)",
    ),
    f(
        "disable_unused_after_days",
        "integer",
        false,
        "disable accounts unused this many days; null: off (default)",
    ),
    f(
        "allow_client_secrets",
        "boolean",
        false,
        "false: new accounts and regenerations must use private_key_jwt or federation",
    ),
    f(
        "dry_run",
        "boolean",
        false,
        "true: answer the affected accounts and save nothing",
    ),
];

fn schema(kind: &str) -> Value {
    match kind {
        "array" => json!({"type": "array", "items": {"type": "string"}}),
        "objects" => json!({"type": "array", "items": {}}),
        _ => json!({ "type": kind }),
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
