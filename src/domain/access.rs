//! The access model and its one rule. APIs (resource servers, RFC 8707) define permissions;
//! every role belongs to one API; accounts and groups hold *bindings* of roles at a node of
//! the resource tree or at its root; an account may be bound to one API, its *product*.
//! [`grants`] and [`access`] turn bindings into effective permissions, with where each comes
//! from: the token endpoint, introspection, whoami, the console and the REST API all use them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::ValidationError;

/// Id of keygate's own API, which holds keygate's permissions.
pub const KEYGATE_API_ID: &str = "builtin-keygate";

/// A permission an API defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPermission {
    /// The permission (`area:verb` or any word without spaces).
    pub name: String,
    /// What it allows.
    pub description: String,
}

/// An API: a resource server with its own audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    /// Id (`builtin-keygate` for keygate's own, a UUID otherwise).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Absolute URI, unique: the `aud` of its tokens.
    pub identifier: String,
    /// What it is.
    pub description: String,
    /// keygate's own API cannot be changed or deleted.
    pub builtin: bool,
    /// The permissions it defines, sorted by name.
    pub permissions: Vec<ApiPermission>,
}

impl Api {
    /// Whether the API defines permission `p`.
    pub fn defines(&self, p: &str) -> bool {
        self.permissions.iter().any(|x| x.name == p)
    }
}

/// A role: permissions of one API, given together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Role id (`builtin-…` for built-in roles, a UUID otherwise).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// What the role is for.
    pub description: String,
    /// Built-in roles cannot be changed or deleted.
    pub builtin: bool,
    /// The API whose permissions it holds.
    pub api_id: String,
    /// Permissions, sorted.
    pub permissions: Vec<String>,
}

/// A thing named beside another (a role beside an account, a member beside a group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRef {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A node of the resource tree (a company, project, environment…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Id (UUID).
    pub id: String,
    /// Name, unique among its siblings, without `/`.
    pub name: String,
    /// A free label such as Company, Project or Environment.
    pub kind: String,
    /// Its parent, `None` below the root.
    pub parent_id: Option<String>,
    /// The names from the root joined by `/` (filled by [`Catalog::new`]).
    pub path: String,
}

/// A role held at a node (`None`: at the root, so everywhere).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Binding {
    /// The role.
    pub role_id: String,
    /// The node, or `None` for the root.
    pub node_id: Option<String>,
}

/// A group an account belongs to, with the bindings it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupBindings {
    /// Group id.
    pub id: String,
    /// Group name.
    pub name: String,
    /// What it gives its members.
    pub bindings: Vec<Binding>,
}

/// Everything the rule reads besides the holder's own bindings: APIs, roles and nodes.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    apis: Vec<Api>,
    roles: Vec<Role>,
    nodes: Vec<Node>,
    api_ix: HashMap<String, usize>,
    identifier_ix: HashMap<String, usize>,
    role_ix: HashMap<String, usize>,
    node_ix: HashMap<String, usize>,
}

