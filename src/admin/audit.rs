//! Reading the audit log (it is written by the operations themselves, never edited).

use super::{Admin, AdminError};
use crate::domain::audit::Actor;
use crate::domain::permission::AUDIT_READ;
use crate::store::audit::{self, AuditFilter, AuditRow};

impl Admin {
    /// A page of audit events, newest first.
    pub async fn audit_events(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditRow>, AdminError> {
        Self::require(actor, AUDIT_READ)?;
        Ok(audit::list(self.store.pool(), filter).await?)
    }
}
