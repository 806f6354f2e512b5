//! Google APIs (token checks at `https://www.googleapis.com`).
//!
//! Check: `POST /oauth2/v2/tokeninfo?access_token=TOKEN` (no auth header), as the official
//! discovery document `oauth2.v2.json` (googleapis/google-api-python-client) describes it — it
//! wins over the undocumented `oauth2.googleapis.com/tokeninfo` GET. Answer fields: `scope`
//! (space separated), `expires_in` (seconds left), `email`, `issued_to`, `audience`, `user_id`;
//! none is required, so an answer with none of `scope`, `expires_in`, `audience` and
//! `issued_to` is not the documented shape.
//!
//! Errors: tokeninfo answers 400 `invalid_token` alike for expired and revoked tokens →
//! `unauthorized`. The JSON error envelope of Google APIs
//! (<https://cloud.google.com/apis/design/errors>) is mapped too: `RESOURCE_EXHAUSTED` and the
//! legacy 403 reasons `rateLimitExceeded`/`userRateLimitExceeded`/`dailyLimitExceeded` →
//! `rate_limited` (also `quotaExceeded` and ErrorInfo `RATE_LIMIT_EXCEEDED`);
//! `ACCESS_TOKEN_SCOPE_INSUFFICIENT`/`insufficientPermissions`, or `PERMISSION_DENIED` saying
//! "insufficient authentication scopes" (and the RFC 6750 `insufficient_scope` challenge) →
//! `scope_missing`; other 403 `PERMISSION_DENIED` → `forbidden`; `UNAUTHENTICATED`/legacy
//! `authError` → `unauthorized` (`ACCESS_TOKEN_EXPIRED` → `token_expired`); all matched
//! case-insensitively, and a non-JSON body is classified by status. Refresh failures
//! (`invalid_grant`, "Token has been expired or revoked.") are mapped by the token code.
//!
//! Tokeninfo declares no required field: a missing `scope` leaves the grants unknown; `exp`
//! (epoch) is preferred to `expires_in`, and both are read as numbers or numeric strings
//! (oauth2.googleapis.com sends strings).
//!
//! Scope implications: a broader scope covers a narrower one of the same API only where the
//! API's method references list the broader one wherever the narrower is accepted ("requires
//! one of the following OAuth scopes": Drive `files.get`, Calendar `events.list`, Sheets
//! `spreadsheets.get`, Docs `documents.get`, Gmail `users.messages.list` incl.
//! `https://mail.google.com/`, People `people.connections.list`); nothing is inferred from names.
//! `https://mail.google.com/` covers every `gmail.*` scope except `gmail.settings.basic` and
//! `gmail.settings.sharing`: the Gmail discovery document's settings writes (send-as,
//! S/MIME, forwarding, delegates) accept only those, so an integration that needs send-as
//! management is `scope_missing` with the full-mailbox scope alone (before: over-credited).
//! Expiry: a bearer access token's `expires_in`; with a refresh-token grant the refresh token's
//! lifetime cannot be known (Google revokes them on its own schedule). No quota headers exist.

use super::common::{
    by_status, code, epoch, fail, implied, in_seconds, json_body, mentions, short, static_secret, text, unexpected,
};
use super::http::split_scopes;
use super::{BaseUrl, Description, Provider, ProviderRules, ScopeModel};
use crate::config::AuthType;
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde_json::Value;

/// The Google preset.
#[derive(Debug)]
pub struct Google;

const G: &str = "https://www.googleapis.com/auth/";

/// `(broader, narrower)` suffixes of `https://www.googleapis.com/auth/`.
const COVERS: &[(&str, &str)] = &[
    ("drive", "drive.readonly"),
    ("drive", "drive.file"),
    ("drive", "drive.metadata"),
    ("drive.metadata", "drive.metadata.readonly"),
    ("drive.readonly", "drive.metadata.readonly"),
    ("calendar", "calendar.readonly"),
    ("calendar", "calendar.events"),
    ("calendar.events", "calendar.events.readonly"),
    ("spreadsheets", "spreadsheets.readonly"),
    ("documents", "documents.readonly"),
    ("gmail.modify", "gmail.readonly"),
    ("contacts", "contacts.readonly"),
];

/// Whether the full-mailbox scope `https://mail.google.com/` covers `wanted`. Google's Gmail
/// discovery document (`gmail.v1.json`, googleapis/google-api-python-client
/// `googleapiclient/discovery_cache/documents/gmail.v1.json`, revision 20240603) lists per method
/// the scopes that authorise it: `https://mail.google.com/` is accepted wherever any other
/// mailbox scope is, except by the settings writes that accept only `gmail.settings.basic` or
/// `gmail.settings.sharing` (e.g. `users.settings.sendAs.update`/`verify`,
/// `users.settings.sendAs.smimeInfo.insert`, <https://developers.google.com/gmail/api/reference/rest/v1/users.settings.sendAs/create>),
/// so those two are not covered.
fn mail_google_com_covers(wanted: &str) -> bool {
    wanted
        .strip_prefix(G)
        .is_some_and(|w| w.starts_with("gmail.") && !matches!(w, "gmail.settings.basic" | "gmail.settings.sharing"))
}

