//! The runtime room: the running exporter ([`App`]) with its config swap and reload, the
//! [`Store`] of results and history, background probing ([`scheduler`]), single-flight
//! on-demand probing with each caller's deadline, the concurrency limit, `--shard` hashing,
//! and the facts it produces for the rooms above it: the [`Snapshot`] `/metrics` encodes and
//! the JSON views ([`view`]) the API, the status page and `check --output json` show.
//!
//! It uses `config` and `probe`; `server`, `metrics` and `cli` read it, never the reverse.

mod app;
mod inflight;
mod permits;
mod reload;
pub mod scheduler;
pub mod shard;
mod stats;
pub mod store;
pub mod view;

pub use app::App;
pub use inflight::OnDemand;
pub use reload::{ConfigSource, Discovered};
pub use shard::Shard;
pub use stats::{
    DiscoverySnapshot, ExporterStats, IntegrationEvents, OnDemandCounts, Snapshot, SourceFigures, WebhookFigures,
    WebhookSnapshot,
};
pub use store::{History, HistoryEntry, IntegrationState, ProbeCounts, Store};
