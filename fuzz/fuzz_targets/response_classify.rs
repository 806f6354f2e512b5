//! Arbitrary status, headers and body: generic classification is total and consistent.
#![no_main]
use integration_exporter::probe::{classify::classify_status, ApiResponse};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = 100 + u16::from_le_bytes([data[0], data[1]]) % 500;
    let rest = &data[2..];
    let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(&rest[..split]) {
        headers.insert("www-authenticate", v.clone());
        headers.insert("retry-after", v);
    }
    let body = bytes::Bytes::copy_from_slice(&rest[split.min(rest.len())..]);
    let resp = ApiResponse { status, headers, body, truncated: false, latency: Duration::ZERO };
    let ok = classify_status(&resp).is_ok();
    assert_eq!(ok, (200..300).contains(&status));
    let _ = resp.json_opt();
});
