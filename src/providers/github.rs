//! GitHub (REST API, `https://api.github.com`; GitHub Enterprise Server: `https://HOST/api/v3`).
//!
//! Check: `GET /user` (identity `login`). A GitHub App installation token cannot call `/user`
//! (403 "Resource not accessible by integration"); the check then falls back to
//! `GET /rate_limit`, which does not count against the quota.
//!
//! Scopes: the `X-OAuth-Scopes` response header (classic PATs and OAuth-app tokens, `", "`
//! separated). Scope implications follow GitHub's scope table ("Scopes for OAuth apps",
//! <https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps>):
//! `repo` covers `repo:status`, `repo_deployment`, `public_repo`, `repo:invite`,
//! `security_events` and (per the `admin:repo_hook` row) repository hooks; `admin:X` covers
//! `write:X` covers `read:X` for `org`, `repo_hook`, `public_key`, `gpg_key` and
//! `ssh_signing_key`; `user` covers `read:user`, `user:email`, `user:follow`; `project` covers
//! `read:project`; `write:discussion` covers `read:discussion`; `admin:enterprise` covers
//! `manage_runners:enterprise`, `manage_billing:enterprise` and `read:enterprise`.
//!
//! `write:packages`, `read:packages` and `delete:packages` are separate rows, not nested, and the
//! Packages permissions page lists them separately ("delete:packages and read:packages"), so no
//! implication is assumed between them.
//!
//! Expiry: the `GitHub-Authentication-Token-Expiration` header (`YYYY-MM-DD HH:MM:SS UTC`, or a
//! numeric offset such as `-0800`, google/go-github#2649), sent for tokens that expire; a value in
//! neither form leaves the expiry unknown, as go-github does. An empty `X-OAuth-Scopes` is a
//! classic token with no scopes; an absent one (fine-grained, App tokens) leaves scopes unknown.
//!
//! Rate limit: `X-RateLimit-*` (read by the probe context);
//! primary limits answer 403 or 429 with `x-ratelimit-remaining: 0` and an epoch
//! `x-ratelimit-reset`, secondary limits say "secondary rate limit" and may send `Retry-After`
//! (without one, "wait for at least one minute"); messages are matched case-insensitively
//! (<https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>).
//! Shapes: `/user` and `/rate_limit` from github/rest-api-description
//! (<https://docs.github.com/rest/users/users#get-the-authenticated-user>).
//!
//! Cannot be known: fine-grained PATs and GitHub App tokens report no granted permissions
//! (no `X-OAuth-Scopes`; scopes stay unknown), and GitHub answers 401 "Bad credentials" alike
//! for expired, revoked and mistyped tokens.

use super::common::{by_status, fail, json_body, mentions, retry_after_epoch, short, text, unexpected};
use super::http::{parse_rfc3339, split_scopes};
use super::{BaseUrl, Description, Provider, ProviderRules, ScopeModel};
use crate::config::AuthType;
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use std::time::SystemTime;

/// The GitHub preset.
#[derive(Debug)]
pub struct GitHub;

/// `(broader, narrower)` scope pairs from GitHub's scope table.
const COVERS: &[(&str, &str)] = &[
    ("repo", "repo:status"),
    ("repo", "repo_deployment"),
    ("repo", "public_repo"),
    ("repo", "repo:invite"),
    ("repo", "security_events"),
    // "The repo and public_repo scopes grant full access to repositories, including repository hooks."
    ("repo", "admin:repo_hook"),
    ("admin:repo_hook", "write:repo_hook"),
    ("write:repo_hook", "read:repo_hook"),
    ("admin:org", "write:org"),
    ("write:org", "read:org"),
    ("admin:public_key", "write:public_key"),
    ("write:public_key", "read:public_key"),
    ("admin:gpg_key", "write:gpg_key"),
    ("write:gpg_key", "read:gpg_key"),
    ("admin:ssh_signing_key", "write:ssh_signing_key"),
    ("write:ssh_signing_key", "read:ssh_signing_key"),
    ("user", "read:user"),
    ("user", "user:email"),
    ("user", "user:follow"),
    ("project", "read:project"),
    ("write:discussion", "read:discussion"),
    ("admin:enterprise", "manage_runners:enterprise"),
    ("admin:enterprise", "manage_billing:enterprise"),
    ("admin:enterprise", "read:enterprise"),
];

/// GitHub as data.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "github",
        base_url: BaseUrl::Default("https://api.github.com"),
        auth_types: &[AuthType::Bearer, AuthType::Basic],
        // Classic tokens report their scopes; fine-grained ones do not, which is only seen at
        // probe time.
        ..ProviderRules::PRESET
    },
    scopes: ScopeModel::Implies(COVERS),
    ..Description::PRESET
};

