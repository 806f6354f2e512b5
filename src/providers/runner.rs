//! The shared runner: the sequence most checks are made of, driven by a [`CheckSpec`] (data).
//!
//! [`run`] sends the main request, classifies a non-2xx answer by the spec's [`ErrorTable`]
//! (provider error code first, then status, then the generic status classification), parses
//! the JSON, checks its shape, and records identity, account id, scopes and expiry. A preset
//! whose check is only that is a `static CheckSpec` and one line of check; one that needs more
//! calls the runner for its main request and reads the returned body further.

use super::common::{by_status, epoch, retry_after_epoch};
use super::common::{code, fail, first_text, json_body, short, static_secret, text, unexpected};
use super::http::split_scopes;
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use http::Method;
use serde_json::Value;

/// One row of an error table: a provider error code (lower case; matched case-insensitively)
/// and, optionally, words its message must mention for the row to apply.
#[derive(Debug, Clone, Copy)]
pub struct ErrorRow {
    /// The provider's error code, lower case.
    pub code: &'static str,
    /// Words (lower case) the message must contain, if any.
    pub mentions: Option<&'static str>,
    /// The reason the code means.
    pub reason: Reason,
    /// The detail, when not the table's "LABEL CODE: MESSAGE" (see [`ErrorTable::classify`]).
    pub detail: Option<&'static str>,
    /// Whether the row is looked at only after the status rows (a code that counts only when
    /// the status did not already say what the answer means).
    pub late: bool,
}

/// A row that applies to `code` whatever the message says.
pub const fn row(code: &'static str, reason: Reason) -> ErrorRow {
    ErrorRow { code, mentions: None, reason, detail: None, late: false }
}

/// A row that applies to `code` only when the message mentions `words`.
pub const fn row_if(code: &'static str, words: &'static str, reason: Reason) -> ErrorRow {
    ErrorRow { code, mentions: Some(words), reason, detail: None, late: false }
}

/// A row for `code` when the message mentions `words`, with its own detail.
pub const fn row_if_says(code: &'static str, words: &'static str, reason: Reason, detail: &'static str) -> ErrorRow {
    ErrorRow { code, mentions: Some(words), reason, detail: Some(detail), late: false }
}

/// A row for `code` with its own detail (`{message}`, `{code}`: the provider's).
pub const fn row_says(code: &'static str, reason: Reason, detail: &'static str) -> ErrorRow {
    ErrorRow { code, mentions: None, reason, detail: Some(detail), late: false }
}

/// A row for `code` looked at after the status rows, with its own detail.
pub const fn late_says(code: &'static str, reason: Reason, detail: &'static str) -> ErrorRow {
    ErrorRow { code, mentions: None, reason, detail: Some(detail), late: true }
}

/// What an HTTP status means when no error code matched, and optionally its own detail: a
/// template where `{message}` stands for the provider's message.
#[derive(Debug, Clone, Copy)]
pub struct StatusRow {
    /// The HTTP status.
    pub status: u16,
    /// Words (lower case) the message must contain, if any.
    pub mentions: Option<&'static str>,
    /// A prefix of a name the message must quote (`'rak_balance_read'`), shown as `{quoted}`.
    pub quotes: Option<&'static str>,
    /// The reason it means.
    pub reason: Reason,
    /// The detail, when not the table's "LABEL CODE: MESSAGE".
    pub detail: Option<&'static str>,
}

/// A status row with the table's detail.
pub const fn status(status: u16, reason: Reason) -> StatusRow {
    StatusRow { status, mentions: None, quotes: None, reason, detail: None }
}

/// A status row with its own detail (`{message}`: the provider's message).
pub const fn status_says(status: u16, reason: Reason, detail: &'static str) -> StatusRow {
    StatusRow { status, mentions: None, quotes: None, reason, detail: Some(detail) }
}

/// A status row that applies only when the message mentions `words`, with its own detail.
pub const fn status_if_says(status: u16, words: &'static str, reason: Reason, detail: &'static str) -> StatusRow {
    StatusRow { status, mentions: Some(words), quotes: None, reason, detail: Some(detail) }
}

/// A status row that applies only when the message quotes a name starting with `prefix`
/// (`{quoted}` in the detail).
pub const fn status_quoting(status: u16, prefix: &'static str, reason: Reason, detail: &'static str) -> StatusRow {
    StatusRow { status, mentions: None, quotes: Some(prefix), reason, detail: Some(detail) }
}

/// How a provider's non-2xx answers map to reasons.
#[derive(Debug, Clone, Copy)]
pub struct ErrorTable {
    /// The provider's name in details ("Notion unauthorized: …").
    pub label: &'static str,
    /// JSON pointer of the error code ("" when the provider sends none); alternatives
    /// separated by `|`, first string wins.
    pub code_at: &'static str,
    /// JSON pointer of the error message; alternatives separated by `|`, first string wins.
    pub message_at: &'static str,
    /// Codes to reasons, first match wins.
    pub codes: &'static [ErrorRow],
    /// Statuses to reasons when no code matched; else the generic status classification.
    pub statuses: &'static [StatusRow],
    /// A header holding the epoch second the rate limit resets, read when a rate-limit answer
    /// sent no `Retry-After`.
    pub reset_header: Option<&'static str>,
}

