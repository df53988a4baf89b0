//! Roles and groups: custom roles hold permission strings, groups hold roles, accounts join
//! groups. Built-in roles are read-only. Nobody gives a permission they do not hold.

use super::{Admin, AdminError};
use crate::domain::account::name_key;
use crate::domain::audit::{Actor, AuditEvent, Changes};
use crate::domain::permission::{self, ROLES_WRITE, SERVICE_ACCOUNTS_READ, SERVICE_ACCOUNTS_WRITE};
use crate::domain::{ValidationError, now_ms};
use crate::store::accounts::RoleRef;
use crate::store::changes::{self, Change};
use crate::store::groups::{self, GroupRow};
use crate::store::roles::{self, RoleRow};
use crate::store::{StoreError, Tx, audit, users};

/// What a role is made of, as typed by the user.
#[derive(Debug, Clone, Default)]
pub struct RoleInput {
    /// Name (unique, 1–100 characters).
    pub name: String,
    /// Description (at most 1000 characters).
    pub description: String,
    /// Permission strings (`area:verb`), each defined by the role's API.
    pub permissions: Vec<String>,
    /// The API it belongs to, by id or name (required).
    pub api: Option<String>,
}

/// What a group is made of, as typed by the user.
#[derive(Debug, Clone, Default)]
pub struct GroupInput {
    /// Name (unique, 1–100 characters).
    pub name: String,
    /// Description.
    pub description: String,
    /// Roles the group gives its members, by id or name.
    pub role_ids: Vec<String>,
    /// Member service-account ids.
    pub member_ids: Vec<String>,
    /// Every binding (root-level and at nodes), replacing them all; `None` keeps the node
    /// bindings and sets the root ones from `role_ids`.
    pub bindings: Option<Vec<super::access::BindingInput>>,
}

fn parse_name(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "Name must be 1 to 100 characters, without control characters.",
        ));
    }
    Ok(s.to_owned())
}

fn parse_description(s: &str) -> Result<String, ValidationError> {
    Ok(crate::domain::account::Description::parse(s)?
        .as_ref()
        .to_owned())
}

impl Admin {
    fn check_grantable(actor: &Actor, what: &str, role: &RoleRow) -> Result<(), AdminError> {
        match Self::ungrantable_permission(actor, role) {
            Some(p) => Err(AdminError::Escalation(format!(
                "You cannot give {what} the {p} permission: you do not hold it yourself."
            ))),
            None => Ok(()),
        }
    }

    /// Refuses to change or delete a role that carries a permission the actor could not
    /// give: acting on it would change what its holders, possibly more powerful than the
    /// actor, may do.
    fn ensure_may_manage_role(actor: &Actor, role: &RoleRow) -> Result<(), AdminError> {
        match Self::ungrantable_permission(actor, role) {
            Some(p) => Err(AdminError::Escalation(format!(
                "You cannot change the role \u{201c}{}\u{201d}: it carries the {p} permission, \
                 which you do not hold yourself.",
                role.name
            ))),
            None => Ok(()),
        }
    }

    async fn commit_with_event(
        &self,
        mut tx: Tx,
        actor: &Actor,
        event: AuditEvent,
        change: Change,
    ) -> Result<(), AdminError> {
        let now = now_ms();
        audit::append(&mut tx, actor, &event, now).await?;
        changes::append(&mut tx, self.store.backend(), &change, now).await?;
        tx.commit().await?;
        self.oauth.apply_local(&change);
        Ok(())
    }

