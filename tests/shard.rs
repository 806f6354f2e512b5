//! `--shard I/N`: the slices partition the integrations completely and disjointly, and going
//! from N to N+1 shards moves only about 1/(N+1) of them (rendezvous hashing).

use integration_exporter::runtime::Shard;

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("customer-{i:05}-hubspot")).collect()
}

fn owner(name: &str, count: u32) -> u32 {
    let owners: Vec<u32> = (0..count).filter(|&i| Shard { index: i, count }.owns(name)).collect();
    assert_eq!(owners.len(), 1, "{name} must belong to exactly one of {count} shards, got {owners:?}");
    owners[0]
}

#[test]
fn shards_partition_completely_and_disjointly() {
    let all = names(10_000);
    for count in [1u32, 2, 3, 7, 16] {
        let mut sizes = vec![0usize; count as usize];
        for n in &all {
            sizes[owner(n, count) as usize] += 1;
        }
        assert_eq!(sizes.iter().sum::<usize>(), all.len());
        let even = all.len() / count as usize;
        for s in &sizes {
            // Within 15% of an even split for 10,000 names.
            assert!((*s as f64 - even as f64).abs() <= even as f64 * 0.15, "uneven split for N={count}: {sizes:?}");
        }
    }
}

#[test]
fn adding_a_shard_moves_about_one_in_n_plus_one() {
    let all = names(10_000);
    for n in [1u32, 2, 4, 9] {
        let moved = all.iter().filter(|name| owner(name, n) != owner(name, n + 1)).count();
        let expected = all.len() as f64 / f64::from(n + 1);
        // Stated tolerance: at most 20% above the ideal 1/(N+1), and every move goes to the new shard.
        assert!(moved as f64 <= expected * 1.2, "N={n}: moved {moved}, ideal {expected:.0}");
        assert!(moved as f64 >= expected * 0.8, "N={n}: moved {moved}, suspiciously few (ideal {expected:.0})");
        for name in &all {
            let (before, after) = (owner(name, n), owner(name, n + 1));
            assert!(before == after || after == n, "{name} moved between old shards {before} -> {after}");
        }
    }
}

#[test]
fn shard_flag_is_validated() {
    assert_eq!(Shard::parse("0/3"), Ok(Shard { index: 0, count: 3 }));
    assert_eq!(Shard::parse(" 2 / 3 "), Ok(Shard { index: 2, count: 3 }));
    for bad in ["3/3", "1/0", "a/3", "1", "-1/3"] {
        let err = Shard::parse(bad).unwrap_err();
        assert!(err.contains("--shard"), "{bad}: {err}");
    }
}

#[test]
fn config_is_filtered_to_the_shard() {
    use integration_exporter::runtime::{App, ConfigSource};
    let mut yaml = String::from("integrations:\n");
    for i in 0..50 {
        yaml.push_str(&format!(
            "  - name: api-{i}\n    provider: http\n    base_url: http://127.0.0.1:9\n    auth: {{type: bearer, token: t}}\n    check: {{path: /}}\n"
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for index in 0..3 {
        let app = App::new(
            ConfigSource::Text { text: yaml.clone(), name: "t.yml".into() },
            Some(Shard { index, count: 3 }),
            10,
        )
        .unwrap();
        for i in &app.config().integrations {
            assert!(Shard { index, count: 3 }.owns(&i.name));
            assert!(seen.insert(i.name.clone()), "{} served by two shards", i.name);
        }
    }
    assert_eq!(seen.len(), 50);
}

/// The Kubernetes example: the StatefulSet's pod ordinal becomes the shard through
/// `INTEGRATION_EXPORTER_SHARD`, its replica count is the N of every shard, and the replicas
/// together serve the example config's integrations exactly once each (checked by running
/// the real binary once per ordinal with the environment the StatefulSet gives it).
#[test]
fn kubernetes_example_replicas_split_the_config_between_them() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes");
    let read = |f: &str| std::fs::read_to_string(root.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let sts: serde_json::Value = serde_saphyr::from_str(&read("statefulset.yaml")).expect("statefulset.yaml");
    let replicas = sts["spec"]["replicas"].as_u64().expect("spec.replicas");
    let container = &sts["spec"]["template"]["spec"]["containers"][0];
    let env = container["env"].as_array().expect("env");
    let var = |name: &str| env.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("no env {name}"));
    assert_eq!(
        var("POD_INDEX")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.labels['apps.kubernetes.io/pod-index']"
    );
    let shard = var("INTEGRATION_EXPORTER_SHARD")["value"].as_str().expect("shard value");
    assert_eq!(shard, format!("$(POD_INDEX)/{replicas}"), "N must be the replica count");

    let cm: serde_json::Value = serde_saphyr::from_str(&read("configmap.yaml")).expect("configmap.yaml");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(&config, cm["data"]["config.yml"].as_str().expect("data.config.yml")).unwrap();

    let mut served = Vec::new();
    for ordinal in 0..replicas {
        // What Kubernetes does with $(POD_INDEX) in a later variable's value.
        let value = shard.replace("$(POD_INDEX)", &ordinal.to_string());
        // `check` probes every integration this shard owns; the secrets are not mounted here,
        // so each reports credential_missing without any outbound request.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_integration_exporter"))
            .args(["check", "--config.file"])
            .arg(&config)
            .env("INTEGRATION_EXPORTER_SHARD", &value)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        for line in stdout.lines() {
            assert!(line.contains("(credential_missing)"), "shard {value}: {line}");
            served.push(line.split(':').next().unwrap().to_string());
        }
    }
    served.sort();
    assert_eq!(served, ["github-sync-bot", "hubspot-production", "stripe-production"], "each served exactly once");

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_integration_exporter"))
        .args(["check", "--config.file"])
        .arg(&config)
        .env("INTEGRATION_EXPORTER_SHARD", format!("{replicas}/{replicas}"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(3), "an ordinal beyond the replica count must refuse to run");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("INTEGRATION_EXPORTER_SHARD") && err.contains("need 0 <= I < N"), "{err}");
}
