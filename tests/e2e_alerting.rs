//! End-to-end checks of the operator-facing files: the alert rules and their
//! promtool unit tests, the example Alertmanager and Prometheus configs, the
//! runbook anchors, and the Grafana dashboard — statically, and live against
//! the exporter's demo mode scraped by a real `prometheus` that sends to a real
//! `prometheus-alertmanager` whose receivers post to a webhook in this test.
//!
//! Every test is ignored by default because it needs the Debian packages
//! `prometheus` and `prometheus-alertmanager` (`promtool`, `amtool`); CI runs
//! them with `cargo test --test e2e_alerting -- --include-ignored`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const RULES: &str = "alerts/integration-health.rules.yml";
const RULE_TESTS: &str = "alerts/tests";
const AM_EXAMPLE: &str = "alerts/alertmanager.example.yml";
const PROM_EXAMPLE: &str = "examples/prometheus.yml";
const DASHBOARD: &str = "dashboards/integration-health.json";
const RUNBOOK: &str = "docs/runbook.md";

/// Reason codes of SPEC §5 and the words the alert descriptions must use.
const REASONS: &[(&str, &str)] = &[
    ("token_expired", "Token expired."),
    ("credential_revoked", "Credential revoked."),
    ("unauthorized", "The provider rejected the credential."),
    ("credential_missing", "Credential missing: the configured secret is empty or unreadable."),
    ("forbidden", "Access forbidden."),
    ("scope_missing", "A required scope is missing."),
    ("account_suspended", "The provider account is suspended."),
    ("provider_unavailable", "The provider's API is unavailable."),
    ("timeout", "The probe timed out."),
    ("network_error", "Network error reaching the provider."),
    ("tls_error", "TLS error reaching the provider."),
    ("unexpected_response", "Unexpected response from the provider."),
    ("rate_limited", "Rate limited by the provider."),
    ("rate_limit_low", "Rate-limit headroom is low."),
    ("slow", "The provider's API is slow."),
    ("expiring_soon", "Credential expiring soon."),
    ("optional_scope_missing", "An optional scope is missing."),
    ("ok", ""),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    serde_saphyr::from_str(&read(rel)).unwrap_or_else(|e| panic!("parsing {rel}: {e}"))
}

/// Runs a command in the repository root and asserts exit status 0.
fn run_ok(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e} (is it installed?)"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "`{program} {}` exited with {}:\n{text}", args.join(" "), out.status);
    text
}

fn alert_rules(rules: &Value) -> Vec<&Value> {
    rules["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules").iter())
        .filter(|r| r.get("alert").is_some())
        .collect()
}

// ---------------------------------------------------------------------------
// Static checks
// ---------------------------------------------------------------------------

