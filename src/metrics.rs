//! The metrics of SPEC §7, encoded from an immutable [`Snapshot`]. Nothing is registered
//! long-term: each scrape encodes the snapshot it was handed, so an integration removed by a
//! reload simply is not in it.
//!
//! The per-integration families (about 19 series per integration, 185,000 at 10,000
//! integrations) are written straight into the output in the text prometheus-client's encoder
//! produces, byte for byte: its per-sample path (buffered writes through a trait object,
//! label values escaped byte by byte on every series) cost twice as much. The exporter's own
//! families go through a prometheus-client [`Collector`], which also ends OpenMetrics with
//! `# EOF`.

use crate::process_metrics::ProcessStats;
use crate::reason::Status;
use crate::runtime::{DiscoverySnapshot, ExporterStats, IntegrationState, Snapshot, SourceFigures, WebhookSnapshot};
use crate::time::unix_seconds;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabelSet, MetricEncoder,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
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

/// The exporter's own families, through prometheus-client.
#[derive(Debug)]
struct ExporterCollector(Option<ExporterStats>, Format);

/// The name a counter family goes by in `# HELP` and `# TYPE`: OpenMetrics names it without
/// `_total` (its samples carry the suffix); text 0.0.4 names it as its samples are named.
fn counter_family_name(name_total: &'static str, format: Format) -> &'static str {
    match format {
        Format::OpenMetrics => name_total.strip_suffix("_total").unwrap_or(name_total),
        Format::Text004 => name_total,
    }
}

/// Starts a counter family named `name_total` on its samples (see [`counter_family_name`]);
/// its samples are written by [`counter_sample`].
pub(crate) fn counter_family<'s>(
    enc: &'s mut DescriptorEncoder,
    name_total: &'static str,
    help: &str,
    format: Format,
) -> Result<MetricEncoder<'s>, std::fmt::Error> {
    enc.encode_descriptor(counter_family_name(name_total, format), help, None, MetricType::Counter)
}

/// Writes one sample of a family started with [`counter_family`].
pub(crate) fn counter_sample<S, V>(family: &mut MetricEncoder, labels: &S, v: &V, format: Format) -> std::fmt::Result
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

/// An integration's own labels — `integration`, `provider`, its static labels — rendered and
/// escaped once per scrape (`integration="a",provider="b",team="c"`), then written as one
/// piece by each of its series.
fn render_head(state: &IntegrationState) -> String {
    let config = &state.config;
    let mut head = String::with_capacity(64);
    head.push_str("integration=\"");
    push_escaped(&mut head, &config.name);
    head.push_str("\",provider=\"");
    push_escaped(&mut head, config.provider.name());
    head.push('"');
    for (k, v) in &config.labels {
        head.push(',');
        head.push_str(k);
        head.push_str("=\"");
        push_escaped(&mut head, v);
        head.push('"');
    }
    head
}