impl Catalog {
    /// The catalog of `apis`, `roles` and `nodes`; keygate's own API gets
    /// `keygate_identifier` (`<issuer>/api`) and every node its path.
    pub fn new(
        mut apis: Vec<Api>,
        roles: Vec<Role>,
        mut nodes: Vec<Node>,
        keygate_identifier: &str,
    ) -> Self {
        for api in &mut apis {
            if api.id == KEYGATE_API_ID {
                keygate_identifier.clone_into(&mut api.identifier);
            }
        }
        let node_ix: HashMap<String, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), i))
            .collect();
        let paths: Vec<String> = (0..nodes.len())
            .map(|i| {
                let mut names = vec![nodes[i].name.as_str()];
                let mut at = i;
                // A cycle cannot be stored (moves are checked), but never loop on one.
                for _ in 0..nodes.len() {
                    match nodes[at].parent_id.as_ref().and_then(|p| node_ix.get(p)) {
                        Some(&p) => {
                            names.push(nodes[p].name.as_str());
                            at = p;
                        }
                        None => break,
                    }
                }
                names.reverse();
                names.join("/")
            })
            .collect();
        for (n, p) in nodes.iter_mut().zip(paths) {
            n.path = p;
        }
        Self {
            api_ix: apis
                .iter()
                .enumerate()
                .map(|(i, a)| (a.id.clone(), i))
                .collect(),
            identifier_ix: apis
                .iter()
                .enumerate()
                .map(|(i, a)| (a.identifier.clone(), i))
                .collect(),
            role_ix: roles
                .iter()
                .enumerate()
                .map(|(i, r)| (r.id.clone(), i))
                .collect(),
            node_ix,
            apis,
            roles,
            nodes,
        }
    }

    /// Every API, by name.
    pub fn apis(&self) -> &[Api] {
        &self.apis
    }

    /// Every role, by name.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// Every node.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The API with id `id`.
    pub fn api(&self, id: &str) -> Option<&Api> {
        self.api_ix.get(id).map(|&i| &self.apis[i])
    }

    /// The API whose identifier is `identifier`.
    pub fn api_by_identifier(&self, identifier: &str) -> Option<&Api> {
        self.identifier_ix.get(identifier).map(|&i| &self.apis[i])
    }

    /// The role with id `id`.
    pub fn role(&self, id: &str) -> Option<&Role> {
        self.role_ix.get(id).map(|&i| &self.roles[i])
    }

    /// The node with id `id`.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.node_ix.get(id).map(|&i| &self.nodes[i])
    }

    /// The node whose path is `path` (compared as typed, without surrounding slashes).
    pub fn node_by_path(&self, path: &str) -> Option<&Node> {
        let path = path.trim().trim_matches('/');
        self.nodes.iter().find(|n| n.path == path)
    }

    /// The node named by id or by path.
    pub fn find_node(&self, wanted: &str) -> Option<&Node> {
        self.node(wanted.trim())
            .or_else(|| self.node_by_path(wanted))
    }

    /// Ids of `node_id` and each of its ancestors, the node first.
    pub fn lineage(&self, node_id: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut at = self.node(node_id);
        while let Some(n) = at {
            if out.contains(&n.id.as_str()) || out.len() > self.nodes.len() {
                break;
            }
            out.push(n.id.as_str());
            at = n.parent_id.as_deref().and_then(|p| self.node(p));
        }
        out
    }

    /// Whether `node_id` is `ancestor_id` or lies below it.
    pub fn is_within(&self, node_id: &str, ancestor_id: &str) -> bool {
        self.lineage(node_id).contains(&ancestor_id)
    }
}

/// How a holder came by a binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Bound to the holder itself.
    Direct,
    /// Given by a group it belongs to.
    Group {
        /// Group id.
        id: String,
        /// Group name.
        name: String,
    },
}

/// One binding a holder has, resolved against the catalog.
#[derive(Debug, Clone)]
pub struct Grant<'c> {
    /// The role.
    pub role: &'c Role,
    /// Where it is bound (`None`: the root).
    pub node: Option<&'c Node>,
    /// Directly or through a group.
    pub via: Via,
}

impl Grant<'_> {
    /// Where a permission from this grant comes from, in words: `role R`, `group G (role R)`,
    /// with ` at PATH` for a binding below the root.
    pub fn source(&self) -> String {
        let base = match &self.via {
            Via::Direct => format!("role {}", self.role.name),
            Via::Group { name, .. } => format!("group {name} (role {})", self.role.name),
        };
        match self.node {
            Some(n) => format!("{base} at {}", n.path),
            None => base,
        }
    }
}