    /// One role.
    pub async fn get_role(&self, actor: &Actor, id: &str) -> Result<RoleRow, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        roles::by_ids(self.store.pool(), &[id.to_owned()])
            .await?
            .pop()
            .ok_or(AdminError::NotFound("role"))
    }

    /// Who holds a role: (service accounts directly, groups, console users).
    pub async fn role_holders(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<(i64, i64, i64), AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        Ok(roles::holders(self.store.pool(), id).await?)
    }

    /// The role `input` describes, checked against its API: the API must exist and define
    /// every permission.
    async fn role_from_input(&self, id: String, input: &RoleInput) -> Result<RoleRow, AdminError> {
        let mut permissions = input
            .permissions
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| permission::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
        permissions.sort();
        permissions.dedup();
        let name = parse_name("name", &input.name)?;
        let description = parse_description(&input.description)?;
        let wanted = input
            .api
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                ValidationError::new(
                    "api",
                    "Choose the API the role belongs to (its id or name).",
                )
            })?;
        let catalog = self.oauth.catalog().await?;
        let api = catalog
            .api(wanted)
            .or_else(|| {
                catalog
                    .apis()
                    .iter()
                    .find(|a| name_key(&a.name) == name_key(wanted))
            })
            .ok_or_else(|| {
                ValidationError::new("api", format!("There is no API \u{201c}{wanted}\u{201d}."))
            })?;
        if let Some(p) = permissions.iter().find(|p| !api.defines(p)) {
            return Err(ValidationError::new(
                "permissions",
                format!(
                    "The API \u{201c}{}\u{201d} does not define the permission {p}; add it to the \
                     API first.",
                    api.name
                ),
            )
            .into());
        }
        Ok(RoleRow {
            id,
            name,
            description,
            builtin: false,
            api_id: api.id.clone(),
            permissions,
        })
    }

    /// Refuses a role or group name equal to the id of any role or group: ids are looked up
    /// first, but a name that reads as another's id would still mislead whoever types it.
    async fn ensure_name_is_not_an_id(
        &self,
        field: &'static str,
        name: &str,
    ) -> Result<(), AdminError> {
        let roles = roles::list(self.store.pool()).await?;
        let groups = groups::list(self.store.pool()).await?;
        let n = name.trim();
        if roles.iter().any(|r| r.id == n) || groups.iter().any(|g| g.id == n) {
            return Err(ValidationError::new(
                field,
                format!("\u{201c}{n}\u{201d} is the id of a role or group; choose another name."),
            )
            .into());
        }
        Ok(())
    }

    fn role_conflict(name: &str) -> AdminError {
        AdminError::Conflict {
            field: "name",
            message: format!("A role named \u{201c}{name}\u{201d} already exists."),
        }
    }

    /// Creates a custom role.
    pub async fn create_role(
        &self,
        actor: &Actor,
        input: RoleInput,
    ) -> Result<RoleRow, AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let role = self
            .role_from_input(uuid::Uuid::new_v4().to_string(), &input)
            .await?;
        Self::check_grantable(actor, "a role", &role)?;
        self.ensure_name_is_not_an_id("name", &role.name).await?;
        let mut tx = self.store.begin().await?;
        match roles::insert(&mut tx, &role, now_ms()).await {
            Err(StoreError::Conflict) => return Err(Self::role_conflict(&role.name)),
            other => other?,
        }
        let event = AuditEvent {
            action: "role.created",
            target_kind: "role",
            target_id: role.id.clone(),
            target_name: role.name.clone(),
            detail: serde_json::json!({ "permissions": role.permissions }).to_string(),
        };
        self.commit_with_event(tx, actor, event, Change::AllAccounts)
            .await?;
        Ok(role)
    }

    /// Changes a custom role; built-in roles are read-only.
    pub async fn update_role(
        &self,
        actor: &Actor,
        id: &str,
        input: RoleInput,
    ) -> Result<RoleRow, AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let before = self.get_role(actor, id).await?;
        if before.builtin {
            return Err(AdminError::Escalation(
                "Built-in roles cannot be changed.".into(),
            ));
        }
        Self::ensure_may_manage_role(actor, &before)?;
        let role = self.role_from_input(id.to_owned(), &input).await?;
        Self::check_grantable(actor, "a role", &role)?;
        self.ensure_name_is_not_an_id("name", &role.name).await?;
        let catalog = self.catalog().await?;
        let api_name = |id: &str| {
            catalog
                .api(id)
                .map_or_else(|| id.to_owned(), |a| a.name.clone())
        };
        let mut tx = self.store.begin().await?;
        let managers = users::count_user_managers(&mut tx).await?;
        match roles::update(&mut tx, &role, now_ms()).await {
            Err(StoreError::Conflict) => return Err(Self::role_conflict(&role.name)),
            Ok(false) => return Err(AdminError::NotFound("role")),
            other => {
                other?;
            }
        }
        Self::ensure_user_manager_remains(&mut tx, managers).await?;
        let event = AuditEvent {
            action: "role.updated",
            target_kind: "role",
            target_id: role.id.clone(),
            target_name: role.name.clone(),
            detail: Changes::default()
                .field("name", before.name.as_str(), role.name.as_str())
                .field(
                    "description",
                    before.description.as_str(),
                    role.description.as_str(),
                )
                .field("api", api_name(&before.api_id), api_name(&role.api_id))
                .field(
                    "permissions",
                    before.permissions.clone(),
                    role.permissions.clone(),
                )
                .to_detail(),
        };
        self.commit_with_event(tx, actor, event, Change::AllAccounts)
            .await?;
        Ok(role)
    }

    /// Deletes a custom role; it is removed from every account, group and user holding it.
    /// A role in use is deleted only when `confirmed`.
    pub async fn delete_role(
        &self,
        actor: &Actor,
        id: &str,
        confirmed: bool,
    ) -> Result<(), AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let before = self.get_role(actor, id).await?;
        if before.builtin {
            return Err(AdminError::Escalation(
                "Built-in roles cannot be deleted.".into(),
            ));
        }
        Self::ensure_may_manage_role(actor, &before)?;
        let holders = roles::holders(self.store.pool(), id).await?;
        let (a, g, u) = holders;
        if a + g + u > 0 && !confirmed {
            return Err(AdminError::Conflict {
                field: "confirm",
                message: format!(
                    "The role is held by {a} service accounts, {g} groups and {u} console \
                     users; repeat with confirm=true to remove it from them and delete it."
                ),
            });
        }
        let mut tx = self.store.begin().await?;
        let managers = users::count_user_managers(&mut tx).await?;
        if !roles::delete(&mut tx, id).await? {
            return Err(AdminError::NotFound("role"));
        }
        Self::ensure_user_manager_remains(&mut tx, managers).await?;
        let event = AuditEvent {
            action: "role.deleted",
            target_kind: "role",
            target_id: id.to_owned(),
            target_name: before.name.clone(),
            detail: serde_json::json!({
                "permissions": before.permissions,
                "removed_from": {"service_accounts": holders.0, "groups": holders.1, "console_users": holders.2},
            })
            .to_string(),
        };
        self.commit_with_event(tx, actor, event, Change::AllAccounts)
            .await
    }

    /// Every group with its roles and members.
    pub async fn list_groups(&self, actor: &Actor) -> Result<Vec<GroupRow>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        Ok(groups::list(self.store.pool()).await?)
    }

    /// One group.
    pub async fn get_group(&self, actor: &Actor, id: &str) -> Result<GroupRow, AdminError> {
        self.list_groups(actor)
            .await?
            .into_iter()
            .find(|g| g.id == id)
            .ok_or(AdminError::NotFound("group"))
    }

    async fn group_from_input(
        &self,
        actor: &Actor,
        id: String,
        input: &GroupInput,
    ) -> Result<GroupRow, AdminError> {
        let name = parse_name("name", &input.name)?;
        let description = parse_description(&input.description)?;
        let mut role_ids = self.resolve_roles(&input.role_ids).await?;
        role_ids.sort();
        role_ids.dedup();
        let roles = roles::by_ids(self.store.pool(), &role_ids).await?;
        if roles.len() != role_ids.len() {
            return Err(
                ValidationError::new("roles", "One of the chosen roles does not exist.").into(),
            );
        }
        Self::ensure_grantable(actor, &roles)?;
        let mut members = Vec::new();
        let mut ids = input.member_ids.clone();
        ids.sort();
        ids.dedup();
        for m in &ids {
            let a = crate::store::accounts::by_id(self.store.pool(), m)
                .await?
                .ok_or_else(|| {
                    ValidationError::new("members", format!("There is no service account {m}."))
                })?;
            members.push(RoleRef {
                id: a.account.id,
                name: a.account.name,
            });
        }
        Ok(GroupRow {
            id,
            name,
            description,
            roles: roles
                .into_iter()
                .map(|r| RoleRef {
                    id: r.id,
                    name: r.name,
                })
                .collect(),
            members,
        })
    }

    /// Creates or changes a group (its roles need `roles:write`, its members
    /// `service-accounts:write`).
    pub async fn save_group(
        &self,
        actor: &Actor,
        id: Option<&str>,
        input: GroupInput,
    ) -> Result<GroupRow, AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        Self::require(actor, SERVICE_ACCOUNTS_WRITE)?;
        let before = match id {
            Some(id) => Some(self.get_group(actor, id).await?),
            None => None,
        };
        if let Some(b) = &before {
            self.ensure_may_manage_group(actor, b).await?;
        }
        let gid = id.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let group = self.group_from_input(actor, gid, &input).await?;
        let catalog = self.catalog().await?;
        // Bindings in words ("Deployer at acme/prod"), for the audit event.
        let binding_names = |v: &[crate::domain::access::Binding]| -> Vec<String> {
            let mut out: Vec<String> = v
                .iter()
                .map(|x| {
                    let role = catalog
                        .role(&x.role_id)
                        .map_or_else(|| x.role_id.clone(), |r| r.name.clone());
                    match x.node_id.as_deref().and_then(|n| catalog.node(n)) {
                        Some(n) => format!("{role} at {}", n.path),
                        None => role,
                    }
                })
                .collect();
            out.sort();
            out
        };
        let old_bindings = match (&before, &input.bindings) {
            (Some(b), Some(_)) => Some(binding_names(
                &crate::store::access::group_bindings(self.store.pool(), &b.id).await?,
            )),
            _ => None,
        };
        let bindings = match &input.bindings {
            Some(b) => {
                let resolved = Self::resolve_bindings(&catalog, b, None)?;
                let ids: Vec<String> = resolved.iter().map(|x| x.role_id.clone()).collect();
                Self::ensure_grantable(actor, &roles::by_ids(self.store.pool(), &ids).await?)?;
                Some(resolved)
            }
            None => None,
        };
        self.ensure_name_is_not_an_id("name", &group.name).await?;
        // Joining or leaving a group changes an account's roles: the takeover rule applies
        // to every account whose membership changes.
        let old_members: Vec<String> = before
            .as_ref()
            .map(|b| b.members.iter().map(|m| m.id.clone()).collect())
            .unwrap_or_default();
        let new_members: Vec<String> = group.members.iter().map(|m| m.id.clone()).collect();
        for changed in old_members
            .iter()
            .filter(|m| !new_members.contains(m))
            .chain(new_members.iter().filter(|m| !old_members.contains(m)))
        {
            let account = self.load_account(changed).await?;
            self.ensure_may_manage_account(actor, &account).await?;
        }
        let mut tx = self.store.begin().await?;
        match groups::save(&mut tx, &group, before.is_none(), now_ms()).await {
            Err(StoreError::Conflict) => {
                return Err(AdminError::Conflict {
                    field: "name",
                    message: format!(
                        "A group named \u{201c}{}\u{201d} already exists.",
                        group.name
                    ),
                });
            }
            Ok(false) => return Err(AdminError::NotFound("group")),
            other => {
                other?;
            }
        }
        if let Some(b) = &bindings {
            crate::store::access::set_bindings(&mut tx, true, &group.id, b).await?;
        }
        // Blame what changed: the bindings, else the roles, else the members.
        let same_roles = before.as_ref().is_some_and(|b| {
            let ids = |v: &[RoleRef]| {
                v.iter()
                    .map(|r| r.id.clone())
                    .collect::<std::collections::BTreeSet<String>>()
            };
            ids(&b.roles) == ids(&group.roles)
        });
        let field = match (&bindings, same_roles) {
            (Some(_), _) => "bindings",
            (None, true) => "members",
            (None, false) => "roles",
        };
        Self::ensure_role_limit(
            &mut tx,
            crate::store::policies::Holders::GroupMembers(&group.id),
            field,
        )
        .await?;
        let names = |v: &[RoleRef]| {
            let mut n: Vec<String> = v.iter().map(|r| r.name.clone()).collect();
            n.sort();
            n
        };
        let detail = match &before {
            // A change: the fields that changed, with their previous values.
            Some(b) => {
                let mut changes = Changes::default();
                changes
                    .field("name", b.name.as_str(), group.name.as_str())
                    .field(
                        "description",
                        b.description.as_str(),
                        group.description.as_str(),
                    )
                    .field("roles", names(&b.roles), names(&group.roles))
                    .field("members", names(&b.members), names(&group.members));
                if let (Some(old), Some(new)) = (&old_bindings, &bindings) {
                    changes.field("bindings", old.clone(), binding_names(new));
                }
                changes.to_detail()
            }
            None => serde_json::json!({
                "roles": names(&group.roles), "members": names(&group.members),
            })
            .to_string(),
        };
        let event = AuditEvent {
            action: if before.is_some() {
                "group.updated"
            } else {
                "group.created"
            },
            target_kind: "group",
            target_id: group.id.clone(),
            target_name: group.name.clone(),
            detail,
        };
        self.commit_with_event(tx, actor, event, Change::AllAccounts)
            .await?;
        Ok(group)
    }

    /// Replaces every binding of group `id` (its root-level roles included), keeping its name,
    /// description and members: [`save_group`](Self::save_group) with the group as it is.
    pub async fn set_group_bindings(
        &self,
        actor: &Actor,
        id: &str,
        bindings: Vec<super::access::BindingInput>,
    ) -> Result<GroupRow, AdminError> {
        let g = self.get_group(actor, id).await?;
        let input = GroupInput {
            name: g.name,
            description: g.description,
            role_ids: bindings
                .iter()
                .filter(|b| b.at_root())
                .map(|b| b.role.clone())
                .collect(),
            member_ids: g.members.into_iter().map(|m| m.id).collect(),
            bindings: Some(bindings),
        };
        self.save_group(actor, Some(id), input).await
    }

    /// Deletes a group; its members lose the roles it gave them.
    pub async fn delete_group(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        Self::require(actor, ROLES_WRITE)?;
        let before = self.get_group(actor, id).await?;
        self.ensure_may_manage_group(actor, &before).await?;
        for m in &before.members {
            let account = self.load_account(&m.id).await?;
            self.ensure_may_manage_account(actor, &account).await?;
        }
        let mut tx = self.store.begin().await?;
        if !groups::delete(&mut tx, id).await? {
            return Err(AdminError::NotFound("group"));
        }
        let event = AuditEvent {
            action: "group.deleted",
            target_kind: "group",
            target_id: id.to_owned(),
            target_name: before.name,
            detail: String::new(),
        };
        self.commit_with_event(tx, actor, event, Change::AllAccounts)
            .await
    }

    /// Refuses to change or delete a group that gives a role the actor could not give.
    async fn ensure_may_manage_group(
        &self,
        actor: &Actor,
        group: &GroupRow,
    ) -> Result<(), AdminError> {
        let ids: Vec<String> = group.roles.iter().map(|r| r.id.clone()).collect();
        let roles = roles::by_ids(self.store.pool(), &ids).await?;
        Self::ensure_may_act_on(
            actor,
            &format!("the group \u{201c}{}\u{201d}", group.name),
            &roles,
        )
    }

    /// The groups an account belongs to.
    pub async fn account_groups(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Vec<RoleRef>, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        Ok(groups::of_account(self.store.pool(), id).await?)
    }

    /// The groups named or identified by `wanted`, if each exists and the actor may give
    /// every permission their roles carry.
    pub(crate) async fn grantable_groups(
        &self,
        actor: &Actor,
        wanted: &[String],
    ) -> Result<Vec<GroupRow>, AdminError> {
        let all = groups::list(self.store.pool()).await?;
        let mut chosen: Vec<GroupRow> = Vec::new();
        for w in wanted {
            let key = name_key(w);
            let g = all
                .iter()
                .find(|g| g.id == w.trim())
                .or_else(|| all.iter().find(|g| name_key(&g.name) == key))
                .ok_or_else(|| {
                    ValidationError::new(
                        "groups",
                        format!("There is no group \u{201c}{w}\u{201d}."),
                    )
                })?;
            let role_ids: Vec<String> = g.roles.iter().map(|r| r.id.clone()).collect();
            Self::ensure_grantable(actor, &roles::by_ids(self.store.pool(), &role_ids).await?)?;
            if !chosen.iter().any(|c| c.id == g.id) {
                chosen.push(g.clone());
            }
        }
        Ok(chosen)
    }

    /// Where each of an account's effective permissions comes from, per API and node (the
    /// root first), with the API's name for display.
    pub async fn permission_sources(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Vec<super::access::EffectiveView>, AdminError> {
        let catalog = self.catalog().await?;
        Ok(self
            .effective_permissions(actor, id)
            .await?
            .into_iter()
            .map(|e| super::access::EffectiveView {
                api: catalog
                    .api(&e.api_id)
                    .map_or_else(|| e.api_id.clone(), |a| a.name.clone()),
                node: e.node,
                permission: e.permission,
                sources: e.sources,
            })
            .collect())
    }
}
