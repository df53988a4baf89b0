//! The append-only audit log. There is no update or delete here, by design.

use sqlx::{AnyPool, Row as _};
use tracing::instrument;

use super::{StoreError, Tx};
use crate::domain::audit::{Actor, AuditEvent};

pub use crate::domain::audit::{AuditFilter, AuditRow};

/// Appends one event in the caller's transaction.
#[instrument(skip_all)]
pub async fn append(
    tx: &mut Tx,
    actor: &Actor,
    event: &AuditEvent,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into audit_events (at, actor_kind, actor_id, actor_name, action, target_kind, \
         target_id, target_name, source, detail) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(at)
    .bind(actor.kind.as_str())
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(event.action)
    .bind(event.target_kind)
    .bind(&event.target_id)
    .bind(&event.target_name)
    .bind(&actor.source)
    .bind(&event.detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A page of events matching `filter`, newest first.
#[instrument(skip_all)]
pub async fn list(pool: &AnyPool, f: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
    let action_like = f.action.as_ref().map(|a| {
        if f.action_anywhere {
            format!("%{}%", super::like_escape(a))
        } else if a.ends_with('.') {
            format!("{}%", super::like_escape(a))
        } else {
            super::like_escape(a)
        }
    });
    let rows = sqlx::query(
        "select id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, \
         target_name, source, detail from audit_events \
         where ($1 = '' or actor_id = $1 or lower(actor_name) = lower($1)) \
           and ($2 = '' or target_id = $2 or lower(target_name) = lower($2)) \
           and ($3 = '' or action like $3 escape '\\') \
           and at >= $4 and at < $5 and id < $6 \
         order by id desc limit $7",
    )
    .bind(f.actor.clone().unwrap_or_default())
    .bind(f.target.clone().unwrap_or_default())
    .bind(action_like.unwrap_or_default())
    .bind(f.since.unwrap_or(i64::MIN))
    .bind(f.until.unwrap_or(i64::MAX))
    .bind(f.before_id.unwrap_or(i64::MAX))
    .bind(f.limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor_kind: r.try_get("actor_kind")?,
                actor_id: r.try_get("actor_id")?,
                actor_name: r.try_get("actor_name")?,
                action: r.try_get("action")?,
                target_kind: r.try_get("target_kind")?,
                target_id: r.try_get("target_id")?,
                target_name: r.try_get("target_name")?,
                source: r.try_get("source")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}
