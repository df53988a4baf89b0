//! The log line formatter: a [`Layer`] writing each event as one text or JSON line, in the
//! layout of `tracing-subscriber`'s `fmt` (its `Full` text format, and its JSON format with
//! the current span and the span list), at a fraction of the cost.
//!
//! Every request writes one line (issue 15: "on" within 5 % of "off" at the token endpoint's
//! rate), so the line is made once, in a per-thread buffer, with no per-field allocation: a
//! span's fields are rendered once, when the span is made, in the format of the output; the
//! timestamp's date and time are rendered once per second per thread; numbers are written
//! without the `fmt` machinery. The finished line goes to the writer in one `write_all`.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::Format;

/// The formatting layer (see the module documentation).
pub struct Lines<W> {
    format: Format,
    ansi: bool,
    writer: W,
}

impl<W> Lines<W> {
    /// Lines in `format` to `writer`, with ANSI colours (text only) when `ansi`.
    pub fn new(format: Format, ansi: bool, writer: W) -> Self {
        Self {
            format,
            ansi: ansi && format == Format::Text,
            writer,
        }
    }
}

/// A span's fields, rendered when the span is made: `a=1 b=x` for text, `"a":1,"b":"x"`
/// for JSON.
struct SpanFields(String);

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
    static CLOCK: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl<S, W> Layer<S> for Lines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        // A request span's fields (method, route, request id) fit without growing.
        let mut fields = String::with_capacity(128);
        attrs.record(&mut FieldWriter::new(&mut fields, self.format, self.ansi));
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(SpanFields(fields)) = ext.get_mut::<SpanFields>() {
            let first = fields.is_empty();
            let mut w = FieldWriter::new(fields, self.format, self.ansi);
            w.first = first;
            values.record(&mut w);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let write = |line: &mut String| {
            line.clear();
            match self.format {
                Format::Text => self.text(line, event, &ctx),
                Format::Json => self.json(line, event, &ctx),
            }
            line.push('\n');
            let mut out = self.writer.make_writer_for(event.metadata());
            let _ = out.write_all(line.as_bytes());
        };
        // A log line made while one is being written (by a `Debug` impl, say) gets a buffer of
        // its own.
        LINE.with(|buf| match buf.try_borrow_mut() {
            Ok(mut line) => write(&mut line),
            Err(_) => write(&mut String::new()),
        });
    }
}

impl<W> Lines<W> {
    /// `2026-12-03T13:40:00.123456Z  INFO outer{a=1}:inner{b=2}: target: message k=v`
    fn text<S>(&self, line: &mut String, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let meta = event.metadata();
        if self.ansi {
            line.push_str("\x1b[2m");
        }
        timestamp(line);
        if self.ansi {
            line.push_str("\x1b[0m");
        }
        line.push(' ');
        let (name, colour) = match *meta.level() {
            Level::TRACE => ("TRACE", "\x1b[35m"),
            Level::DEBUG => ("DEBUG", "\x1b[34m"),
            Level::INFO => (" INFO", "\x1b[32m"),
            Level::WARN => (" WARN", "\x1b[33m"),
            Level::ERROR => ("ERROR", "\x1b[31m"),
        };
        if self.ansi {
            line.push_str(colour);
            line.push_str(name);
            line.push_str("\x1b[0m");
        } else {
            line.push_str(name);
        }
        line.push(' ');
        let mut in_span = false;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                in_span = true;
                if self.ansi {
                    line.push_str("\x1b[1m");
                }
                line.push_str(span.name());
                let ext = span.extensions();
                let fields = ext.get::<SpanFields>().map_or("", |f| f.0.as_str());
                if !fields.is_empty() {
                    line.push_str(if self.ansi { "{\x1b[0m" } else { "{" });
                    line.push_str(fields);
                    line.push_str(if self.ansi { "\x1b[1m}\x1b[0m" } else { "}" });
                } else if self.ansi {
                    line.push_str("\x1b[0m");
                }
                line.push(':');
            }
        }
        if in_span {
            line.push(' ');
        }
        if self.ansi {
            line.push_str("\x1b[2m");
        }
        line.push_str(meta.target());
        line.push(':');
        if self.ansi {
            line.push_str("\x1b[0m");
        }
        line.push(' ');
        event.record(&mut FieldWriter::new(line, Format::Text, self.ansi));
    }

    /// `{"timestamp":…,"level":…,"fields":{…},"target":…,"span":{…,"name":…},"spans":[…]}`
    fn json<S>(&self, line: &mut String, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let meta = event.metadata();
        line.push_str("{\"timestamp\":\"");
        timestamp(line);
        line.push_str("\",\"level\":\"");
        line.push_str(meta.level().as_str());
        line.push_str("\",\"fields\":{");
        event.record(&mut FieldWriter::new(line, Format::Json, false));
        line.push_str("},\"target\":");
        json_str(line, meta.target());
        if let Some(scope) = ctx.event_scope(event) {
            let start = line.len();
            line.push_str(",\"spans\":[");
            let mut current = (0, 0);
            for (i, span) in scope.from_root().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                let from = line.len();
                line.push('{');
                let ext = span.extensions();
                if let Some(SpanFields(fields)) = ext.get::<SpanFields>()
                    && !fields.is_empty()
                {
                    line.push_str(fields);
                    line.push(',');
                }
                line.push_str("\"name\":");
                json_str(line, span.name());
                line.push('}');
                current = (from, line.len());
            }
            line.push(']');
            if current.1 > current.0 {
                // The current (innermost) span again, under "span", as `fmt` writes it.
                let span = line[current.0..current.1].to_owned();
                line.insert_str(start, &format!(",\"span\":{span}"));
            } else {
                line.truncate(start);
            }
        }
        line.push('}');
    }
}

