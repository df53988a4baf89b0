//! APIs, the resource tree and bindings: the operations behind `/api/v1/apis`,
//! `/api/v1/nodes`, the `bindings` and `api` (product) fields of accounts and groups, and
//! the console's Settings → APIs and Hierarchy. Changing needs `roles:write`.

use super::{Admin, AdminError};
use crate::domain::access::{
    Api, ApiPermission, Binding, Catalog, Effective, KEYGATE_API_ID, Node, Role, parse_identifier,
    parse_node_name,
};
use crate::domain::account::name_key;
use crate::domain::audit::{Actor, AuditEvent};
use crate::domain::permission::{self, ROLES_WRITE, SERVICE_ACCOUNTS_READ, SERVICE_ACCOUNTS_WRITE};
use crate::domain::{ValidationError, now_ms};
use crate::store::changes::Change;
use crate::store::{StoreError, access as store};

/// An API as typed by the user; `None` leaves a field as it is (on change).
#[derive(Debug, Clone, Default)]
pub struct ApiInput {
    /// Unique name, 1–100 characters.
    pub name: Option<String>,
    /// Absolute URI without fragment, unique.
    pub identifier: Option<String>,
    /// What it is.
    pub description: Option<String>,
    /// The permissions it defines.
    pub permissions: Option<Vec<ApiPermission>>,
}

/// A node as typed by the user; `None` leaves a field as it is (on change).
#[derive(Debug, Clone, Default)]
pub struct NodeInput {
    /// Name, unique among its siblings, without `/`.
    pub name: Option<String>,
    /// A free label (Company, Project, Environment…).
    pub kind: Option<String>,
    /// The parent by id or path; `Some(None)` is the root.
    pub parent: Option<Option<String>>,
}

/// A binding as typed: a role by id or name, at a node by path or id (`None`: the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingInput {
    /// Role id or name.
    pub role: String,
    /// Node path or id, `None` for the root.
    pub node: Option<String>,
}

impl BindingInput {
    /// Whether it binds at the root: no node, an empty one or `/`.
    pub fn at_root(&self) -> bool {
        self.node
            .as_deref()
            .map(str::trim)
            .is_none_or(|n| n.is_empty() || n == "/")
    }
}

/// A binding as shown: the role and the node.
#[derive(Debug, Clone)]
pub struct BindingView {
    /// The role.
    pub role: Role,
    /// The node, `None` for the root.
    pub node: Option<Node>,
}

/// An effective permission as the console shows it.
#[derive(Debug, Clone)]
pub struct EffectiveView {
    /// The API's name.
    pub api: String,
    /// The node's path, `None` at the root.
    pub node: Option<String>,
    /// The permission.
    pub permission: String,
    /// Where it comes from.
    pub sources: Vec<String>,
}

fn parse_api_name(s: &str) -> Result<String, ValidationError> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "name",
            "Name must be 1 to 100 characters, without control characters.",
        ));
    }
    Ok(s.to_owned())
}