impl ErrorTable {
    /// The failure a non-2xx answer means. Detail: the matching row's own (`{message}` and
    /// `{code}` filled in), else "LABEL CODE: MESSAGE" (the status when the body had no code);
    /// no matching row: the generic status classification.
    pub fn classify(&self, resp: &ApiResponse) -> Failure {
        self.lookup(resp).unwrap_or_else(|| by_status(resp))
    }

    /// The failure of the first matching row (codes, statuses, then late codes); `None` when
    /// none matches.
    pub fn lookup(&self, resp: &ApiResponse) -> Option<Failure> {
        let json = resp.json_opt().unwrap_or_default();
        let code = self
            .code_at
            .split('|')
            .filter(|at| !at.is_empty())
            .map(|at| code(&json, at))
            .find(|c| !c.is_empty())
            .unwrap_or_default();
        let full = self.message_at.split('|').find_map(|at| text(&json, at)).unwrap_or("");
        let message = short(full);
        // Rows look for their words in the whole message, not the part a detail shows.
        let whole = full.to_ascii_lowercase();
        let says = |words: Option<&str>| words.is_none_or(|w| whole.contains(w));
        let by_code = |late: bool| {
            self.codes
                .iter()
                .find(|r| r.late == late && !code.is_empty() && r.code == code && says(r.mentions))
                .map(|r| (r.reason, r.detail, ""))
        };
        let by_status = || {
            self.statuses.iter().find_map(|s| {
                let quoted = match s.quotes {
                    None => "",
                    Some(prefix) => full.split(['\'', '"', '`']).find(|p| p.starts_with(prefix))?,
                };
                (s.status == resp.status && says(s.mentions)).then_some((s.reason, s.detail, quoted))
            })
        };
        let (reason, detail, quoted) = by_code(false).or_else(by_status).or_else(|| by_code(true))?;
        Some(match detail {
            Some(template) => {
                fail(reason, fill(template, &[("{message}", &message), ("{code}", &code), ("{quoted}", quoted)]))
            }
            None => {
                let code = if code.is_empty() { format!("HTTP {}", resp.status) } else { code };
                fail(reason, format!("{} {code}: {message}", self.label))
            }
        })
    }
}

/// `template` with its `{name}` placeholders filled in, in one pass (a provider's text that
/// itself says `{code}` stays as it is).
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (value, len) =
            values.iter().find(|(name, _)| rest.starts_with(name)).map_or(("{", 1), |(n, v)| (*v, n.len()));
        out.push_str(value);
        rest = &rest[len..];
    }
    out.push_str(rest);
    out
}

/// Where a check reads the granted scopes.
#[derive(Debug, Clone, Copy)]
pub enum ScopeSource {
    /// Nowhere: they cannot be known from the check.
    None,
    /// A response header and the separator of its list.
    Header(&'static str, &'static str),
}

/// Where a check reads the configured credential's expiry (used only for a static secret: with
/// an OAuth grant the exporter renews the access token itself).
#[derive(Debug, Clone, Copy)]
pub enum ExpirySource {
    /// Nowhere.
    None,
    /// Epoch seconds at a JSON pointer of the body.
    EpochAt(&'static str),
}

/// The main request of a check and how its answer is read.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    /// Method of the main request.
    pub method: Method,
    /// Path appended to the base URL.
    pub path: &'static str,
    /// Extra request headers.
    pub headers: &'static [(&'static str, &'static str)],
    /// How non-2xx answers are classified.
    pub errors: ErrorTable,
    /// Whether a 2xx body has the documented shape.
    pub shape: fn(&Value) -> bool,
    /// What `unexpected_response` says when it does not.
    pub shape_error: &'static str,
    /// JSON pointers of the identity, first non-empty wins.
    pub identity: &'static [&'static str],
    /// JSON pointers of the provider's account id, first non-empty wins.
    pub account_id: &'static [&'static str],
    /// Where granted scopes are read.
    pub scopes: ScopeSource,
    /// Where the credential's expiry is read.
    pub expiry: ExpirySource,
}

/// Runs the main request of `spec` and reads its answer into `cx.findings`; returns the body
/// for a check that reads more of it.
pub async fn run(cx: &mut ProbeContext<'_>, spec: &CheckSpec) -> Result<Value, Failure> {
    let resp = send(cx, spec, spec.path).await?;
    read(cx, spec, &resp)
}

/// Sends the main request of `spec` to `path` (the spec's own, or one built from config), for
/// a check that looks at the answer before [`read`] does (a fallback call on some status).
pub async fn send(cx: &mut ProbeContext<'_>, spec: &CheckSpec, path: &str) -> Result<ApiResponse, Failure> {
    let mut req = ApiRequest::new(spec.method.clone(), cx.url(path)).main();
    for (name, value) in spec.headers {
        req = req.header(name, value);
    }
    cx.send(req).await
}

