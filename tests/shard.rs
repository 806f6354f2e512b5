//! `--shard I/N`: the slices partition the integrations completely and disjointly, and going
//! from N to N+1 shards moves only about 1/(N+1) of them (rendezvous hashing).

use integration_exporter::app::Shard;

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
    use integration_exporter::app::{App, ConfigSource};
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
