//! The discovery families on `/metrics`, written only when a source is configured.

use crate::metrics::{counter_family, counter_sample, Format};
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

/// One source's figures.
#[derive(Debug, Clone, Default)]
pub struct SourceFigures {
    /// Integrations it added at the last merge.
    pub integrations: usize,
    /// Entries and documents refused at the last merge (duplicates included).
    pub refused: usize,
    /// When a refresh last succeeded (seconds since the epoch; 0 before the first).
    pub last_success: f64,
    /// Refreshes that failed (a document unreadable or malformed, an HTTP failure).
    pub failures: u64,
    /// How long the last refresh took, in seconds.
    pub duration_seconds: f64,
}

/// Every source's figures, in config order.
#[derive(Debug, Clone, Default)]
pub struct DiscoverySnapshot {
    /// `(source label, figures)`.
    pub sources: Vec<(String, SourceFigures)>,
}

/// Reads one figure of a source.
type Figure = fn(&SourceFigures) -> f64;

impl DiscoverySnapshot {
    /// Writes the families.
    pub fn encode(&self, enc: &mut DescriptorEncoder, format: Format) -> std::fmt::Result {
        let gauges: [(&str, &str, Figure); 4] = [
            ("integration_exporter_discovery_integrations", "Integrations the source added.", |f| {
                f.integrations as f64
            }),
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
            (
                "integration_exporter_discovery_refresh_duration_seconds",
                "How long the source's last refresh took.",
                |f| f.duration_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (source, f) in &self.sources {
                family.encode_family(&vec![("source", source.as_str())])?.encode_gauge(&value(f))?;
            }
        }
        let mut family = counter_family(
            enc,
            "integration_exporter_discovery_refresh_failures_total",
            "Refreshes of the source that failed; the last good entries stay.",
            format,
        )?;
        for (source, f) in &self.sources {
            counter_sample(&mut family, &vec![("source", source.as_str())], &f.failures, format)?;
        }
        Ok(())
    }
}