#[test]
#[ignore = "end-to-end: needs prometheus and alertmanager; run by .ci/run"]
fn promtool_and_amtool_accept_the_shipped_files() {
    let out = run_ok("promtool", &["check", "rules", RULES]);
    assert!(out.contains("SUCCESS"), "{out}");

    let mut tests: Vec<String> = fs::read_dir(repo().join(RULE_TESTS))
        .expect("alerts/tests")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .map(|p| p.strip_prefix(repo()).unwrap().to_string_lossy().into_owned())
        .collect();
    tests.sort();
    assert!(!tests.is_empty(), "no promtool tests in {RULE_TESTS}");
    let mut args = vec!["test", "rules"];
    args.extend(tests.iter().map(String::as_str));
    let out = run_ok("promtool", &args);
    assert!(!out.contains("FAILED"), "{out}");

    // Every alert has unit tests, and every rule carries the contract's labels
    // and annotations.
    let all_tests: String = tests.iter().map(|t| read(t)).collect();
    let rules = yaml(RULES);
    let alerts = alert_rules(&rules);
    for name in [
        "IntegrationHealthCheckFailed",
        "IntegrationHealthDegraded",
        "IntegrationCredentialExpiringSoon",
        "IntegrationProbeStale",
        "IntegrationExporterConfigReloadFailed",
    ] {
        assert!(alerts.iter().any(|r| r["alert"] == name), "SPEC §8 alert {name} is missing from {RULES}");
    }
    for rule in &alerts {
        let name = rule["alert"].as_str().unwrap();
        assert!(name.starts_with("Integration"), "{name}: shared prefix");
        assert!(
            all_tests.contains(&format!("alertname: {name}\n")),
            "{name} has no promtool unit test in {RULE_TESTS}"
        );
        let sev = rule["labels"]["severity"].as_str().unwrap_or_default();
        assert!(["critical", "warning", "info"].contains(&sev), "{name}: severity {sev:?}");
        assert_eq!(rule["labels"]["category"], "integration-health", "{name}: category");
        for a in ["summary", "description", "runbook_url"] {
            assert!(rule["annotations"][a].as_str().is_some_and(|s| !s.is_empty()), "{name}: annotation {a}");
        }
    }

    let out = run_ok("amtool", &["check-config", AM_EXAMPLE]);
    assert!(out.contains("SUCCESS"), "{out}");
    // Routing on category and class resolves to the intended receivers.
    for (labels, receiver) in [
        (
            "alertname=IntegrationHealthCheckFailed category=integration-health class=credential integration=a",
            "integration-owners",
        ),
        (
            "alertname=IntegrationHealthCheckFailed category=integration-health class=availability integration=a",
            "integration-health",
        ),
        (
            "alertname=IntegrationHealthDegraded category=integration-health reason=slow integration=a",
            "integration-health",
        ),
        ("alertname=SyncRunFailed category=sync", "default"),
    ] {
        let mut args = vec!["config", "routes", "test", "--config.file", AM_EXAMPLE, "--verify.receivers", receiver];
        args.extend(labels.split(' '));
        run_ok("amtool", &args);
    }

    // The amtool example written in the Alertmanager file's header routes as it says.
    let am_text = read(AM_EXAMPLE);
    let example: Vec<&str> = am_text
        .lines()
        .skip_while(|l| !l.contains("amtool config routes test"))
        .take_while(|l| l.starts_with('#') && !l.contains("(prints"))
        .flat_map(|l| l.trim_start_matches(['#', ' ']).trim_end_matches('\\').split_whitespace())
        .filter(|w| w.contains('=') && !w.starts_with("--"))
        .collect();
    assert!(example.iter().any(|w| w.starts_with("alertname=")), "the amtool example names the alert: {example:?}");
    let mut args =
        vec!["config", "routes", "test", "--config.file", AM_EXAMPLE, "--verify.receivers", "integration-owners"];
    args.extend(example);
    run_ok("amtool", &args);

    let out = run_ok("promtool", &["check", "config", PROM_EXAMPLE]);
    assert!(out.contains("SUCCESS: 1 rule files found"), "{out}");
    // The Kubernetes example's scrape job: valid, and named so that IntegrationExporterDown
    // (job=~"integration[-_]exporter.*") watches its replicas.
    let out = run_ok("promtool", &["check", "config", "examples/kubernetes/prometheus-scrape.yaml"]);
    assert!(out.contains("SUCCESS"), "{out}");
    let k8s: serde_json::Value = yaml("examples/kubernetes/prometheus-scrape.yaml");
    assert_eq!(k8s["scrape_configs"][0]["job_name"], "integration-exporter");
}

