//! Arbitrary duration strings: parse or refuse; formatting a parsed value parses back to it.
#![no_main]
use integration_exporter::config::{format_duration, parse_duration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(d) = parse_duration(text) {
            assert_eq!(parse_duration(&format_duration(d)).ok(), Some(d));
        }
    }
});
