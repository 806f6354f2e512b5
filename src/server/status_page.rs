//! The status page at `/`: server-rendered HTML, no JavaScript.
//!
//! Everything shown comes from one consistent snapshot of the store. Integration names,
//! labels and provider texts (details, identities) are untrusted and are rendered through
//! maud, which escapes every interpolated value. The response also carries a Content
//! Security Policy that allows no scripts at all, as a second line of defence.

use super::handlers::respond;
use super::ServerState;
use crate::probe::{human_duration, ProbeResult};
use crate::reason::{Reason, Status};
use crate::store::{HistoryEntry, IntegrationState};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Auto-refresh periods accepted from `?refresh=SECONDS`.
const REFRESH_RANGE: std::ops::RangeInclusive<u64> = 5..=3600;

/// Renders the status page. `query` may hold `refresh=SECONDS` (adds a meta refresh) and
/// `probed=NAME` / `cached=true` (a note after a "probe now" form post).
pub fn render(state: &ServerState, query: &HashMap<String, String>) -> Response<Full<Bytes>> {
    let now = SystemTime::now();
    let mut states = state.app.store.snapshot();
    states.sort_by(|a, b| rank(a.status()).cmp(&rank(b.status())).then_with(|| a.config.name.cmp(&b.config.name)));
    let refresh = query.get("refresh").and_then(|r| r.parse::<u64>().ok()).filter(|r| REFRESH_RANGE.contains(r));
    let probed = query.get("probed").and_then(|n| states.iter().find(|s| &s.config.name == n)).cloned();
    let cached = query.get("cached").map(String::as_str) == Some("true");
    let page = Page { state, states: &states, now, refresh };
    let body = page.render(probed.as_deref(), cached).into_string();
    let mut resp = respond(StatusCode::OK, "text/html; charset=utf-8", body);
    let headers = resp.headers_mut();
    for (name, value) in [
        ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        headers.insert(name, http::HeaderValue::from_static(value));
    }
    resp
}

/// Display order: errors first, then warnings, not-yet-probed, healthy.
fn rank(s: Status) -> u8 {
    match s {
        Status::Error => 0,
        Status::Warning => 1,
        Status::Unknown => 2,
        Status::Healthy => 3,
    }
}

struct Page<'a> {
    state: &'a ServerState,
    states: &'a [Arc<IntegrationState>],
    now: SystemTime,
    refresh: Option<u64>,
}

