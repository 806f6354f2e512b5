//! The figures the runtime produces for `/metrics`: a [`Snapshot`] of every integration plus
//! the exporter's own [`ExporterStats`]. The metrics module only reads them.

use super::inflight::OnDemand;
use super::store::IntegrationState;
use crate::process_metrics::ProcessStats;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Everything one scrape shows.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Integrations to show, ordered by name.
    pub integrations: Vec<Arc<IntegrationState>>,
    /// Exporter self-metrics; `None` on `/probe`, which shows one integration only.
    pub exporter: Option<ExporterStats>,
}

/// The exporter's own figures.
#[derive(Debug, Clone, Default)]
pub struct ExporterStats {
    /// Whether the last config (re)load succeeded.
    pub reload_successful: bool,
    /// When the config was last loaded successfully, in seconds since the epoch.
    pub reload_success_time: f64,
    /// On-demand probes by outcome.
    pub ondemand: OnDemandCounts,
    /// `process_*` figures.
    pub process: ProcessStats,
    /// `--web.external-url`, without a trailing slash, when given.
    pub external_url: Option<String>,
    /// The webhook receiver's figures, when it runs.
    pub webhooks: Option<WebhookSnapshot>,
    /// The discovery sources' figures, when discovery runs.
    pub discovery: Option<DiscoverySnapshot>,
}

/// One discovery source's figures.
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

/// Every discovery source's figures, in config order.
#[derive(Debug, Clone, Default)]
pub struct DiscoverySnapshot {
    /// `(source label, figures)`.
    pub sources: Vec<(String, SourceFigures)>,
}

/// On-demand probe requests (`/probe`, the API, the status page) by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnDemandCounts {
    /// A probe was made or joined.
    pub probed: u64,
    /// A fresh result was returned without a request upstream.
    pub cached: u64,
    /// Unknown or missing target.
    pub rejected: u64,
}

/// The live counters behind [`OnDemandCounts`].
#[derive(Debug, Default)]
pub(crate) struct OnDemandCounters {
    probed: AtomicU64,
    cached: AtomicU64,
    rejected: AtomicU64,
}

impl OnDemandCounters {
    /// Counts one request by what it got.
    pub(crate) fn count(&self, outcome: &OnDemand) {
        let counter = match outcome {
            OnDemand::Probed(_) => &self.probed,
            OnDemand::Cached(_) => &self.cached,
            OnDemand::Unknown => &self.rejected,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request refused before lookup (missing target).
    pub(crate) fn count_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub(crate) fn read(&self) -> OnDemandCounts {
        OnDemandCounts {
            probed: self.probed.load(Ordering::Relaxed),
            cached: self.cached.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}

/// Figures the webhook receiver keeps and `/metrics` shows. The runtime holds them for the
/// scrape without depending on the receiver (which depends on the runtime).
pub trait WebhookFigures: std::fmt::Debug + Send + Sync {
    /// The figures for one scrape, read against the scrape's own snapshot of the store
    /// (`states`, ordered by name), so both agree.
    fn snapshot(&self, states: &[Arc<IntegrationState>]) -> WebhookSnapshot;
}

/// One integration's webhook figures.
#[derive(Debug, Clone)]
pub struct IntegrationEvents {
    /// `integration`, `provider`, then the static labels, as on every per-integration series.
    pub labels: Vec<(String, String)>,
    /// When the last verified event for it arrived.
    pub last_event: f64,
    /// Whether its last status change came from an event.
    pub change_from_event: bool,
}

/// The receiver's figures at one scrape.
#[derive(Debug, Clone, Default)]
pub struct WebhookSnapshot {
    /// Deliveries by (provider, event type, outcome).
    pub counts: Vec<((&'static str, &'static str, &'static str), u64)>,
    /// Per integration that received an event.
    pub integrations: Vec<IntegrationEvents>,
}
