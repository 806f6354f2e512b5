//! Provider scenarios as data (SPEC §6, issue 3; issue 13): every
//! `tests/fixtures/<provider>/scenarios.json` lists how the preset is configured and, per
//! scenario, the upstream routes (answered with fixtures beside it, each naming its source),
//! the exact requests expected and what the probe result must show. Each scenario is its own
//! test, `<provider>::<scenario>`, run over real HTTP against the simulated API by
//! `common::run`, so one failure names provider and case and the rest still run.
//!
//! A file that cannot be read, has an unknown key, lacks an expectation or holds no scenario
//! is a failing test of its own (`<provider>::scenarios.json`), never a silent pass.

mod common;

use common::{case, Case, Expiry, Preset};
use http::Method;
use integration_exporter::reason::{Reason, Status};
use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    provider: String,
    /// Where the scenarios came from (for people).
    #[allow(dead_code)]
    source: String,
    presets: BTreeMap<String, PresetData>,
    scenarios: Vec<Scenario>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct PresetData {
    auth: String,
    base_suffix: String,
    scopes: String,
    auth_header: (String, String),
    unauthenticated: Vec<String>,
    post_paths: Vec<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Scenario {
    name: String,
    #[serde(default)]
    preset: Option<String>,
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    extra: Vec<String>,
    routes: Vec<(String, String, String)>,
    requests: Vec<String>,
    status: String,
    reason: String,
    #[serde(default)]
    http_status: Option<u16>,
    #[serde(default)]
    scopes_valid: Option<bool>,
    #[serde(default)]
    granted: Option<Vec<(String, bool)>>,
    #[serde(default)]
    rate: Option<(f64, f64)>,
    /// Seconds from now the expiry lies between.
    #[serde(default)]
    expiry_in: Option<(i64, i64)>,
    /// Epoch seconds the expiry lies between (a fixed date in a fixture).
    #[serde(default)]
    expiry_at: Option<(i64, i64)>,
    #[serde(default)]
    retry_at_least: Option<u64>,
    #[serde(default)]
    identity: Option<String>,
    #[serde(default)]
    detail: Vec<String>,
    #[serde(default)]
    request_checks: Vec<RequestCheck>,
}

/// One more assertion on a request made: picked by position or path.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RequestCheck {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    header: Option<(String, String)>,
    #[serde(default)]
    query_starts_with: Option<String>,
}

/// Test data lives as long as the test process: leaking it gives the `'static` strings the
/// shared scenario runner takes.
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn leak_all(v: &[String]) -> &'static [&'static str] {
    Box::leak(v.iter().map(|s| leak(s)).collect::<Vec<_>>().into_boxed_slice())
}

fn preset(provider: &str, p: &PresetData) -> Preset {
    Preset {
        provider: leak(provider),
        auth: leak(&p.auth),
        base_suffix: leak(&p.base_suffix),
        scopes: leak(&p.scopes),
        auth_header: (leak(&p.auth_header.0), leak(&p.auth_header.1)),
        unauthenticated: leak_all(&p.unauthenticated),
        post_paths: leak_all(&p.post_paths),
    }
}

fn parse_status(s: &str) -> Result<Status, String> {
    Status::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| format!("unknown status {s:?}"))
}

fn parse_reason(s: &str) -> Result<Reason, String> {
    Reason::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| format!("unknown reason {s:?}"))
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The scenario as a `Case`, or why it is not a complete one.
fn to_case(s: &Scenario) -> Result<Case, String> {
    if s.routes.is_empty() {
        return Err("no routes: the upstream would answer nothing".into());
    }
    if s.expiry_in.is_some() && s.expiry_at.is_some() {
        return Err("give expiry_in or expiry_at, not both".into());
    }
    let mut c = case(leak(&s.name), parse_status(&s.status)?, parse_reason(&s.reason)?);
    for (m, path, fixture) in &s.routes {
        let m = Method::from_bytes(m.as_bytes()).map_err(|e| format!("route method {m:?}: {e}"))?;
        c = c.route(m, leak(path), leak(fixture));
    }
    c = c.requests(leak_all(&s.requests));
    c.scopes_valid = s.scopes_valid;
    c.granted = s.granted.as_ref().map(|g| g.iter().map(|(n, b)| (leak(n), *b)).collect());
    c.rate = s.rate;
    c.expiry = match (s.expiry_in, s.expiry_at) {
        (Some((a, b)), _) => Expiry::Within(a, b),
        (_, Some((a, b))) => Expiry::Within(a - now_secs(), b - now_secs()),
        _ => Expiry::Unknown,
    };
    c.retry_at_least = s.retry_at_least;
    c.identity = s.identity.as_deref().map(leak);
    c.http_status = s.http_status;
    c.detail = s.detail.iter().map(|d| leak(d)).collect();
    match (&s.auth, &s.header) {
        (Some(a), Some(h)) => c = c.auth(leak(a), leak(h)),
        (None, None) => {}
        _ => return Err("auth and header go together".into()),
    }
    c.extra = s.extra.iter().map(|e| leak(e)).collect();
    Ok(c)
}

