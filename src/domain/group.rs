//! Groups: they hold roles and bindings, and service accounts join them.

use super::access::NameRef;

/// A group with its roles and members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// Group id (UUID).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// What the group is for.
    pub description: String,
    /// Roles the group gives its members.
    pub roles: Vec<NameRef>,
    /// Member accounts (id and name).
    pub members: Vec<NameRef>,
}
