//! Account policies: reading and changing them (with a dry run listing the accounts a
//! change affects), the role limit every way of giving roles checks, and the job that
//! disables unused accounts.

use std::collections::HashSet;
use std::time::Duration;

use super::{Admin, AdminError};
use crate::domain::audit::{Actor, ActorKind, AuditEvent};
use crate::domain::permission::{POLICIES_WRITE, SERVICE_ACCOUNTS_READ};
use crate::domain::policy::{Policies, PolicyPatch, expiry_text};
use crate::domain::{ValidationError, now_ms};
use crate::store::changes::{self, Change};
use crate::store::policies::{self as queries, Holders};
use crate::store::{Tx, audit, settings};

/// Most accounts a dry run lists per kind of change.
const MAX_AFFECTED: i64 = 1000;

/// Name of the lease the unused-account job holds while it runs.
const UNUSED_JOB_LEASE: &str = "lease.unused_accounts";

/// How often the unused-account job runs.
pub const UNUSED_JOB_EVERY: Duration = Duration::from_secs(600);

/// An account a policy change would affect, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    /// Account id.
    pub id: String,
    /// Account name.
    pub name: String,
    /// What happens to it, in a sentence.
    pub change: String,
}

impl Affected {
    /// `{id, name, change}`, as the REST API's dry run answers it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"id": self.id, "name": self.name, "change": self.change})
    }
}

/// Who the unused-account job acts as in the audit log.
fn policy_actor() -> Actor {
    Actor {
        kind: ActorKind::System,
        id: "policy".into(),
        name: "account policy".into(),
        permissions: std::collections::BTreeSet::new(),
        source: "keygate".into(),
    }
}

impl Admin {
    /// The policies in force on this instance (from memory, as the token path sees them).
    pub fn policies_in_force(&self) -> std::sync::Arc<Policies> {
        self.oauth.policies()
    }

    /// The stored policies (needs `service-accounts:read`).
    pub async fn get_policies(&self, actor: &Actor) -> Result<Policies, AdminError> {
        Self::require(actor, SERVICE_ACCOUNTS_READ)?;
        self.stored_policies().await
    }

    /// The stored policies, read by an operation for itself.
    pub(crate) async fn stored_policies(&self) -> Result<Policies, AdminError> {
        Ok(settings::get(self.store.pool(), settings::POLICIES)
            .await?
            .as_deref()
            .map(Policies::from_stored)
            .unwrap_or_default())
    }

    /// The accounts `patch` would affect, and how, saving nothing (needs `policies:write`).
    pub async fn preview_policies(
        &self,
        actor: &Actor,
        patch: &PolicyPatch,
    ) -> Result<Vec<Affected>, AdminError> {
        Self::require(actor, POLICIES_WRITE)?;
        let before = self.stored_policies().await?;
        self.affected_by(&before, &before.with(patch), now_ms())
            .await
    }

    /// Changes the policies `patch` names, audited (`policy.updated`, with before and after)
    /// and in force at once on every instance.
    pub async fn update_policies(
        &self,
        actor: &Actor,
        patch: &PolicyPatch,
    ) -> Result<Policies, AdminError> {
        Self::require(actor, POLICIES_WRITE)?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let before = settings::get_in(&mut tx, settings::POLICIES)
            .await?
            .as_deref()
            .map(Policies::from_stored)
            .unwrap_or_default();
        let after = before.with(patch);
        if after == before {
            // Nothing to change, nothing to audit.
            return Ok(after);
        }
        settings::put_in(
            &mut tx,
            settings::POLICIES,
            &after.to_json().to_string(),
            now,
        )
        .await?;
        let event = AuditEvent {
            action: "policy.updated",
            target_kind: "policies",
            target_id: "policies".into(),
            target_name: "Policies".into(),
            detail: serde_json::json!({"before": before.to_json(), "after": after.to_json()})
                .to_string(),
        };
        audit::append(&mut tx, actor, &event, now).await?;
        changes::append(&mut tx, self.store.backend(), &Change::Policies, now).await?;
        tx.commit().await?;
        self.oauth.set_policies(after.clone());
        Ok(after)
    }