impl Page<'_> {
    fn render(&self, probed: Option<&IntegrationState>, cached: bool) -> Markup {
        let count = |s: Status| self.states.iter().filter(|i| i.status() == s).count();
        let (healthy, warning, error, unknown) =
            (count(Status::Healthy), count(Status::Warning), count(Status::Error), count(Status::Unknown));
        let title = match (error, warning) {
            (0, 0) => "Integration health".to_string(),
            (0, w) => format!("{w} warning · Integration health"),
            (e, 0) => format!("{e} error · Integration health"),
            (e, w) => format!("{e} error, {w} warning · Integration health"),
        };
        let options = &self.state.options;
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="color-scheme" content="light dark";
                    @if let Some(r) = self.refresh {
                        meta http-equiv="refresh" content=(r);
                    }
                    title { (title) }
                    style { (PreEscaped(CSS)) }
                }
                body {
                    header.top {
                        div {
                            h1 { "Integration health" }
                            p.sub {
                                "integration_exporter " (crate::VERSION) " · "
                                (self.states.len()) " integrations · rendered "
                                time datetime=(rfc3339(self.now)) { (rfc3339(self.now)) }
                            }
                        }
                        nav {
                            a href=(options.telemetry_path) { "Metrics" }
                            @if options.config_endpoint {
                                a href="/config" { "Config" }
                            }
                            a href="/api/v1/integrations" { "JSON API" }
                            @match self.refresh {
                                Some(_) => a href="/" { "Stop auto-refresh" },
                                None => a href="/?refresh=15" { "Auto-refresh (15s)" },
                            }
                        }
                    }
                    section.summary aria-label="Summary" {
                        (summary_card(Status::Error, error))
                        (summary_card(Status::Warning, warning))
                        (summary_card(Status::Healthy, healthy))
                        (summary_card(Status::Unknown, unknown))
                    }
                    @if let Some(p) = probed {
                        (probe_note(p, cached, self.now))
                    }
                    @if self.states.is_empty() {
                        p.empty { "No integrations are configured." }
                    } @else {
                        div.tablewrap {
                            table.integrations {
                                thead {
                                    tr {
                                        th { "Status" }
                                        th { "Integration" }
                                        th { "Provider" }
                                        th { "Reason" }
                                        th { "Last probe" }
                                        th.num { "Latency" }
                                        th { "Expires" }
                                        th { "Scopes" }
                                        th { span.visually-hidden { "Actions" } }
                                    }
                                }
                                @for s in self.states {
                                    (self.row(s))
                                }
                            }
                        }
                    }
                    footer {
                        "Reasons and fixes: see the runbook. Times are relative to when this page was rendered; "
                        "reload to update"
                        @if self.refresh.is_none() { " (or turn on auto-refresh)" }
                        ". Works without JavaScript."
                    }
                }
            }
        }
    }

    fn row(&self, s: &IntegrationState) -> Markup {
        let name = s.config.name.as_str();
        let status = s.status();
        let last = s.last.as_deref();
        let settings = &s.config.settings;
        html! {
            tbody.integration id=(format!("i-{name}")) data-status=(status.as_str()) {
                tr.main {
                    td.status {
                        (pill(status))
                        div.muted.small title=(rfc3339(s.status_changed_at)) {
                            "since " (ago(s.status_changed_at, self.now))
                        }
                    }
                    td.name {
                        div.iname { (name) }
                        @if !s.config.labels.is_empty() {
                            div.labels {
                                @for (k, v) in &s.config.labels {
                                    span.label { (k) "=" (v) }
                                }
                            }
                        }
                    }
                    td.provider { (s.config.provider.name()) }
                    td.reason {
                        @match last {
                            Some(r) => (reason_cell(r)),
                            None => div.rtitle { "Not probed yet" },
                        }
                    }
                    td.when {
                        @match last {
                            Some(r) => {
                                span title=(rfc3339(r.finished_at)) { (ago(r.finished_at, self.now)) }
                                @if let Some(wait) = r.not_before.and_then(|t| t.duration_since(self.now).ok()) {
                                    div.warn-text.small title="the provider asked to wait (Retry-After); no probe is sent before then" {
                                        "next probe in " (human_duration(wait))
                                    }
                                }
                                div.muted.small {
                                    "every " (compact(if status == Status::Error { settings.error_interval } else { settings.interval }))
                                }
                            },
                            None => span.muted { "—" },
                        }
                    }
                    td.num {
                        @match last.and_then(|r| r.api_latency) {
                            Some(l) => {
                                span class=(if l > settings.slow_threshold { "warn-text" } else { "" }) { (millis(l)) }
                            },
                            None => span.muted { "—" },
                        }
                        @if let Some(rl) = last.and_then(|r| r.rate_limit).filter(|rl| rl.limit > 0.0) {
                            div.muted.small title="rate-limit quota left, from the provider's headers" {
                                "quota " (format!("{:.0}/{:.0}", rl.remaining, rl.limit))
                            }
                        }
                    }
                    td.expiry { (expiry_cell(last, settings.expiry_warning, self.now)) }
                    td.scopes { (scopes_cell(last)) }
                    td.actions {
                        form method="post" action=(format!("/api/v1/integrations/{name}/probe")) {
                            button type="submit" title=(format!("Probe {name} now")) { "Probe now" }
                        }
                        a.small href=(format!("/probe?target={name}&debug=true")) title="step log, metrics and redacted config" { "debug" }
                    }
                }
                tr.history {
                    td colspan="9" { (history(s, self.now)) }
                }
            }
        }
    }
}

fn summary_card(status: Status, n: usize) -> Markup {
    html! {
        div class=(format!("card {}", status.as_str())) {
            div.count { (n) }
            div.what { (status_word(status)) }
        }
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Healthy => "Healthy",
        Status::Warning => "Warning",
        Status::Error => "Error",
        Status::Unknown => "Unknown",
    }
}

fn pill(s: Status) -> Markup {
    html! {
        span class=(format!("pill {}", s.as_str())) { span.dot {} (status_word(s)) }
    }
}

