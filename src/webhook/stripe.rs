//! Stripe: `Stripe-Signature: t=<unix s>,v1=<hex>[,v1=…]`, HMAC-SHA256 of `{t}.{body}` keyed with
//! the endpoint's `whsec_…` secret; every `v1` is tried (several are sent after a secret roll),
//! `v0` and unknown keys are ignored, as Stripe's SDKs do.

use super::{header, json_str, Action, Delivery, Event, Refusal, Signed};

/// Reads the signature header.
pub fn signed(d: &Delivery<'_>) -> Result<Signed, Refusal> {
    let h = header(d.headers, "stripe-signature").ok_or(Refusal::BadSignature)?;
    let mut t = None;
    let mut sigs = Vec::new();
    for item in h.split(',') {
        match item.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v1", v)) => sigs.extend(super::sig::decode_hex(v)),
            _ => {}
        }
    }
    let t = t.ok_or(Refusal::BadSignature)?;
    if sigs.is_empty() {
        return Err(Refusal::BadSignature);
    }
    Ok(Signed {
        prefix: format!("{t}.").into_bytes(),
        suffix: Vec::new(),
        signatures: sigs,
        timestamp: Some(super::from_unix_seconds(t)),
        replay_key: h.to_string(),
    })
}

/// Reads the event: `{id, type, account, data}`.
pub fn parse(_d: &Delivery<'_>, v: &serde_json::Value) -> Event {
    let kind = json_str(v, "/type").unwrap_or_default();
    let accounts = json_str(v, "/account").into_iter().map(str::to_string).collect();
    let (event_type, action) = match kind {
        "account.application.deauthorized" => (
            "account.application.deauthorized",
            Action::Probe { announced: Some("Stripe announced that the account deauthorized this application") },
        ),
        "account.application.authorized" => ("account.application.authorized", Action::Probe { announced: None }),
        "account.updated" => ("account.updated", Action::Probe { announced: None }),
        _ => ("other", Action::Ignore),
    };
    Event { event_type, accounts, action }
}
