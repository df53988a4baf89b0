//! Times as people read them: "3 min ago" or "in 2 hours", with the exact instant kept in
//! `<time datetime>` for machines and in the `title` for hovering (console.js turns it
//! into the browser's local time).

use crate::domain::format_ms;

/// One instant, ready for `<time datetime="{{ iso }}" title="{{ title }}">{{ ago }}</time>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    /// RFC 3339 UTC, to the second.
    pub iso: String,
    /// The same, readable: "2026-12-01 20:31:27 UTC".
    pub title: String,
    /// Relative to now: "just now", "3 min ago", "in 2 hours", "5 days ago".
    pub ago: String,
}

impl When {
    /// `ms` (epoch milliseconds) as seen at `now_ms`.
    pub fn at(ms: i64, now_ms: i64) -> Self {
        let iso = format_ms(ms);
        let title = format!("{} UTC", iso.trim_end_matches('Z').replacen('T', " ", 1));
        Self {
            ago: relative(ms.saturating_sub(now_ms) / 1000, &iso),
            iso,
            title,
        }
    }

    /// `ms` as seen now.
    pub fn of(ms: i64) -> Self {
        Self::at(ms, crate::domain::now_ms())
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `delta` seconds from now (negative: past) in words; beyond 30 days, the date.
fn relative(delta: i64, iso: &str) -> String {
    let secs = delta.abs();
    // Rounded to the nearest unit first, so 59 min 59 s reads "1 hour", not "60 min".
    let (minutes, hours, days) = (
        (secs + 30) / 60,
        (secs + 1_800) / 3_600,
        (secs + 43_200) / 86_400,
    );
    let amount = if secs < 45 {
        return "just now".to_owned();
    } else if minutes < 60 {
        plural(minutes, "min", "min")
    } else if hours < 24 {
        plural(hours, "hour", "hours")
    } else if days <= 30 {
        plural(days, "day", "days")
    } else {
        return format!("on {}", &iso[..iso.len().min(10)]);
    };
    if delta < 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// A length of time in words: "1 hour", "90 seconds", "1 day 2 hours", "15 minutes".
pub fn duration_words(secs: i64) -> String {
    if secs <= 0 {
        return "0 seconds".to_owned();
    }
    let parts = [
        (86_400, "day", "days"),
        (3_600, "hour", "hours"),
        (60, "minute", "minutes"),
        (1, "second", "seconds"),
    ];
    let mut rest = secs;
    let mut out = Vec::new();
    for (size, one, many) in parts {
        let n = rest / size;
        if n > 0 {
            out.push(plural(n, one, many));
            rest -= n * size;
        }
    }
    out.join(" ")
}

/// A lifetime as an amount and the largest unit that holds it exactly (for a form that
/// enters lifetimes with a unit): 3600 is `("1", "hours")`, 90 is `("90", "seconds")`.
pub fn amount_and_unit(secs: i64) -> (String, &'static str) {
    for (size, unit) in [(3_600, "hours"), (60, "minutes")] {
        if secs > 0 && secs % size == 0 {
            return ((secs / size).to_string(), unit);
        }
    }
    (secs.to_string(), "seconds")
}

/// Seconds in one of a form's units (`seconds`, `minutes` or `hours`).
pub fn unit_seconds(unit: &str) -> Option<i64> {
    match unit {
        "seconds" => Some(1),
        "minutes" => Some(60),
        "hours" => Some(3_600),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_in_words_and_split_into_an_amount_and_a_unit() {
        assert_eq!(duration_words(3_600), "1 hour");
        assert_eq!(duration_words(90), "1 minute 30 seconds");
        assert_eq!(duration_words(86_400), "1 day");
        assert_eq!(duration_words(7_200 + 60), "2 hours 1 minute");
        assert_eq!(amount_and_unit(3_600), ("1".to_owned(), "hours"));
        assert_eq!(amount_and_unit(900), ("15".to_owned(), "minutes"));
        assert_eq!(amount_and_unit(90), ("90".to_owned(), "seconds"));
    }

    const NOW: i64 = 1_764_620_000_000;

    fn ago(secs: i64) -> String {
        When::at(NOW - secs * 1000, NOW).ago
    }

    #[test]
    fn recent_times_read_as_minutes_hours_and_days_ago() {
        assert_eq!(ago(10), "just now");
        assert_eq!(ago(60), "1 min ago");
        assert_eq!(ago(3 * 60 + 10), "3 min ago");
        assert_eq!(ago(3_600), "1 hour ago");
        assert_eq!(ago(5 * 3_600), "5 hours ago");
        assert_eq!(ago(86_400), "1 day ago");
        assert_eq!(ago(3 * 86_400), "3 days ago");
    }

    #[test]
    fn future_times_read_as_in_so_long() {
        assert_eq!(ago(-30 * 60), "in 30 min");
        assert_eq!(ago(-2 * 3_600), "in 2 hours");
        assert_eq!(ago(-3_599), "in 1 hour");
        assert_eq!(ago(-(86_400 - 100)), "in 1 day");
    }

    #[test]
    fn old_times_read_as_their_date_and_keep_the_exact_instant() {
        let w = When::at(NOW - 90 * 86_400 * 1000, NOW);
        assert_eq!(w.ago, format!("on {}", &w.iso[..10]));
        let w = When::at(NOW, NOW);
        assert_eq!(w.iso, format_ms(NOW));
        assert_eq!(w.title, format!("{} {} UTC", &w.iso[..10], &w.iso[11..19]));
    }
}
