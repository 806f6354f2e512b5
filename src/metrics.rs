//! The metrics of SPEC §7, encoded from an immutable [`Snapshot`] by a prometheus-client
//! [`Collector`]. Nothing is registered long-term: each scrape builds a registry around the
//! snapshot it was handed, so an integration removed by a reload simply is not in it.

use crate::process_metrics::ProcessStats;
use crate::reason::Status;
use crate::store::{unix_seconds, IntegrationState};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabel, EncodeLabelKey, EncodeLabelSet,
    LabelKeyEncoder, LabelSetEncoder, MetricEncoder,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt::Write as _;
use std::sync::Arc;

/// Exposition formats, chosen by the scrape's `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
    /// `text/plain; version=0.0.4`.
    Text004,
}

impl Format {
    /// Picks OpenMetrics only when the client asks for it.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text004,
        }
    }

    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text004 => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// The exporter's own figures.
#[derive(Debug, Clone, Default)]
pub struct ExporterStats {
    /// Whether the last config (re)load succeeded.
    pub reload_successful: bool,
    /// When the config was last loaded successfully.
    pub reload_success_time: f64,
    /// On-demand probes: probed, cached, rejected.
    pub ondemand: [u64; 3],
    /// `process_*` figures.
    pub process: ProcessStats,
}

/// Everything one scrape shows.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Integrations to show, ordered by name.
    pub integrations: Vec<Arc<IntegrationState>>,
    /// Exporter self-metrics; `None` on `/probe`, which shows one integration only.
    pub exporter: Option<ExporterStats>,
}

#[derive(Debug)]
struct SnapshotCollector(Snapshot, Format);

/// Starts a counter family. OpenMetrics names the family without `_total` and the encoder
/// appends it to each sample; text 0.0.4 names the family `_total` too (in `# HELP` and
/// `# TYPE`), and its samples are then written as they are (see [`counter_sample`]).
fn counter_family<'s>(
    enc: &'s mut DescriptorEncoder,
    name: &'static str,
    name_total: &'static str,
    help: &str,
    format: Format,
) -> Result<MetricEncoder<'s>, std::fmt::Error> {
    let name = match format {
        Format::OpenMetrics => name,
        Format::Text004 => name_total,
    };
    enc.encode_descriptor(name, help, None, MetricType::Counter)
}

/// Writes one sample of a family started with [`counter_family`].
fn counter_sample<S, V>(family: &mut MetricEncoder, labels: &S, v: &V, format: Format) -> std::fmt::Result
where
    S: EncodeLabelSet,
    V: EncodeCounterValue + EncodeGaugeValue,
{
    let mut sample = family.encode_family(labels)?;
    match format {
        Format::OpenMetrics => sample.encode_counter::<Labels<'_>, V, f64>(v, None),
        Format::Text004 => sample.encode_gauge(v),
    }
}

type Labels<'a> = Vec<(&'a str, &'a str)>;

/// Up to two labels a family adds after an integration's own (`status`, `scope`, `required`...).
type Extra<'a> = [Option<(&'static str, &'a str)>; 2];

/// An integration's own labels — `integration`, `provider`, its static labels — rendered once
/// per scrape, so that each of its series writes them as one piece of text: every label but
/// the last value, escaped (`integration="a",provider="b",team`), and that last value.
type Head<'a> = (String, &'a str);

fn render_head(state: &IntegrationState) -> Head<'_> {
    let config = &state.config;
    let mut head = String::with_capacity(64);
    head.push_str("integration=\"");
    push_escaped(&mut head, &config.name);
    head.push_str("\",provider");
    let mut last = config.provider.name();
    for (k, v) in &config.labels {
        head.push_str("=\"");
        push_escaped(&mut head, last);
        head.push_str("\",");
        head.push_str(k);
        last = v;
    }
    (head, last)
}

/// Writes an already rendered run of labels where the encoder expects a label name.
struct Rendered<'a>(&'a str);

impl EncodeLabelKey for Rendered<'_> {
    fn encode(&self, encoder: &mut LabelKeyEncoder) -> std::fmt::Result {
        encoder.write_str(self.0)
    }
}

/// Label values escaped the way the text formats want (`\\`, `\"`, `\n`).
fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// An integration's labels, then the family's extra ones.
struct SeriesLabels<'a> {
    head: &'a str,
    last_value: &'a str,
    extra: Extra<'a>,
}