fn parse_permissions(list: &[ApiPermission]) -> Result<Vec<ApiPermission>, ValidationError> {
    let mut out: Vec<ApiPermission> = Vec::with_capacity(list.len());
    for p in list {
        let name = permission::parse(&p.name)?;
        let description = crate::domain::account::Description::parse(&p.description)
            .map_err(|e| ValidationError::new("permissions", e.message))?;
        if out.iter().any(|x| x.name == name) {
            return Err(ValidationError::new(
                "permissions",
                format!("The permission {name} is listed twice."),
            ));
        }
        out.push(ApiPermission {
            name,
            description: description.as_ref().to_owned(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn parse_kind(s: &str) -> Result<String, ValidationError> {
    let s = s.trim();
    if s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "kind",
            "Kind must be at most 100 characters, without control characters.",
        ));
    }
    Ok(s.to_owned())
}

impl Admin {
    /// The catalog as it is now.
    pub(crate) async fn catalog(&self) -> Result<std::sync::Arc<Catalog>, AdminError> {
        Ok(self.oauth.catalog().await?)
    }

    async fn commit_access_change(
        &self,
        mut tx: crate::store::Tx,
        actor: &Actor,
        event: AuditEvent,
    ) -> Result<(), AdminError> {
        let now = now_ms();
        crate::store::audit::append(&mut tx, actor, &event, now).await?;
        crate::store::changes::append(&mut tx, self.store.backend(), &Change::AllAccounts, now)
            .await?;
        tx.commit().await?;
        self.oauth.apply_local(&Change::AllAccounts);
        Ok(())
    }

    /// Every API, keygate's own first.
    pub async fn list_apis(&self, actor: &Actor) -> Result<Vec<Api>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        let mut apis = self.catalog().await?.apis().to_vec();
        apis.sort_by_key(|a| (!a.builtin, name_key(&a.name)));
        Ok(apis)
    }

    /// One API, by id, name or identifier.
    pub async fn get_api(&self, actor: &Actor, wanted: &str) -> Result<Api, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        let catalog = self.catalog().await?;
        Self::find_api(&catalog, wanted)
            .cloned()
            .ok_or(AdminError::NotFound("API"))
    }

    fn find_api<'c>(catalog: &'c Catalog, wanted: &str) -> Option<&'c Api> {
        let w = wanted.trim();
        catalog
            .api(w)
            .or_else(|| {
                catalog
                    .apis()
                    .iter()
                    .find(|a| name_key(&a.name) == name_key(w))
            })
            .or_else(|| catalog.api_by_identifier(w))
    }

    fn api_conflict(field: &'static str, what: &str) -> AdminError {
        AdminError::Conflict {
            field,
            message: format!("An API with {field} \u{201c}{what}\u{201d} already exists."),
        }
    }

    /// Checks a whole API (new or changed) against the others.
    fn check_api(&self, catalog: &Catalog, api: &Api) -> Result<(), AdminError> {
        let clash =
            |f: &dyn Fn(&Api) -> bool| catalog.apis().iter().any(|a| a.id != api.id && f(a));
        if clash(&|a| name_key(&a.name) == name_key(&api.name)) {
            return Err(Self::api_conflict("name", &api.name));
        }
        if clash(&|a| a.identifier == api.identifier) {
            return Err(Self::api_conflict("identifier", &api.identifier));
        }
        Ok(())
    }

    /// Creates an API.
    pub async fn create_api(&self, actor: &Actor, input: ApiInput) -> Result<Api, AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let api = Api {
            id: uuid::Uuid::new_v4().to_string(),
            name: parse_api_name(input.name.as_deref().unwrap_or_default())?,
            identifier: parse_identifier(input.identifier.as_deref().unwrap_or_default())?,
            description: crate::domain::account::Description::parse(
                input.description.as_deref().unwrap_or_default(),
            )?
            .as_ref()
            .to_owned(),
            builtin: false,
            permissions: parse_permissions(input.permissions.as_deref().unwrap_or_default())?,
        };
        let catalog = self.catalog().await?;
        self.check_api(&catalog, &api)?;
        let mut tx = self.store.begin().await?;
        match store::save_api(&mut tx, &api, true, now_ms()).await {
            Err(StoreError::Conflict) => return Err(Self::api_conflict("name", &api.name)),
            other => other?,
        };
        let event = AuditEvent {
            action: "api.created",
            target_kind: "api",
            target_id: api.id.clone(),
            target_name: api.name.clone(),
            detail: serde_json::json!({
                "identifier": api.identifier,
                "permissions": api.permissions.iter().map(|p| &p.name).collect::<Vec<_>>(),
            })
            .to_string(),
        };
        self.commit_access_change(tx, actor, event).await?;
        Ok(api)
    }

    /// Changes the fields of a custom API that `input` names. A permission it no longer
    /// defines is removed from its roles, in the same transaction and audit event.
    pub async fn update_api(
        &self,
        actor: &Actor,
        id: &str,
        input: ApiInput,
    ) -> Result<Api, AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let before = self.get_api(actor, id).await?;
        if before.builtin {
            return Err(AdminError::Escalation(
                "keygate's own API cannot be changed.".into(),
            ));
        }
        let api = Api {
            name: match &input.name {
                Some(n) => parse_api_name(n)?,
                None => before.name.clone(),
            },
            identifier: match &input.identifier {
                Some(i) => parse_identifier(i)?,
                None => before.identifier.clone(),
            },
            description: match &input.description {
                Some(d) => crate::domain::account::Description::parse(d)?
                    .as_ref()
                    .to_owned(),
                None => before.description.clone(),
            },
            permissions: match &input.permissions {
                Some(p) => parse_permissions(p)?,
                None => before.permissions.clone(),
            },
            ..before.clone()
        };
        let catalog = self.catalog().await?;
        self.check_api(&catalog, &api)?;
        let removed: Vec<String> = before
            .permissions
            .iter()
            .filter(|p| !api.defines(&p.name))
            .map(|p| p.name.clone())
            .collect();
        let affected: Vec<&str> = catalog
            .roles()
            .iter()
            .filter(|r| r.api_id == api.id && r.permissions.iter().any(|p| removed.contains(p)))
            .map(|r| r.name.as_str())
            .collect();
        let mut tx = self.store.begin().await?;
        match store::save_api(&mut tx, &api, false, now_ms()).await {
            Err(StoreError::Conflict) => return Err(Self::api_conflict("name", &api.name)),
            Ok(false) => return Err(AdminError::NotFound("API")),
            other => {
                other?;
            }
        }
        store::drop_role_permissions(&mut tx, &api.id, &removed).await?;
        let event = AuditEvent {
            action: "api.updated",
            target_kind: "api",
            target_id: api.id.clone(),
            target_name: api.name.clone(),
            detail: {
                let names = |a: &Api| {
                    a.permissions
                        .iter()
                        .map(|p| p.name.clone())
                        .collect::<Vec<_>>()
                };
                let mut changes = crate::domain::audit::Changes::default();
                changes
                    .field("name", before.name.as_str(), api.name.as_str())
                    .field(
                        "identifier",
                        before.identifier.as_str(),
                        api.identifier.as_str(),
                    )
                    .field(
                        "description",
                        before.description.as_str(),
                        api.description.as_str(),
                    )
                    .field("permissions", names(&before), names(&api));
                if !removed.is_empty() {
                    changes
                        .fact("removed_permissions", removed.clone())
                        .fact("roles_changed", affected.clone());
                }
                changes.to_detail()
            },
        };
        self.commit_access_change(tx, actor, event).await?;
        Ok(api)
    }

    /// Deletes a custom API that no role uses and no account has as its product.
    pub async fn delete_api(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let before = self.get_api(actor, id).await?;
        if before.builtin {
            return Err(AdminError::Escalation(
                "keygate's own API cannot be deleted.".into(),
            ));
        }
        let (roles, products) = store::api_users(self.store.pool(), &before.id).await?;
        if !roles.is_empty() {
            return Err(AdminError::Conflict {
                field: "roles",
                message: format!(
                    "The API is used by the roles {}; delete them or move them to another API \
                     first.",
                    roles
                        .iter()
                        .map(|r| format!("\u{201c}{r}\u{201d}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        if products > 0 {
            return Err(AdminError::Conflict {
                field: "api",
                message: format!(
                    "{products} service accounts have this API as their product; change theirs \
                     first."
                ),
            });
        }
        let mut tx = self.store.begin().await?;
        if !store::delete_api(&mut tx, &before.id).await? {
            return Err(AdminError::NotFound("API"));
        }
        let event = AuditEvent {
            action: "api.deleted",
            target_kind: "api",
            target_id: before.id.clone(),
            target_name: before.name.clone(),
            detail: serde_json::json!({ "identifier": before.identifier }).to_string(),
        };
        self.commit_access_change(tx, actor, event).await
    }

    /// Every node, by path.
    pub async fn list_nodes(&self, actor: &Actor) -> Result<Vec<Node>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        let mut nodes = self.catalog().await?.nodes().to_vec();
        nodes.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(nodes)
    }

    /// One node, by id or path.
    pub async fn get_node(&self, actor: &Actor, wanted: &str) -> Result<Node, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        self.catalog()
            .await?
            .find_node(wanted)
            .cloned()
            .ok_or(AdminError::NotFound("node"))
    }

    fn resolve_parent(
        catalog: &Catalog,
        parent: Option<&str>,
    ) -> Result<Option<String>, AdminError> {
        match parent.map(str::trim).filter(|p| !p.is_empty() && *p != "/") {
            None => Ok(None),
            Some(p) => catalog
                .find_node(p)
                .map(|n| Some(n.id.clone()))
                .ok_or_else(|| {
                    ValidationError::new("parent", format!("There is no node \u{201c}{p}\u{201d}."))
                        .into()
                }),
        }
    }

    async fn save_node(
        &self,
        actor: &Actor,
        before: Option<&Node>,
        input: NodeInput,
    ) -> Result<Node, AdminError> {
        let catalog = self.catalog().await?;
        let name = match (&input.name, before) {
            (Some(n), _) => parse_node_name(n)?,
            (None, Some(b)) => b.name.clone(),
            (None, None) => parse_node_name("")?,
        };
        let kind = match (&input.kind, before) {
            (Some(k), _) => parse_kind(k)?,
            (None, Some(b)) => b.kind.clone(),
            (None, None) => String::new(),
        };
        let parent_id = match (&input.parent, before) {
            (Some(p), _) => Self::resolve_parent(&catalog, p.as_deref())?,
            (None, Some(b)) => b.parent_id.clone(),
            (None, None) => None,
        };
        if let (Some(b), Some(p)) = (before, &parent_id)
            && catalog.is_within(p, &b.id)
        {
            return Err(ValidationError::new(
                "parent",
                "A node cannot move below itself or one of its descendants.",
            )
            .into());
        }
        let id = before.map_or_else(|| uuid::Uuid::new_v4().to_string(), |b| b.id.clone());
        let sibling_taken = catalog.nodes().iter().any(|n| {
            n.id != id && n.parent_id == parent_id && name_key(&n.name) == name_key(&name)
        });
        let taken = || -> AdminError {
            ValidationError::new(
                "name",
                format!("A node named \u{201c}{name}\u{201d} already exists there."),
            )
            .into()
        };
        if sibling_taken {
            return Err(taken());
        }
        let node = Node {
            id,
            name: name.clone(),
            kind,
            parent_id,
            path: String::new(),
        };
        let mut tx = self.store.begin().await?;
        match store::save_node(&mut tx, &node, before.is_none(), now_ms()).await {
            Err(StoreError::Conflict) => return Err(taken()),
            Ok(false) => return Err(AdminError::NotFound("node")),
            other => {
                other?;
            }
        }
        let parent_path = node
            .parent_id
            .as_deref()
            .and_then(|p| catalog.node(p))
            .map(|p| p.path.clone());
        let path = match &parent_path {
            Some(p) => format!("{p}/{}", node.name),
            None => node.name.clone(),
        };
        let event = AuditEvent {
            action: if before.is_some() {
                "node.updated"
            } else {
                "node.created"
            },
            target_kind: "node",
            target_id: node.id.clone(),
            target_name: path.clone(),
            detail: serde_json::json!({
                "kind": node.kind,
                "path": path,
                "previous_path": before.map(|b| &b.path),
            })
            .to_string(),
        };
        self.commit_access_change(tx, actor, event).await?;
        Ok(Node { path, ..node })
    }

    /// Creates a node.
    pub async fn create_node(&self, actor: &Actor, input: NodeInput) -> Result<Node, AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        self.save_node(actor, None, input).await
    }

    /// Renames or moves a node, or changes its kind.
    pub async fn update_node(
        &self,
        actor: &Actor,
        id: &str,
        input: NodeInput,
    ) -> Result<Node, AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let before = self.get_node(actor, id).await?;
        self.save_node(actor, Some(&before), input).await
    }

    /// Deletes a node that has no children and no bindings.
    pub async fn delete_node(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let before = self.get_node(actor, id).await?;
        let catalog = self.catalog().await?;
        let children = catalog
            .nodes()
            .iter()
            .filter(|n| n.parent_id.as_deref() == Some(before.id.as_str()))
            .count();
        if children > 0 {
            return Err(AdminError::Conflict {
                field: "node",
                message: format!(
                    "The node \u{201c}{}\u{201d} has {children} child nodes; delete or move them \
                     first.",
                    before.path
                ),
            });
        }
        let bindings = store::node_bindings(self.store.pool(), &before.id).await?;
        if bindings > 0 {
            return Err(AdminError::Conflict {
                field: "node",
                message: format!(
                    "{bindings} role bindings are made at \u{201c}{}\u{201d}; remove them first.",
                    before.path
                ),
            });
        }
        let mut tx = self.store.begin().await?;
        if !store::delete_node(&mut tx, &before.id).await? {
            return Err(AdminError::NotFound("node"));
        }
        let event = AuditEvent {
            action: "node.deleted",
            target_kind: "node",
            target_id: before.id.clone(),
            target_name: before.path.clone(),
            detail: String::new(),
        };
        self.commit_access_change(tx, actor, event).await
    }

    /// Bindings typed by a user, checked: each role and node exists, keygate's own roles are
    /// bound at the root only, and for a holder bound to `product` every role is of that API.
    pub(crate) fn resolve_bindings(
        catalog: &Catalog,
        wanted: &[BindingInput],
        product: Option<&str>,
    ) -> Result<Vec<Binding>, AdminError> {
        let mut out = Vec::with_capacity(wanted.len());
        for w in wanted {
            let r = w.role.trim();
            let role = catalog
                .role(r)
                .or_else(|| {
                    catalog
                        .roles()
                        .iter()
                        .find(|x| name_key(&x.name) == name_key(r))
                })
                .ok_or_else(|| {
                    ValidationError::new(
                        "bindings",
                        format!("There is no role \u{201c}{r}\u{201d}."),
                    )
                })?;
            let node = match w
                .node
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty() && *n != "/")
            {
                None => None,
                Some(n) => Some(catalog.find_node(n).ok_or_else(|| {
                    ValidationError::new(
                        "bindings",
                        format!("There is no node \u{201c}{n}\u{201d}."),
                    )
                })?),
            };
            if node.is_some() && role.api_id == KEYGATE_API_ID {
                return Err(ValidationError::new(
                    "bindings",
                    format!(
                        "The role \u{201c}{}\u{201d} is one of keygate's own: it is bound at the \
                         root only (node null).",
                        role.name
                    ),
                )
                .into());
            }
            Self::check_product_role("bindings", catalog, product, role)?;
            out.push(Binding {
                role_id: role.id.clone(),
                node_id: node.map(|n| n.id.clone()),
            });
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Refuses `role` for a holder bound to `product` unless it is a role of that API.
    pub(crate) fn check_product_role(
        field: &'static str,
        catalog: &Catalog,
        product: Option<&str>,
        role: &Role,
    ) -> Result<(), AdminError> {
        match product {
            Some(p) if p != role.api_id => {
                let api = catalog.api(p).map_or(p, |a| a.name.as_str());
                Err(ValidationError::new(
                    field,
                    format!(
                        "The role \u{201c}{}\u{201d} is not a role of the API \u{201c}{api}\u{201d}, \
                         this service account's product.",
                        role.name
                    ),
                )
                .into())
            }
            _ => Ok(()),
        }
    }

    /// The product named by `wanted` (id or name; `None` or empty: none).
    pub(crate) fn resolve_product(
        catalog: &Catalog,
        wanted: Option<&str>,
    ) -> Result<Option<String>, AdminError> {
        match wanted.map(str::trim).filter(|w| !w.is_empty()) {
            None => Ok(None),
            Some(w) => Self::find_api(catalog, w)
                .map(|a| Some(a.id.clone()))
                .ok_or_else(|| {
                    ValidationError::new("api", format!("There is no API \u{201c}{w}\u{201d}."))
                        .into()
                }),
        }
    }

    /// The bindings an account holds itself (not through groups), resolved.
    pub async fn account_bindings(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Vec<BindingView>, AdminError> {
        // Whoever may change bindings sees them (a change answers with the new ones).
        if !actor.can(SERVICE_ACCOUNTS_WRITE) {
            Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        }
        let catalog = self.catalog().await?;
        let bindings = store::account_bindings(self.store.pool(), id).await?;
        Ok(Self::views(&catalog, &bindings))
    }

    /// The bindings a group gives, resolved.
    pub async fn group_bindings(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Vec<BindingView>, AdminError> {
        if !actor.can(ROLES_WRITE) {
            Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        }
        let catalog = self.catalog().await?;
        let bindings = store::group_bindings(self.store.pool(), id).await?;
        Ok(Self::views(&catalog, &bindings))
    }

    fn views(catalog: &Catalog, bindings: &[Binding]) -> Vec<BindingView> {
        bindings
            .iter()
            .filter_map(|b| {
                Some(BindingView {
                    role: catalog.role(&b.role_id)?.clone(),
                    node: match &b.node_id {
                        Some(n) => Some(catalog.node(n)?.clone()),
                        None => None,
                    },
                })
            })
            .collect()
    }

    /// Every effective permission of an account, per API and node, with where each comes
    /// from (the console's "Effective permissions" table and the REST API's).
    pub async fn effective_permissions(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Vec<Effective>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        let catalog = self.catalog().await?;
        let direct = store::account_bindings(self.store.pool(), id).await?;
        let groups = store::account_groups(self.store.pool(), id).await?;
        let product = store::product_of(self.store.pool(), id).await?;
        let grants = crate::domain::access::grants(&catalog, &direct, &groups, product.as_deref());
        Ok(crate::domain::access::effective(&catalog, &grants))
    }
}
