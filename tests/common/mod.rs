//! Shared test code. [`exporter`] is the one harness that starts the exporter (in process or as
//! a child process on port 0) and talks to it; this file holds the table-driven provider
//! scenarios over real HTTP against the simulated API.
//!
//! A [`Preset`] says how one provider is configured and what its requests must look like; a
//! [`Case`] gives the routes (each answered with a fixture from `tests/fixtures/<provider>/`)
//! and everything the probe result must show. [`run`] starts a fresh `SimServer` per case,
//! probes once and asserts status, reason, scopes, expiry, rate limit, back-off, identity and
//! the exact requests made (method, path, credential shape, never a write method).

#![allow(dead_code)]

pub mod exporter;

use http::Method;
use integration_exporter::config::{Config, ConfigError};
use integration_exporter::demo::sim::{Fixture, RecordedRequest, Route, SimServer};
use integration_exporter::probe::{Engine, ProbeResult};
use integration_exporter::reason::{Reason, Status};
use std::time::{Duration, SystemTime};

/// How a provider is configured in the scenarios, and how its requests must look.
pub struct Preset {
    /// `provider:` value; also the fixture directory.
    pub provider: &'static str,
    /// The `auth:` mapping in YAML flow style; `{SIM}` is replaced by the mock's URL.
    pub auth: &'static str,
    /// Appended to the mock's URL to form `base_url`.
    pub base_suffix: &'static str,
    /// The `scopes:` mapping in YAML flow style, or empty.
    pub scopes: &'static str,
    /// The header every authenticated request must carry, name and exact value.
    pub auth_header: (&'static str, &'static str),
    /// Paths (prefixes) that must be sent without the credential header.
    pub unauthenticated: &'static [&'static str],
    /// Paths (prefixes) where POST is the provider's documented read.
    pub post_paths: &'static [&'static str],
}

/// What the credential's expiry must be.
#[derive(Debug, Clone, Copy)]
pub enum Expiry {
    /// Not known.
    Unknown,
    /// Between these many seconds from now (negative: in the past).
    Within(i64, i64),
}

/// One scenario.
pub struct Case {
    /// Name shown on failure.
    pub name: &'static str,
    /// Method, path pattern and fixture name of each route.
    pub routes: Vec<(Method, &'static str, &'static str)>,
    /// Expected status.
    pub status: Status,
    /// Expected reason.
    pub reason: Reason,
    /// Expected requests, in order: `"GET /user"`.
    pub requests: Vec<&'static str>,
    /// Expected `scopes_valid`.
    pub scopes_valid: Option<bool>,
    /// Expected per-scope grants, when given.
    pub granted: Option<Vec<(&'static str, bool)>>,
    /// Expected rate limit (remaining, limit).
    pub rate: Option<(f64, f64)>,
    /// Expected credential expiry.
    pub expiry: Expiry,
    /// Whether the next probe must wait (Retry-After or a reset header), and at least how long.
    pub retry_at_least: Option<u64>,
    /// Expected identity, when given.
    pub identity: Option<&'static str>,
    /// Expected HTTP status of the main request, when given.
    pub http_status: Option<u16>,
    /// Words the detail must contain.
    pub detail: Vec<&'static str>,
    /// Overrides the preset's auth for this case.
    pub auth: Option<&'static str>,
    /// The credential header value expected with that auth.
    pub header: Option<&'static str>,
    /// Extra integration keys (YAML lines at the integration's indentation, e.g. `site: x`).
    pub extra: Vec<&'static str>,
}

/// A case expecting `status`/`reason`.
pub fn case(name: &'static str, status: Status, reason: Reason) -> Case {
    Case {
        name,
        routes: Vec::new(),
        status,
        reason,
        requests: Vec::new(),
        scopes_valid: None,
        granted: None,
        rate: None,
        expiry: Expiry::Unknown,
        retry_at_least: None,
        identity: None,
        http_status: None,
        detail: Vec::new(),
        auth: None,
        header: None,
        extra: Vec::new(),
    }
}

impl Case {
    /// Answers `GET pattern` with a fixture and expects that request once.
    pub fn get(self, pattern: &'static str, fixture: &'static str) -> Case {
        self.route(Method::GET, pattern, fixture)
    }

