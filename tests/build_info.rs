//! `integration_exporter_build_info` carries the revision and branch the build came from
//! (build.rs: git when building from a checkout, "unknown" otherwise).

mod common;

use common::exporter::{find, InProcess};
use std::process::Command;

/// What git says about this checkout, or `None` when the tests run without git or `.git`.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[tokio::test]
async fn build_info_names_the_revision_and_branch_of_the_checkout() {
    let srv = InProcess::start("integrations: []\n").await;
    let m = srv.metrics().await;
    let info = find(&m, "integration_exporter_build_info", &[]);
    assert_eq!(info.len(), 1, "{m:?}");
    let labels = &info[0].labels;
    assert_eq!(labels.get("version").map(String::as_str), Some(env!("CARGO_PKG_VERSION")));
    // GIT_REVISION/GIT_BRANCH set in the environment win over git (container builds).
    let expected_revision = std::env::var("GIT_REVISION").ok().or_else(|| git(&["rev-parse", "HEAD"]));
    match expected_revision {
        Some(rev) => assert_eq!(labels.get("revision"), Some(&rev), "build.rs did not pick up HEAD"),
        None => assert_eq!(labels.get("revision").map(String::as_str), Some("unknown")),
    }
    let expected_branch = std::env::var("GIT_BRANCH")
        .ok()
        .or_else(|| git(&["rev-parse", "--abbrev-ref", "HEAD"]))
        .filter(|b| b != "HEAD")
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(labels.get("branch"), Some(&expected_branch));
    srv.stop().await;
}
