//! Microsoft Graph (`https://graph.microsoft.com/v1.0`).
//!
//! Check: delegated tokens `GET /me?$select=id,displayName,userPrincipalName` (identity
//! `userPrincipalName`); app-only tokens (client-credentials grant, or a JWT with `roles` and no
//! `scp`) `GET /organization?$select=id,displayName`, since `/me` needs a signed-in user. Shapes
//! from msgraph-metadata (`microsoft.graph.user`, error `{"error":{"code","message"}}`),
//! <https://learn.microsoft.com/en-us/graph/api/user-get>, <https://learn.microsoft.com/en-us/graph/errors>.
//!
//! Scopes: best effort from the access token's JWT claims — `scp` (space separated, delegated)
//! and `roles` (array, application) — decoded without verification
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference>);
//! otherwise the token response's `scope`. Microsoft says clients should treat tokens as opaque:
//! an encrypted or non-JWT token leaves scopes unknown. Expiry: JWT `exp`, only for a bearer
//! token (a granted access token is renewed by the exporter).
//!
//! Errors (codes matched case-insensitively): 401 `InvalidAuthenticationToken` "…expired…" →
//! `token_expired`, any other 401 → `unauthorized`; 403 `Authorization_RequestDenied`/
//! `ErrorAccessDenied`/`accessDenied` → `scope_missing`, other 403 (e.g. a Conditional Access
//! claims challenge) → `forbidden`; 429 `TooManyRequests` with `Retry-After` → `rate_limited`
//! (<https://learn.microsoft.com/en-us/graph/throttling>); 503/504 (with or without
//! `Retry-After`, which is honoured) and HTML or empty bodies → by status. Token-endpoint
//! `invalid_grant` with `AADSTS700082`/`AADSTS700084` is `token_expired`, other AADSTS codes
//! `credential_revoked` (mapped by the token code).
//!
//! Decision — a 403 with one of the three denial codes is `scope_missing`, not `forbidden`: the
//! check calls need exactly one permission (`User.Read` for `/me`, `Organization.Read.All` for
//! `/organization`), so "insufficient privileges" on them means that permission is not granted,
//! and the detail names it. Cannot be known: refresh-token lifetime
//! (90 days, sliding, not reported anywhere).

use super::common::basics;
use super::common::{by_status, fail, first_text, json_body, jwt_claims, short, static_secret, string_array, text};
use super::common::{code, epoch, mentions, unexpected};
use super::http::split_scopes;
use super::Provider;
use crate::config::Auth;
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use secrecy::ExposeSecret;

/// The Microsoft Graph preset.
#[derive(Debug)]
pub struct Microsoft;

#[async_trait]
impl Provider for Microsoft {
    // Client credentials need the tenant id in place of "common".
    basics!(
        "microsoft",
        base: Some("https://graph.microsoft.com/v1.0"),
        auth: [Bearer, OAuth2ClientCredentials, OAuth2RefreshToken],
        token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    );

    fn scopes_knowable(&self, _auth: &Auth) -> Result<(), &'static str> {
        Ok(())
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let token = cx.secret().await?;
        let claims = jwt_claims(token.expose_secret());
        let mut app_only = matches!(cx.integration().auth, Auth::OAuth2ClientCredentials { .. });
        if let Some(c) = &claims {
            let mut scopes = text(c, "/scp").map(|s| split_scopes(s, " ")).unwrap_or_default();
            let roles = c.get("roles").and_then(string_array).unwrap_or_default();
            app_only |= c.get("scp").is_none() && !roles.is_empty();
            scopes.extend(roles);
            if c.get("scp").is_some() || c.get("roles").is_some() {
                cx.findings.granted_scopes = Some(scopes);
            }
            if static_secret(&cx.integration().auth) {
                cx.findings.expiry = c.get("exp").and_then(epoch);
            }
        }
        let path = if app_only {
            "/organization?$select=id,displayName"
        } else {
            "/me?$select=id,displayName,userPrincipalName"
        };
        let resp = cx.send(ApiRequest::get(cx.url(path)).main()).await?;
        if !resp.is_success() {
            let needs = if app_only { "Organization.Read.All" } else { "User.Read" };
            return Err(classify(&resp, needs));
        }
        let body = json_body(cx, &resp)?;
        let identity = if app_only {
            body.pointer("/value/0").map(|org| first_text(org, &["/displayName", "/id"]))
        } else {
            body.get("id").map(|_| first_text(&body, &["/userPrincipalName", "/displayName", "/id"]))
        };
        match identity {
            Some(name) => cx.findings.identity = name,
            None => {
                return Err(unexpected(
                    cx,
                    &resp,
                    format!("GET {} answered without an id", path.split('?').next().unwrap_or(path)),
                ))
            }
        }
        Ok(())
    }
}

/// Maps Graph's `{"error":{"code","message"}}` answers; `needs` names the least permission the
/// check call requires, for the detail of a denial.
fn classify(resp: &ApiResponse, needs: &str) -> Failure {
    let json = resp.json_opt().unwrap_or_default();
    let raw_code = text(&json, "/error/code").unwrap_or("");
    let code = code(&json, "/error/code");
    let message = short(text(&json, "/error/message").unwrap_or(""));
    match (resp.status, code.as_str()) {
        (401, "invalidauthenticationtoken") if mentions(&message, "expired") => {
            fail(Reason::TokenExpired, format!("Microsoft Graph: {message}"))
        }
        (401, _) if !code.is_empty() => fail(Reason::Unauthorized, format!("Microsoft Graph {raw_code}: {message}")),
        (403, "authorization_requestdenied" | "erroraccessdenied" | "accessdenied") => {
            fail(Reason::ScopeMissing, format!("Microsoft Graph {raw_code}: {message} (this check needs {needs})"))
        }
        (403, _) if !code.is_empty() => fail(Reason::Forbidden, format!("Microsoft Graph {raw_code}: {message}")),
        (429, _) => fail(Reason::RateLimited, "Microsoft Graph throttled the request (429 TooManyRequests)"),
        _ => by_status(resp),
    }
}