    /// Answers `POST pattern` with a fixture.
    pub fn post(self, pattern: &'static str, fixture: &'static str) -> Case {
        self.route(Method::POST, pattern, fixture)
    }

    /// Adds a route.
    pub fn route(mut self, method: Method, pattern: &'static str, fixture: &'static str) -> Case {
        self.routes.push((method, pattern, fixture));
        self
    }

    /// The exact requests expected.
    pub fn requests(mut self, r: &[&'static str]) -> Case {
        self.requests = r.to_vec();
        self
    }

    /// Expected `scopes_valid`.
    pub fn scopes_valid(mut self, v: bool) -> Case {
        self.scopes_valid = Some(v);
        self
    }

    /// Expected per-scope grants.
    pub fn granted(mut self, g: &[(&'static str, bool)]) -> Case {
        self.granted = Some(g.to_vec());
        self
    }

    /// Expected rate limit.
    pub fn rate(mut self, remaining: f64, limit: f64) -> Case {
        self.rate = Some((remaining, limit));
        self
    }

    /// Expected expiry window in seconds from now.
    pub fn expiry(mut self, from: i64, to: i64) -> Case {
        self.expiry = Expiry::Within(from, to);
        self
    }

    /// The next probe must wait at least this many seconds.
    pub fn retry(mut self, secs: u64) -> Case {
        self.retry_at_least = Some(secs);
        self
    }

    /// Expected identity.
    pub fn identity(mut self, who: &'static str) -> Case {
        self.identity = Some(who);
        self
    }

    /// Expected main HTTP status.
    pub fn http(mut self, status: u16) -> Case {
        self.http_status = Some(status);
        self
    }

    /// Words the detail must contain.
    pub fn detail(mut self, words: &[&'static str]) -> Case {
        self.detail = words.to_vec();
        self
    }

    /// An extra integration key for this case (`resource: customers`); `{SIM}` is the mock's URL.
    pub fn key(mut self, line: &'static str) -> Case {
        self.extra.push(line);
        self
    }

    /// Another auth for this case, and the credential header value it sends.
    pub fn auth(mut self, auth: &'static str, header: &'static str) -> Case {
        self.auth = Some(auth);
        self.header = Some(header);
        self
    }
}

/// Loads `tests/fixtures/<provider>/<name>.json`; every fixture must name its source.
pub fn fixture(provider: &str, name: &str) -> Fixture {
    let path = format!("{}/tests/fixtures/{provider}/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let f = Fixture::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let source = f.source.clone().unwrap_or_default();
    assert!(source.starts_with("https://"), "{path}: fixture needs a source URL");
    f
}

/// The config text for one integration of `preset` against `url`.
pub fn config_yaml(preset: &Preset, auth: &str, url: &str) -> String {
    let mut yaml = format!(
        "global: {{retries: 0, timeout: 5s}}\nintegrations:\n  - name: t\n    provider: {}\n    base_url: {url}{}\n    auth: {}\n",
        preset.provider,
        preset.base_suffix,
        auth.replace("{SIM}", url)
    );
    if !preset.scopes.is_empty() {
        yaml.push_str(&format!("    scopes: {}\n", preset.scopes));
    }
    yaml
}

/// Runs one case and asserts everything it expects. Returns the result and requests for
/// extra assertions.
pub async fn run(preset: &Preset, c: Case) -> (ProbeResult, Vec<RecordedRequest>) {
    let routes: Vec<Route> =
        c.routes.iter().map(|(m, p, f)| Route::fixed(m.clone(), p, fixture(preset.provider, f))).collect();
    let sim = SimServer::start(routes).await.expect("sim starts");
    let auth = c.auth.unwrap_or(preset.auth);
    let mut yaml = config_yaml(preset, auth, &sim.url());
    for line in &c.extra {
        yaml.push_str(&format!("    {}\n", line.replace("{SIM}", &sim.url())));
    }
    let cfg = Config::parse(&yaml, "test.yml").unwrap_or_else(|e| panic!("{}: config refused: {e}\n{yaml}", c.name));
    let r = Engine::new(1000.0).probe(&cfg.integrations[0], None).await;
    let reqs = sim.requests();
    let who = format!("{} / {}: {r:?}", preset.provider, c.name);

    assert_eq!((r.status, r.reason), (c.status, c.reason), "{who}");
    assert_eq!(r.scopes_valid, c.scopes_valid, "scopes_valid of {who}");
    if let Some(g) = &c.granted {
        let got: Vec<(&str, bool)> = r.scopes.iter().map(|s| (s.scope.as_str(), s.granted)).collect();
        assert_eq!(&got, g, "scope grants of {who}");
    }
    let rate = r.rate_limit.map(|rl| (rl.remaining, rl.limit));
    assert_eq!(rate, c.rate, "rate limit of {who}");
    match c.expiry {
        Expiry::Unknown => assert_eq!(r.credential_expiry, None, "expiry of {who}"),
        Expiry::Within(from, to) => {
            let at = r.credential_expiry.unwrap_or_else(|| panic!("no expiry in {who}"));
            let now = SystemTime::now();
            let secs = match at.duration_since(now) {
                Ok(d) => d.as_secs() as i64,
                Err(e) => -(e.duration().as_secs() as i64),
            };
            assert!((from..=to).contains(&secs), "expiry {secs}s from now, wanted {from}..={to}: {who}");
        }
    }
    match c.retry_at_least {
        None => assert_eq!(r.not_before, None, "back-off of {who}"),
        Some(min) => {
            let wait = r
                .not_before
                .and_then(|t| t.duration_since(SystemTime::now()).ok())
                .unwrap_or_else(|| panic!("no back-off in {who}"));
            assert!(wait + Duration::from_secs(2) >= Duration::from_secs(min), "back-off {wait:?} < {min}s: {who}");
        }
    }
    if let Some(id) = c.identity {
        assert_eq!(r.identity.as_deref(), Some(id), "identity of {who}");
    }
    if let Some(s) = c.http_status {
        assert_eq!(r.http_status, s, "main status of {who}");
    }
    for w in &c.detail {
        assert!(r.detail.contains(w), "detail {:?} lacks {w:?}: {who}", r.detail);
    }
    let header = c.header.unwrap_or(preset.auth_header.1);
    let secret = header.rsplit(' ').next().unwrap_or("");
    if secret.len() >= 4 {
        assert!(!r.detail.contains(secret), "secret in detail of {who}");
    }

    let made: Vec<String> = reqs.iter().map(|q| format!("{} {}", q.method, q.path)).collect();
    let base_path = url::Url::parse(&format!("{}{}", sim.url(), preset.base_suffix)).expect("url").path().to_string();
    let want: Vec<String> =
        c.requests.iter().map(|r| r.replacen(' ', &format!(" {}", base_path.trim_end_matches('/')), 1)).collect();
    assert_eq!(made, want, "requests of {who}");
    for q in &reqs {
        assert_requests_read_only(preset, header, q, &base_path, &who);
    }
    (r, reqs)
}

fn assert_requests_read_only(preset: &Preset, value: &str, q: &RecordedRequest, base_path: &str, who: &str) {
    let rel = q.path.strip_prefix(base_path.trim_end_matches('/')).unwrap_or(&q.path);
    let is_token_endpoint = rel.starts_with("/token");
    match q.method {
        Method::GET => {}
        Method::POST => assert!(
            is_token_endpoint || preset.post_paths.iter().any(|p| rel.starts_with(p)),
            "{} {} is not a documented read: {who}",
            q.method,
            q.path
        ),
        ref m => panic!("write method {m} sent to {}: {who}", q.path),
    }
    if is_token_endpoint {
        return;
    }
    let name = preset.auth_header.0;
    if preset.unauthenticated.iter().any(|p| rel.starts_with(p)) {
        assert!(q.header("authorization").is_none(), "{} carries a credential header: {who}", q.path);
        assert!(q.header(name).is_none(), "{} carries {name}: {who}", q.path);
    } else {
        assert_eq!(q.header(name), Some(value), "credential header on {}: {who}", q.path);
    }
}

/// The messages of a config that must be refused, one per line.
pub fn config_errors(yaml: &str) -> String {
    match Config::parse(yaml, "t.yml") {
        Result::Ok(_) => panic!("config should be refused:\n{yaml}"),
        Err(ConfigError::Invalid(d)) => d.iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("\n"),
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}
