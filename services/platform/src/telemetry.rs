//! Logging set-up, once per process: human-readable on a terminal, JSON lines when piped, and
//! straight to the systemd journal (with structured fields) when running under systemd.
//!
//! The filter comes from `OWP_LOG` (or `RUST_LOG`), default `info`.

use std::{collections::BTreeMap, fmt::Write as _, io::IsTerminal};

use tracing::{Event, Subscriber, field::Field, span};
use tracing_subscriber::{
    EnvFilter, Layer, layer::Context, layer::SubscriberExt, registry::LookupSpan, util::SubscriberInitExt,
};

use crate::{Error, Result};

/// Where logs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Journal under systemd, pretty on a terminal, JSON otherwise.
    Auto,
    Pretty,
    Json,
    Journal,
}

#[derive(Debug, Clone, clap::Args)]
pub struct TelemetrySettings {
    /// Log output format.
    #[arg(long, env = "OWP_LOG_FORMAT", value_enum, default_value = "auto", global = true)]
    pub log_format: LogFormat,
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(service: &str, settings: &TelemetrySettings) -> Result<()> {
    let filter = EnvFilter::try_from_env("OWP_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    let format = match settings.log_format {
        LogFormat::Auto if systemd_journal_logger::connected_to_journal() => LogFormat::Journal,
        LogFormat::Auto if std::io::stderr().is_terminal() => LogFormat::Pretty,
        LogFormat::Auto => LogFormat::Json,
        other => other,
    };
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        LogFormat::Journal => {
            let journal = systemd_journal_logger::JournalLog::new()
                .map_err(|err| Error::Telemetry(format!("cannot open the systemd journal: {err}")))?
                .with_syslog_identifier(service.to_owned());
            registry.with(JournalLayer { journal }).try_init()
        }
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer().json().with_current_span(true).with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Pretty | LogFormat::Auto => {
            registry.with(tracing_subscriber::fmt::layer().compact().with_writer(std::io::stderr)).try_init()
        }
    };
    installed.map_err(|err| Error::Telemetry(err.to_string()))
}

/// Forwards tracing events to journald; event and span fields become journal fields, so
/// `journalctl DOCUMENT_ID=…` finds every line about one document.
struct JournalLayer {
    journal: systemd_journal_logger::JournalLog,
}

/// Fields recorded on a span, kept in the span's extensions.
#[derive(Default)]
struct SpanFields(BTreeMap<String, String>);

#[derive(Default)]
struct Collect {
    message: String,
    fields: BTreeMap<String, String>,
}

impl tracing::field::Visit for Collect {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.record_text(field, text);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_text(field, value.to_owned());
    }
}

impl Collect {
    fn record_text(&mut self, field: &Field, text: String) {
        if field.name() == "message" {
            self.message = text;
        } else {
            self.fields.insert(field.name().to_owned(), text);
        }
    }
}

impl<S> Layer<S> for JournalLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut collect = Collect::default();
        attrs.record(&mut collect);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(collect.fields));
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let mut collect = Collect::default();
        values.record(&mut collect);
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(fields) = extensions.get_mut::<SpanFields>() {
                fields.0.extend(collect.fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut collect = Collect::default();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    collect.fields.extend(fields.0.clone());
                }
            }
        }
        event.record(&mut collect);
        let meta = event.metadata();
        let level = match *meta.level() {
            tracing::Level::ERROR => log::Level::Error,
            tracing::Level::WARN => log::Level::Warn,
            tracing::Level::INFO => log::Level::Info,
            tracing::Level::DEBUG => log::Level::Debug,
            tracing::Level::TRACE => log::Level::Trace,
        };
        let pairs: Vec<(&str, &str)> =
            collect.fields.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
        let kvs: &[(&str, &str)] = &pairs;
        log::Log::log(
            &self.journal,
            &log::Record::builder()
                .level(level)
                .target(meta.target())
                .module_path(meta.module_path())
                .file(meta.file())
                .line(meta.line())
                .key_values(&kvs)
                .args(format_args!("{}", collect.message))
                .build(),
        );
    }
}