/// The grants of a holder with `direct` bindings, member of `groups`, bound to `product`
/// if any: for a product-bound holder only its product's roles count (a group may hold roles
/// of several APIs). Bindings to roles or nodes that no longer exist are left out.
pub fn grants<'c>(
    catalog: &'c Catalog,
    direct: &[Binding],
    groups: &[GroupBindings],
    product: Option<&str>,
) -> Vec<Grant<'c>> {
    let one = |b: &Binding, via: Via| -> Option<Grant<'c>> {
        let role = catalog.role(&b.role_id)?;
        if product.is_some_and(|p| p != role.api_id) {
            return None;
        }
        let node = match &b.node_id {
            Some(id) => Some(catalog.node(id)?),
            None => None,
        };
        Some(Grant { role, node, via })
    };
    let mut out: Vec<Grant<'c>> = direct.iter().filter_map(|b| one(b, Via::Direct)).collect();
    for g in groups {
        let via = Via::Group {
            id: g.id.clone(),
            name: g.name.clone(),
        };
        out.extend(g.bindings.iter().filter_map(|b| one(b, via.clone())));
    }
    out
}

/// What a holder may do at one node of one API: the permissions effective there (inherited
/// ones included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAccess {
    /// The node.
    pub node_id: String,
    /// Its path.
    pub path: String,
    /// Effective permissions at the node, sorted.
    pub permissions: Vec<String>,
}

/// What a holder may do with one API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAccess {
    /// The API.
    pub api_id: String,
    /// Its identifier (the `aud` of tokens for it).
    pub identifier: String,
    /// Names of the roles of this API the holder has anywhere, sorted.
    pub roles: Vec<String>,
    /// Permissions at the root (so everywhere), sorted.
    pub root: Vec<String>,
    /// Each node where the holder has a binding for this API, by path.
    pub nodes: Vec<NodeAccess>,
}

impl ApiAccess {
    /// Whether the holder has any permission for this API, at any node.
    pub fn holds_anything(&self) -> bool {
        !self.root.is_empty() || self.nodes.iter().any(|n| !n.permissions.is_empty())
    }

    /// Whether `p` is held at the root or at some node.
    pub fn holds_somewhere(&self, p: &str) -> bool {
        self.root.iter().any(|x| x == p)
            || self
                .nodes
                .iter()
                .any(|n| n.permissions.iter().any(|x| x == p))
    }
}

/// The effective access of a holder per API, from its grants: root permissions, and for
/// each bound node the permissions bound at it or any ancestor (the root included).
pub fn access(catalog: &Catalog, grants: &[Grant<'_>]) -> Vec<ApiAccess> {
    let mut by_api: BTreeMap<&str, Vec<&Grant<'_>>> = BTreeMap::new();
    for g in grants {
        by_api.entry(g.role.api_id.as_str()).or_default().push(g);
    }
    by_api
        .into_iter()
        .filter_map(|(api_id, gs)| {
            let api = catalog.api(api_id)?;
            let roles: BTreeSet<&str> = gs.iter().map(|g| g.role.name.as_str()).collect();
            let root: BTreeSet<&str> = gs
                .iter()
                .filter(|g| g.node.is_none())
                .flat_map(|g| g.role.permissions.iter().map(String::as_str))
                .collect();
            let bound: BTreeSet<&str> = gs
                .iter()
                .filter_map(|g| g.node.map(|n| n.id.as_str()))
                .collect();
            let mut nodes: Vec<NodeAccess> = bound
                .into_iter()
                .filter_map(|node_id| {
                    let node = catalog.node(node_id)?;
                    let lineage = catalog.lineage(node_id);
                    let mut perms = root.clone();
                    for g in &gs {
                        if g.node.is_some_and(|n| lineage.contains(&n.id.as_str())) {
                            perms.extend(g.role.permissions.iter().map(String::as_str));
                        }
                    }
                    Some(NodeAccess {
                        node_id: node.id.clone(),
                        path: node.path.clone(),
                        permissions: perms.into_iter().map(str::to_owned).collect(),
                    })
                })
                .collect();
            nodes.sort_by(|a, b| a.path.cmp(&b.path));
            Some(ApiAccess {
                api_id: api.id.clone(),
                identifier: api.identifier.clone(),
                roles: roles.into_iter().map(str::to_owned).collect(),
                root: root.into_iter().map(str::to_owned).collect(),
                nodes,
            })
        })
        .collect()
}

/// One effective permission at a node (or the root) of an API, with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// The API's id.
    pub api_id: String,
    /// The node's path, `None` for the root.
    pub node: Option<String>,
    /// The permission.
    pub permission: String,
    /// Where it comes from, in words (see [`Grant::source`]).
    pub sources: Vec<String>,
}

