//! `/metrics` of the 2,000-integration reference fleet (`benches/common/fleet.rs`) must not
//! change by a byte when the code around it is restructured: alert rules, dashboards and users'
//! queries read these exact series. The digests below were taken before the architecture
//! rework (issue 13); a change that is meant to alter the output must say so by updating them.
//!
//! The build-info sample carries the commit it was built from; its `revision` and `branch` values
//! are blanked before hashing (and only those two values).
//!
//! On a mismatch the rendered text is written to `target/metrics_reference.<format>.txt` so
//! that it can be compared with the output of the commit the digest came from.

#[path = "../benches/common/fleet.rs"]
mod fleet;

use integration_exporter::config::Config;
use integration_exporter::metrics::{encode, Format};
use integration_exporter::runtime::{ExporterStats, Snapshot};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime};

/// SHA-256 of the text 0.0.4 exposition.
const TEXT004_SHA256: &str = "8edc161bd79ffbedb580bbaa48a8917909791281df0e07f831fc13e025ddb77f";
/// SHA-256 of the OpenMetrics exposition.
const OPENMETRICS_SHA256: &str = "37841625688ac0dceaa42f5ba400d7918a3d635075faee65b437d04174be9df7";

fn reference_snapshot() -> Snapshot {
    let text = fleet::config_yaml(2_000, "http://127.0.0.1:9", &fleet::FleetOptions::default());
    let config = match Config::parse(&text, "fleet.yml") {
        Ok(c) => c,
        Err(e) => panic!("the reference fleet must be valid: {e}"),
    };
    // A fixed clock: every timestamp in the output is derived from it.
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let exporter = ExporterStats {
        reload_successful: true,
        reload_success_time: 1_799_999_000.0,
        external_url: Some("https://exporter.example.com/integrations".into()),
        ..ExporterStats::default()
    };
    Snapshot { integrations: fleet::states(&config, now), exporter: Some(exporter) }
}

fn check(format: Format, label: &str, expected: &str) {
    let text = without_build_revision(&encode(reference_snapshot(), format));
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    if hex != expected {
        let out =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/metrics_reference.{label}.txt"));
        let _ = std::fs::write(&out, &text);
        panic!(
            "{label} output of the reference fleet changed: sha256 {hex}, expected {expected}; written to {}",
            out.display()
        );
    }
    // The digest alone would also match an empty output if someone pasted its hash.
    assert!(text.lines().count() > 40_000, "{label}: the fleet shows its series");
}

/// The output with the build-info sample's `revision` and `branch` values replaced by `-`.
fn without_build_revision(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blanked = 0;
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("integration_exporter_build_info{") {
            Some(rest) => {
                let labels: Vec<String> = rest
                    .split_once('}')
                    .map(|(l, _)| l)
                    .unwrap_or_default()
                    .split(',')
                    .map(|kv| match kv.split_once('=') {
                        Some((k @ ("revision" | "branch"), _)) => format!("{k}=\"-\""),
                        _ => kv.to_string(),
                    })
                    .collect();
                let value = rest.split_once('}').map(|(_, v)| v).unwrap_or_default();
                out.push_str(&format!("integration_exporter_build_info{{{}}}{value}", labels.join(",")));
                blanked += 1;
            }
            None => out.push_str(line),
        }
    }
    assert_eq!(blanked, 1, "one build-info sample");
    out
}

#[test]
fn text004_is_byte_identical() {
    check(Format::Text004, "text004", TEXT004_SHA256);
}

#[test]
fn openmetrics_is_byte_identical() {
    check(Format::OpenMetrics, "openmetrics", OPENMETRICS_SHA256);
}
