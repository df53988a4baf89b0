//! Log output: `KEYGATE_LOG` is the filter (default `keygate=info,warn`), and
//! `KEYGATE_LOG_FORMAT=json` writes one JSON object per line instead of text.
//!
//! Lines go to stderr through a buffer ([`BufferedStderr`]): an `info` line (one per request)
//! is copied into memory, and the buffer is written out when it fills, every
//! [`FLUSH_EVERY`], and at exit, so the token endpoint makes no `write` call per request.
//! A `warn` or `error` line is written out at once, with everything before it.

mod lines;

use std::io::{self, BufWriter, Stderr, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Longest time an `info` line waits in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Size of the line buffer; a full buffer is written out by the line that fills it.
const BUFFER: usize = 64 * 1024;

/// The filter when `KEYGATE_LOG` is unset or invalid.
pub const DEFAULT_FILTER: &str = "keygate=info,warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text (coloured on a terminal).
    Text,
    /// One JSON object per line, with the request span's fields.
    Json,
}

impl Format {
    /// From `KEYGATE_LOG_FORMAT`: `json` (any case), else text.
    pub fn from_env() -> Self {
        match std::env::var("KEYGATE_LOG_FORMAT") {
            Ok(v) if v.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Text,
        }
    }
}

/// A subscriber writing to `writer` in `format` with `filter`: `tracing-subscriber`'s span
/// registry and filter, and keygate's line formatter ([`lines::Lines`], `fmt`'s layout at a
/// fraction of its cost per line).
pub fn subscriber<W>(
    format: Format,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt as _;
    Box::new(
        tracing_subscriber::registry()
            .with(filter)
            .with(lines::Lines::new(format, ansi, writer)),
    )
}

/// Installs the process's subscriber on stderr, from `KEYGATE_LOG` and `KEYGATE_LOG_FORMAT`,
/// and starts the thread that writes buffered lines out every [`FLUSH_EVERY`]. Call
/// [`BufferedStderr::flush`] on the answer before the process ends.
pub fn init() -> BufferedStderr {
    let filter =
        EnvFilter::try_from_env("KEYGATE_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let ansi = io::IsTerminal::is_terminal(&io::stderr());
    let out = BufferedStderr::new();
    let sub = subscriber(Format::from_env(), filter, out.clone(), ansi);
    if tracing::subscriber::set_global_default(sub).is_err() {
        eprintln!("warning: a log subscriber was already installed");
    }
    out.flush_periodically();
    out
}

/// Stderr behind a shared buffer: lines below `warn` wait (at most [`FLUSH_EVERY`]) to be
/// written out together; a `warn` or `error` line writes out the buffer and itself at once.
/// Each line is formatted first and copied in whole under the lock, so lines never mix.
pub type BufferedStderr = Buffered<Stderr>;

/// A writer behind a shared buffer (see [`BufferedStderr`]).
pub struct Buffered<W: Write> {
    buffer: Arc<Mutex<BufWriter<W>>>,
}

impl<W: Write> Clone for Buffered<W> {
    fn clone(&self) -> Self {
        Self {
            buffer: self.buffer.clone(),
        }
    }
}

impl Default for BufferedStderr {
    fn default() -> Self {
        Self::new()
    }
}

impl BufferedStderr {
    /// An empty buffer in front of the process's stderr.
    pub fn new() -> Self {
        Self::over(io::stderr())
    }
}

impl<W: Write + Send + 'static> Buffered<W> {
    /// An empty buffer in front of `out`.
    pub fn over(out: W) -> Self {
        Self {
            buffer: Arc::new(Mutex::new(BufWriter::with_capacity(BUFFER, out))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BufWriter<W>> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes out what the buffer holds.
    pub fn flush(&self) {
        let _ = self.lock().flush();
    }

    /// A thread that writes the buffer out every [`FLUSH_EVERY`] (a thread, not a task:
    /// log lines must come out even while the runtime is busy or shutting down), and a panic
    /// hook that writes it out before the panic message.
    fn flush_periodically(&self) {
        let out = self.clone();
        let spawned = std::thread::Builder::new()
            .name("keygate-log-flush".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    out.flush();
                }
            });
        if spawned.is_err() {
            eprintln!("warning: no log flushing thread; log lines may wait until exit");
        }
        let out = self.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Not `lock`: the panicking thread may be the one holding it.
            if let Ok(mut buffer) = out.buffer.try_lock() {
                let _ = buffer.flush();
            }
            previous(info);
        }));
    }
}

/// One line's writer: holds the buffer's lock while the line is copied in.
pub struct LineWriter<'a, W: Write> {
    buffer: MutexGuard<'a, BufWriter<W>>,
    urgent: bool,
}

impl<W: Write> Write for LineWriter<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.write(bytes)
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.buffer.write_all(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.buffer.flush()
    }
}

impl<W: Write> Drop for LineWriter<'_, W> {
    fn drop(&mut self) {
        if self.urgent {
            let _ = self.buffer.flush();
        }
    }
}

impl<'a, W: Write + Send + 'static> MakeWriter<'a> for Buffered<W> {
    type Writer = LineWriter<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            buffer: self.lock(),
            urgent: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        LineWriter {
            buffer: self.lock(),
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn info_lines_wait_for_a_flush_and_a_warning_writes_everything_at_once() {
        let out = Shared::default();
        let buffered = Buffered::over(out.clone());
        let sub = subscriber(
            Format::Text,
            EnvFilter::new("info"),
            buffered.clone(),
            false,
        );
        tracing::subscriber::with_default(sub, || {
            tracing::info!("first");
            tracing::info!("second");
            assert_eq!(out.text(), "", "an info line was written out at once");
            tracing::warn!("third");
        });
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].ends_with("first") && lines[2].ends_with("third"),
            "{text}"
        );
        let sub = subscriber(
            Format::Text,
            EnvFilter::new("info"),
            buffered.clone(),
            false,
        );
        tracing::subscriber::with_default(sub, || tracing::info!("fourth"));
        assert_eq!(out.text().lines().count(), 3);
        buffered.flush();
        assert!(out.text().ends_with("fourth\n"), "{}", out.text());
    }

    #[test]
    fn lines_from_many_threads_never_mix() {
        let out = Shared::default();
        let buffered = Buffered::over(out.clone());
        let sub: Arc<dyn tracing::Subscriber + Send + Sync> = subscriber(
            Format::Json,
            EnvFilter::new("info"),
            buffered.clone(),
            false,
        )
        .into();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sub = sub.clone();
                std::thread::spawn(move || {
                    tracing::subscriber::with_default(sub, || {
                        for i in 0..2_000 {
                            tracing::info!(thread = t, i, padding = "x".repeat(100), "line");
                        }
                    });
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        buffered.flush();
        let text = out.text();
        assert_eq!(text.lines().count(), 8_000);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect(line);
            assert_eq!(v["fields"]["message"], "line");
        }
    }
}
