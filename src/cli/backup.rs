//! `keygate backup --to FILE`: a consistent copy of a live SQLite database and, when the
//! master key comes from the key file, that file beside it (`FILE.key`, 0600), so keygate
//! starts on the copy as it is. For PostgreSQL it says to use `pg_dump`.

use std::path::Path;

use crate::admin::ops;
use crate::config::Config;
use crate::oauth::keys::key_file_for;

/// Runs the backup; the text to print on success, or why it failed.
pub async fn run(config: &Config, to: &Path) -> Result<String, String> {
    if ops::is_postgres(&config.database_url).map_err(|e| e.to_string())? {
        return Err(
            "keygate backup copies SQLite databases; for PostgreSQL use pg_dump \
             (for example `pg_dump --format=custom --file=keygate.dump \"$KEYGATE_DATABASE_URL\"`) \
             and keep KEYGATE_MASTER_KEY safe beside it: the dump is useless without it"
                .to_owned(),
        );
    }
    let db = ops::sqlite_file(&config.database_url)
        .ok_or("an in-memory database cannot be backed up")?;
    if !db.exists() {
        return Err(format!("there is no database at {}", db.display()));
    }
    if to.exists() {
        return Err(format!(
            "{} exists already; choose a new file",
            to.display()
        ));
    }
    let key_to = key_file_for(to);
    let key_from = key_file_for(&db);
    let copy_key = config.master_key.is_none() && key_from.exists();
    if copy_key && key_to.exists() {
        return Err(format!(
            "{} exists already; choose a new file",
            key_to.display()
        ));
    }
    let to_text = to.to_str().ok_or("the backup path must be valid UTF-8")?;
    ops::backup_sqlite(&config.database_url, to_text)
        .await
        .map_err(|e| format!("database: {e}"))?;
    restrict(to)?;
    let mut done = format!("Backed up {} to {}", db.display(), to.display());
    if copy_key {
        write_private(
            &key_to,
            &std::fs::read(&key_from).map_err(|e| e.to_string())?,
        )?;
        done.push_str(&format!(" and its key file to {}", key_to.display()));
    } else if config.master_key.is_some() {
        done.push_str(" (the master key is yours to keep: KEYGATE_MASTER_KEY)");
    }
    Ok(done)
}

/// Only the owner may read the copy: it holds secret hashes and the encrypted signing key.
fn restrict(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `bytes` to a new file readable by the owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut file = opts
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
