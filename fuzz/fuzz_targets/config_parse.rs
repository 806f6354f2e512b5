//! Arbitrary config text: parsing and validation return a config or located errors, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = integration_exporter::config::Config::parse(text, "fuzz.yml") {
            assert!(e.to_string().starts_with("fuzz.yml:"));
        }
    }
});