/// Every effective permission of a holder, per API and per bound node (the root first), with
/// its sources: a permission at a node lists the bindings there and above it.
pub fn effective(catalog: &Catalog, grants: &[Grant<'_>]) -> Vec<Effective> {
    let mut out: BTreeMap<(String, Option<String>, String), Vec<String>> = BTreeMap::new();
    let mut places: BTreeSet<(String, Option<&str>)> = BTreeSet::new();
    for g in grants {
        places.insert((g.role.api_id.clone(), None));
        if let Some(n) = g.node {
            places.insert((g.role.api_id.clone(), Some(n.id.as_str())));
        }
    }
    for (api_id, place) in places {
        let lineage = place.map(|id| catalog.lineage(id)).unwrap_or_default();
        let path = place
            .and_then(|id| catalog.node(id))
            .map(|n| n.path.clone());
        for g in grants.iter().filter(|g| g.role.api_id == api_id) {
            let applies = match g.node {
                None => true,
                Some(n) => lineage.contains(&n.id.as_str()),
            };
            if !applies {
                continue;
            }
            for p in &g.role.permissions {
                let sources = out
                    .entry((api_id.clone(), path.clone(), p.clone()))
                    .or_default();
                let s = g.source();
                if !sources.contains(&s) {
                    sources.push(s);
                }
            }
        }
    }
    out.into_iter()
        .map(|((api_id, node, permission), sources)| Effective {
            api_id,
            node,
            permission,
            sources,
        })
        .collect()
}

/// keygate's own permissions held through `role_ids` (console users hold roles at the root
/// only, and only keygate's count for them).
pub fn keygate_permissions(catalog: &Catalog, role_ids: &[String]) -> BTreeSet<String> {
    role_ids
        .iter()
        .filter_map(|id| catalog.role(id))
        .filter(|r| r.api_id == KEYGATE_API_ID)
        .flat_map(|r| r.permissions.iter().cloned())
        .collect()
}

/// The `authorization_details` type keygate uses (RFC 9396): what a token allows at a node.
pub const NODE_DETAIL_TYPE: &str = "keygate_node";

/// What a token allows at one node (an RFC 9396 `authorization_details` entry of type
/// [`NODE_DETAIL_TYPE`]: `{"type","locations":[path],"actions":[…]}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeDetail {
    /// Always [`NODE_DETAIL_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The node's path, one element.
    pub locations: Vec<String>,
    /// Permissions effective at that node, inherited ones included.
    pub actions: Vec<String>,
}

impl NodeDetail {
    /// The entry for node `path` with `actions`.
    pub fn new(path: &str, actions: Vec<String>) -> Self {
        Self {
            kind: NODE_DETAIL_TYPE.to_owned(),
            locations: vec![path.to_owned()],
            actions,
        }
    }

    /// The node's path.
    pub fn path(&self) -> &str {
        self.locations.first().map_or("", String::as_str)
    }
}

/// What a new token is for and allows: its API (audience), its `scope` (root-level
/// permissions) and its node entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The API's id.
    pub api_id: String,
    /// Its identifier: the token's `aud`.
    pub audience: String,
    /// Root-level permissions, sorted.
    pub scope: Vec<String>,
    /// Node entries (bound nodes of that API with what is effective there), by path.
    pub details: Vec<NodeDetail>,
}

/// Why no token can be minted for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantError {
    /// RFC 8707 `invalid_target`: unknown API, not the product, or nothing held there.
    InvalidTarget,
    /// A requested permission is held nowhere in that API.
    InvalidScope,
}

/// Where an account's access stands for minting: its per-API access, its product (id and
/// identifier) if bound to one, and keygate's own API identifier.
#[derive(Debug, Clone, Copy)]
pub struct Holder<'a> {
    /// Per-API access (see [`access`]).
    pub access: &'a [ApiAccess],
    /// `(id, identifier)` of the product, if any.
    pub product: Option<(&'a str, &'a str)>,
    /// `<issuer>/api`.
    pub keygate_identifier: &'a str,
}

