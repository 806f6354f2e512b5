//! Log output: logfmt (default) or JSON, no colour codes unless stderr is a terminal.
//!
//! Nothing logged carries a secret: probe code logs only names, reasons and redacted details.

use crate::time::rfc3339;
use std::fmt;
use std::io::IsTerminal;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `ts=… level=info msg="…" key=value`.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// `--log.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    /// Everything, including each probe's steps.
    Debug,
    /// Normal operation.
    Info,
    /// Problems.
    Warn,
    /// Failures only.
    Error,
}

impl LogLevel {
    fn filter(self) -> Level {
        match self {
            LogLevel::Debug => Level::DEBUG,
            LogLevel::Info => Level::INFO,
            LogLevel::Warn => Level::WARN,
            LogLevel::Error => Level::ERROR,
        }
    }
}

/// Installs the global subscriber writing to stderr. Safe to call more than once (later
/// calls are ignored).
pub fn init(level: LogLevel, format: LogFormat) {
    // Our own crate at the chosen level; dependencies only from warn up, so their debug
    // output (which may show request internals) never reaches the log.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(Level::WARN.min(level.filter()).max(Level::WARN))
        .with_target("integration_exporter", level.filter());
    use tracing_subscriber::prelude::*;
    let ansi = std::io::stderr().is_terminal();
    let result = match format {
        LogFormat::Logfmt => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false)
                    .event_format(Logfmt { ansi })
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr)
                    .with_ansi(false)
                    .with_filter(filter),
            )
            .try_init(),
    };
    let _ = result;
}

/// logfmt event formatter.
struct Logfmt {
    ansi: bool,
}

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let now = std::time::SystemTime::now();
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        let (pre, post) = match (self.ansi, *event.metadata().level()) {
            (true, Level::ERROR) => ("\x1b[31m", "\x1b[0m"),
            (true, Level::WARN) => ("\x1b[33m", "\x1b[0m"),
            _ => ("", ""),
        };
        write!(w, "ts={} level={pre}{level}{post}", rfc3339(now))?;
        let mut v = Fields { msg: None, rest: String::new() };
        event.record(&mut v);
        if let Some(m) = v.msg {
            write!(w, " msg={}", quote(&m))?;
        }
        writeln!(w, "{}", v.rest)
    }
}

struct Fields {
    msg: Option<String>,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg = Some(value.to_string());
        } else {
            self.rest.push_str(&format!(" {}={}", field.name(), quote(value)));
        }
    }
}

fn quote(v: &str) -> String {
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '=' && c != '\\') {
        v.to_string()
    } else {
        format!("{v:?}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_values_that_need_it() {
        assert_eq!(super::quote("plain"), "plain");
        assert_eq!(super::quote("two words"), "\"two words\"");
    }
}