/// GitHub's heading anchors: lower-case, punctuation other than `-`/`_`
/// dropped, spaces to hyphens.
fn runbook_anchors() -> BTreeSet<String> {
    read(RUNBOOK)
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

#[test]
fn runbook_has_a_section_for_every_alert_and_reason() {
    let anchors = runbook_anchors();
    let rules = yaml(RULES);
    for rule in alert_rules(&rules) {
        let url = rule["annotations"]["runbook_url"].as_str().unwrap();
        let (base, anchor) = url.split_once('#').expect("runbook_url has an anchor");
        assert!(base.ends_with("/docs/runbook.md"), "{url}");
        if anchor.contains("{{") {
            // Templated: the section of the alert's current reason (or of the alert itself).
            for (reason, _) in REASONS {
                assert!(anchors.contains(*reason), "runbook has no section {reason}");
            }
        } else {
            assert!(anchors.contains(anchor), "runbook has no section #{anchor}");
        }
        let name = rule["alert"].as_str().unwrap().to_lowercase();
        assert!(anchors.contains(&name), "runbook has no section for alert {name}");
    }
}

#[test]
fn runbook_and_rules_sort_error_reasons_into_the_classes_the_exporter_exports() {
    use integration_exporter::reason::{Reason, Status};
    let runbook = read(RUNBOOK);
    let rules = read(RULES);
    for reason in Reason::ALL.into_iter().filter(|r| r.status() == Status::Error) {
        let class = reason.class().expect("every error reason has a class").as_str();
        let row = runbook
            .lines()
            .find(|l| l.starts_with(&format!("| `{class}` |")))
            .unwrap_or_else(|| panic!("runbook has no row for class {class}"));
        assert!(row.contains(&format!("[{reason}](#{reason})")), "runbook lists {reason} under {class}: {row}");
        // The rule file's header lists each class's reasons too: the class's line and its
        // more indented continuation lines.
        let header: Vec<&str> = rules.lines().take_while(|l| l.starts_with('#')).map(|l| &l[1..]).collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        let start = header
            .iter()
            .position(|l| l.trim_start().starts_with(&format!("{class} ")))
            .unwrap_or_else(|| panic!("rule header does not list class {class}"));
        let listed: String = std::iter::once(header[start])
            .chain(header[start + 1..].iter().copied().take_while(|l| indent(l) > indent(header[start]) + 2))
            .collect();
        let names: Vec<&str> = listed.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        assert!(names.contains(&reason.as_str()), "rule header lists {reason} under {class}: {listed}");
    }
}

fn all_panels(panels: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in panels.as_array().expect("panels array") {
        out.push(p);
        if let Some(inner) = p.get("panels") {
            out.extend(all_panels(inner));
        }
    }
    out
}

/// Names referenced as `$name` or `${name}` (Grafana's built-ins `$__…` aside).
fn referenced_variables(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in text.match_indices('$') {
        let rest = &text[i + 1..];
        let rest = rest.strip_prefix('{').unwrap_or(rest);
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() && !name.starts_with("__") {
            names.insert(name);
        }
    }
    names
}

#[test]
fn dashboard_is_importable_and_self_consistent() {
    let text = read(DASHBOARD);
    let dash: Value = serde_json::from_str(&text).expect("dashboard JSON");
    assert_eq!(dash["uid"], "integration-health", "stable uid");
    assert!(dash["id"].is_null(), "id must be null so the dashboard imports anywhere");
    assert!(dash["tags"].as_array().is_some_and(|t| !t.is_empty()), "dashboard tags");

    let vars: BTreeMap<&str, &Value> = dash["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v))
        .collect();
    assert_eq!(vars["datasource"]["type"], "datasource");
    assert_eq!(vars["datasource"]["query"], "prometheus");
    for v in ["job", "provider", "integration"] {
        assert!(vars.contains_key(v), "template variable {v}");
    }
    for name in referenced_variables(&text) {
        assert!(vars.contains_key(name.as_str()), "${name} is used but not defined");
    }

    let panels = all_panels(&dash["panels"]);
    let mut ids = BTreeSet::new();
    let mut types = BTreeSet::new();
    for p in &panels {
        let title = p["title"].as_str().unwrap_or("?");
        let id = p["id"].as_u64().unwrap_or_else(|| panic!("panel {title}: no id"));
        assert!(ids.insert(id), "panel id {id} ({title}) is not unique");
        types.insert(p["type"].as_str().unwrap());
        assert_eq!(p["datasource"]["uid"], "${datasource}", "panel {title}: datasource must be the variable");
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"].as_array().unwrap_or_else(|| panic!("{title}: targets"));
        assert!(!targets.is_empty(), "panel {title} has no query");
        for t in targets {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "panel {title}: target datasource");
            assert!(t["expr"].as_str().is_some_and(|e| !e.is_empty()), "{title}: expr");
        }
    }
    for wanted in ["stat", "table", "state-timeline", "timeseries"] {
        assert!(types.contains(wanted), "no {wanted} panel");
    }
}

/// The expression of the dashboard panel titled `title` (its first query).
fn panel_expr(dash: &Value, title: &str) -> String {
    all_panels(&dash["panels"])
        .into_iter()
        .find(|p| p["title"] == title)
        .and_then(|p| p["targets"][0]["expr"].as_str())
        .unwrap_or_else(|| panic!("no panel {title:?}"))
        .to_string()
}

#[test]
#[ignore = "end-to-end: needs promtool; run by .ci/run"]
fn dashboard_counts_each_integration_once_and_an_expired_credential_as_not_expiring() {
    // The panels' own expressions, with every variable at "All" as Grafana writes it for the
    // two jobs below, evaluated by promtool over series where integration `a` is scraped by
    // both the /metrics job and the /probe job, as the shipped example does.
    let dash: Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    let all: BTreeMap<String, String> =
        [("job", "(integration_exporter|integration_exporter_probe)"), ("provider", ".*"), ("integration", ".*")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let probes = substitute(&panel_expr(&dash, "Probes by result"), &all).replace("[1m]", "[5m]");
    let expiring = substitute(&panel_expr(&dash, "Expiring within 7 days"), &all);
    let series = |job: &str, instance: &str, integration: &str, metric: &str, extra: &str, values: &str| {
        format!(
            "      - series: '{metric}{{job=\"{job}\", instance=\"{instance}\", integration=\"{integration}\", provider=\"stripe\"{extra}}}'\n        values: '{values}'\n"
        )
    };
    let mut input = String::new();
    // a: one healthy probe a minute, on both jobs; b: one a minute, /metrics only.
    for (job, instance) in [("integration_exporter", "exporter:10115"), ("integration_exporter_probe", "a")] {
        input += &series(job, instance, "a", "integration_probes_total", ", result=\"healthy\"", "0+1x20");
    }
    input += &series(
        "integration_exporter",
        "exporter:10115",
        "b",
        "integration_probes_total",
        ", result=\"healthy\"",
        "0+1x20",
    );
    // Expiry at 10m (600 s): a in 3 days, b expired a day ago, c in 30 days.
    for (integration, expiry) in [("a", 600 + 3 * 86400), ("b", 600 - 86400), ("c", 600 + 30 * 86400)] {
        input += &series(
            "integration_exporter",
            "exporter:10115",
            integration,
            "integration_credential_expiry_timestamp_seconds",
            "",
            &format!("{expiry}x20"),
        );
    }
    let test = format!(
        "rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}    promql_expr_test:\n\
         \x20     - expr: '{probes}'\n        eval_time: 10m\n        exp_samples:\n          - labels: '{{result=\"healthy\"}}'\n            value: 0.03333333333333333\n\
         \x20     - expr: '{expiring}'\n        eval_time: 10m\n        exp_samples:\n          - labels: '{{}}'\n            value: 1\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard.test.yml");
    fs::write(&file, &test).unwrap();
    let out = Command::new("promtool").args(["test", "rules"]).arg(&file).output().expect("promtool");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}\n--- test file ---\n{test}");
}

// ---------------------------------------------------------------------------
// Live: demo exporter -> prometheus -> alertmanager -> webhook
// ---------------------------------------------------------------------------

/// A child process that is killed when dropped, with its output in a file.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, dir: &Path, program: &str, args: &[String]) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let file = fs::File::create(&log).expect("log file");
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e} (is it installed?)"));
        Proc { name, child, log }
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{} exited early with {status}:\n{}", self.name, self.log_tail());
        }
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One notification as Alertmanager posted it: the receiver path and the body.
#[derive(Clone, Debug)]
struct Notification {
    path: String,
    body: Value,
}