/// The grant for a token request with `resource` (RFC 8707, or Auth0's `audience`) and
/// `scope`, if given. Without a resource: the product; else the one API the holder has
/// permissions for; else keygate's own (possibly with an empty scope). `scope` narrows the
/// root permissions and the node entries (entries left empty are dropped).
pub fn token_grant(
    holder: Holder<'_>,
    resource: Option<&str>,
    scope: Option<&[String]>,
) -> Result<TokenGrant, GrantError> {
    let find = |ident: &str| holder.access.iter().find(|a| a.identifier == ident);
    let (api_id, audience, acc): (String, String, Option<&ApiAccess>) =
        match (resource, holder.product) {
            (Some(r), Some((pid, pident))) => {
                if r != pident {
                    return Err(GrantError::InvalidTarget);
                }
                let acc = find(r)
                    .filter(|a| a.holds_anything())
                    .ok_or(GrantError::InvalidTarget)?;
                (pid.to_owned(), pident.to_owned(), Some(acc))
            }
            (Some(r), None) => {
                let acc = find(r)
                    .filter(|a| a.holds_anything())
                    .ok_or(GrantError::InvalidTarget)?;
                (acc.api_id.clone(), acc.identifier.clone(), Some(acc))
            }
            (None, Some((pid, pident))) => (pid.to_owned(), pident.to_owned(), find(pident)),
            (None, None) => {
                let mut held = holder.access.iter().filter(|a| a.holds_anything());
                match (held.next(), held.next()) {
                    (Some(only), None) => {
                        (only.api_id.clone(), only.identifier.clone(), Some(only))
                    }
                    _ => (
                        KEYGATE_API_ID.to_owned(),
                        holder.keygate_identifier.to_owned(),
                        find(holder.keygate_identifier),
                    ),
                }
            }
        };
    let root = acc.map(|a| a.root.clone()).unwrap_or_default();
    let nodes = acc.map(|a| a.nodes.as_slice()).unwrap_or_default();
    let keep = |p: &String| scope.is_none_or(|s| s.contains(p));
    if let Some(wanted) = scope
        && !wanted
            .iter()
            .all(|p| acc.is_some_and(|a| a.holds_somewhere(p)))
    {
        return Err(GrantError::InvalidScope);
    }
    Ok(TokenGrant {
        api_id,
        audience,
        scope: root.iter().filter(|p| keep(p)).cloned().collect(),
        details: nodes
            .iter()
            .map(|n| {
                NodeDetail::new(
                    &n.path,
                    n.permissions.iter().filter(|p| keep(p)).cloned().collect(),
                )
            })
            .filter(|d| !d.actions.is_empty())
            .collect(),
    })
}

/// What a token minted with `scope` and `details` allows now, given the holder's current
/// access to the token's API (`None`: it holds nothing there any more): each within what
/// is effective now at the root or at that node.
pub fn allowed_now(
    now: Option<&ApiAccess>,
    scope: &str,
    details: &[NodeDetail],
) -> (BTreeSet<String>, Vec<NodeDetail>) {
    let Some(now) = now else {
        return (BTreeSet::new(), Vec::new());
    };
    let root: BTreeSet<String> = scope
        .split(' ')
        .filter(|p| now.root.iter().any(|x| x == p))
        .map(str::to_owned)
        .collect();
    let effective_at = |path: &str, p: &str| {
        now.root.iter().any(|x| x == p)
            || now.nodes.iter().any(|n| {
                (path == n.path
                    || path
                        .strip_prefix(n.path.as_str())
                        .is_some_and(|r| r.starts_with('/')))
                    && n.permissions.iter().any(|x| x == p)
            })
    };
    let details = details
        .iter()
        .map(|d| {
            let actions = d
                .actions
                .iter()
                .filter(|p| effective_at(d.path(), p))
                .cloned()
                .collect();
            NodeDetail::new(d.path(), actions)
        })
        .filter(|d| !d.actions.is_empty())
        .collect();
    (root, details)
}