/// The reason in words, with the probe's specifics. When the detail starts with the reason's
/// words, only the rest is added: "Missing scope" + "Missing scope repo" reads "Missing scope
/// **repo**", and "Token expired" + "token expired (HubSpot's message)" shows the message on a
/// second line.
fn reason_cell(r: &ProbeResult) -> Markup {
    let words = r.reason.describe();
    let detail = r.detail.trim();
    let rest = detail.get(..words.len()).filter(|p| p.eq_ignore_ascii_case(words)).map(|_| &detail[words.len()..]);
    let (inline, second) = match rest {
        _ if r.reason == Reason::Ok => ("", ""),
        Some(rest) => match rest.trim().strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
            Some(inner) => ("", inner.trim()),
            None if rest.starts_with(' ') => (rest, ""),
            None => ("", detail),
        },
        None => ("", detail),
    };
    html! {
        div.rtitle { (words) @if !inline.is_empty() { strong { (inline) } } }
        @if !second.is_empty() {
            div.detail { (second) }
        }
        div.code { code { (r.reason.as_str()) } @if let Some(id) = &r.identity { " · " (id) } }
    }
}

fn expiry_cell(last: Option<&ProbeResult>, warning: Duration, now: SystemTime) -> Markup {
    let Some(expiry) = last.and_then(|r| r.credential_expiry) else {
        return html! { span.muted title="the provider does not report when this credential expires" { "—" } };
    };
    html! {
        @match expiry.duration_since(now) {
            Ok(left) => {
                span class=(if left <= warning { "warn-text" } else { "" }) title=(rfc3339(expiry)) {
                    "in " (human_duration(left))
                }
            },
            Err(e) => {
                span.err-text title=(rfc3339(expiry)) { "expired " (human_duration(e.duration())) " ago" }
            },
        }
    }
}

fn scopes_cell(last: Option<&ProbeResult>) -> Markup {
    let Some(r) = last else { return html! { span.muted { "—" } } };
    if r.scopes_valid.is_none() && r.scopes.is_empty() {
        return html! { span.muted title="not configured, or the provider cannot report scopes" { "—" } };
    }
    let missing: Vec<_> = r.scopes.iter().filter(|c| !c.granted).collect();
    html! {
        @if missing.is_empty() {
            span.ok-text title=(granted_list(r)) { "all granted" }
            div.muted.small { (r.scopes.len()) (if r.scopes.len() == 1 { " scope" } else { " scopes" }) }
        } @else {
            div.muted.small { "missing:" }
            @for c in missing {
                span class=(if c.required { "scope missing-req" } else { "scope missing-opt" })
                    title=(if c.required { "required scope not granted" } else { "optional scope not granted" }) {
                    (c.scope)
                }
                " "
            }
        }
    }
}

fn granted_list(r: &ProbeResult) -> String {
    r.scopes.iter().map(|c| c.scope.as_str()).collect::<Vec<_>>().join(", ")
}

fn history(s: &IntegrationState, now: SystemTime) -> Markup {
    // The oldest entry kept is not counted: its "change" may be the first result ever.
    let entries: Vec<HistoryEntry> = s.history.iter().collect();
    let changes = entries.iter().take(entries.len().saturating_sub(1)).filter(|h| h.status_changed).count();
    html! {
        details {
            summary {
                "History · " (s.history.len()) (if s.history.len() == 1 { " probe" } else { " probes" })
                @if changes > 0 { ", " (changes) (if changes == 1 { " status change" } else { " status changes" }) }
                @if let Some(ok) = s.last_success { " · last success " (ago(ok, now)) }
            }
            @if s.history.is_empty() {
                p.muted { "No probe yet." }
            } @else {
                ol.hist {
                    @for (i, h) in entries.iter().enumerate() {
                        (history_entry(h, entries.get(i + 1), now))
                    }
                }
            }
        }
    }
}