impl EncodeLabelSet for SeriesLabels<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        (Rendered(self.head), self.last_value).encode(encoder.encode_label())?;
        for (k, v) in self.extra.iter().flatten() {
            (*k, *v).encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

/// Hands each of one integration's series in a family (extra labels and value) to a sink.
type Sink<'s, 'a> = &'s mut dyn FnMut(Extra<'a>, f64) -> std::fmt::Result;

/// Writes one gauge family: the series `series` gives for each integration. A family no
/// integration has a value for is left out entirely.
fn gauge_family<'a, F>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    states: &'a [Arc<IntegrationState>],
    heads: &'a [Head<'a>],
    series: F,
) -> std::fmt::Result
where
    F: Fn(&'a IntegrationState, Sink<'_, 'a>) -> std::fmt::Result,
{
    let any = states.iter().any(|s| {
        let mut found = false;
        let _ = series(s, &mut |_, _| {
            found = true;
            Ok(())
        });
        found
    });
    if !any {
        return Ok(());
    }
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (s, (head, last_value)) in states.iter().zip(heads) {
        let labels = |extra| SeriesLabels { head, last_value, extra };
        series(s, &mut |extra, v| family.encode_family(&labels(extra))?.encode_gauge(&v))?;
    }
    Ok(())
}

/// One series without extra labels, when there is a value.
fn one(sink: Sink<'_, '_>, v: Option<f64>) -> std::fmt::Result {
    match v {
        Some(v) => sink([None, None], v),
        None => Ok(()),
    }
}

fn bool_num(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

impl SnapshotCollector {
    fn integration_families(&self, enc: &mut DescriptorEncoder) -> std::fmt::Result {
        let st = &self.0.integrations;
        let heads: Vec<Head<'_>> = st.iter().map(|s| render_head(s)).collect();
        let hd = &heads[..];
        gauge_family(
            enc,
            "integration_up",
            "1 if the last probe found the connection usable (healthy or warning), else 0.",
            st,
            hd,
            |s, out| one(out, s.last.as_ref().map(|r| bool_num(matches!(r.status, Status::Healthy | Status::Warning)))),
        )?;
        gauge_family(
            enc,
            "integration_status",
            "Current status, one-hot over unknown, healthy, warning, error.",
            st,
            hd,
            |s, out| {
                let cur = s.status();
                for x in Status::ALL {
                    out([Some(("status", x.as_str())), None], bool_num(x == cur))?;
                }
                Ok(())
            },
        )?;
        gauge_family(
            enc,
            "integration_failure_reason",
            "1 for the reason of the current warning or error status.",
            st,
            hd,
            |s, out| match &s.last {
                Some(r) if r.status != Status::Healthy => out([Some(("reason", r.reason.as_str())), None], 1.0),
                _ => Ok(()),
            },
        )?;
        gauge_family(
            enc,
            "integration_auth_success",
            "1 if the credential authenticated in the last probe, 0 if it was refused.",
            st,
            hd,
            |s, out| one(out, s.last.as_ref().and_then(|r| r.auth_success).map(bool_num)),
        )?;
        gauge_family(
            enc,
            "integration_scopes_valid",
            "1 if every required scope is granted; absent where scopes cannot be known.",
            st,
            hd,
            |s, out| one(out, s.last.as_ref().and_then(|r| r.scopes_valid).map(bool_num)),
        )?;
        gauge_family(
            enc,
            "integration_scope_granted",
            "1 if the configured scope is granted, per scope.",
            st,
            hd,
            |s, out| {
                for c in s.last.iter().flat_map(|r| &r.scopes) {
                    let required = if c.required { "true" } else { "false" };
                    out([Some(("scope", c.scope.as_str())), Some(("required", required))], bool_num(c.granted))?;
                }
                Ok(())
            },
        )?;
        gauge_family(
            enc,
            "integration_api_latency_seconds",
            "Latency of the main check request in the last probe.",
            st,
            hd,
            |s, out| one(out, s.last.as_ref().and_then(|r| r.api_latency).map(|d| d.as_secs_f64())),
        )?;
        gauge_family(
            enc,
            "integration_probe_duration_seconds",
            "Wall time of the last whole probe.",
            st,
            hd,
            |s, out| one(out, s.last.as_ref().map(|r| r.duration.as_secs_f64())),
        )?;
        gauge_family(
            enc,
            "integration_http_status_code",
            "HTTP status of the main check request, 0 if none.",
            st,
            hd,
            |s, out| one(out, s.last.as_ref().map(|r| f64::from(r.http_status))),
        )?;
        gauge_family(
            enc,
            "integration_credential_expiry_timestamp_seconds",
            "When the long-lived credential expires, where known.",
            st,
            hd,
            |s, out| one(out, s.last.as_ref().and_then(|r| r.credential_expiry).map(unix_seconds)),
        )?;
        gauge_family(
            enc,
            "integration_rate_limit_remaining",
            "Requests left in the provider's rate-limit window, where sent.",
            st,
            hd,
            |s, out| one(out, s.last.as_ref().and_then(|r| r.rate_limit).map(|r| r.remaining)),
        )?;
        gauge_family(
            enc,
            "integration_rate_limit_limit",
            "Size of the provider's rate-limit window, where sent.",
            st,
            hd,
            |s, out| one(out, s.last.as_ref().and_then(|r| r.rate_limit).map(|r| r.limit)),
        )?;
        gauge_family(enc, "integration_last_probe_timestamp_seconds", "End of the last probe.", st, hd, |s, out| {
            one(out, s.last.as_ref().map(|r| unix_seconds(r.finished_at)))
        })?;
        gauge_family(
            enc,
            "integration_last_success_timestamp_seconds",
            "End of the last probe that was healthy or warning.",
            st,
            hd,
            |s, out| one(out, s.last_success.map(unix_seconds)),
        )?;
        gauge_family(
            enc,
            "integration_status_change_timestamp_seconds",
            "When the status last changed.",
            st,
            hd,
            |s, out| one(out, Some(unix_seconds(s.status_changed_at))),
        )?;
        gauge_family(
            enc,
            "integration_probe_interval_seconds",
            "The configured background probe interval.",
            st,
            hd,
            |s, out| one(out, Some(s.config.settings.interval.as_secs_f64())),
        )?;
        self.probes_total(enc, hd)?;
        gauge_family(enc, "integration_info", "Static facts about the integration; always 1.", st, hd, |s, out| {
            out([Some(("auth_type", s.config.auth.auth_type().as_str())), None], 1.0)
        })
    }

    fn probes_total(&self, enc: &mut DescriptorEncoder, heads: &[Head<'_>]) -> std::fmt::Result {
        if self.0.integrations.is_empty() {
            return Ok(());
        }
        let help = "Probes by resulting status.";
        let mut family = counter_family(enc, "integration_probes", "integration_probes_total", help, self.1)?;
        for (state, (head, last_value)) in self.0.integrations.iter().zip(heads) {
            let p = state.probes;
            for (result, n) in [("healthy", p.healthy), ("warning", p.warning), ("error", p.error)] {
                let labels = SeriesLabels { head, last_value, extra: [Some(("result", result)), None] };
                counter_sample(&mut family, &labels, &n, self.1)?;
            }
        }
        Ok(())
    }

    fn exporter_families(&self, enc: &mut DescriptorEncoder, e: &ExporterStats) -> std::fmt::Result {
        let gauge =
            |enc: &mut DescriptorEncoder, name: &str, help: &str, labels: Labels<'_>, v: f64| -> std::fmt::Result {
                enc.encode_descriptor(name, help, None, MetricType::Gauge)?.encode_family(&labels)?.encode_gauge(&v)
            };
        gauge(
            enc,
            "integration_exporter_build_info",
            "Build information; always 1.",
            vec![("version", crate::VERSION), ("revision", crate::REVISION)],
            1.0,
        )?;
        gauge(
            enc,
            "integration_exporter_config_last_reload_successful",
            "1 if the last config (re)load succeeded.",
            vec![],
            bool_num(e.reload_successful),
        )?;
        gauge(
            enc,
            "integration_exporter_config_last_reload_success_timestamp_seconds",
            "When the config was last loaded successfully.",
            vec![],
            e.reload_success_time,
        )?;
        let mut family = counter_family(
            enc,
            "integration_exporter_ondemand_probes",
            "integration_exporter_ondemand_probes_total",
            "On-demand probes by outcome.",
            self.1,
        )?;
        for (result, n) in [("probed", e.ondemand[0]), ("cached", e.ondemand[1]), ("rejected", e.ondemand[2])] {
            counter_sample(&mut family, &[("result", result)], &n, self.1)?;
        }
        self.process_families(enc, &e.process)
    }

    fn process_families(&self, enc: &mut DescriptorEncoder, p: &ProcessStats) -> std::fmt::Result {
        let empty: Labels<'_> = vec![];
        if let Some(cpu) = p.cpu_seconds {
            let mut family = counter_family(
                enc,
                "process_cpu_seconds",
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                self.1,
            )?;
            counter_sample(&mut family, &empty, &cpu, self.1)?;
        }
        let gauges = [
            ("process_resident_memory_bytes", "Resident memory size in bytes.", p.resident_memory_bytes),
            ("process_virtual_memory_bytes", "Virtual memory size in bytes.", p.virtual_memory_bytes),
            ("process_open_fds", "Number of open file descriptors.", p.open_fds),
            ("process_max_fds", "Maximum number of open file descriptors.", p.max_fds),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                Some(p.start_time_seconds),
            ),
        ];
        for (name, help, v) in gauges {
            if let Some(v) = v {
                enc.encode_descriptor(name, help, None, MetricType::Gauge)?.encode_family(&empty)?.encode_gauge(&v)?;
            }
        }
        Ok(())
    }
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.integration_families(&mut encoder)?;
        if let Some(e) = &self.0.exporter {
            self.exporter_families(&mut encoder, e)?;
        }
        Ok(())
    }
}