fn check_requests(checks: &[RequestCheck], reqs: &[integration_exporter::demo::sim::RecordedRequest]) {
    for rc in checks {
        let q = match (rc.index, &rc.path) {
            (Some(i), None) => reqs.get(i).unwrap_or_else(|| panic!("no request #{i}")),
            (None, Some(p)) => reqs.iter().find(|r| &r.path == p).unwrap_or_else(|| panic!("no request to {p}")),
            _ => panic!("a request check names index or path, one of them"),
        };
        assert!(rc.header.is_some() || rc.query_starts_with.is_some(), "request check asserts nothing");
        if let Some((name, value)) = &rc.header {
            assert_eq!(q.header(name), Some(value.as_str()), "header {name} of {}", q.path);
        }
        if let Some(prefix) = &rc.query_starts_with {
            let query = q.query.as_deref().unwrap_or("");
            assert!(query.starts_with(prefix.as_str()), "query {query:?} of {} lacks {prefix:?}", q.path);
        }
    }
}

/// Runs one scenario on its own runtime; a panic in it fails only this trial.
fn run_one(preset: Preset, scenario: Scenario) -> Result<(), Failed> {
    let c = to_case(&scenario)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let (_, reqs) = rt.block_on(common::run(&preset, c));
    check_requests(&scenario.request_checks, &reqs);
    Ok(())
}

/// The trials of one provider's file, or one failing trial saying why the file is unusable.
fn trials_of(dir: &Path) -> Vec<Trial> {
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let file = dir.join("scenarios.json");
    let broken = |why: String| vec![Trial::test(format!("{name}::scenarios.json"), move || Err(why.into()))];
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => return broken(format!("{}: {e}", file.display())),
    };
    let data: File = match serde_json::from_str(&text) {
        Ok(d) => d,
        Err(e) => return broken(format!("{}: {e}", file.display())),
    };
    if data.provider != name {
        return broken(format!("{}: provider {:?} in the directory of {name}", file.display(), data.provider));
    }
    if data.scenarios.is_empty() {
        return broken(format!("{}: no scenarios", file.display()));
    }
    let mut trials = Vec::new();
    for s in data.scenarios {
        let key = s.preset.clone().unwrap_or_else(|| "default".into());
        let test_name = format!("{name}::{}", s.name);
        let Some(p) = data.presets.get(&key) else {
            let why = format!("{}: scenario {:?} names unknown preset {key:?}", file.display(), s.name);
            trials.push(Trial::test(test_name, move || Err(why.into())));
            continue;
        };
        let p = preset(&name, p);
        trials.push(Trial::test(test_name, move || run_one(p, s)));
    }
    trials
}

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<_> = match std::fs::read_dir(&root) {
        Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect(),
        Err(e) => panic!("{}: {e}", root.display()),
    };
    dirs.sort();
    assert!(!dirs.is_empty(), "no provider fixtures under {}", root.display());
    let mut trials: Vec<Trial> = dirs.iter().flat_map(|d| trials_of(d)).collect();
    // Every preset has its scenarios: a preset whose folder is missing fails instead of
    // losing its scenarios unseen (the generic `http` provider is covered by tests/core_probe.rs).
    for name in integration_exporter::providers::names().into_iter().filter(|n| *n != "http") {
        if !root.join(name).is_dir() {
            trials.push(Trial::test(format!("{name}::has_scenarios"), move || {
                Err(format!("tests/fixtures/{name}/scenarios.json is missing").into())
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
