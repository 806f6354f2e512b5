//! Every probe setting in the table (`src/config/settings.rs`) is wired end to end: set globally
//! it reaches `global:` and every integration that does not override it, set per integration it
//! reaches only that integration, a refused value is reported at its `file:line:column` naming
//! the key, and `/config`'s view shows the value. The cases come from the table itself, so a
//! setting added there is covered here without an edit.

use integration_exporter::config::settings::{Setting, TABLE};
use integration_exporter::config::{Config, ConfigError, Settings};

/// An integration named `name` with `extra` (already indented) below it.
fn integration(name: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    provider: http\n    base_url: http://127.0.0.1:1\n    auth: {{type: bearer, token: x}}\n    check: {{path: /x}}\n{extra}"
    )
}

fn default_text(s: &Setting) -> String {
    (s.shown)(&Settings::default())
}

/// The value of `key` in a section of the rendered `/config` YAML, as text.
fn view_value(view: &serde_json::Value, key: &str) -> String {
    match &view[key] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks that `settings` holds `want` for `s` and the default for every other setting.
fn holds(settings: &Settings, s: &Setting, want: &str, place: &str) -> Result<(), String> {
    for other in TABLE {
        let expected = if other.key == s.key { want.to_string() } else { default_text(other) };
        let got = (other.shown)(settings);
        if got != expected {
            return Err(format!("{}: {place}: {} is {got}, expected {expected}", s.key, other.key));
        }
    }
    Ok(())
}

fn parse(yaml: &str) -> Result<(Config, serde_json::Value), String> {
    let config = Config::parse(yaml, "t.yml").map_err(|e| format!("refused:\n{yaml}\n{e}"))?;
    let view = serde_saphyr::from_str(&config.to_redacted_yaml()).map_err(|e| format!("view does not parse: {e}"))?;
    Ok((config, view))
}

/// Set under `global:`: the default for everyone except the integration that sets it back.
fn set_globally(s: &Setting) -> Result<(), String> {
    let own = format!("    {}: {}\n", s.key, default_text(s));
    let yaml = format!(
        "global:\n  {}: {}\nintegrations:\n{}{}",
        s.key,
        s.example,
        integration("inherits", ""),
        integration("own", &own)
    );
    let (config, view) = parse(&yaml)?;
    holds(&config.global.defaults, s, s.example, "global")?;
    holds(&config.integrations[0].settings, s, s.example, "integration inherits")?;
    holds(&config.integrations[1].settings, s, &default_text(s), "integration own")?;
    let shown = [
        (view_value(&view["global"], s.key), s.example.to_string()),
        (view_value(&view["integrations"][0], s.key), s.example.to_string()),
        (view_value(&view["integrations"][1], s.key), default_text(s)),
    ];
    for (got, want) in shown {
        if got != want {
            return Err(format!("{}: /config shows {got}, expected {want}", s.key));
        }
    }
    Ok(())
}

/// Set on one integration only.
fn set_per_integration(s: &Setting) -> Result<(), String> {
    let own = format!("    {}: {}\n", s.key, s.example);
    let yaml = format!("integrations:\n{}{}", integration("inherits", ""), integration("own", &own));
    let (config, view) = parse(&yaml)?;
    holds(&config.global.defaults, s, &default_text(s), "global")?;
    holds(&config.integrations[0].settings, s, &default_text(s), "integration inherits")?;
    holds(&config.integrations[1].settings, s, s.example, "integration own")?;
    let got = view_value(&view["integrations"][1], s.key);
    if got != s.example {
        return Err(format!("{}: /config shows {got} for the integration, expected {}", s.key, s.example));
    }
    Ok(())
}

/// `yaml` is refused with exactly one diagnostic at `line:column` naming `place` and the key.
fn refused_at(s: &Setting, yaml: &str, line: u64, column: u64, place: &str) -> Result<(), String> {
    let diags = match Config::parse(yaml, "t.yml") {
        Ok(_) => return Err(format!("{}: {} accepted {place}", s.key, s.refused)),
        Err(ConfigError::Invalid(d)) => d,
        Err(e) => return Err(format!("{}: unexpected error {e}", s.key)),
    };
    let [d] = diags.as_slice() else { return Err(format!("{}: expected one diagnostic, got {diags:#?}", s.key)) };
    let shown = d.to_string();
    let located = shown.starts_with(&format!("t.yml:{line}:{column}: "));
    if !located || !d.message.contains(place) || !d.message.contains(s.key) {
        return Err(format!("{}: {place}: expected t.yml:{line}:{column} naming the key, got {shown}", s.key));
    }
    Ok(())
}

fn refused(s: &Setting) -> Result<(), String> {
    let global = format!("global:\n  {}: {}\nintegrations:\n{}", s.key, s.refused, integration("a", ""));
    // `  key: ` puts the value after the key, its colon and a space.
    refused_at(s, &global, 2, s.key.len() as u64 + 5, "global")?;
    let own = format!("    {}: {}\n", s.key, s.refused);
    let local = format!("integrations:\n{}", integration("a", &own));
    refused_at(s, &local, 7, s.key.len() as u64 + 7, "integration \"a\"")
}

#[test]
fn every_setting_in_the_table_is_wired_end_to_end() {
    assert!(TABLE.len() >= 8, "the table lists the probe settings");
    let mut failures = Vec::new();
    for s in TABLE {
        assert_ne!(s.example, default_text(s), "{}: the table's example must differ from the default", s.key);
        assert!(!s.doc.trim().is_empty(), "{}: the table documents each setting", s.key);
        for check in [set_globally, set_per_integration, refused] {
            if let Err(e) = check(s) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