/// A webhook receiver on loopback that records every JSON body posted to it.
struct Webhook {
    port: u16,
    received: Arc<Mutex<Vec<Notification>>>,
}

impl Webhook {
    fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = sink.clone();
                std::thread::spawn(move || serve_webhook(stream, &sink));
            }
        });
        Webhook { port, received }
    }

    fn notifications(&self) -> Vec<Notification> {
        self.received.lock().unwrap().clone()
    }
}

/// Minimal HTTP/1.1 server side: Content-Length bodies, keep-alive.
fn serve_webhook(stream: TcpStream, sink: &Mutex<Vec<Notification>>) {
    stream.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        sink.lock().unwrap().push(Notification { path, body });
        if writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").is_err() {
            return;
        }
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let resp = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{url}: HTTP {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{url}: {e}: {body}"))
}

async fn wait_ready(client: &reqwest::Client, proc_: &mut Proc, url: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        proc_.assert_running();
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} not ready at {url} within {within:?}:\n{}",
            proc_.name,
            proc_.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Alerts of all notifications, each with the notification's receiver path.
fn alerts_of(notes: &[Notification]) -> Vec<(String, Value)> {
    notes
        .iter()
        .flat_map(|n| n.body["alerts"].as_array().cloned().unwrap_or_default().into_iter().map(|a| (n.path.clone(), a)))
        .collect()
}

fn find_alert<'a>(
    alerts: &'a [(String, Value)],
    alertname: &str,
    integration: &str,
    status: &str,
) -> Option<&'a (String, Value)> {
    alerts.iter().find(|(_, a)| {
        a["labels"]["alertname"] == alertname && a["labels"]["integration"] == integration && a["status"] == status
    })
}

fn words(reason: &str) -> &'static str {
    REASONS.iter().find(|(r, _)| *r == reason).unwrap().1
}

/// Substitutes the dashboard's template variables as Grafana does with every variable at "All":
/// a variable's custom all value where it has one, else the regex alternation of its values.
fn substitute(expr: &str, all: &BTreeMap<String, String>) -> String {
    let mut e = expr
        .replace("$__rate_interval", "1m")
        .replace("${__rate_interval}", "1m")
        .replace("$__range", "5m")
        .replace("${__range}", "5m")
        .replace("$__interval", "15s")
        .replace("${__interval}", "15s");
    for (name, value) in all {
        e = e.replace(&format!("${{{name}}}"), value).replace(&format!("${name}"), value);
    }
    assert!(!e.contains('$'), "unsubstituted variable in {e}");
    e
}