fn history_entry(h: &HistoryEntry, before: Option<&HistoryEntry>, now: SystemTime) -> Markup {
    html! {
        li class=(if h.status_changed { "changed" } else { "" }) {
            span.t title=(rfc3339(h.finished_at)) { (ago(h.finished_at, now)) }
            (pill(h.status))
            span.hreason { (h.reason.describe()) }
            @if h.reason != Reason::Ok { span.detail { (h.detail) } }
            span.muted.small {
                @if let Some(l) = h.latency { (millis(l)) }
                @if h.http_status != 0 { " · HTTP " (h.http_status) }
            }
            @if h.status_changed {
                span.change {
                    @match before {
                        Some(b) => { "status changed from " (b.status.as_str()) },
                        None => "first result",
                    }
                }
            }
        }
    }
}

fn probe_note(s: &IntegrationState, cached: bool, now: SystemTime) -> Markup {
    html! {
        p.note role="status" {
            @match s.last.as_deref() {
                Some(r) if cached => {
                    "Probe of " strong { (s.config.name) } " answered from the cache: the last probe ended "
                    (ago(r.finished_at, now)) ", less than min_probe_interval ("
                    (compact(s.config.settings.min_probe_interval)) ") ago (or the provider asked to wait). Result: "
                    (r.reason.describe()) "."
                },
                Some(r) => {
                    "Probed " strong { (s.config.name) } " just now: " (status_word(r.status)) ", " (r.reason.describe()) "."
                },
                None => { "Probe of " strong { (s.config.name) } " requested." },
            }
        }
    }
}

fn ago(t: SystemTime, now: SystemTime) -> String {
    let age = crate::store::age(t, now);
    if age < Duration::from_secs(1) {
        "just now".to_string()
    } else {
        format!("{} ago", human_duration(age))
    }
}

/// A configured period for people: "5m" rather than "5m 0s".
fn compact(d: Duration) -> String {
    let text = human_duration(d);
    match text.split_once(' ') {
        Some((head, tail)) if tail.starts_with('0') => head.to_string(),
        _ => text,
    }
}

fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn rfc3339(t: SystemTime) -> String {
    crate::logging::rfc3339(t)
}

const CSS: &str = r#"
:root {
  color-scheme: light dark;
  --bg: #f5f6f8; --card: #ffffff; --text: #1c2230; --muted: #667085; --border: #e3e6eb; --head: #f9fafb;
  --link: #2556c7; --accent: #2556c7;
  --ok: #12b76a; --ok-bg: #ecfdf3; --ok-fg: #067647;
  --warn: #f79009; --warn-bg: #fffaeb; --warn-fg: #b54708;
  --err: #f04438; --err-bg: #fef3f2; --err-fg: #b42318;
  --unk: #98a2b3; --unk-bg: #f2f4f7; --unk-fg: #475467;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1116; --card: #161a22; --text: #e4e7ec; --muted: #98a2b3; --border: #2a303c; --head: #1b2029;
    --link: #8ab4ff; --accent: #5b8def;
    --ok-bg: #0b2a1c; --ok-fg: #6ce9a6;
    --warn-bg: #2e2108; --warn-fg: #fec84b;
    --err-bg: #3a1411; --err-fg: #fda29b;
    --unk-bg: #232833; --unk-fg: #d0d5dd;
  }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 40px; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { display: flex; justify-content: space-between; align-items: flex-end; gap: 16px; flex-wrap: wrap; margin-bottom: 20px; }
h1 { font-size: 22px; margin: 0 0 4px; letter-spacing: -0.01em; }
.sub { margin: 0; color: var(--muted); font-size: 13px; }
nav { display: flex; gap: 6px; flex-wrap: wrap; }
nav a { padding: 6px 12px; border: 1px solid var(--border); border-radius: 8px; background: var(--card); font-weight: 500; }
.summary { display: grid; grid-template-columns: repeat(4, minmax(120px, 1fr)); gap: 12px; margin-bottom: 20px; }
.card { background: var(--card); border: 1px solid var(--border); border-radius: 12px; padding: 14px 18px; border-top: 4px solid var(--unk); }
.card .count { font-size: 30px; font-weight: 700; line-height: 1.1; }
.card .what { color: var(--muted); font-weight: 500; text-transform: uppercase; font-size: 12px; letter-spacing: 0.06em; }
.card.healthy { border-top-color: var(--ok); } .card.healthy .count { color: var(--ok-fg); }
.card.warning { border-top-color: var(--warn); } .card.warning .count { color: var(--warn-fg); }
.card.error { border-top-color: var(--err); } .card.error .count { color: var(--err-fg); }
.card.unknown .count { color: var(--unk-fg); }
.note { background: var(--card); border: 1px solid var(--border); border-left: 4px solid var(--accent); border-radius: 8px; padding: 10px 14px; }
.tablewrap { background: var(--card); border: 1px solid var(--border); border-radius: 12px; overflow-x: auto; }
table.integrations { width: 100%; border-collapse: collapse; }
th { text-align: left; font-size: 12px; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted);
  background: var(--head); padding: 10px 12px; border-bottom: 1px solid var(--border); font-weight: 600; white-space: nowrap; }