/// Google as data.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "google",
        base_url: BaseUrl::Default("https://www.googleapis.com"),
        auth_types: &[AuthType::Bearer, AuthType::OAuth2RefreshToken],
        token_url: Some("https://oauth2.googleapis.com/token"),
        ..ProviderRules::PRESET
    },
    scopes: ScopeModel::Rule(scope_satisfied),
    ..Description::PRESET
};

/// Scopes are URLs: implications follow [`COVERS`] on their short names, plus the full-mailbox
/// scope.
fn scope_satisfied(granted: &[String], wanted: &str) -> bool {
    if granted.iter().any(|g| g == wanted) {
        return true;
    }
    let short_of = |s: &str| s.strip_prefix(G).map(String::from);
    let granted_short: Vec<String> = granted.iter().filter_map(|g| short_of(g)).collect();
    if granted.iter().any(|g| g == "https://mail.google.com/") && mail_google_com_covers(wanted) {
        return true;
    }
    short_of(wanted).is_some_and(|w| implied(&granted_short, &w, COVERS))
}

#[async_trait]
impl Provider for Google {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let token = cx.secret().await?;
        let mut url = cx.url("/oauth2/v2/tokeninfo");
        url.query_pairs_mut().append_pair("access_token", token.expose_secret());
        let resp = cx.send(ApiRequest::post(url).no_auth().main().log_as("/oauth2/v2/tokeninfo")).await?;
        if !resp.is_success() {
            return Err(classify(&resp));
        }
        let body = json_body(cx, &resp)?;
        if ["scope", "expires_in", "audience", "issued_to"].iter().all(|k| body.get(k).is_none()) {
            return Err(unexpected(cx, &resp, "tokeninfo answered none of scope, expires_in, audience, issued_to"));
        }
        // No field is required: without `scope` the grants are unknown, not empty.
        cx.findings.granted_scopes = text(&body, "/scope").map(|s| split_scopes(s, " "));
        cx.findings.identity = text(&body, "/email").map(String::from);
        if static_secret(&cx.integration().auth) {
            // `exp` (epoch seconds, a string at oauth2.googleapis.com) or `expires_in` (seconds
            // left; an integer in the discovery document, a string at oauth2.googleapis.com).
            cx.findings.expiry =
                body.get("exp").and_then(epoch).or_else(|| body.get("expires_in").and_then(in_seconds));
        }
        Ok(())
    }
}

/// Maps Google's error answers (tokeninfo's OAuth-style body and the API error envelope).
/// Reasons and statuses are matched case-insensitively.
pub fn classify(resp: &ApiResponse) -> Failure {
    let json = resp.json_opt().unwrap_or(Value::Null);
    let oauth_error = json.get("error").and_then(Value::as_str).map(str::to_ascii_lowercase);
    if oauth_error.as_deref() == Some("invalid_token") || (resp.status == 400 && oauth_error.is_some()) {
        return fail(
            Reason::Unauthorized,
            "Google does not accept the token: it expired or was revoked (tokeninfo cannot tell which)",
        );
    }
    let status = code(&json, "/error/status");
    let message = short(text(&json, "/error/message").unwrap_or(""));
    let mut reasons: Vec<String> = Vec::new();
    for list in ["/error/errors", "/error/details"] {
        for item in json.pointer(list).and_then(Value::as_array).into_iter().flatten() {
            reasons.push(code(item, "/reason"));
        }
    }
    let has = |r: &str| reasons.iter().any(|x| x == r);
    if status == "resource_exhausted"
        || ["ratelimitexceeded", "userratelimitexceeded", "dailylimitexceeded", "quotaexceeded", "rate_limit_exceeded"]
            .iter()
            .any(|r| has(r))
        || resp.status == 429
    {
        return fail(Reason::RateLimited, format!("Google rate limit: {message}"));
    }
    if has("access_token_scope_insufficient")
        || has("insufficientpermissions")
        || (status == "permission_denied" && mentions(&message, "insufficient authentication scopes"))
    {
        return fail(Reason::ScopeMissing, format!("Google: {message}"));
    }
    if has("access_token_expired") {
        return fail(Reason::TokenExpired, format!("Google: {message}"));
    }
    if status == "unauthenticated" || has("autherror") {
        return fail(Reason::Unauthorized, format!("Google: {message}"));
    }
    by_status(resp)
}
