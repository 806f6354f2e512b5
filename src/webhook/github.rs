//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body keyed with the secret
//! chosen when the webhook was created. No timestamp; deliveries are told apart by
//! `X-GitHub-Delivery`.

use super::{header, json_str, Action, Delivery, Event, Refusal, Signed};

/// Reads the signature header (the SHA-1 `X-Hub-Signature` is legacy and ignored).
pub fn signed(d: &Delivery<'_>) -> Result<Signed, Refusal> {
    let sig = header(d.headers, "x-hub-signature-256").ok_or(Refusal::BadSignature)?;
    let hex = sig.strip_prefix("sha256=").ok_or(Refusal::BadSignature)?;
    let decoded = super::sig::decode_hex(hex).ok_or(Refusal::BadSignature)?;
    Ok(Signed::body_only(decoded, header(d.headers, "x-github-delivery").unwrap_or(sig)))
}

/// Reads the event named by `X-GitHub-Event` and its `action`; the account is the installation
/// (`installation.id`, its account's login and id) or, for a revoked user authorization, the
/// user (`sender.login`, `sender.id`).
pub fn parse(d: &Delivery<'_>, v: &serde_json::Value) -> Event {
    let mut accounts: Vec<String> = Vec::new();
    for p in ["/installation/id", "/installation/account/login", "/installation/account/id"] {
        accounts.extend(scalar(v, p));
    }
    let action = json_str(v, "/action").unwrap_or_default();
    let (event_type, action) = match (header(d.headers, "x-github-event").unwrap_or_default(), action) {
        ("installation", "deleted") => (
            "installation.deleted",
            Action::Probe { announced: Some("GitHub announced that the app installation was deleted") },
        ),
        ("installation", "suspend") => (
            "installation.suspend",
            Action::Probe { announced: Some("GitHub announced that the app installation was suspended") },
        ),
        ("installation", "unsuspend") => ("installation.unsuspend", Action::Probe { announced: None }),
        ("installation", "new_permissions_accepted") => {
            ("installation.new_permissions_accepted", Action::Probe { announced: None })
        }
        ("installation_repositories", "removed") => {
            ("installation_repositories.removed", Action::Probe { announced: None })
        }
        ("github_app_authorization", "revoked") => {
            accounts.extend(scalar(v, "/sender/login"));
            accounts.extend(scalar(v, "/sender/id"));
            (
                "github_app_authorization.revoked",
                Action::Probe { announced: Some("GitHub announced that the user revoked the app's authorization") },
            )
        }
        ("ping", _) => ("ping", Action::Ignore),
        _ => ("other", Action::Ignore),
    };
    Event { event_type, accounts, action }
}

/// A string or number at `pointer`, as text.
fn scalar(v: &serde_json::Value, pointer: &str) -> Option<String> {
    match v.pointer(pointer)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