#[async_trait]
impl Provider for GitHub {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let resp = cx.send(request(cx.url("/user")).main()).await?;
        read_headers(cx, &resp)?;
        if resp.is_success() {
            let body = json_body(cx, &resp)?;
            let login =
                text(&body, "/login").ok_or_else(|| unexpected(cx, &resp, "GET /user answered without login"))?;
            cx.findings.identity = Some(login.to_string());
            return Ok(());
        }
        if resp.status == 403 && mentions(&message(&resp), "not accessible by integration") {
            // An installation token: it has no user. /rate_limit proves it authenticates.
            let rl = cx.send(request(cx.url("/rate_limit")).main()).await?;
            read_headers(cx, &rl)?;
            if !rl.is_success() {
                return Err(classify(cx, &rl));
            }
            let body = json_body(cx, &rl)?;
            if body.get("resources").is_none() {
                return Err(unexpected(cx, &rl, "GET /rate_limit answered without resources"));
            }
            return Ok(());
        }
        Err(classify(cx, &resp))
    }
}

fn request(url: url::Url) -> ApiRequest {
    ApiRequest::get(url).header("accept", "application/vnd.github+json").header("x-github-api-version", "2022-11-28")
}

fn read_headers(cx: &mut ProbeContext<'_>, resp: &ApiResponse) -> Result<(), Failure> {
    if let Some(scopes) = resp.header("x-oauth-scopes") {
        cx.findings.granted_scopes = Some(split_scopes(scopes, ","));
    }
    if let Some(raw) = resp.header("github-authentication-token-expiration") {
        // Like go-github's parseTokenExpiration: a value in neither documented form leaves the
        // expiry unknown rather than failing a probe whose credential works.
        match parse_github_date(raw) {
            Some(at) => cx.findings.expiry = Some(at),
            None => tracing::debug!(value = %cx.redact(raw), "GitHub-Authentication-Token-Expiration not understood"),
        }
    }
    Ok(())
}

/// `2026-01-02 03:04:05 UTC` (or with a numeric offset such as `-0700`).
pub fn parse_github_date(raw: &str) -> Option<SystemTime> {
    let raw = raw.trim();
    let (stamp, zone) = (raw.get(..19)?, raw.get(19..)?.trim());
    let offset = match zone {
        z if ["UTC", "GMT", "Z", ""].iter().any(|u| z.eq_ignore_ascii_case(u)) => "Z".to_string(),
        z if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => format!("{}:{}", &z[..3], &z[3..]),
        _ => return None,
    };
    parse_rfc3339(&format!("{stamp}{offset}"))
}

/// `x-ratelimit-remaining` is zero (however it is spelt: "0", " 0", "0.0").
fn quota_exhausted(resp: &ApiResponse) -> bool {
    resp.header("x-ratelimit-remaining").and_then(|v| v.trim().parse::<f64>().ok()) == Some(0.0)
}

fn message(resp: &ApiResponse) -> String {
    resp.json_opt().and_then(|j| j.get("message").and_then(|m| m.as_str()).map(String::from)).unwrap_or_default()
}

fn classify(cx: &mut ProbeContext<'_>, resp: &ApiResponse) -> Failure {
    let msg = message(resp);
    let lower = msg.to_ascii_lowercase();
    match resp.status {
        401 => fail(
            Reason::Unauthorized,
            format!(
                "GitHub answered 401 {:?}: the token is invalid, expired or revoked (GitHub does not say which)",
                short(&msg)
            ),
        ),
        403 | 429 if quota_exhausted(resp) => {
            // `Retry-After`, when sent, was already recorded by `cx.send`.
            if cx.findings.retry_after.is_none() {
                retry_after_epoch(cx, resp, "x-ratelimit-reset");
            }
            fail(Reason::RateLimited, "GitHub primary rate limit exhausted (x-ratelimit-remaining: 0)")
        }
        403 | 429
            if lower.contains("secondary rate limit")
                || lower.contains("rate limit exceeded")
                || lower.contains("abuse detection")
                || resp.status == 429 =>
        {
            if cx.findings.retry_after.is_none() {
                // "Otherwise, wait for at least one minute before retrying" (rate-limits page).
                cx.findings.retry_after = Some(std::time::Duration::from_secs(60));
            }
            fail(Reason::RateLimited, format!("GitHub rate limit: {}", short(&msg)))
        }
        403 if resp.header("x-github-sso").is_some() => {
            fail(Reason::Forbidden, "the token must be authorised for the organisation's SAML single sign-on")
        }
        403 if lower.contains("resource not accessible") => {
            let needed = resp.header("x-accepted-github-permissions").unwrap_or("").to_string();
            fail(Reason::ScopeMissing, format!("{} (needs {needed})", short(&msg)))
        }
        403 => fail(Reason::Forbidden, format!("GitHub answered 403: {}", short(&msg))),
        _ => by_status(resp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_expiration_header() {
        let a = parse_github_date("2026-01-02 03:04:05 UTC").unwrap();
        let b = parse_github_date("2026-01-01 20:04:05 -0700").unwrap();
        assert_eq!(a, b);
        // go-github#2649: some tokens carry a numeric offset instead of UTC
        let c = parse_github_date("2026-01-02 05:04:05 +0200").unwrap();
        assert_eq!(a, c);
        assert!(parse_github_date("soon").is_none());
    }
}
