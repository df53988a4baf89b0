//! Which sqlx errors mean "the database cannot be reached right now" rather than "this
//! request is wrong": those become [`StoreError::Unavailable`](super::StoreError) and a 503
//! with `Retry-After` instead of a 500.

/// Whether `e` says the database is unreachable or restarting, so a retry may succeed.
pub(super) fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL SQLSTATE class 08 (connection exception) and 57P01–57P03 (admin or
        // crash shutdown, cannot connect now): the server is going away or not yet back.
        // SQLite's SQLITE_CANTOPEN (14): the file or its directory is gone or unreadable.
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "14")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_unavailable;

    #[test]
    fn a_timed_out_or_closed_pool_is_unavailable() {
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(is_unavailable(&sqlx::Error::PoolClosed));
    }

    #[test]
    fn a_reset_connection_is_unavailable() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_unavailable(&sqlx::Error::Io(reset)));
    }

    #[test]
    fn a_missing_row_is_not_unavailable() {
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
    }
}