    /// The accounts that going from `before` to `after` affects at `now`.
    async fn affected_by(
        &self,
        before: &Policies,
        after: &Policies,
        now: i64,
    ) -> Result<Vec<Affected>, AdminError> {
        let pool = self.store.pool();
        let mut out = Vec::new();
        if let Some(max) = after.max_roles_per_account
            && before.max_roles_per_account.is_none_or(|m| max < m)
        {
            for (id, name, n) in queries::all_over_role_limit(pool, max, MAX_AFFECTED).await? {
                out.push(Affected {
                    id,
                    name,
                    change: format!(
                        "holds {n} roles, more than {max}: keeps them, but gets no more"
                    ),
                });
            }
        }
        if let Some(cap) = after.max_token_lifetime_secs {
            for (id, name, secs) in queries::longer_lifetimes(pool, cap, MAX_AFFECTED).await? {
                if before.token_lifetime(secs) > after.token_lifetime(secs) {
                    out.push(Affected {
                        id,
                        name,
                        change: format!(
                            "token lifetime capped from {} to {cap} seconds",
                            before.token_lifetime(secs)
                        ),
                    });
                }
            }
        }
        if after.credential_lifetime_days.is_some()
            && after.credential_lifetime_days != before.credential_lifetime_days
        {
            for c in queries::credentials(pool, MAX_AFFECTED).await? {
                let (Some(new), old) = (
                    after.credential_expires_at(c.created_at),
                    before.credential_expires_at(c.created_at),
                ) else {
                    continue;
                };
                if old.is_some_and(|o| o <= new) {
                    continue;
                }
                let what = c
                    .kid
                    .map_or_else(|| "client secret".to_owned(), |k| format!("key {k}"));
                out.push(Affected {
                    id: c.account_id,
                    name: c.account_name,
                    change: format!("{what} {}", expiry_text(new, now)),
                });
            }
        }
        if let (Some(days), Some(cut)) = (after.disable_unused_after_days, after.unused_before(now))
        {
            let already: HashSet<String> = match before.unused_before(now) {
                Some(old) => queries::unused(pool, old, MAX_AFFECTED)
                    .await?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect(),
                None => HashSet::new(),
            };
            for (id, name) in queries::unused(pool, cut, MAX_AFFECTED).await? {
                if !already.contains(&id) {
                    out.push(Affected {
                        id,
                        name,
                        change: format!("disabled: {}", Policies::unused_reason(days)),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Refuses a change (made in `tx`, not yet committed) that leaves any of `holders` with
    /// more roles than the policy allows, directly and through groups together: a 422 on
    /// `field`, naming the accounts.
    pub(crate) async fn ensure_role_limit(
        tx: &mut Tx,
        holders: Holders<'_>,
        field: &'static str,
    ) -> Result<(), AdminError> {
        let Some(max) = settings::get_in(tx, settings::POLICIES)
            .await?
            .as_deref()
            .map(Policies::from_stored)
            .unwrap_or_default()
            .max_roles_per_account
        else {
            return Ok(());
        };
        let over = queries::over_role_limit(tx, holders, max).await?;
        if over.is_empty() {
            return Ok(());
        }
        let who = over
            .iter()
            .map(|(name, n)| format!("\u{201c}{name}\u{201d} would hold {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        Err(ValidationError::new(
            field,
            format!(
                "The policy allows at most {max} {} per service account, counting roles held \
                 directly and through groups: {who}.",
                if max == 1 { "role" } else { "roles" }
            ),
        )
        .into())
    }

    /// The unused-account job: disables every enabled account unused since
    /// `disable_unused_after_days` before `now` (epoch ms; a parameter so tests can move the
    /// clock), with the reason "unused for N days" and an audit event each. One instance at
    /// a time runs it (a lease row); returns the names of the accounts it disabled.
    pub async fn disable_unused_accounts(&self, now: i64) -> Result<Vec<String>, AdminError> {
        let policies = self.stored_policies().await?;
        let (Some(days), Some(cut)) = (
            policies.disable_unused_after_days,
            policies.unused_before(now),
        ) else {
            return Ok(Vec::new());
        };
        let holder = uuid::Uuid::new_v4().to_string();
        let pool = self.store.pool();
        // The lease runs on the real clock: it only keeps two instances from racing.
        if !settings::take_lease(pool, UNUSED_JOB_LEASE, &holder, now_ms(), 300_000).await? {
            return Ok(Vec::new());
        }
        let result = self.disable_unused_before(cut, days).await;
        settings::release_lease(pool, UNUSED_JOB_LEASE, &holder).await?;
        result
    }

    async fn disable_unused_before(&self, cut: i64, days: i64) -> Result<Vec<String>, AdminError> {
        let reason = Policies::unused_reason(days);
        let actor = policy_actor();
        let mut done = Vec::new();
        loop {
            let batch = queries::unused(self.store.pool(), cut, 200).await?;
            if batch.is_empty() {
                return Ok(done);
            }
            for (id, name) in batch {
                let at = now_ms();
                let mut tx = self.store.begin().await?;
                if !crate::store::accounts::disable_because(&mut tx, &id, &reason, at).await? {
                    continue;
                }
                let event = AuditEvent {
                    action: "service_account.disabled",
                    target_kind: "service_account",
                    target_id: id.clone(),
                    target_name: name.clone(),
                    detail: serde_json::json!({ "reason": reason }).to_string(),
                };
                self.commit_account_change(tx, &actor, &event, &id, at)
                    .await?;
                done.push(name);
            }
        }
    }

    /// Runs the unused-account job every [`UNUSED_JOB_EVERY`], forever (`serve`).
    pub async fn run_policy_jobs(self) {
        loop {
            tokio::time::sleep(UNUSED_JOB_EVERY).await;
            match self.disable_unused_accounts(now_ms()).await {
                Ok(names) if !names.is_empty() => {
                    tracing::info!(count = names.len(), "disabled unused service accounts");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot run the unused-account job"),
            }
        }
    }
}