/// Reads an answer to the request of `spec`: classifies a non-2xx one, checks the body's shape
/// and records what the spec says to read into `cx.findings`.
pub fn read(cx: &mut ProbeContext<'_>, spec: &CheckSpec, resp: &ApiResponse) -> Result<Value, Failure> {
    if !resp.is_success() {
        let failure = spec.errors.classify(resp);
        if let (Reason::RateLimited, None, Some(h)) =
            (failure.reason, cx.findings.retry_after, spec.errors.reset_header)
        {
            retry_after_epoch(cx, resp, h);
        }
        return Err(failure);
    }
    let body = json_body(cx, resp)?;
    if !(spec.shape)(&body) {
        return Err(unexpected(cx, resp, spec.shape_error));
    }
    if !spec.identity.is_empty() {
        cx.findings.identity = first_text(&body, spec.identity);
    }
    if !spec.account_id.is_empty() {
        cx.findings.account_id = first_text(&body, spec.account_id);
    }
    if let ScopeSource::Header(name, sep) = spec.scopes {
        if let Some(list) = resp.header(name) {
            cx.findings.granted_scopes = Some(split_scopes(list, sep));
        }
    }
    if let ExpirySource::EpochAt(pointer) = spec.expiry {
        if static_secret(&cx.integration().auth) {
            cx.findings.expiry = body.pointer(pointer).and_then(epoch);
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    static TABLE: ErrorTable = ErrorTable {
        label: "Acme",
        code_at: "/0/code|/code",
        message_at: "/0/message|/message",
        codes: &[
            row_says("expired", Reason::TokenExpired, "expired ({code}): {message}"),
            row_if_says("denied", "needs scope", Reason::ScopeMissing, "scope: {message}"),
            late_says("busy", Reason::RateLimited, "busy, retry"),
        ],
        statuses: &[
            status_quoting(403, "perm_", Reason::ScopeMissing, "lacks {quoted}"),
            status_says(403, Reason::Forbidden, "denied: {message}"),
            status_says(429, Reason::RateLimited, "slow down"),
        ],
        reset_header: None,
    };

    fn answer(status: u16, body: &str) -> ApiResponse {
        ApiResponse {
            status,
            headers: Default::default(),
            body: bytes::Bytes::from(body.to_string()),
            truncated: false,
            latency: std::time::Duration::ZERO,
        }
    }

    fn says(status: u16, body: &str) -> (Reason, String) {
        let f = TABLE.classify(&answer(status, body));
        (f.reason, f.detail)
    }

    #[test]
    fn codes_then_statuses_then_late_codes() {
        let expired = says(403, r#"{"code":"EXPIRED","message":"old"}"#);
        assert_eq!(expired, (Reason::TokenExpired, "expired (expired): old".to_string()));
        // A late code does not override the status row...
        assert_eq!(says(429, r#"{"code":"busy"}"#), (Reason::RateLimited, "slow down".to_string()));
        assert_eq!(says(403, r#"{"code":"busy","message":"no"}"#).1, "denied: no");
        // ...but counts where no status row applies.
        assert_eq!(says(400, r#"{"code":"busy"}"#), (Reason::RateLimited, "busy, retry".to_string()));
        // Nothing matches: the generic status classification.
        let other = answer(400, r#"{"code":"other"}"#);
        assert_eq!(TABLE.classify(&other).reason, by_status(&other).reason);
        assert!(TABLE.lookup(&answer(400, r#"{"code":"other"}"#)).is_none());
    }

    #[test]
    fn quoted_names_and_words_decide_a_row() {
        let quoted = says(403, r#"{"message":"Having the 'perm_read' permission would allow this"}"#);
        assert_eq!(quoted, (Reason::ScopeMissing, "lacks perm_read".to_string()));
        assert_eq!(says(403, r#"{"message":"Nope"}"#).0, Reason::Forbidden);
        // Words are looked for in the whole message, not the part a detail shows.
        let long = format!(r#"{{"code":"denied","message":"{} Needs Scope x"}}"#, "a".repeat(5000));
        assert_eq!(says(403, &long).0, Reason::ScopeMissing);
        assert_eq!(says(403, r#"{"code":"denied","message":"no"}"#).0, Reason::Forbidden);
    }

    #[test]
    fn pointers_take_alternatives_and_placeholders_fill_once() {
        let array = says(401, r#"[{"code":"expired","message":"from the array"}]"#);
        assert_eq!(array.1, "expired (expired): from the array");
        // A provider's text that says `{code}` is shown as it is.
        assert_eq!(says(401, r#"{"code":"expired","message":"{code} {x"}"#).1, "expired (expired): {code} {x");
        assert_eq!(fill("{a} {b} {", &[("{a}", "1"), ("{b}", "{a}")]), "1 {a} {");
    }
}