/// Checks an API identifier: an absolute URI (a scheme, then `:` and more), without a
/// fragment, spaces or control characters, at most 500 characters.
pub fn parse_identifier(s: &str) -> Result<String, ValidationError> {
    let s = s.trim();
    let bad = |why: &str| {
        Err(ValidationError::new(
            "identifier",
            format!("The identifier must be an absolute URI without a fragment ({why})."),
        ))
    };
    if s.is_empty() {
        return bad("it is empty");
    }
    if s.chars().count() > 500 {
        return bad("it is longer than 500 characters");
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains a space or a control character");
    }
    if s.contains('#') {
        return bad("it has a fragment");
    }
    let Some((scheme, rest)) = s.split_once(':') else {
        return bad("it has no scheme, like https:");
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || rest.is_empty() {
        return bad("it has no scheme, like https:");
    }
    if matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") && !rest.starts_with("//") {
        return bad("an http(s) URI needs a host, like https://api.example.com");
    }
    if matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
        && rest.trim_start_matches('/').is_empty()
    {
        return bad("an http(s) URI needs a host, like https://api.example.com");
    }
    Ok(s.to_owned())
}

/// Checks a node name: 1 to 100 characters, no `/` and no control characters.
pub fn parse_node_name(s: &str) -> Result<String, ValidationError> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 100 {
        return Err(ValidationError::new(
            "name",
            "Name must be 1 to 100 characters.",
        ));
    }
    if s.contains('/') || s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "name",
            "Name must not contain / or control characters.",
        ));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(id: &str, ident: &str) -> Api {
        Api {
            id: id.into(),
            name: id.into(),
            identifier: ident.into(),
            description: String::new(),
            builtin: id == KEYGATE_API_ID,
            permissions: Vec::new(),
        }
    }

    fn role(id: &str, api_id: &str, perms: &[&str]) -> Role {
        Role {
            id: id.into(),
            name: id.into(),
            description: String::new(),
            builtin: false,
            api_id: api_id.into(),
            permissions: perms.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    fn node(id: &str, parent: Option<&str>) -> Node {
        Node {
            id: id.into(),
            name: id.into(),
            kind: String::new(),
            parent_id: parent.map(str::to_owned),
            path: String::new(),
        }
    }

    fn bind(role: &str, node: Option<&str>) -> Binding {
        Binding {
            role_id: role.into(),
            node_id: node.map(str::to_owned),
        }
    }

    fn catalog() -> Catalog {
        Catalog::new(
            vec![
                api(KEYGATE_API_ID, ""),
                api("p", "https://p.example"),
                api("q", "https://q.example"),
            ],
            vec![
                role("admin", KEYGATE_API_ID, &["service-accounts:read"]),
                role("p-read", "p", &["p:read"]),
                role("p-deploy", "p", &["p:deploy"]),
                role("q-read", "q", &["q:read"]),
            ],
            vec![
                node("acme", None),
                node("shop", Some("acme")),
                node("prod", Some("shop")),
                node("other", None),
            ],
            "https://kg.example/api",
        )
    }

    #[test]
    fn paths_join_the_names_from_the_root() {
        let c = catalog();
        assert_eq!(c.node("prod").unwrap().path, "acme/shop/prod");
        assert_eq!(c.find_node("/acme/shop/").unwrap().id, "shop");
        assert_eq!(c.lineage("prod"), vec!["prod", "shop", "acme"]);
        assert_eq!(
            c.api(KEYGATE_API_ID).unwrap().identifier,
            "https://kg.example/api"
        );
    }

    #[test]
    fn a_binding_at_a_node_applies_there_and_below_only() {
        let c = catalog();
        let g = grants(
            &c,
            &[bind("p-read", Some("acme")), bind("p-deploy", Some("prod"))],
            &[],
            None,
        );
        let a = access(&c, &g);
        assert_eq!(a.len(), 1);
        let p = &a[0];
        assert!(p.root.is_empty());
        assert_eq!(p.nodes[0].path, "acme");
        assert_eq!(p.nodes[0].permissions, vec!["p:read"]);
        assert_eq!(p.nodes[1].path, "acme/shop/prod");
        assert_eq!(p.nodes[1].permissions, vec!["p:deploy", "p:read"]);
        let eff = effective(&c, &g);
        let at_prod: Vec<_> = eff
            .iter()
            .filter(|e| e.node.as_deref() == Some("acme/shop/prod"))
            .map(|e| (e.permission.as_str(), e.sources.clone()))
            .collect();
        assert_eq!(
            at_prod,
            vec![
                (
                    "p:deploy",
                    vec!["role p-deploy at acme/shop/prod".to_owned()]
                ),
                ("p:read", vec!["role p-read at acme".to_owned()]),
            ]
        );
    }

    #[test]
    fn a_product_bound_holder_gets_only_its_products_roles_from_groups() {
        let c = catalog();
        let group = GroupBindings {
            id: "g".into(),
            name: "ops".into(),
            bindings: vec![bind("p-read", None), bind("q-read", None)],
        };
        let g = grants(&c, &[], std::slice::from_ref(&group), Some("p"));
        let a = access(&c, &g);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].api_id, "p");
        assert_eq!(a[0].root, vec!["p:read"]);
        let all = access(&c, &grants(&c, &[], &[group], None));
        assert_eq!(all.len(), 2);
        assert_eq!(
            effective(&c, &grants(&c, &[bind("admin", None)], &[], None))[0].sources,
            vec!["role admin"]
        );
    }

    #[test]
    fn a_token_is_for_the_one_api_held_else_keygate_and_scope_narrows_nodes() {
        let c = catalog();
        let g = grants(
            &c,
            &[bind("p-read", Some("acme")), bind("p-deploy", Some("prod"))],
            &[],
            None,
        );
        let a = access(&c, &g);
        let holder = Holder {
            access: &a,
            product: None,
            keygate_identifier: "https://kg.example/api",
        };
        let t = token_grant(holder, None, None).unwrap();
        assert_eq!(t.audience, "https://p.example");
        assert!(t.scope.is_empty());
        assert_eq!(t.details.len(), 2);
        let only_deploy = token_grant(
            holder,
            Some("https://p.example"),
            Some(&["p:deploy".into()]),
        )
        .unwrap();
        assert_eq!(
            only_deploy.details,
            vec![NodeDetail::new("acme/shop/prod", vec!["p:deploy".into()])]
        );
        assert_eq!(
            token_grant(holder, Some("https://q.example"), None),
            Err(GrantError::InvalidTarget)
        );
        assert_eq!(
            token_grant(holder, Some("https://kg.example/api"), None),
            Err(GrantError::InvalidTarget)
        );
        assert_eq!(
            token_grant(holder, None, Some(&["q:read".into()])),
            Err(GrantError::InvalidScope)
        );
        let nothing = Holder {
            access: &[],
            ..holder
        };
        assert_eq!(
            token_grant(nothing, None, None).unwrap().audience,
            "https://kg.example/api"
        );
        let (root, details) = allowed_now(a.first(), "", &t.details);
        assert!(root.is_empty());
        assert_eq!(details, t.details);
        let fewer = access(&c, &grants(&c, &[bind("p-read", Some("acme"))], &[], None));
        let (_, details) = allowed_now(fewer.first(), "", &t.details);
        assert_eq!(
            details,
            vec![
                NodeDetail::new("acme", vec!["p:read".into()]),
                NodeDetail::new("acme/shop/prod", vec!["p:read".into()]),
            ]
        );
    }

    #[test]
    fn identifiers_are_absolute_uris_without_fragments() {
        for good in [
            "https://api.example.com",
            "urn:acme:billing",
            "http://127.0.0.1:9/x",
        ] {
            assert!(parse_identifier(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "billing",
            "https://a.example/#x",
            "https:",
            "1ab:x",
            "https://",
            "a b:c",
        ] {
            assert!(parse_identifier(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn node_names_have_no_slash() {
        assert!(parse_node_name("acme").is_ok());
        assert!(parse_node_name("a/b").is_err());
        assert!(parse_node_name("").is_err());
    }
}