/// Label values escaped the way the text formats want (`\\`, `\"`, `\n`).
fn push_escaped(out: &mut String, value: &str) {
    let mut rest = value;
    while let Some(at) = rest.find(['\\', '"', '\n']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            _ => "\\n",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// `# HELP` and `# TYPE` lines, as prometheus-client writes them.
fn write_descriptor(out: &mut String, name: &str, help: &str, kind: &str) {
    for (line, text) in [("# HELP ", help), ("# TYPE ", kind)] {
        out.push_str(line);
        out.push_str(name);
        out.push(' ');
        out.push_str(text);
        out.push('\n');
    }
}

/// One sample line: `name{head,extra...} value`.
fn write_sample(out: &mut String, name: &str, head: &str, extra: Extra<'_>, value: Value) {
    out.push_str(name);
    out.push('{');
    out.push_str(head);
    for (k, v) in extra.iter().flatten() {
        out.push(',');
        out.push_str(k);
        out.push_str("=\"");
        push_escaped(out, v);
        out.push('"');
    }
    out.push_str("} ");
    match value {
        // The number formats prometheus-client uses (dtoa for floats, itoa for counts).
        Value::Float(v) => out.push_str(dtoa::Buffer::new().format(v)),
        Value::Count(n) => out.push_str(itoa::Buffer::new().format(n)),
    }
    out.push('\n');
}

/// A sample's value.
#[derive(Clone, Copy)]
enum Value {
    Float(f64),
    Count(u64),
}

/// Hands each of one integration's series in a family (extra labels and value) to a sink.
type Sink<'s, 'a> = &'s mut dyn FnMut(Extra<'a>, f64);

/// Writes one gauge family: the series `series` gives for each integration. A family no
/// integration has a value for is left out entirely: its `# HELP`/`# TYPE` lines are written
/// with its first series, so the snapshot is visited once per family.
fn gauge_family<'a, F>(
    out: &mut String,
    name: &str,
    help: &str,
    states: &'a [Arc<IntegrationState>],
    heads: &[String],
    series: F,
) where
    F: Fn(&'a IntegrationState, Sink<'_, 'a>),
{
    let mut started = false;
    for (s, head) in states.iter().zip(heads) {
        series(s, &mut |extra, v| {
            if !started {
                write_descriptor(out, name, help, "gauge");
                started = true;
            }
            write_sample(out, name, head, extra, Value::Float(v));
        });
    }
}

/// One series without extra labels, when there is a value.
fn one(sink: Sink<'_, '_>, v: Option<f64>) {
    if let Some(v) = v {
        sink([None, None], v);
    }
}

fn bool_num(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Writes every per-integration family of SPEC §7.
fn integration_families(out: &mut String, st: &[Arc<IntegrationState>], format: Format) {
    let heads: Vec<String> = st.iter().map(|s| render_head(s)).collect();
    let hd = &heads[..];
    gauge_family(
        out,
        "integration_up",
        "1 if the last probe found the connection usable (healthy or warning), else 0.",
        st,
        hd,
        |s, sink| one(sink, s.last.as_ref().map(|r| bool_num(matches!(r.status, Status::Healthy | Status::Warning)))),
    );
    gauge_family(
        out,
        "integration_status",
        "Current status, one-hot over unknown, healthy, warning, error.",
        st,
        hd,
        |s, sink| {
            let cur = s.status();
            for x in Status::ALL {
                sink([Some(("status", x.as_str())), None], bool_num(x == cur));
            }
        },
    );
    gauge_family(
        out,
        "integration_failure_reason",
        "1 for the reason of the current warning or error status.",
        st,
        hd,
        |s, sink| match &s.last {
            Some(r) if r.status != Status::Healthy => sink([Some(("reason", r.reason.as_str())), None], 1.0),
            _ => {}
        },
    );
    gauge_family(
        out,
        "integration_failure_class",
        "1 for the class (credential or availability) of the current warning or error reason.",
        st,
        hd,
        |s, sink| {
            if let Some(class) = s.last.as_ref().filter(|r| r.status != Status::Healthy).and_then(|r| r.reason.class())
            {
                sink([Some(("class", class.as_str())), None], 1.0);
            }
        },
    );
    gauge_family(
        out,
        "integration_auth_success",
        "1 if the credential authenticated in the last probe, 0 if it was refused.",
        st,
        hd,
        |s, sink| one(sink, s.last.as_ref().and_then(|r| r.auth_success).map(bool_num)),
    );
    gauge_family(
        out,
        "integration_scopes_valid",
        "1 if every required scope is granted; absent where scopes cannot be known.",
        st,
        hd,
        |s, sink| one(sink, s.last.as_ref().and_then(|r| r.scopes_valid).map(bool_num)),
    );
    gauge_family(
        out,
        "integration_scope_granted",
        "1 if the configured scope is granted, per scope.",
        st,
        hd,
        |s, sink| {
            for c in s.last.iter().flat_map(|r| &r.scopes) {
                let required = if c.required { "true" } else { "false" };
                sink([Some(("scope", c.scope.as_str())), Some(("required", required))], bool_num(c.granted));
            }
        },
    );
    gauge_family(
        out,
        "integration_api_latency_seconds",
        "Latency of the main check request in the last probe.",
        st,
        hd,
        |s, sink| one(sink, s.last.as_ref().and_then(|r| r.api_latency).map(|d| d.as_secs_f64())),
    );
    gauge_family(out, "integration_probe_duration_seconds", "Wall time of the last whole probe.", st, hd, |s, sink| {
        one(sink, s.last.as_ref().map(|r| r.duration.as_secs_f64()))
    });
    gauge_family(
        out,
        "integration_http_status_code",
        "HTTP status of the main check request, 0 if none.",
        st,
        hd,
        |s, sink| one(sink, s.last.as_ref().map(|r| f64::from(r.http_status))),
    );
    gauge_family(
        out,
        "integration_credential_expiry_timestamp_seconds",
        "When the long-lived credential expires, where known.",
        st,
        hd,
        |s, sink| one(sink, s.last.as_ref().and_then(|r| r.credential_expiry).map(unix_seconds)),
    );
    gauge_family(
        out,
        "integration_rate_limit_remaining",
        "Requests left in the provider's rate-limit window, where sent.",
        st,
        hd,
        |s, sink| one(sink, s.last.as_ref().and_then(|r| r.rate_limit).map(|r| r.remaining)),
    );
    gauge_family(
        out,
        "integration_rate_limit_limit",
        "Size of the provider's rate-limit window, where sent.",
        st,
        hd,
        |s, sink| one(sink, s.last.as_ref().and_then(|r| r.rate_limit).map(|r| r.limit)),
    );
    gauge_family(out, "integration_last_probe_timestamp_seconds", "End of the last probe.", st, hd, |s, sink| {
        one(sink, s.last.as_ref().map(|r| unix_seconds(r.finished_at)))
    });
    gauge_family(
        out,
        "integration_last_success_timestamp_seconds",
        "End of the last probe that was healthy or warning.",
        st,
        hd,
        |s, sink| one(sink, s.last_success.map(unix_seconds)),
    );
    gauge_family(
        out,
        "integration_status_change_timestamp_seconds",
        "When the status last changed.",
        st,
        hd,
        |s, sink| one(sink, Some(unix_seconds(s.status_changed_at))),
    );
    gauge_family(
        out,
        "integration_consecutive_failed_probes",
        "Probes in a row that ended in error, whatever their reasons; 0 after any other result.",
        st,
        hd,
        |s, sink| one(sink, s.last.as_ref().map(|_| f64::from(s.consecutive_failures))),
    );
    gauge_family(
        out,
        "integration_probe_interval_seconds",
        "The configured background probe interval.",
        st,
        hd,
        |s, sink| one(sink, Some(s.config.settings.interval.as_secs_f64())),
    );
    probes_total(out, st, hd, format);
    gauge_family(out, "integration_info", "Static facts about the integration; always 1.", st, hd, |s, sink| {
        sink([Some(("auth_type", s.config.auth.auth_type().as_str())), None], 1.0)
    });
}

/// `integration_probes_total`, named per format as [`counter_family_name`] says.
fn probes_total(out: &mut String, st: &[Arc<IntegrationState>], heads: &[String], format: Format) {
    const NAME: &str = "integration_probes_total";
    if st.is_empty() {
        return;
    }
    write_descriptor(out, counter_family_name(NAME, format), "Probes by resulting status.", "counter");
    for (state, head) in st.iter().zip(heads) {
        let p = state.probes;
        for (status, n) in [(Status::Healthy, p.healthy), (Status::Warning, p.warning), (Status::Error, p.error)] {
            let result = status.as_str();
            write_sample(out, NAME, head, [Some(("result", result)), None], Value::Count(n));
        }
    }
}

impl ExporterCollector {
    fn exporter_families(&self, enc: &mut DescriptorEncoder, e: &ExporterStats) -> std::fmt::Result {
        let gauge =
            |enc: &mut DescriptorEncoder, name: &str, help: &str, labels: Labels<'_>, v: f64| -> std::fmt::Result {
                enc.encode_descriptor(name, help, None, MetricType::Gauge)?.encode_family(&labels)?.encode_gauge(&v)
            };
        gauge(
            enc,
            "integration_exporter_build_info",
            "Build information; always 1.",
            vec![("version", crate::VERSION), ("revision", crate::REVISION), ("branch", crate::BRANCH)],
            1.0,
        )?;
        if let Some(url) = &e.external_url {
            gauge(
                enc,
                "integration_exporter_external_url_info",
                "The URL the exporter is reachable under (--web.external-url), for links in alerts; always 1.",
                vec![("external_url", url.as_str())],
                1.0,
            )?;
        }
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
        let mut family =
            counter_family(enc, "integration_exporter_ondemand_probes_total", "On-demand probes by outcome.", self.1)?;
        let o = e.ondemand;
        for (result, n) in [("probed", o.probed), ("cached", o.cached), ("rejected", o.rejected)] {
            counter_sample(&mut family, &[("result", result)], &n, self.1)?;
        }
        if let Some(w) = &e.webhooks {
            webhook_families(w, enc, self.1)?;
        }
        if let Some(d) = &e.discovery {
            discovery_families(d, enc, self.1)?;
        }
        self.process_families(enc, &e.process)
    }

    fn process_families(&self, enc: &mut DescriptorEncoder, p: &ProcessStats) -> std::fmt::Result {
        let empty: Labels<'_> = vec![];
        if let Some(cpu) = p.cpu_seconds {
            let mut family = counter_family(
                enc,
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

/// The webhook receiver's families, when it runs.
/// Reads one figure of a discovery source.
type SourceFigure = fn(&SourceFigures) -> f64;

/// The discovery families, written only when a source is configured.
fn discovery_families(d: &DiscoverySnapshot, enc: &mut DescriptorEncoder, format: Format) -> std::fmt::Result {
    let gauges: [(&str, &str, SourceFigure); 4] = [
        ("integration_exporter_discovery_integrations", "Integrations the source added.", |f| f.integrations as f64),
        (
            "integration_exporter_discovery_refused_entries",
            "Entries and documents of the source that were refused (see /config and the log).",
            |f| f.refused as f64,
        ),
        (
            "integration_exporter_discovery_last_success_timestamp_seconds",
            "When a refresh of the source last succeeded.",
            |f| f.last_success,
        ),
        ("integration_exporter_discovery_refresh_duration_seconds", "How long the source's last refresh took.", |f| {
            f.duration_seconds
        }),
    ];
    for (name, help, value) in gauges {
        let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for (source, f) in &d.sources {
            family.encode_family(&[("source", source.as_str())])?.encode_gauge(&value(f))?;
        }
    }
    let mut family = counter_family(
        enc,
        "integration_exporter_discovery_refresh_failures_total",
        "Refreshes of the source that failed; the last good entries stay.",
        format,
    )?;
    for (source, f) in &d.sources {
        counter_sample(&mut family, &[("source", source.as_str())], &f.failures, format)?;
    }
    Ok(())
}

fn webhook_families(w: &WebhookSnapshot, enc: &mut DescriptorEncoder, format: Format) -> std::fmt::Result {
    if !w.counts.is_empty() {
        let mut family = counter_family(
            enc,
            "integration_exporter_webhook_events_total",
            "Webhook deliveries received, by provider, event type and outcome.",
            format,
        )?;
        for ((provider, event_type, outcome), n) in &w.counts {
            let labels = [("provider", *provider), ("event_type", *event_type), ("outcome", *outcome)];
            counter_sample(&mut family, &labels, n, format)?;
        }
    }
    if !w.integrations.is_empty() {
        let mut family = enc.encode_descriptor(
            "integration_webhook_last_event_timestamp_seconds",
            "When the last verified webhook event for the integration arrived.",
            None,
            MetricType::Gauge,
        )?;
        for i in &w.integrations {
            family.encode_family(&i.labels)?.encode_gauge(&i.last_event)?;
        }
        let mut family = enc.encode_descriptor(
            "integration_webhook_last_change_from_event",
            "1 if the integration's last status change came from a probe a webhook event triggered.",
            None,
            MetricType::Gauge,
        )?;
        for i in &w.integrations {
            family.encode_family(&i.labels)?.encode_gauge(&i64::from(i.change_from_event))?;
        }
    }
    Ok(())
}

impl Collector for ExporterCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        match &self.0 {
            Some(e) => self.exporter_families(&mut encoder, e),
            None => Ok(()),
        }
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
    let mut out = String::with_capacity(capacity);
    integration_families(&mut out, &snapshot.integrations, format);
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ExporterCollector(snapshot.exporter, format)));
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
                    consecutive_failures: 0,
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

    /// The family block (`# HELP` line to the last sample) named `name` in an exposition.
    fn block<'t>(text: &'t str, name: &str) -> &'t str {
        let start = text.find(&format!("# HELP {name} ")).unwrap_or_else(|| panic!("no {name} in {text}"));
        let rest = &text[start..];
        let end = rest[1..].find("# HELP ").map_or(rest.len(), |i| i + 1);
        rest[..end].trim_end_matches("# EOF\n")
    }

    #[test]
    fn direct_encoding_writes_what_prometheus_client_writes() {
        use prometheus_client::metrics::{counter::Counter, family::Family, gauge::Gauge};
        use std::sync::atomic::AtomicU64;
        let snap = snapshot(YAML);
        let heads = [
            vec![("integration", "a"), ("provider", "http"), ("team", "x\"y\\z\nw"), ("zone", "")],
            vec![("integration", "b"), ("provider", "http")],
        ];
        let labels = |i: usize, extra: (&str, &str)| -> Vec<(String, String)> {
            heads[i].iter().chain([&extra]).map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let mut registry = Registry::default();
        let status = Family::<Vec<(String, String)>, Gauge<f64, AtomicU64>>::default();
        let probes = Family::<Vec<(String, String)>, Counter<u64>>::default();
        for i in 0..2 {
            for x in Status::ALL {
                status.get_or_create(&labels(i, ("status", x.as_str()))).set(bool_num(x == Status::Unknown));
            }
            for result in ["healthy", "warning", "error"] {
                probes.get_or_create(&labels(i, ("result", result))).inc_by(0);
            }
        }
        // `register` adds the final full stop itself.
        registry.register(
            "integration_status",
            "Current status, one-hot over unknown, healthy, warning, error",
            status,
        );
        registry.register("integration_probes", "Probes by resulting status", probes);
        let mut reference = String::new();
        prometheus_client::encoding::text::encode(&mut reference, &registry).unwrap();
        // Family iteration order is a hash map's: compare the lines as sets, per family.
        let lines = |t: &str| -> std::collections::BTreeSet<String> { t.lines().map(String::from).collect() };
        for format in [Format::OpenMetrics, Format::Text004] {
            let ours = encode(snap.clone(), format);
            assert_eq!(lines(block(&ours, "integration_status")), lines(block(&reference, "integration_status")));
            if format == Format::OpenMetrics {
                assert_eq!(lines(block(&ours, "integration_probes")), lines(block(&reference, "integration_probes")));
            }
        }
    }

    #[test]
    fn a_family_is_described_once_and_only_when_it_has_series() {
        // Nothing probed yet: only the families every integration has a value for appear.
        let text = encode(snapshot(YAML), Format::Text004);
        for family in ["integration_status", "integration_probe_interval_seconds", "integration_info"] {
            assert_eq!(text.matches(&format!("# HELP {family} ")).count(), 1, "{family}: {text}");
            assert_eq!(text.matches(&format!("# TYPE {family} gauge\n")).count(), 1, "{family}: {text}");
        }
        for family in ["integration_up", "integration_api_latency_seconds", "integration_failure_reason"] {
            assert!(!text.contains(family), "{family} has no series and must be left out: {text}");
        }
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