td { padding: 12px 12px 6px; vertical-align: top; }
tbody.integration { border-bottom: 1px solid var(--border); }
tbody.integration:last-child { border-bottom: 0; }
tbody.integration:target { outline: 2px solid var(--accent); outline-offset: -2px; }
tbody.integration tr.main td:first-child { border-left: 4px solid var(--unk); }
tbody.integration tr.history td { border-left: 4px solid var(--unk); padding: 0 12px 10px; }
tbody[data-status="healthy"] td:first-child { border-left-color: var(--ok) !important; }
tbody[data-status="warning"] td:first-child { border-left-color: var(--warn) !important; }
tbody[data-status="error"] td:first-child { border-left-color: var(--err) !important; }
.num { text-align: right; white-space: nowrap; }
.pill { display: inline-flex; align-items: center; gap: 6px; padding: 2px 10px 2px 8px; border-radius: 999px;
  font-weight: 600; font-size: 12.5px; white-space: nowrap; }
.pill .dot { width: 8px; height: 8px; border-radius: 50%; background: currentColor; }
.pill.healthy { background: var(--ok-bg); color: var(--ok-fg); }
.pill.warning { background: var(--warn-bg); color: var(--warn-fg); }
.pill.error { background: var(--err-bg); color: var(--err-fg); }
.pill.unknown { background: var(--unk-bg); color: var(--unk-fg); }
.iname { font-weight: 600; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13.5px; white-space: nowrap; }
.labels { margin-top: 4px; }
.label { display: inline-block; font-size: 11.5px; color: var(--muted); border: 1px solid var(--border); border-radius: 6px; padding: 0 6px; margin: 0 4px 2px 0; }
.rtitle { font-weight: 600; }
.rtitle strong { font-weight: 700; }
.detail { color: var(--text); opacity: 0.85; max-width: 46ch; overflow-wrap: anywhere; }
.code { color: var(--muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.warn-text { color: var(--warn-fg); font-weight: 600; }
.err-text { color: var(--err-fg); font-weight: 600; }
.ok-text { color: var(--ok-fg); white-space: nowrap; }
.scope { display: inline-block; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;
  border-radius: 6px; padding: 0 6px; margin: 2px 0; }
.scope.missing-req { background: var(--err-bg); color: var(--err-fg); }
.scope.missing-opt { background: var(--warn-bg); color: var(--warn-fg); }
td.expiry, td.when { white-space: nowrap; }
td.reason { min-width: 260px; }
.actions { white-space: nowrap; text-align: right; }
.actions form { margin: 0 0 4px; }
button { font: inherit; font-size: 12.5px; font-weight: 600; padding: 4px 10px; border-radius: 7px; cursor: pointer;
  border: 1px solid var(--border); background: var(--head); color: var(--text); }
button:hover { border-color: var(--accent); }
details summary { cursor: pointer; color: var(--muted); font-size: 12.5px; padding: 2px 0; }
ol.hist { list-style: none; margin: 6px 0 4px; padding: 0; border-left: 2px solid var(--border); }
ol.hist li { padding: 3px 0 3px 12px; display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; font-size: 13px; }
ol.hist li.changed { border-left: 3px solid var(--accent); margin-left: -2px; }
ol.hist .t { color: var(--muted); min-width: 72px; }
ol.hist .pill { font-size: 11.5px; padding: 0 8px 0 6px; }
.hreason { font-weight: 600; }
.change { font-size: 11.5px; color: var(--accent); font-weight: 600; text-transform: uppercase; letter-spacing: 0.04em; }
.empty { color: var(--muted); }
footer { margin-top: 18px; color: var(--muted); font-size: 12px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
"#;
