//! The metrics of SPEC §7, encoded from an immutable [`Snapshot`] by a prometheus-client
//! [`Collector`]. Nothing is registered long-term: each scrape builds a registry around the
//! snapshot it was handed, so an integration removed by a reload simply is not in it.

use crate::process_metrics::ProcessStats;
use crate::reason::Status;
use crate::store::{unix_seconds, IntegrationState};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
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
struct SnapshotCollector(Snapshot);

type Labels<'a> = Vec<(&'a str, &'a str)>;

/// Series of one family for one integration: up to two extra labels and the value.
type Series<'a> = Vec<(Option<(&'static str, &'a str)>, Option<(&'static str, &'a str)>, f64)>;

fn base_labels(s: &IntegrationState) -> Labels<'_> {
    let mut l: Labels<'_> = Vec::with_capacity(3 + s.config.labels.len());
    l.push(("integration", s.config.name.as_str()));
    l.push(("provider", s.config.provider.name()));
    l.extend(s.config.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    l
}

/// Writes one gauge family: one series per integration for which `value` gives a number.
fn gauge_family<'a, F>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    states: &'a [Arc<IntegrationState>],
    value: F,
) -> std::fmt::Result
where
    F: Fn(&'a IntegrationState) -> Series<'a>,
{
    let rows: Vec<_> = states.iter().map(|s| (s, value(s))).filter(|(_, v)| !v.is_empty()).collect();
    if rows.is_empty() {
        return Ok(());
    }
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (s, series) in rows {
        for (extra1, extra2, v) in series {
            let mut labels = base_labels(s);
            labels.extend(extra1);
            labels.extend(extra2);
            family.encode_family(&labels)?.encode_gauge(&v)?;
        }
    }
    Ok(())
}

fn one<'a>(v: Option<f64>) -> Series<'a> {
    v.map(|v| vec![(None, None, v)]).unwrap_or_default()
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
        let last = |s: &IntegrationState| s.last.clone();
        gauge_family(
            enc,
            "integration_up",
            "1 if the last probe found the connection usable (healthy or warning), else 0.",
            st,
            |s| one(last(s).map(|r| bool_num(matches!(r.status, Status::Healthy | Status::Warning)))),
        )?;
        gauge_family(
            enc,
            "integration_status",
            "Current status, one-hot over unknown, healthy, warning, error.",
            st,
            |s| {
                let cur = s.status();
                Status::ALL.iter().map(|x| (Some(("status", x.as_str())), None, bool_num(*x == cur))).collect()
            },
        )?;
        gauge_family(
            enc,
            "integration_failure_reason",
            "1 for the reason of the current warning or error status.",
            st,
            |s| match &s.last {
                Some(r) if r.status != Status::Healthy => vec![(Some(("reason", r.reason.as_str())), None, 1.0)],
                _ => vec![],
            },
        )?;
        gauge_family(
            enc,
            "integration_auth_success",
            "1 if the credential authenticated in the last probe, 0 if it was refused.",
            st,
            |s| one(s.last.as_ref().and_then(|r| r.auth_success).map(bool_num)),
        )?;
        gauge_family(
            enc,
            "integration_scopes_valid",
            "1 if every required scope is granted; absent where scopes cannot be known.",
            st,
            |s| one(s.last.as_ref().and_then(|r| r.scopes_valid).map(bool_num)),
        )?;
        gauge_family(enc, "integration_scope_granted", "1 if the configured scope is granted, per scope.", st, |s| {
            match &s.last {
                Some(r) => r
                    .scopes
                    .iter()
                    .map(|c| {
                        (
                            Some(("scope", c.scope.as_str())),
                            Some(("required", if c.required { "true" } else { "false" })),
                            bool_num(c.granted),
                        )
                    })
                    .collect(),
                None => vec![],
            }
        })?;
        gauge_family(
            enc,
            "integration_api_latency_seconds",
            "Latency of the main check request in the last probe.",
            st,
            |s| one(s.last.as_ref().and_then(|r| r.api_latency).map(|d| d.as_secs_f64())),
        )?;
        gauge_family(enc, "integration_probe_duration_seconds", "Wall time of the last whole probe.", st, |s| {
            one(s.last.as_ref().map(|r| r.duration.as_secs_f64()))
        })?;
        gauge_family(
            enc,
            "integration_http_status_code",
            "HTTP status of the main check request, 0 if none.",
            st,
            |s| one(s.last.as_ref().map(|r| f64::from(r.http_status))),
        )?;
        gauge_family(
            enc,
            "integration_credential_expiry_timestamp_seconds",
            "When the long-lived credential expires, where known.",
            st,
            |s| one(s.last.as_ref().and_then(|r| r.credential_expiry).map(unix_seconds)),
        )?;
        gauge_family(
            enc,
            "integration_rate_limit_remaining",
            "Requests left in the provider's rate-limit window, where sent.",
            st,
            |s| one(s.last.as_ref().and_then(|r| r.rate_limit).map(|r| r.remaining)),
        )?;
        gauge_family(
            enc,
            "integration_rate_limit_limit",
            "Size of the provider's rate-limit window, where sent.",
            st,
            |s| one(s.last.as_ref().and_then(|r| r.rate_limit).map(|r| r.limit)),
        )?;
        gauge_family(enc, "integration_last_probe_timestamp_seconds", "End of the last probe.", st, |s| {
            one(s.last.as_ref().map(|r| unix_seconds(r.finished_at)))
        })?;
        gauge_family(
            enc,
            "integration_last_success_timestamp_seconds",
            "End of the last probe that was healthy or warning.",
            st,
            |s| one(s.last_success.map(unix_seconds)),
        )?;
        gauge_family(enc, "integration_status_change_timestamp_seconds", "When the status last changed.", st, |s| {
            one(Some(unix_seconds(s.status_changed_at)))
        })?;
        gauge_family(
            enc,
            "integration_probe_interval_seconds",
            "The configured background probe interval.",
            st,
            |s| one(Some(s.config.settings.interval.as_secs_f64())),
        )?;
        self.probes_total(enc)?;
        gauge_family(enc, "integration_info", "Static facts about the integration; always 1.", st, |s| {
            vec![(Some(("auth_type", s.config.auth.auth_type().as_str())), None, 1.0)]
        })
    }

    fn probes_total(&self, enc: &mut DescriptorEncoder) -> std::fmt::Result {
        if self.0.integrations.is_empty() {
            return Ok(());
        }
        let mut family =
            enc.encode_descriptor("integration_probes", "Probes by resulting status.", None, MetricType::Counter)?;
        for s in &self.0.integrations {
            let p = s.probes;
            for (result, n) in [("healthy", p.healthy), ("warning", p.warning), ("error", p.error)] {
                let mut labels = base_labels(s);
                labels.push(("result", result));
                family.encode_family(&labels)?.encode_counter::<Labels<'_>, u64, f64>(&n, None)?;
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
        let mut family = enc.encode_descriptor(
            "integration_exporter_ondemand_probes",
            "On-demand probes by outcome.",
            None,
            MetricType::Counter,
        )?;
        for (result, n) in [("probed", e.ondemand[0]), ("cached", e.ondemand[1]), ("rejected", e.ondemand[2])] {
            family.encode_family(&vec![("result", result)])?.encode_counter::<Labels<'_>, u64, f64>(&n, None)?;
        }
        self.process_families(enc, &e.process)
    }

    fn process_families(&self, enc: &mut DescriptorEncoder, p: &ProcessStats) -> std::fmt::Result {
        let empty: Labels<'_> = vec![];
        if let Some(cpu) = p.cpu_seconds {
            enc.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                MetricType::Counter,
            )?
            .encode_family(&empty)?
            .encode_counter::<Labels<'_>, f64, f64>(&cpu, None)?;
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

/// Encodes a snapshot in the requested format.
pub fn encode(snapshot: Snapshot, format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector(snapshot)));
    let mut out = String::with_capacity(64 * 1024);
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        out.clear();
        out.push_str("# encoding failed\n");
    }
    match format {
        Format::OpenMetrics => out,
        Format::Text004 => to_text_004(&out),
    }
}

/// Rewrites OpenMetrics text as Prometheus text 0.0.4: counters are named with their
/// `_total` suffix in `# HELP`/`# TYPE`, and `# UNIT`/`# EOF` lines are dropped.
fn to_text_004(om: &str) -> String {
    let mut counters: Vec<&str> = Vec::new();
    for line in om.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.strip_suffix(" counter") {
                counters.push(name);
            }
        }
    }
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let rewritten = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(&name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        match rewritten {
            Some(l) => {
                let _ = writeln!(out, "{l}");
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}
