//! Log output: `KEYGATE_LOG` is the filter (default `keygate=info,warn`), and
//! `KEYGATE_LOG_FORMAT=json` writes one JSON object per line instead of text.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

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

/// A subscriber writing to `writer` in `format` with `filter`.
pub fn subscriber<W>(
    format: Format,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        Format::Text => Box::new(builder.with_ansi(ansi).finish()),
        Format::Json => Box::new(builder.json().with_current_span(true).finish()),
    }
}

/// Installs the process's subscriber on stderr, from `KEYGATE_LOG` and `KEYGATE_LOG_FORMAT`.
pub fn init() {
    let filter =
        EnvFilter::try_from_env("KEYGATE_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let sub = subscriber(Format::from_env(), filter, std::io::stderr, ansi);
    if tracing::subscriber::set_global_default(sub).is_err() {
        eprintln!("warning: a log subscriber was already installed");
    }
}
