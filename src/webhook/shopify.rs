//! Shopify: `X-Shopify-Hmac-Sha256: <base64>`, HMAC-SHA256 of the body keyed with the app's
//! client secret. No timestamp; deliveries are told apart by `X-Shopify-Webhook-Id`.

use super::{header, json_str, Action, Delivery, Event, Refusal, Signed};

/// Reads the signature header.
pub fn signed(d: &Delivery<'_>) -> Result<Signed, Refusal> {
    let sig = header(d.headers, "x-shopify-hmac-sha256").ok_or(Refusal::BadSignature)?;
    let decoded = super::sig::decode_base64(sig).ok_or(Refusal::BadSignature)?;
    Ok(Signed::body_only(decoded, header(d.headers, "x-shopify-webhook-id").unwrap_or(sig)))
}

/// Reads the topic (`X-Shopify-Topic`) and the shop (`X-Shopify-Shop-Domain`, else the body's
/// `myshopify_domain`).
pub fn parse(d: &Delivery<'_>, v: &serde_json::Value) -> Event {
    let mut accounts: Vec<String> =
        header(d.headers, "x-shopify-shop-domain").into_iter().map(str::to_string).collect();
    accounts.extend(json_str(v, "/myshopify_domain").map(str::to_string));
    let (event_type, action) = match header(d.headers, "x-shopify-topic").unwrap_or_default() {
        // The access token is revoked by the uninstall itself.
        "app/uninstalled" => {
            ("app/uninstalled", Action::Probe { announced: Some("Shopify announced that the app was uninstalled") })
        }
        "app/scopes_update" => ("app/scopes_update", Action::Probe { announced: None }),
        _ => ("other", Action::Ignore),
    };
    Event { event_type, accounts, action }
}
