//! Slack Events API: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 of `v0:{timestamp}:{body}` keyed
//! with the app's signing secret, `X-Slack-Request-Timestamp` in seconds.

use super::{header, json_str, Action, Delivery, Event, Refusal, Signed};

/// Reads the signature headers.
pub fn signed(d: &Delivery<'_>) -> Result<Signed, Refusal> {
    let sig = header(d.headers, "x-slack-signature").ok_or(Refusal::BadSignature)?;
    let ts = header(d.headers, "x-slack-request-timestamp").ok_or(Refusal::BadSignature)?;
    let t: u64 = ts.trim().parse().map_err(|_| Refusal::BadSignature)?;
    let hex = sig.strip_prefix("v0=").ok_or(Refusal::BadSignature)?;
    let decoded = super::sig::decode_hex(hex).ok_or(Refusal::BadSignature)?;
    Ok(Signed {
        prefix: format!("v0:{ts}:").into_bytes(),
        suffix: Vec::new(),
        signatures: vec![decoded],
        timestamp: Some(super::from_unix_seconds(t)),
        replay_key: sig.to_string(),
    })
}

/// Reads the envelope: `url_verification` (answered with its challenge) or an `event_callback`
/// naming the workspace (`team_id`, `enterprise_id`, `authorizations[].team_id`).
pub fn parse(_d: &Delivery<'_>, v: &serde_json::Value) -> Event {
    if json_str(v, "/type") == Some("url_verification") {
        let challenge = json_str(v, "/challenge").unwrap_or_default().to_string();
        return Event { event_type: "url_verification", accounts: Vec::new(), action: Action::Challenge(challenge) };
    }
    let mut accounts: Vec<String> = ["/team_id", "/enterprise_id", "/context_team_id", "/event/team_id"]
        .iter()
        .filter_map(|p| json_str(v, p))
        .map(str::to_string)
        .collect();
    if let Some(auths) = v.pointer("/authorizations").and_then(|a| a.as_array()) {
        accounts.extend(auths.iter().filter_map(|a| a.get("team_id")?.as_str()).map(str::to_string));
    }
    let (event_type, action) = match json_str(v, "/event/type").unwrap_or_default() {
        // Uninstalling revokes every token the app holds in the workspace.
        "app_uninstalled" => {
            ("app_uninstalled", Action::Probe { announced: Some("Slack announced that the app was uninstalled") })
        }
        "app_uninstalled_team" => (
            "app_uninstalled_team",
            Action::Probe { announced: Some("Slack announced that the app was uninstalled from the workspace") },
        ),
        // Names user IDs, not tokens: whether ours is among them only the probe can tell.
        "tokens_revoked" => ("tokens_revoked", Action::Probe { announced: None }),
        _ => ("other", Action::Ignore),
    };
    Event { event_type, accounts, action }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_documented_vector_verifies_through_the_header_parser() {
        // docs.slack.dev "Verifying requests from Slack": secret, timestamp, body, signature.
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "x-slack-signature",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503".parse().unwrap(),
        );
        headers.insert("x-slack-request-timestamp", "1531420618".parse().unwrap());
        let d = Delivery { headers: &headers, method: "POST", uri: "" };
        let s = signed(&d).unwrap();
        let parts: [&[u8]; 3] = [&s.prefix, body.as_bytes(), &s.suffix];
        assert!(super::super::sig::verify(b"8f742231b10e8888abcd99yyyzzz85a5", &parts, &s.signatures[0]));
        assert!(!super::super::sig::verify(b"8f742231b10e8888abcd99yyyzzz85a6", &parts, &s.signatures[0]));
        assert_eq!(s.timestamp, Some(super::super::from_unix_seconds(1531420618)));
    }
}
