//! Bounds on what a request may ask for, and the answer while the database is away: a
//! search text is at most [`MAX_SEARCH_CHARS`] characters (SQLite gives up on a `LIKE`
//! pattern of ~50,000 with "pattern too complex"), and a request caught while the database
//! is unreachable answers 503 with `Retry-After: RETRY_AFTER_SECS`.

/// Longest search or filter text accepted, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

/// Seconds a client is asked to wait (`Retry-After`) while the database is unreachable.
pub const RETRY_AFTER_SECS: u32 = 5;

/// A search or filter text longer than [`MAX_SEARCH_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be at most {MAX_SEARCH_CHARS} characters")]
pub struct TooLong {
    /// The parameter at fault (`q`, `actor`, `target`, `action`).
    pub field: &'static str,
}

impl TooLong {
    /// A sentence for a page: "The action filter can be at most 200 characters long."
    pub fn sentence(&self, what: &str) -> String {
        let field = if self.field == "q" { "" } else { self.field };
        let sep = if field.is_empty() { "" } else { " " };
        format!("The {field}{sep}{what} can be at most {MAX_SEARCH_CHARS} characters long.")
    }
}

/// Refuses a search text of more than [`MAX_SEARCH_CHARS`] characters.
pub fn search_text(field: &'static str, value: &str) -> Result<(), TooLong> {
    if value.chars().count() > MAX_SEARCH_CHARS {
        Err(TooLong { field })
    } else {
        Ok(())
    }
}

/// Refuses the first of several `(field, value)` search texts that is too long.
pub fn search_texts<'a>(
    fields: impl IntoIterator<Item = (&'static str, &'a str)>,
) -> Result<(), TooLong> {
    fields
        .into_iter()
        .try_for_each(|(field, value)| search_text(field, value))
}

/// Whether a `/static/` request path could name a file at all: no segment longer than a
/// file name may be (255 bytes) and not absurdly long overall. Anything else is a 404 before
/// the file system is asked, which would fail with "file name too long" (a 500).
pub fn plausible_asset_path(path: &str) -> bool {
    path.len() <= 1024 && path.split('/').all(|segment| segment.len() <= 255)
}

/// Middleware of `/static/`: a 404 for a path no file can have (see [`plausible_asset_path`]).
pub async fn refuse_implausible_assets(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if plausible_asset_path(req.uri().path()) {
        next.run(req).await
    } else {
        axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_FOUND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_of_200_characters_is_accepted_and_201_refused() {
        assert_eq!(search_text("q", &"é".repeat(200)), Ok(()));
        assert_eq!(
            search_text("q", &"a".repeat(201)),
            Err(TooLong { field: "q" })
        );
    }

    #[test]
    fn the_first_long_field_is_named() {
        let long = "x".repeat(500);
        let err = search_texts([("actor", "ok"), ("action", long.as_str())]).unwrap_err();
        assert_eq!(err.to_string(), "action must be at most 200 characters");
    }

    #[test]
    fn an_asset_segment_of_256_bytes_is_implausible() {
        assert!(plausible_asset_path(&format!("/{}", "a".repeat(255))));
        assert!(!plausible_asset_path(&format!("/{}", "a".repeat(256))));
        assert!(!plausible_asset_path(&"/a".repeat(600)));
    }
}
