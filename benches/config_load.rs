//! Config load and validation at 100, 1,000 and 10,000 integrations: YAML parse with spans,
//! every validation rule, and the per-integration fingerprint, as `--config.check`, start-up
//! and every reload do it. The budget is at most 1 s for 10,000 integrations.
//!
//! Run: `cargo bench --bench config_load`.

#[path = "common/fleet.rs"]
mod fleet;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use integration_exporter::config::Config;
use std::hint::black_box;
use std::time::Duration;

fn bench_config(c: &mut Criterion) {
    let mut group = c.benchmark_group("config_load");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(10);
    for n in [100usize, 1_000, 10_000] {
        let text = fleet::config_yaml(n, "http://127.0.0.1:9", &fleet::FleetOptions::default());
        match Config::parse(&text, "bench.yml") {
            Ok(c) => assert_eq!(c.integrations.len(), n),
            Err(e) => panic!("fleet config must be valid: {e}"),
        }
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("parse_and_validate", n), &text, |b, text| {
            b.iter(|| black_box(Config::parse(black_box(text), "bench.yml").is_ok()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_config);
criterion_main!(benches);