/// What Grafana writes for each query variable at "All", resolved in order (a variable's query
/// may use the ones before it).
async fn all_values(client: &reqwest::Client, prom: &str, dash: &Value) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    for var in dash["templating"]["list"].as_array().unwrap() {
        let Some(query) = var["definition"].as_str() else { continue };
        let name = var["name"].as_str().unwrap().to_string();
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable {name}: unexpected query {query}"));
        let (selector, label) = inner.rsplit_once(',').unwrap();
        let url = format!(
            "{prom}/api/v1/label/{}/values?match[]={}",
            label.trim(),
            percent_encode(&substitute(selector.trim(), &all))
        );
        let values: Vec<String> = get_json(client, &url).await.unwrap()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert!(!values.is_empty(), "variable {name} has no values: {query}");
        let value = match var["allValue"].as_str() {
            Some(custom) => custom.to_string(),
            None => format!("({})", values.iter().map(|v| regex_escape(v)).collect::<Vec<_>>().join("|")),
        };
        all.insert(name, value);
    }
    all
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}

/// The vector selectors (`name{matchers}`) of a PromQL expression.
fn selectors(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (open, _) in expr.match_indices('{') {
        let name: String =
            expr[..open].chars().rev().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':').collect();
        let name: String = name.chars().rev().collect();
        let close = open + expr[open..].find('}').expect("closing brace");
        if !name.is_empty() {
            out.push(format!("{name}{}", &expr[open..=close]));
        }
    }
    out
}

const REVOKED_TOKEN: &str = "xoxb-e2e-Revocation-Token-4471";

