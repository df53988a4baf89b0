//! What a readiness probe and the metrics read about the change-feed follower: when it last
//! read the feed successfully.

use std::sync::atomic::{AtomicI64, Ordering};

/// The follower's progress, shared with `/readyz` and `/metrics`.
#[derive(Debug)]
pub struct FeedHealth {
    last_read_ms: AtomicI64,
}

impl FeedHealth {
    /// Starts as if the feed was read at `now_ms` (the application reads it while starting).
    pub fn new(now_ms: i64) -> Self {
        Self {
            last_read_ms: AtomicI64::new(now_ms),
        }
    }

    /// The feed was read successfully at `now_ms`.
    pub fn record_read(&self, now_ms: i64) {
        self.last_read_ms.fetch_max(now_ms, Ordering::Relaxed);
    }

    /// Milliseconds from the last successful read to `now_ms` (0 if the clock went back).
    pub fn lag_ms(&self, now_ms: i64) -> i64 {
        (now_ms - self.last_read_ms.load(Ordering::Relaxed)).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::FeedHealth;

    #[test]
    fn the_lag_is_the_time_since_the_last_read() {
        let h = FeedHealth::new(1_000);
        assert_eq!(h.lag_ms(3_500), 2_500);
        h.record_read(3_000);
        assert_eq!(h.lag_ms(3_500), 500);
    }

    #[test]
    fn an_older_read_does_not_move_the_mark_back() {
        let h = FeedHealth::new(5_000);
        h.record_read(4_000);
        assert_eq!(h.lag_ms(5_000), 0);
    }
}
