//! `/metrics` encoding cost at 100, 1,000 and 10,000 integrations, in both exposition formats.
//!
//! Every integration carries a realistic last result (see `common/fleet.rs`), so a scrape shows
//! about 22 series per integration. Throughput is reported per series, so criterion's
//! "elem/s" reads directly as series per second; the budget is at most 1 µs per series.
//!
//! Run: `cargo bench --bench metrics_encode`.

#[path = "common/fleet.rs"]
mod fleet;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use integration_exporter::config::Config;
use integration_exporter::metrics::{encode, Format};
use integration_exporter::runtime::{ExporterStats, Snapshot};
use std::hint::black_box;
use std::time::{Duration, SystemTime};

fn snapshot(n: usize) -> Snapshot {
    let text = fleet::config_yaml(n, "http://127.0.0.1:9", &fleet::FleetOptions::default());
    let config = match Config::parse(&text, "bench.yml") {
        Ok(c) => c,
        Err(e) => panic!("fleet config must be valid: {e}"),
    };
    let integrations = fleet::states(&config, SystemTime::now());
    Snapshot { integrations, exporter: Some(ExporterStats { reload_successful: true, ..ExporterStats::default() }) }
}

fn series(text: &str) -> u64 {
    text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count() as u64
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("metrics_encode");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for n in [100usize, 1_000, 10_000] {
        let snap = snapshot(n);
        for (label, format) in [("text004", Format::Text004), ("openmetrics", Format::OpenMetrics)] {
            let count = series(&encode(snap.clone(), format));
            group.throughput(Throughput::Elements(count));
            if n >= 10_000 {
                group.sample_size(20);
            } else {
                group.sample_size(50);
            }
            group.bench_with_input(BenchmarkId::new(label, n), &snap, |b, snap| {
                b.iter(|| black_box(encode(black_box(snap.clone()), format)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_encode);
criterion_main!(benches);