/// The Slack `auth.test` answer (docs.slack.dev/reference/methods/auth.test): healthy, or the
/// documented `token_revoked` error (HTTP 200, `ok: false`).
async fn slack_answers(server: &wiremock::MockServer, revoked: bool) {
    use wiremock::matchers::{header, method, path};
    let body = if revoked {
        json!({"ok": false, "error": "token_revoked"})
    } else {
        json!({"ok": true, "url": "https://e2e.slack.com/", "team": "E2E", "user": "bot", "team_id": "T0E2E", "user_id": "U0E2E"})
    };
    server.reset().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/auth.test"))
        .and(header("authorization", format!("Bearer {REVOKED_TOKEN}").as_str()))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

/// Reads one sample's value from the exporter's `/metrics`.
async fn exporter_value(client: &reqwest::Client, url: &str, series: &str) -> Option<f64> {
    let text = client.get(url).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: needs prometheus and alertmanager; run by .ci/run"]
async fn shipped_rules_page_a_revoked_credential_within_90s_and_dashboard_queries_stay_in_their_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();

    // Exporter 1: demo mode, for the dashboard's data and the demo's standing failures.
    let demo_addr = format!("127.0.0.1:{}", free_port());
    let mut demo = Proc::spawn(
        "demo exporter",
        dir,
        env!("CARGO_BIN_EXE_integration_exporter"),
        &["demo".into(), "--web.listen-address".into(), demo_addr.clone()],
    );
    wait_ready(&client, &mut demo, &format!("http://{demo_addr}/-/ready"), Duration::from_secs(30)).await;

    // Exporter 2: one Slack integration against an upstream this test controls, behind an
    // external URL, probed every 10 s.
    let slack = wiremock::MockServer::start().await;
    slack_answers(&slack, false).await;
    let config = format!(
        "global: {{interval: 10s, error_interval: 10s}}\nintegrations:\n  - name: slack-revocation\n    provider: slack\n    \
         base_url: {}\n    labels: {{env: e2e}}\n    auth: {{type: bearer, token: {REVOKED_TOKEN}}}\n",
        slack.uri()
    );
    fs::write(dir.join("exporter.yml"), config).unwrap();
    let revocation_addr = format!("127.0.0.1:{}", free_port());
    let mut revocation = Proc::spawn(
        "revocation exporter",
        dir,
        env!("CARGO_BIN_EXE_integration_exporter"),
        &[
            "--config.file=exporter.yml".into(),
            format!("--web.listen-address={revocation_addr}"),
            "--web.external-url=https://example.test/ie".into(),
            // The proxy at example.test strips /ie; the exporter serves at its root.
            "--web.route-prefix=/".into(),
        ],
    );
    let revocation_metrics = format!("http://{revocation_addr}/metrics");
    wait_ready(&client, &mut revocation, &format!("http://{revocation_addr}/-/ready"), Duration::from_secs(30)).await;

    // Alertmanager: the example config as shipped (its 30 s group_wait and 5 m group_interval
    // included); only the receivers' URLs point at this test's webhook.
    let hook = Webhook::start();
    let mut am_config = yaml(AM_EXAMPLE);
    for receiver in am_config["receivers"].as_array_mut().unwrap() {
        let name = receiver["name"].as_str().unwrap().to_string();
        if let Some(hooks) = receiver.get_mut("webhook_configs") {
            for h in hooks.as_array_mut().unwrap() {
                h["url"] = json!(format!("http://127.0.0.1:{}/{name}", hook.port));
            }
        }
    }
    // JSON is YAML: Alertmanager and Prometheus read these files as they are.
    fs::write(dir.join("alertmanager.yml"), am_config.to_string()).unwrap();
    let am_addr = format!("127.0.0.1:{}", free_port());
    let mut alertmanager = Proc::spawn(
        "alertmanager",
        dir,
        "prometheus-alertmanager",
        &[
            "--config.file=alertmanager.yml".into(),
            format!("--storage.path={}", dir.join("am-data").display()),
            format!("--web.listen-address={am_addr}"),
            "--cluster.listen-address=".into(),
        ],
    );
    wait_ready(&client, &mut alertmanager, &format!("http://{am_addr}/-/ready"), Duration::from_secs(30)).await;

    // Prometheus: the example config at a 15 s scrape and evaluation interval, the shipped rule
    // file loaded from the repository as it is, the example's /metrics and /probe jobs pointed
    // at the demo, a job for the second exporter, and an unrelated job (Prometheus itself) that
    // no dashboard query may pick up.
    let prom_addr = format!("127.0.0.1:{}", free_port());
    let mut prom_config = yaml(PROM_EXAMPLE);
    prom_config["global"] = json!({"scrape_interval": "15s", "scrape_timeout": "10s", "evaluation_interval": "15s"});
    prom_config["rule_files"] = json!([repo().join(RULES).display().to_string()]);
    prom_config["alerting"]["alertmanagers"][0]["static_configs"] = json!([{"targets": [am_addr]}]);
    let mut probe_targets = Vec::new();
    let mut exporter_jobs = BTreeSet::new();
    for job in prom_config["scrape_configs"].as_array_mut().unwrap() {
        exporter_jobs.insert(job["job_name"].as_str().unwrap().to_string());
        job.as_object_mut().unwrap().remove("scrape_interval");
        job.as_object_mut().unwrap().remove("scrape_timeout");
        if job["metrics_path"] == "/probe" {
            for t in job["static_configs"][0]["targets"].as_array().unwrap() {
                probe_targets.push(t.as_str().unwrap().to_string());
            }
            let relabel = job["relabel_configs"].as_array_mut().unwrap();
            let to_exporter = relabel
                .iter_mut()
                .find(|r| r["target_label"] == "__address__")
                .expect("the /probe job rewrites __address__");
            to_exporter["replacement"] = json!(demo_addr);
        } else {
            job["static_configs"] = json!([{"targets": [demo_addr]}]);
        }
    }
    assert!(!probe_targets.is_empty(), "the example has a /probe job with targets");
    let jobs = prom_config["scrape_configs"].as_array_mut().unwrap();
    jobs.push(
        json!({"job_name": "integration_exporter_revocation", "static_configs": [{"targets": [revocation_addr]}]}),
    );
    jobs.push(json!({"job_name": "prometheus", "static_configs": [{"targets": [prom_addr]}]}));
    exporter_jobs.insert("integration_exporter_revocation".to_string());
    fs::write(dir.join("prometheus.yml"), prom_config.to_string()).unwrap();
    let mut prometheus = Proc::spawn(
        "prometheus",
        dir,
        "prometheus",
        &[
            "--config.file=prometheus.yml".into(),
            format!("--storage.tsdb.path={}", dir.join("prom-data").display()),
            format!("--web.listen-address={prom_addr}"),
        ],
    );
    let prom = format!("http://{prom_addr}");
    wait_ready(&client, &mut prometheus, &format!("{prom}/-/ready"), Duration::from_secs(30)).await;

    let diagnostics = |hook: &Webhook, procs: [&Proc; 4]| -> String {
        let mut s = String::new();
        for p in procs {
            s += &format!("\n--- {} log ---\n{}\n", p.name, p.log_tail());
        }
        s += "\n--- webhook notifications ---\n";
        for n in hook.notifications() {
            s += &format!("{} {}\n", n.path, n.body);
        }
        s
    };
    macro_rules! all_running {
        () => {
            for p in [&mut demo, &mut revocation, &mut alertmanager, &mut prometheus] {
                p.assert_running();
            }
        };
    }

    // The rule file Prometheus loaded is the shipped one, with its durations as shipped.
    let shipped = yaml(RULES);
    let loaded = get_json(&client, &format!("{prom}/api/v1/rules?type=alert")).await.unwrap();
    let loaded_rules: Vec<&Value> =
        loaded["data"]["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap()).collect();
    // The API lists groups by name: compare (alert, for) pairs as sorted lists.
    let mut shipped_for: Vec<(String, f64)> = alert_rules(&shipped)
        .iter()
        .map(|s| {
            let seconds = s.get("for").and_then(Value::as_str).map_or(0.0, |f| {
                let (n, unit) = f.split_at(f.len() - 1);
                n.parse::<f64>().unwrap() * if unit == "m" { 60.0 } else { 1.0 }
            });
            (s["alert"].as_str().unwrap().to_string(), seconds)
        })
        .collect();
    let mut loaded_for: Vec<(String, f64)> = loaded_rules
        .iter()
        .map(|l| (l["name"].as_str().unwrap().to_string(), l["duration"].as_f64().unwrap()))
        .collect();
    shipped_for.sort_by(|a, b| a.partial_cmp(b).unwrap());
    loaded_for.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(loaded_for, shipped_for, "Prometheus runs the shipped rules with their `for:` as shipped");

    // Every target is up, including the /probe targets and the unrelated job.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let targets = get_json(&client, &format!("{prom}/api/v1/targets?state=active")).await.unwrap();
        let active = targets["data"]["activeTargets"].as_array().unwrap().clone();
        let up = active.iter().filter(|t| t["health"] == "up").count();
        if active.len() == 3 + probe_targets.len() && up == active.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "scrape targets not all up: {active:#?}{}",
            diagnostics(&hook, [&demo, &revocation, &alertmanager, &prometheus])
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Prometheus has seen slack-revocation healthy; then the token is revoked upstream.
    let deadline = Instant::now() + Duration::from_secs(60);
    let healthy_query = format!(
        "{prom}/api/v1/query?query={}",
        percent_encode("integration_up{integration=\"slack-revocation\"} == 1")
    );
    while get_json(&client, &healthy_query).await.unwrap()["data"]["result"].as_array().is_none_or(Vec::is_empty) {
        all_running!();
        assert!(Instant::now() < deadline, "Prometheus never saw slack-revocation healthy");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    slack_answers(&slack, true).await;
    let error_series =
        "integration_status{integration=\"slack-revocation\",provider=\"slack\",env=\"e2e\",status=\"error\"}";
    let deadline = Instant::now() + Duration::from_secs(30);
    while exporter_value(&client, &revocation_metrics, error_series).await != Some(1.0) {
        all_running!();
        assert!(
            Instant::now() < deadline,
            "the exporter never saw the revocation{}",
            diagnostics(&hook, [&demo, &revocation, &alertmanager, &prometheus])
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let probed_at = exporter_value(
        &client,
        &revocation_metrics,
        "integration_status_change_timestamp_seconds{integration=\"slack-revocation\",provider=\"slack\",env=\"e2e\"}",
    )
    .await
    .expect("status change time");

    // The alert reaches the credential owners within 90 s of the probe that saw the revocation.
    let firing = loop {
        all_running!();
        let alerts = alerts_of(&hook.notifications());
        if let Some(found) = find_alert(&alerts, "IntegrationHealthCheckFailed", "slack-revocation", "firing") {
            break found.clone();
        }
        assert!(
            unix_now() - probed_at < 95.0,
            "IntegrationHealthCheckFailed for slack-revocation did not reach the webhook within 90 s of the probe{}",
            diagnostics(&hook, [&demo, &revocation, &alertmanager, &prometheus])
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let fired_at = Instant::now();
    let delay = unix_now() - probed_at;
    assert!(delay <= 90.0, "notified {delay:.1} s after the probe");
    eprintln!("revocation probe -> webhook: {delay:.1} s");
    let (path, alert) = &firing;
    assert_eq!(path, "/integration-owners", "routed on class to the credential owners: {alert:#}");
    let labels = &alert["labels"];
    for (k, v) in [
        ("provider", "slack"),
        ("class", "credential"),
        ("severity", "critical"),
        ("category", "integration-health"),
        ("env", "e2e"),
    ] {
        assert_eq!(labels[k], v, "label {k}: {alert:#}");
    }
    assert!(labels.get("reason").is_none(), "the reason is not part of the alert's identity: {alert:#}");
    let annotations = &alert["annotations"];
    assert_eq!(annotations["reason"], "credential_revoked", "{alert:#}");
    assert_eq!(
        annotations["description"], "Integration Health Check Failed: slack-revocation (slack). Credential revoked.",
        "{alert:#}"
    );
    assert_eq!(annotations["page_url"], "https://example.test/ie/integrations/slack-revocation", "{alert:#}");
    assert!(annotations["runbook_url"].as_str().unwrap().ends_with("/docs/runbook.md#credential_revoked"), "{alert:#}");

    // The demo's standing credential failures arrived too, each once, with the link to the
    // exporter Prometheus scrapes (the demo has no external URL); healthy ones never notify.
    let alerts = alerts_of(&hook.notifications());
    for (integration, provider, reason) in [
        ("hubspot-marketing", "hubspot", "token_expired"),
        ("slack-alerts", "slack", "credential_revoked"),
        ("github-ci", "github", "scope_missing"),
    ] {
        let (path, a) =
            find_alert(&alerts, "IntegrationHealthCheckFailed", integration, "firing").unwrap_or_else(|| {
                panic!(
                    "no alert for {integration}{}",
                    diagnostics(&hook, [&demo, &revocation, &alertmanager, &prometheus])
                )
            });
        assert_eq!(path, "/integration-owners", "{a:#}");
        assert_eq!(a["labels"]["provider"], provider, "{a:#}");
        assert_eq!(a["labels"]["class"], "credential", "{a:#}");
        assert_eq!(a["annotations"]["reason"], reason, "{a:#}");
        let description = a["annotations"]["description"].as_str().unwrap();
        assert!(
            // scope_missing goes on to name the scopes: compare up to the end of the sentence.
            description.starts_with(&format!(
                "Integration Health Check Failed: {integration} ({provider}). {}",
                words(reason).trim_end_matches('.')
            )),
            "{a:#}"
        );
        assert_eq!(a["annotations"]["page_url"], format!("http://{demo_addr}/integrations/{integration}"), "{a:#}");
        let fingerprints: BTreeSet<&str> = alerts
            .iter()
            .filter(|(_, x)| {
                x["labels"]["integration"] == integration && x["labels"]["alertname"] == "IntegrationHealthCheckFailed"
            })
            .map(|(_, x)| x["fingerprint"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(fingerprints.len(), 1, "one alert for {integration}: {fingerprints:?}");
    }
    for (_, a) in &alerts {
        let who = a["labels"]["integration"].as_str().unwrap_or_default();
        assert!(!["hubspot-production", "stripe-billing"].contains(&who), "a healthy integration notified: {a:#}");
    }

    // Every query of every dashboard panel returns data, with every variable at "All" as
    // Grafana writes it; and no selector in them picks up a series of another job.
    let dash: Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    let all = all_values(&client, &prom, &dash).await;
    let other = get_json(&client, &format!("{prom}/api/v1/query?query={}", percent_encode("up{job=\"prometheus\"}")))
        .await
        .unwrap();
    assert_eq!(other["data"]["result"].as_array().map_or(0, Vec::len), 1, "the unrelated job is scraped");
    let mut empty = Vec::new();
    let mut foreign = Vec::new();
    for panel in all_panels(&dash["panels"]) {
        for t in panel.get("targets").and_then(Value::as_array).into_iter().flatten() {
            let expr = substitute(t["expr"].as_str().unwrap(), &all);
            let url = format!("{prom}/api/v1/query?query={}", percent_encode(&expr));
            let result = get_json(&client, &url).await.unwrap_or_else(|e| panic!("panel {}: {e}", panel["title"]));
            if result["data"]["result"].as_array().is_none_or(Vec::is_empty) {
                empty.push(format!("{} / {}: {expr}", panel["title"], t["refId"]));
            }
            for selector in selectors(&expr) {
                let url = format!("{prom}/api/v1/query?query={}", percent_encode(&selector));
                let result = get_json(&client, &url).await.unwrap();
                for series in result["data"]["result"].as_array().into_iter().flatten() {
                    let job = series["metric"]["job"].as_str().unwrap_or_default();
                    if !exporter_jobs.contains(job) {
                        foreign.push(format!("{} / {}: {selector} gives job {job:?}", panel["title"], t["refId"]));
                    }
                }
            }
        }
    }
    assert!(empty.is_empty(), "dashboard queries without data:\n{}", empty.join("\n"));
    assert!(foreign.is_empty(), "dashboard queries reading other jobs with Job = All:\n{}", foreign.join("\n"));

    // The fix: the next probe is healthy, the alert resolves, and Alertmanager sends the
    // resolution at the group's next interval (5 m in the example).
    slack_answers(&slack, false).await;
    let resolved_deadline = fired_at + Duration::from_secs(5 * 60 + 90);
    loop {
        all_running!();
        let notes = hook.notifications();
        let alerts = alerts_of(&notes);
        if let Some((path, resolved)) =
            find_alert(&alerts, "IntegrationHealthCheckFailed", "slack-revocation", "resolved")
        {
            assert_eq!(path, "/integration-owners");
            assert_eq!(resolved["labels"]["class"], "credential", "{resolved:#}");
            break;
        }
        assert!(
            Instant::now() < resolved_deadline,
            "the fix of slack-revocation did not reach the webhook as resolved{}",
            diagnostics(&hook, [&demo, &revocation, &alertmanager, &prometheus])
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        !fs::read_to_string(&revocation.log).unwrap().contains(REVOKED_TOKEN),
        "the token never reaches the exporter's log"
    );
}