/// Encodes a snapshot in the requested format, in one pass (no rewrite of one format into
/// the other).
pub fn encode(snapshot: Snapshot, format: Format) -> String {
    // Not sized up front from the number of integrations: with glibc, freeing a buffer that
    // large raises its mmap threshold, and the next scrape's buffer then comes from (and is
    // kept by) the heap, about 20 MB more resident at 10,000 integrations, for about 15%
    // quicker encoding. Grown by doubling, a buffer this large stays mmapped and is returned.
    let capacity = 64 * 1024;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector(snapshot, format)));
    let mut out = String::with_capacity(capacity);
    let encoded = match format {
        // OpenMetrics ends with `# EOF`; text 0.0.4 has no such line.
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
        Format::Text004 => prometheus_client::encoding::text::encode_registry(&mut out, &registry),
    };
    if encoded.is_err() {
        out.clear();
        out.push_str("# encoding failed\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::time::SystemTime;

    fn snapshot(yaml: &str) -> Snapshot {
        let config = Config::parse(yaml, "t.yml").unwrap();
        let now = SystemTime::now();
        let integrations = config
            .integrations
            .iter()
            .map(|c| {
                Arc::new(IntegrationState {
                    config: c.clone(),
                    last: None,
                    status_changed_at: now,
                    last_success: None,
                    probes: Default::default(),
                    history: Default::default(),
                })
            })
            .collect();
        Snapshot { integrations, exporter: None }
    }

    const YAML: &str = "integrations:\n  - name: a\n    provider: http\n    base_url: http://127.0.0.1:9\n    \
        labels: {team: \"x\\\"y\\\\z\\nw\", zone: \"\"}\n    auth: {type: bearer, token: t}\n    check: {path: /c}\n  \
        - name: b\n    provider: http\n    base_url: http://127.0.0.1:9\n    auth: {type: bearer, token: t}\n    \
        check: {path: /c}\n";

    #[test]
    fn rendered_labels_are_escaped_and_ordered_like_the_encoder_does() {
        let text = encode(snapshot(YAML), Format::Text004);
        assert!(
            text.contains(
                "integration_status{integration=\"a\",provider=\"http\",team=\"x\\\"y\\\\z\\nw\",zone=\"\",status=\"unknown\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("integration_status{integration=\"b\",provider=\"http\",status=\"unknown\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn counters_are_named_for_each_format() {
        let text = encode(snapshot(YAML), Format::Text004);
        assert!(text.contains("# TYPE integration_probes_total counter\n"), "{text}");
        assert!(text.contains("\nintegration_probes_total{integration=\"b\",provider=\"http\",result=\"error\"} 0\n"));
        assert!(!text.contains("# EOF") && !text.contains("_total_total"), "{text}");
        let om = encode(snapshot(YAML), Format::OpenMetrics);
        assert!(om.contains("# TYPE integration_probes counter\n"), "{om}");
        assert!(om.contains("\nintegration_probes_total{integration=\"b\",provider=\"http\",result=\"error\"} 0\n"));
        assert!(om.ends_with("# EOF\n"), "{om}");
    }
}
