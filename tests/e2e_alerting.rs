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
    // Routing on category and reason resolves to the intended receivers.
    for (labels, receiver) in [
        (
            "alertname=IntegrationHealthCheckFailed category=integration-health reason=token_expired integration=a",
            "integration-owners",
        ),
        (
            "alertname=IntegrationHealthCheckFailed category=integration-health reason=scope_missing integration=a",
            "integration-owners",
        ),
        (
            "alertname=IntegrationHealthCheckFailed category=integration-health reason=provider_unavailable integration=a",
            "integration-health",
        ),
        (
            "alertname=IntegrationHealthDegraded category=integration-health reason=slow integration=a",
            "integration-health",
        ),
        ("alertname=SyncRunFailed category=sync", "default"),
    ] {
        let mut args = vec![
            "config",
            "routes",
            "test",
            "--config.file",
            AM_EXAMPLE,
            "--verify.receivers",
            receiver,
        ];
        args.extend(labels.split(' '));
        run_ok("amtool", &args);
    }

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
        if anchor == "{{ $labels.reason }}" {
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

/// Substitutes the dashboard's template variables for an instant query.
fn substitute(expr: &str) -> String {
    let mut e = expr
        .replace("$__rate_interval", "1m")
        .replace("${__rate_interval}", "1m")
        .replace("$__range", "5m")
        .replace("${__range}", "5m")
        .replace("$__interval", "15s")
        .replace("${__interval}", "15s");
    for v in ["job", "provider", "integration"] {
        e = e.replace(&format!("${{{v}}}"), ".*").replace(&format!("${v}"), ".*");
    }
    assert!(!e.contains('$'), "unsubstituted variable in {e}");
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: needs prometheus and alertmanager; run by .ci/run"]
async fn demo_credential_failure_reaches_the_webhook_and_dashboard_queries_return_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();

    // The exporter in demo mode. Its slack-notifications integration is
    // healthy for 60 s, then error/token_expired for 60 s, on a 120 s cycle
    // that starts with the process.
    let exporter_port = free_port();
    let exporter_addr = format!("127.0.0.1:{exporter_port}");
    let started = Instant::now();
    let mut exporter = Proc::spawn(
        "exporter",
        dir,
        env!("CARGO_BIN_EXE_integration_exporter"),
        &["demo".into(), "--web.listen-address".into(), exporter_addr.clone()],
    );
    wait_ready(&client, &mut exporter, &format!("http://{exporter_addr}/-/ready"), Duration::from_secs(30)).await;

    // Alertmanager with the example routing; every receiver posts to our
    // webhook under its own name, and groups flush within a second.
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
    fn fast_groups(route: &mut Value) {
        for (k, v) in [("group_wait", "1s"), ("group_interval", "1s"), ("repeat_interval", "1h")] {
            if route.get(k).is_some() {
                route[k] = json!(v);
            }
        }
        if let Some(children) = route.get_mut("routes").and_then(Value::as_array_mut) {
            children.iter_mut().for_each(fast_groups);
        }
    }
    fast_groups(&mut am_config["route"]);
    am_config["route"]["group_wait"] = json!("1s");
    am_config["route"]["group_interval"] = json!("1s");
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

    // The shipped rules, with every `for:` shortened to 2s so the live run
    // fits in a few minutes. The real durations (5m, 30m, 15m) are covered
    // by the promtool unit tests in alerts/tests.
    let mut rules = yaml(RULES);
    let mut alert_count = 0;
    for group in rules["groups"].as_array_mut().unwrap() {
        for rule in group["rules"].as_array_mut().unwrap() {
            if rule.get("alert").is_some() {
                alert_count += 1;
            }
            if rule.get("for").is_some() {
                rule["for"] = json!("2s");
            }
        }
    }
    fs::write(dir.join("rules.yml"), rules.to_string()).unwrap();

    // The example Prometheus config, pointed at loopback: /metrics and the
    // /probe multi-target job (its relabelling kept as shipped), 1s scrapes
    // and evaluations.
    let mut prom_config = yaml(PROM_EXAMPLE);
    prom_config["global"] = json!({"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"});
    prom_config["rule_files"] = json!(["rules.yml"]);
    prom_config["alerting"]["alertmanagers"][0]["static_configs"] = json!([{"targets": [am_addr]}]);
    let mut probe_targets = Vec::new();
    for job in prom_config["scrape_configs"].as_array_mut().unwrap() {
        if job["metrics_path"] == "/probe" {
            job["scrape_interval"] = json!("2s");
            job["scrape_timeout"] = json!("2s");
            for t in job["static_configs"][0]["targets"].as_array().unwrap() {
                probe_targets.push(t.as_str().unwrap().to_string());
            }
            let relabel = job["relabel_configs"].as_array_mut().unwrap();
            let to_exporter = relabel
                .iter_mut()
                .find(|r| r["target_label"] == "__address__")
                .expect("the /probe job rewrites __address__");
            to_exporter["replacement"] = json!(exporter_addr);
        } else {
            job.as_object_mut().unwrap().remove("scrape_interval");
            job.as_object_mut().unwrap().remove("scrape_timeout");
            job["static_configs"] = json!([{"targets": [exporter_addr]}]);
        }
    }
    assert!(!probe_targets.is_empty(), "the example has a /probe job with targets");
    fs::write(dir.join("prometheus.yml"), prom_config.to_string()).unwrap();
    let prom_addr = format!("127.0.0.1:{}", free_port());
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

    let diagnostics = |hook: &Webhook, procs: [&Proc; 3]| -> String {
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

    // The shipped rules are loaded, and every target — including the /probe
    // targets, which exist only through the example's relabelling — is up.
    let loaded = get_json(&client, &format!("{prom}/api/v1/rules?type=alert")).await.unwrap();
    let loaded_count: usize =
        loaded["data"]["groups"].as_array().unwrap().iter().map(|g| g["rules"].as_array().unwrap().len()).sum();
    assert_eq!(loaded_count, alert_count, "alert rules loaded by Prometheus");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let targets = get_json(&client, &format!("{prom}/api/v1/targets?state=active")).await.unwrap();
        let active = targets["data"]["activeTargets"].as_array().unwrap().clone();
        let up = active.iter().filter(|t| t["health"] == "up").count();
        if active.len() == 1 + probe_targets.len() && up == active.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "scrape targets not all up: {active:#?}{}",
            diagnostics(&hook, [&exporter, &alertmanager, &prometheus])
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // slack-notifications goes to token_expired about 60 s after the start
    // (plus up to one 15 s probe interval): wait for it at the webhook.
    let firing_deadline = started + Duration::from_secs(170);
    let fired_at = loop {
        exporter.assert_running();
        alertmanager.assert_running();
        prometheus.assert_running();
        let alerts = alerts_of(&hook.notifications());
        if find_alert(&alerts, "IntegrationHealthCheckFailed", "slack-notifications", "firing").is_some() {
            break Instant::now();
        }
        assert!(
            Instant::now() < firing_deadline,
            "IntegrationHealthCheckFailed for slack-notifications did not reach the webhook within {:?} of the exporter's start{}",
            firing_deadline - started,
            diagnostics(&hook, [&exporter, &alertmanager, &prometheus])
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let notes = hook.notifications();
    let note = notes
        .iter()
        .find(|n| {
            alerts_of(std::slice::from_ref(n)).iter().any(|(_, a)| {
                a["labels"]["alertname"] == "IntegrationHealthCheckFailed"
                    && a["labels"]["integration"] == "slack-notifications"
            })
        })
        .unwrap();
    let alerts = alerts_of(&notes);
    let (_, firing) = find_alert(&alerts, "IntegrationHealthCheckFailed", "slack-notifications", "firing").unwrap();
    let labels = &firing["labels"];
    assert_eq!(labels["provider"], "slack", "{firing:#}");
    assert_eq!(labels["reason"], "token_expired", "{firing:#}");
    assert_eq!(labels["category"], "integration-health", "{firing:#}");
    assert_eq!(labels["severity"], "critical", "{firing:#}");
    assert_eq!(labels["env"], "demo", "static labels reach the alert: {firing:#}");
    assert_eq!(
        firing["annotations"]["description"],
        "Integration Health Check Failed: slack-notifications (slack). Token expired.",
        "{firing:#}"
    );
    assert!(
        firing["annotations"]["runbook_url"].as_str().unwrap().ends_with("/docs/runbook.md#token_expired"),
        "{firing:#}"
    );
    // Routed on reason to the credential owners, grouped by integration.
    assert_eq!(note.path, "/integration-owners", "{}", note.body);
    assert_eq!(note.body["receiver"], "integration-owners", "{}", note.body);
    assert_eq!(note.body["groupLabels"], json!({"integration": "slack-notifications"}), "{}", note.body);

    // The demo heals slack-notifications 60 s after it broke; the next probe
    // (error_interval 5s) sees it, and the resolution reaches the webhook.
    let resolved_deadline = fired_at + Duration::from_secs(80);
    loop {
        exporter.assert_running();
        alertmanager.assert_running();
        prometheus.assert_running();
        let notes = hook.notifications();
        let alerts = alerts_of(&notes);
        if let Some((path, resolved)) =
            find_alert(&alerts, "IntegrationHealthCheckFailed", "slack-notifications", "resolved")
        {
            assert_eq!(path, "/integration-owners");
            assert_eq!(resolved["labels"]["reason"], "token_expired", "{resolved:#}");
            assert_eq!(resolved["labels"]["category"], "integration-health", "{resolved:#}");
            let group_note =
                notes.iter().rev().find(|n| n.body["groupLabels"]["integration"] == "slack-notifications").unwrap();
            assert_eq!(group_note.body["status"], "resolved", "{}", group_note.body);
            break;
        }
        assert!(
            Instant::now() < resolved_deadline,
            "the recovery of slack-notifications did not reach the webhook as resolved{}",
            diagnostics(&hook, [&exporter, &alertmanager, &prometheus])
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The demo's other states, which hold for the whole run, arrived too:
    // failures routed to the owners with the reason in words, warnings to
    // integration-health; healthy integrations never notify, and
    // expiring_soon is not reported as degradation.
    let notes = hook.notifications();
    let alerts = alerts_of(&notes);
    for (alertname, integration, provider, reason, receiver) in [
        ("IntegrationHealthCheckFailed", "hubspot-marketing", "hubspot", "token_expired", "integration-owners"),
        ("IntegrationHealthCheckFailed", "slack-alerts", "slack", "credential_revoked", "integration-owners"),
        ("IntegrationHealthCheckFailed", "github-ci", "github", "scope_missing", "integration-owners"),
        ("IntegrationHealthDegraded", "salesforce-sales", "salesforce", "slow", "integration-health"),
        ("IntegrationHealthDegraded", "stripe-reporting", "stripe", "rate_limited", "integration-health"),
    ] {
        let (path, a) = find_alert(&alerts, alertname, integration, "firing").unwrap_or_else(|| {
            panic!("no {alertname} for {integration}{}", diagnostics(&hook, [&exporter, &alertmanager, &prometheus]))
        });
        assert_eq!(path, &format!("/{receiver}"), "{a:#}");
        assert_eq!(a["labels"]["provider"], provider, "{a:#}");
        assert_eq!(a["labels"]["reason"], reason, "{a:#}");
        let title = if alertname == "IntegrationHealthCheckFailed" {
            "Integration Health Check Failed"
        } else {
            "Integration Health Degraded"
        };
        assert_eq!(
            a["annotations"]["description"],
            format!("{title}: {integration} ({provider}). {}", words(reason)),
            "{a:#}"
        );
    }
    let (path, expiring) = find_alert(&alerts, "IntegrationCredentialExpiringSoon", "github-deploy-bot", "firing")
        .unwrap_or_else(|| panic!("no IntegrationCredentialExpiringSoon for github-deploy-bot"));
    assert_eq!(path, "/integration-health");
    assert_eq!(expiring["labels"]["severity"], "warning", "about 3 days left: {expiring:#}");
    for (_, a) in &alerts {
        let who = a["labels"]["integration"].as_str().unwrap_or_default();
        assert!(!["hubspot-production", "stripe-billing"].contains(&who), "a healthy integration notified: {a:#}");
        assert!(
            !(who == "github-deploy-bot" && a["labels"]["alertname"] == "IntegrationHealthDegraded"),
            "expiring_soon must not raise IntegrationHealthDegraded: {a:#}"
        );
    }

    // Every query of every dashboard panel returns data from this Prometheus,
    // and every template variable has values.
    let dash: Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    let mut empty = Vec::new();
    for panel in all_panels(&dash["panels"]) {
        for t in panel.get("targets").and_then(Value::as_array).into_iter().flatten() {
            let expr = substitute(t["expr"].as_str().unwrap());
            let url = format!("{prom}/api/v1/query?query={}", percent_encode(&expr));
            let result = get_json(&client, &url).await.unwrap_or_else(|e| panic!("panel {}: {e}", panel["title"]));
            let series = result["data"]["result"].as_array().map_or(0, Vec::len);
            if series == 0 {
                empty.push(format!("{} / {}: {expr}", panel["title"], t["refId"]));
            }
        }
    }
    for var in dash["templating"]["list"].as_array().unwrap() {
        let Some(query) = var["definition"].as_str() else { continue };
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable {}: unexpected query {query}", var["name"]));
        let (selector, label) = inner.rsplit_once(',').unwrap();
        let url = format!(
            "{prom}/api/v1/label/{}/values?match[]={}",
            label.trim(),
            percent_encode(&substitute(selector.trim()))
        );
        let values = get_json(&client, &url).await.unwrap();
        if values["data"].as_array().is_none_or(Vec::is_empty) {
            empty.push(format!("variable {}: {query}", var["name"]));
        }
    }
    assert!(empty.is_empty(), "dashboard queries without data against the demo:\n{}", empty.join("\n"));
}
