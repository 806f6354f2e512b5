//! The YAML parser's budgets grow with the input: a realistic 10,000-integration file loads
//! (the default node budget refused it about 5,350 integrations in), while an alias bomb and
//! absurd nesting are still refused, with a message that says what is wrong, and promptly (the
//! bound below only guards against a hang; speed is measured in bench/discovery.sh).

use integration_exporter::config::discovery::split_entries;
use integration_exporter::config::{Config, ConfigError};
use std::time::Duration;

/// Runs `f` on its own thread and fails if it does not finish within a minute (a hang, not a
/// speed target).
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("the parser did not finish: a hang")
}

fn refusals(text: String) -> String {
    bounded(move || match Config::parse(&text, "big.yml") {
        Err(ConfigError::Invalid(d)) => d.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    })
}

/// A realistic fleet: two labels, three scopes, auth from a file, a CA bundle, per-entry
/// settings.
fn fleet(n: usize, ca: &str) -> String {
    let mut s = String::from("global:\n  labels: {env: prod}\nintegrations:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  - name: customer-{i:05}-hubspot\n    provider: hubspot\n    labels:\n      tenant: t{i}\n      plan: enterprise\n    auth:\n      type: bearer\n      token_file: /run/secrets/customer-{i:05}\n    scopes:\n      required: [crm.objects.contacts.read, crm.objects.companies.read, crm.objects.deals.read]\n    tls:\n      ca_file: {ca}\n    interval: 15m\n    timeout: 10s\n"
        ));
    }
    s
}

#[test]
fn a_realistic_10000_integration_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let text = fleet(10_000, &ca.display().to_string());
    let loaded = bounded(move || Config::parse(&text, "fleet.yml").map(|c| c.integrations.len()));
    assert_eq!(loaded.unwrap(), 10_000);
}

#[test]
fn a_billion_laughs_alias_bomb_is_refused() {
    let mut bomb = String::from("global:\n  labels:\n    a0: &a0 \"lol\"\n");
    let mut list = String::from("x: &l0 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\n");
    for i in 1..10 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        list.push_str(&format!("x{i}: &l{i} [{refs}]\n"));
    }
    bomb = format!("{bomb}{list}");
    let errors = refusals(bomb);
    assert!(errors.starts_with("big.yml:") && errors.contains("alias bomb"), "{errors}");
    // Inside an integration's labels, where the schema pass would refuse the lists by type.
    let mut bomb = String::from(
        "integrations:\n  - name: a\n    provider: stripe\n    auth: {type: bearer, token: t}\n    labels:\n",
    );
    bomb.push_str("      l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..12 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("      l{i}: &l{i} [{refs}]\n"));
    }
    let errors = refusals(bomb);
    assert!(errors.contains("alias bomb"), "an alias bomb must be refused as one: {errors}");
}

#[test]
fn ten_thousand_deep_nesting_is_refused() {
    let deep = format!("integrations:\n  - name: a\n    labels: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let errors = refusals(deep);
    assert!(errors.starts_with("big.yml:3:") && errors.contains("nested deeper than 64"), "{errors}");
    let block: String = (0..10_000).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
    let errors = refusals(block);
    assert!(errors.contains("nested deeper than 64"), "{errors}");
}

#[test]
fn a_discovered_document_nested_too_deep_is_refused_with_where() {
    let deep = format!("- name: a\n  labels: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let err = bounded(move || split_entries(&deep, "sd/deep.yaml")).unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("sd/deep.yaml", 2));
    assert!(err.to_string().contains("nested deeper than 64"), "{err}");
    let bomb = "- name: a\n  labels: {x: &a [l, l, l, l, l, l, l, l, l, l]}\n".to_string()
        + &(1..12)
            .map(|i| {
                format!(
                    "- &{} [{}]\n",
                    i,
                    vec![format!("*{}", if i == 1 { "a".into() } else { (i - 1).to_string() }); 10].join(", ")
                )
            })
            .collect::<String>();
    let err = bounded(move || split_entries(&bomb, "sd/bomb.yaml")).unwrap_err();
    assert!(err.to_string().starts_with("sd/bomb.yaml:") && err.message.contains("alias bomb"), "{err}");
}

/// Ordinary aliases stay accepted: a fleet of 10,000 sharing one `auth:` and one set of labels
/// through anchors expands to a few times its size, well inside the budget.
#[test]
fn a_fleet_sharing_its_auth_and_labels_through_aliases_loads() {
    let mut s = String::from(
        "global:\n  labels: {env: prod}\nintegrations:\n  - {name: c-first, provider: stripe, auth: &auth {type: bearer, token_file: /run/secrets/t}, labels: &labels {team: a, plan: b}}\n",
    );
    for i in 1..10_000 {
        s.push_str(&format!("  - {{name: c-{i:05}, provider: stripe, auth: *auth, labels: *labels}}\n"));
    }
    let loaded = bounded(move || Config::parse(&s, "fleet.yml"));
    match loaded {
        Ok(c) => assert_eq!(c.integrations.len(), 10_000),
        Err(e) => panic!("a fleet with ordinary aliases was refused: {e}"),
    }
}
