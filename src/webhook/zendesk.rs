//! Zendesk: `X-Zendesk-Webhook-Signature: <base64>`, HMAC-SHA256 of `{timestamp}{body}` keyed
//! with the webhook's own signing secret, `X-Zendesk-Webhook-Signature-Timestamp` an ISO 8601
//! time.
//!
//! Zendesk has no revocation event; any event the operator routes to this webhook triggers a
//! probe of the integration whose secret signed it (and whose `account` matches the event's
//! `account_id`, when both are given).

use super::{header, Action, Delivery, Event, Refusal, Signed};

/// Reads the signature headers. A timestamp in no format we read counts as stale.
pub fn signed(d: &Delivery<'_>) -> Result<Signed, Refusal> {
    let sig = header(d.headers, "x-zendesk-webhook-signature").ok_or(Refusal::BadSignature)?;
    let ts = header(d.headers, "x-zendesk-webhook-signature-timestamp").ok_or(Refusal::BadSignature)?;
    let decoded = super::sig::decode_base64(sig).ok_or(Refusal::BadSignature)?;
    let when = humantime::parse_rfc3339_weak(ts.trim()).unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    Ok(Signed {
        prefix: ts.as_bytes().to_vec(),
        suffix: Vec::new(),
        signatures: vec![decoded],
        timestamp: Some(when),
        replay_key: sig.to_string(),
    })
}

/// Reads an event-subscription payload (`{type, account_id, …}`); trigger payloads are shaped
/// by the operator and may carry neither.
pub fn parse(_d: &Delivery<'_>, v: &serde_json::Value) -> Event {
    let accounts = v.get("account_id").map(|a| a.to_string().trim_matches('"').to_string()).into_iter().collect();
    Event { event_type: "event", accounts, action: Action::Probe { announced: None } }
}
