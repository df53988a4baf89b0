//! The replay guard of client assertions (RFC 7523 §3 item 7): a `jti` accepted once for a
//! client is refused until the assertion's `exp`, on every instance sharing the database.
//!
//! The database is the authority: an assertion is accepted only after its row has been
//! committed by an insert-if-absent, so a replay sent to another instance finds the row and is
//! refused. To keep that write from serialising the token endpoint, the writes are
//! group-committed: one writer task takes every pending `jti` at once, inserts them in one
//! multi-row statement (one commit), and answers each waiting grant with its own row's
//! result. While a batch commits the next one gathers, so under load a commit carries as
//! many grants as arrived during the previous one, and when idle a grant waits for nothing
//! but its own commit. In front of it, a bounded in-memory set of the `jti`s this instance
//! has seen refuses local replays (and a concurrent duplicate) without a database round trip.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::store::{Store, StoreError, client_keys};

/// At most this many assertions per statement (three parameters each, well under the
/// parameter limits of SQLite and PostgreSQL).
const MAX_BATCH: usize = 256;

/// Pending assertions the channel holds before grants wait to enqueue (backpressure).
const QUEUE: usize = 8192;

/// `jti`s remembered in memory before expired ones are dropped (and, if all are live, all):
/// the memory is only a shortcut in front of the database, which alone decides.
const MAX_REMEMBERED: usize = 200_000;

struct Pending {
    client_id: String,
    jti: String,
    keep_until: i64,
    answer: oneshot::Sender<Result<bool, StoreError>>,
}

/// The guard: the in-memory set and the writer's queue (started on first use, inside the
/// runtime).
pub struct ReplayGuard {
    store: Store,
    seen: Mutex<HashMap<String, i64>>,
    queue: OnceLock<mpsc::Sender<Pending>>,
}

impl ReplayGuard {
    /// A guard writing to `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            seen: Mutex::new(HashMap::new()),
            queue: OnceLock::new(),
        }
    }

    /// Records that `client_id` used assertion `jti`, kept until `keep_until` (epoch ms).
    /// True once the row is committed and was new; false for a replay, wherever the first
    /// use was.
    pub async fn first_use(
        &self,
        client_id: &str,
        jti: &str,
        keep_until: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let key = format!("{client_id} {jti}");
        if !self.remember(&key, keep_until, now) {
            return Ok(false);
        }
        let (answer, result) = oneshot::channel();
        let pending = Pending {
            client_id: client_id.to_owned(),
            jti: jti.to_owned(),
            keep_until,
            answer,
        };
        let outcome = match self.queue().send(pending).await {
            Ok(()) => result.await.unwrap_or_else(|_| Err(writer_stopped())),
            Err(_) => Err(writer_stopped()),
        };
        if outcome.is_err() {
            // Not recorded: the client may retry the same assertion.
            self.lock().remove(&key);
        }
        outcome
    }

    /// Notes `key` as seen; false if it already was (and has not expired).
    fn remember(&self, key: &str, keep_until: i64, now: i64) -> bool {
        let mut seen = self.lock();
        if seen.get(key).is_some_and(|&until| until >= now) {
            return false;
        }
        if seen.len() >= MAX_REMEMBERED {
            seen.retain(|_, until| *until >= now);
            if seen.len() >= MAX_REMEMBERED {
                seen.clear();
            }
        }
        seen.insert(key.to_owned(), keep_until);
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn queue(&self) -> &mpsc::Sender<Pending> {
        self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(write_batches(self.store.clone(), rx));
            tx
        })
    }
}

fn writer_stopped() -> StoreError {
    StoreError::Sqlx(sqlx::Error::WorkerCrashed)
}

/// The writer: one batch at a time, each made of everything pending when the previous one
/// committed.
async fn write_batches(store: Store, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // One connection of its own, kept between batches: its prepared statements and (on
    // SQLite) its page cache stay warm, since no other connection writes this table. After
    // a failure it is dropped and the batch tried once on a fresh one.
    let mut conn: Option<sqlx::AnyConnection> = None;
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let rows: Vec<(String, String, i64)> = batch
            .iter_mut()
            .map(|p| {
                (
                    std::mem::take(&mut p.client_id),
                    std::mem::take(&mut p.jti),
                    p.keep_until,
                )
            })
            .collect();
        // A held connection may have died since the last batch (a PostgreSQL restart): then
        // the batch is tried once more on a fresh connection, which the pool checks first.
        let held = match conn.as_mut() {
            Some(c) => Some(client_keys::use_assertions(c, &rows).await),
            None => None,
        };
        let result = if let Some(Ok(fresh)) = held {
            Ok(fresh)
        } else {
            conn = None;
            let r = match client_keys::guard_connection(&store).await {
                Ok(mut c) => {
                    let r = client_keys::use_assertions(&mut c, &rows).await;
                    if r.is_ok() {
                        conn = Some(c);
                    }
                    r
                }
                Err(e) => Err(e),
            };
            if let (Some(Err(lost)), Ok(_)) = (&held, &r) {
                // Seen after a database restart: nothing was refused, but say why.
                tracing::info!(
                    error = %lost,
                    "replay guard: its database connection failed; recorded on a new one"
                );
            }
            r
        };
        match result {
            Ok(fresh) => {
                for (p, new) in batch.drain(..).zip(fresh) {
                    let _ = p.answer.send(Ok(new));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot record used client assertions");
                // Every grant of the batch fails alike (503 when the database is away).
                let outage = matches!(e, StoreError::Unavailable(_));
                let text = e.to_string();
                for p in batch.drain(..) {
                    let err = sqlx::Error::Io(std::io::Error::other(text.clone()));
                    let _ = p.answer.send(Err(if outage {
                        StoreError::Unavailable(err)
                    } else {
                        StoreError::Sqlx(err)
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_jti_seen_here_is_refused_until_it_expires() {
        let dir = std::env::temp_dir().join(format!("kg-replay-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/k.db?mode=rwc", dir.display());
        let guard = ReplayGuard::new(Store::connect(&url).await.unwrap());
        assert!(guard.first_use("kgc_a", "j1", 2_000, 1_000).await.unwrap());
        assert!(!guard.first_use("kgc_a", "j1", 2_000, 1_500).await.unwrap());
        assert!(guard.first_use("kgc_b", "j1", 2_000, 1_500).await.unwrap());
        // Another instance on the same database has not seen it in memory: the row refuses it.
        let other = ReplayGuard::new(Store::connect(&url).await.unwrap());
        assert!(!other.first_use("kgc_a", "j1", 2_000, 1_500).await.unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn concurrent_grants_share_commits_and_a_duplicate_wins_once() {
        let dir = std::env::temp_dir().join(format!("kg-replay-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/k.db?mode=rwc", dir.display());
        let guard = std::sync::Arc::new(ReplayGuard::new(Store::connect(&url).await.unwrap()));
        let mut tasks = Vec::new();
        for i in 0..200 {
            let g = guard.clone();
            // Every jti twice: exactly one of each pair is accepted.
            tasks.push(tokio::spawn(async move {
                g.first_use("kgc_a", &format!("j{}", i / 2), i64::MAX, 0)
                    .await
                    .unwrap()
            }));
        }
        let mut accepted = 0;
        for t in tasks {
            accepted += usize::from(t.await.unwrap());
        }
        assert_eq!(accepted, 100);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
