//! HubSpot v3: `X-HubSpot-Signature-v3: <base64>`, HMAC-SHA256 of
//! `{METHOD}{URI}{body}{timestamp}` keyed with the app's client secret, where URI is the full
//! URL HubSpot called and `X-HubSpot-Request-Timestamp` is in milliseconds.
//!
//! HubSpot has no revocation or uninstall webhook; any subscribed event for the account
//! (`portalId`) triggers a probe, so an operator can choose events that accompany a change.

use super::{header, Action, Delivery, Event, Refusal, Signed};
use std::time::{Duration, SystemTime};

/// Reads the signature headers.
pub fn signed(d: &Delivery<'_>) -> Result<Signed, Refusal> {
    let sig = header(d.headers, "x-hubspot-signature-v3").ok_or(Refusal::BadSignature)?;
    let ts = header(d.headers, "x-hubspot-request-timestamp").ok_or(Refusal::BadSignature)?;
    let millis: u64 = ts.trim().parse().map_err(|_| Refusal::BadSignature)?;
    let decoded = super::sig::decode_base64(sig).ok_or(Refusal::BadSignature)?;
    Ok(Signed {
        prefix: format!("{}{}", d.method, d.uri).into_bytes(),
        suffix: ts.as_bytes().to_vec(),
        signatures: vec![decoded],
        timestamp: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(millis)),
        replay_key: sig.to_string(),
    })
}

/// Reads the batch: a JSON array of `{eventId, portalId, subscriptionType, …}`.
pub fn parse(_d: &Delivery<'_>, v: &serde_json::Value) -> Event {
    let items = v.as_array().map(Vec::as_slice).unwrap_or_default();
    let accounts = items.iter().filter_map(|i| i.get("portalId")).map(|p| p.to_string().trim_matches('"').to_string());
    Event { event_type: "event", accounts: accounts.collect(), action: Action::Probe { announced: None } }
}