/// Writes fields as `fmt` does: text `message k=v k2="str"`, JSON `"message":"…","k":v`.
struct FieldWriter<'a> {
    out: &'a mut String,
    format: Format,
    ansi: bool,
    first: bool,
}

impl<'a> FieldWriter<'a> {
    fn new(out: &'a mut String, format: Format, ansi: bool) -> Self {
        Self {
            out,
            format,
            ansi,
            first: true,
        }
    }

    /// Starts a field: the separator and the name (none before a text line's message).
    fn name(&mut self, field: &Field) {
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        match self.format {
            Format::Text => {
                if !self.first {
                    self.out.push(' ');
                }
                self.first = false;
                if name == "message" {
                    return;
                }
                if self.ansi {
                    self.out.push_str("\x1b[3m");
                    self.out.push_str(name);
                    self.out.push_str("\x1b[0m\x1b[2m=\x1b[0m");
                } else {
                    self.out.push_str(name);
                    self.out.push('=');
                }
            }
            Format::Json => {
                if !self.first {
                    self.out.push(',');
                }
                self.first = false;
                json_str(self.out, name);
                self.out.push(':');
            }
        }
    }

    fn skip(field: &Field) -> bool {
        field.name().starts_with("log.")
    }
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if Self::skip(field) {
            return;
        }
        self.name(field);
        match self.format {
            Format::Text if field.name() == "message" => self.out.push_str(value),
            Format::Text => {
                let _ = write!(self.out, "{value:?}");
            }
            Format::Json => json_str(self.out, value),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if Self::skip(field) {
            return;
        }
        self.name(field);
        self.out.push_str(itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if Self::skip(field) {
            return;
        }
        self.name(field);
        self.out.push_str(itoa::Buffer::new().format(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if Self::skip(field) {
            return;
        }
        self.name(field);
        if value.is_finite() {
            self.out.push_str(ryu::Buffer::new().format_finite(value));
        } else if self.format == Format::Json {
            self.out.push_str("null");
        } else {
            let _ = write!(self.out, "{value:?}");
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if Self::skip(field) {
            return;
        }
        self.name(field);
        self.out.push_str(if value { "true" } else { "false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if Self::skip(field) {
            return;
        }
        self.name(field);
        match self.format {
            Format::Text => {
                let _ = write!(self.out, "{value:?}");
            }
            Format::Json => {
                // Rendered first, then escaped as one JSON string.
                let mut text = String::new();
                let _ = write!(text, "{value:?}");
                json_str(self.out, &text);
            }
        }
    }
}

/// `s` as a JSON string, quoted and escaped.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The current time as `2026-12-03T13:40:00.123456Z` (UTC, microseconds, as `fmt` writes it).
fn timestamp(out: &mut String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    CLOCK.with(|clock| {
        let mut clock = clock.borrow_mut();
        if clock.0 != secs {
            let text = civil(secs);
            *clock = (secs, text);
        }
        out.push_str(&clock.1);
    });
    let micros = now.subsec_micros();
    let mut digits = [b'0'; 6];
    let mut m = micros;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (m % 10) as u8;
        m /= 10;
    }
    out.push('.');
    out.push_str(std::str::from_utf8(&digits).unwrap_or("000000"));
    out.push('Z');
}

/// `secs` after the epoch as `YYYY-MM-DDTHH:MM:SS` (UTC), by the same formatter as every
/// other instant keygate shows.
fn civil(secs: u64) -> String {
    let mut text = crate::domain::format_ms(i64::try_from(secs.saturating_mul(1000)).unwrap_or(0));
    text.pop(); // the `Z`, written after the microseconds
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_the_calendar() {
        assert_eq!(civil(0), "1970-01-01T00:00:00");
        assert_eq!(civil(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(civil(1_796_303_999), "2026-12-03T13:19:59");
        assert_eq!(civil(4_107_542_400), "2100-03-01T00:00:00");
    }

    /// The lines one `f` writes, in `format`.
    fn lines_of(format: Format, f: impl FnOnce()) -> Vec<String> {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::layer::SubscriberExt as _;
        #[derive(Clone, Default)]
        struct Out(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Out {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Out::default();
        let w = out.clone();
        let sub = tracing_subscriber::registry().with(Lines::new(format, false, move || w.clone()));
        tracing::subscriber::with_default(sub, f);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    fn nested() {
        let outer = tracing::info_span!("outer", a = 1, who = %"me");
        let _o = outer.enter();
        let inner = tracing::info_span!("inner", b = "q\"uote", late = tracing::field::Empty);
        inner.record("late", true);
        let _i = inner.enter();
        tracing::warn!(n = 5_u64, x = 0.25, s = "two words", d = ?Some(1), "it \"happened\"");
        drop(_i);
        drop(_o);
        tracing::info!("outside");
    }

    #[test]
    fn text_lines_have_fmt_s_layout() {
        let lines = lines_of(Format::Text, nested);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let (stamp, rest) = lines[0].split_once(' ').unwrap();
        assert_eq!(stamp.len(), "2026-12-03T13:40:00.123456Z".len(), "{stamp}");
        assert!(
            stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
            "{stamp}"
        );
        assert_eq!(
            rest,
            " WARN outer{a=1 who=me}:inner{b=\"q\\\"uote\" late=true}: \
             keygate::logging::lines::tests: it \"happened\" n=5 x=0.25 s=\"two words\" d=Some(1)"
        );
        assert!(
            lines[1].ends_with("  INFO keygate::logging::lines::tests: outside"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn json_lines_are_objects_with_the_span_and_the_span_list() {
        let lines = lines_of(Format::Json, nested);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let v: serde_json::Value = serde_json::from_str(&lines[0]).expect(&lines[0]);
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["target"], "keygate::logging::lines::tests");
        assert_eq!(
            v["fields"],
            serde_json::json!({"message": "it \"happened\"", "n": 5, "x": 0.25,
                "s": "two words", "d": "Some(1)"})
        );
        assert_eq!(
            v["span"],
            serde_json::json!({"b": "q\"uote", "late": true, "name": "inner"})
        );
        assert_eq!(
            v["spans"][0],
            serde_json::json!({"a": 1, "who": "me", "name": "outer"})
        );
        assert_eq!(v["spans"].as_array().unwrap().len(), 2);
        let v: serde_json::Value = serde_json::from_str(&lines[1]).expect(&lines[1]);
        assert_eq!(v["fields"]["message"], "outside");
        assert!(v.get("span").is_none() && v.get("spans").is_none(), "{v}");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v, "a\"b\\c\nd\u{1}é");
    }
}
