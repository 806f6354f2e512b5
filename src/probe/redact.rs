//! Removing secrets from text that came from a provider, in every form they may come back in.
//!
//! A hostile or careless upstream can echo what it was sent: the token itself, the `Basic`
//! header (base64 of `user:password`, or of `client_id:client_secret` at a token endpoint),
//! a form body (`refresh_token=...%2F...`), JSON with `\/` escapes. And the exporter shortens
//! long texts, so a cut can run through a secret and leave only its first or last bytes.
//!
//! A [`Redactor`] knows every secret one probe used and matches, in any text:
//!
//! - each secret and each derived form: base64 (standard and URL-safe, padded or not, at any
//!   of the three byte alignments), base64 of `user:secret` pairs, percent/form encoding
//!   (`+` or `%20` for a space, upper- or lower-case hex), JSON string escaping;
//! - for secrets (and forms) of at least [`WINDOW`] bytes, **any run of [`WINDOW`] bytes** of
//!   them: a fragment left by a cut, wherever it sits in the text.
//!
//! Matched bytes are replaced by [`REDACTED`], one marker per contiguous run. Secrets shorter
//! than [`WINDOW`] bytes are replaced only where they appear whole, and secrets shorter than
//! [`MIN_WHOLE`] bytes are not matched at all (replacing every two-letter run would mangle all
//! text while hiding nothing: such a value is not a secret worth the name).
//!
//! Texts must be redacted before they are shortened; [`Redactor::scrub_and_shorten`] does both
//! in that order.

use crate::config::REDACTED;
use base64::Engine as _;

/// Length of the fragments of a secret that are matched anywhere in a text.
pub const WINDOW: usize = 8;

/// Shorter secrets are not matched at all.
pub const MIN_WHOLE: usize = 4;

/// The secrets of one probe and their derived forms.
#[derive(Default, Clone)]
pub struct Redactor {
    /// Every form to match whole (each at least [`MIN_WHOLE`] bytes).
    forms: Vec<Vec<u8>>,
    /// Every [`WINDOW`]-byte run of every form at least that long, as a little-endian `u64`,
    /// sorted (a probe's few hundred are built and searched faster than a hash set's).
    windows: Vec<u64>,
}

fn window_key(w: &[u8]) -> u64 {
    let mut key = [0u8; WINDOW];
    key.copy_from_slice(&w[..WINDOW]);
    u64::from_le_bytes(key)
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} forms)", self.forms.len())
    }
}

impl Redactor {
    /// A redactor that knows no secret yet.
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Whether no secret is known.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// Registers a secret and its encodings.
    pub fn add_secret(&mut self, secret: &str) {
        if secret.len() < MIN_WHOLE {
            return;
        }
        let bytes = secret.as_bytes();
        self.add_form(bytes.to_vec());
        for form in url_forms(secret) {
            self.add_form(form.into_bytes());
        }
        if let Ok(json) = serde_json::to_string(secret) {
            let inner = json.trim_matches('"');
            self.add_form(inner.as_bytes().to_vec());
            self.add_form(inner.replace('/', "\\/").into_bytes());
        }
        for form in base64_cores(bytes) {
            self.add_form(form.into_bytes());
        }
        self.sort_windows();
    }

    fn sort_windows(&mut self) {
        self.windows.sort_unstable();
        self.windows.dedup();
    }

    /// Registers the base64 forms of `user:secret` (HTTP Basic, and OAuth client
    /// authentication with `client_id:client_secret`). The secret itself is registered too.
    pub fn add_pair(&mut self, user: &str, secret: &str) {
        self.add_secret(secret);
        if secret.len() < MIN_WHOLE {
            return;
        }
        let pair = format!("{user}:{secret}");
        for engine in ENGINES {
            self.add_form(engine.encode(pair.as_bytes()).into_bytes());
        }
        self.sort_windows();
    }

    fn add_form(&mut self, form: Vec<u8>) {
        if form.len() < MIN_WHOLE || self.forms.contains(&form) {
            return;
        }
        self.windows.extend(form.windows(WINDOW).map(window_key));
        self.forms.push(form);
    }

    /// `text` with every secret, encoded form and fragment replaced by [`REDACTED`].
    pub fn scrub(&self, text: &str) -> String {
        if self.forms.is_empty() || text.len() < MIN_WHOLE {
            return text.to_string();
        }
        let bytes = text.as_bytes();
        let mut hit = vec![false; bytes.len()];
        let mut any = false;
        if bytes.len() >= WINDOW {
            for (i, w) in bytes.windows(WINDOW).enumerate() {
                if self.windows.binary_search(&window_key(w)).is_ok() {
                    hit[i..i + WINDOW].iter_mut().for_each(|h| *h = true);
                    any = true;
                }
            }
        }
        for form in self.forms.iter().filter(|f| f.len() < WINDOW) {
            let mut start = 0;
            while let Some(pos) = find(&bytes[start..], form) {
                let at = start + pos;
                hit[at..at + form.len()].iter_mut().for_each(|h| *h = true);
                any = true;
                start = at + 1;
            }
        }
        if !any {
            return text.to_string();
        }
        replace_runs(text, &hit)
    }

    /// Scrubs `text`, then shortens it to at most `max` characters (plus `…` when cut), so a
    /// cut can never leave part of a secret behind.
    pub fn scrub_and_shorten(&self, text: &str, max: usize) -> String {
        shorten(&self.scrub(text), max)
    }
}

/// Cuts `text` (trimmed) to at most `max` characters, adding `…` when it was cut.
pub fn shorten(text: &str, max: usize) -> String {
    let t = text.trim();
    match t.char_indices().nth(max) {
        None => t.to_string(),
        Some((cut, _)) => format!("{}…", &t[..cut]),
    }
}

const ENGINES: [base64::engine::GeneralPurpose; 4] = [
    base64::engine::general_purpose::STANDARD,
    base64::engine::general_purpose::STANDARD_NO_PAD,
    base64::engine::general_purpose::URL_SAFE,
    base64::engine::general_purpose::URL_SAFE_NO_PAD,
];

/// The base64 characters that any encoding containing `secret` must contain, at each of the
/// three byte alignments the secret can start at: the characters that depend only on the
/// secret's own bytes (those mixing in a neighbouring byte, and any padding, are left out).
fn base64_cores(secret: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for engine in [base64::engine::general_purpose::STANDARD_NO_PAD, base64::engine::general_purpose::URL_SAFE_NO_PAD] {
        for lead in 0..3usize {
            let mut buf = vec![0u8; lead];
            buf.extend_from_slice(secret);
            let enc = engine.encode(&buf);
            // With `lead` filler bytes, the first ceil(lead*4/3) characters mix in filler.
            let skip = (lead * 4).div_ceil(3);
            // The last group's characters depend on what follows when the length is not a
            // multiple of 3: keep only characters made of whole secret bits.
            let total_bits = buf.len() * 8;
            let whole_chars = total_bits / 6;
            if whole_chars > skip {
                out.push(enc[skip..whole_chars].to_string());
            }
        }
        // The aligned, complete encodings too (they end with the partial character).
        out.push(engine.encode(secret));
    }
    for engine in ENGINES {
        out.push(engine.encode(secret));
    }
    out
}

/// Percent and form encodings of `secret`: `+` or `%20` for a space, upper- or lower-case hex.
fn url_forms(secret: &str) -> Vec<String> {
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    // byte_serialize writes a literal `+` as %2B, so every `+` in its output is a space.
    let spaces = form.replace('+', "%20");
    let mut out = vec![form.clone(), spaces.clone()];
    out.push(lower_hex(&form));
    out.push(lower_hex(&spaces));
    out.retain(|f| f != secret);
    out
}

fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for _ in 0..2 {
                if let Some(h) = chars.next() {
                    out.push(h.to_ascii_lowercase());
                }
            }
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Replaces each run of flagged bytes by one marker. Runs are widened to whole characters, so
/// a match that starts or ends inside a multi-byte character never splits it.
fn replace_runs(text: &str, hit: &[bool]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        if !hit[i] {
            let start = i;
            while i < bytes.len() && !hit[i] {
                i += 1;
            }
            // `start` and `i` may sit inside characters; the widening below moves them out.
            let (s, e) = (ceil_boundary(text, start), floor_boundary(text, i));
            if s < e {
                out.push_str(&text[s..e]);
            }
        } else {
            while i < bytes.len() && hit[i] {
                i += 1;
            }
            out.push_str(REDACTED);
        }
    }
    out
}

/// The first character boundary at or after `i`.
fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The last character boundary at or before `i`.
fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk_live_SECRET/stripe+key==42";

    fn redactor() -> Redactor {
        let mut r = Redactor::new();
        r.add_pair("alice", SECRET);
        r
    }

    #[test]
    fn whole_secret_and_encodings_are_replaced() {
        let r = redactor();
        let b64 = |e: &base64::engine::GeneralPurpose, s: &str| e.encode(s);
        let texts = [
            format!("token {SECRET} refused"),
            format!("Basic {}", b64(&base64::engine::general_purpose::STANDARD, &format!("alice:{SECRET}"))),
            format!("x{}", b64(&base64::engine::general_purpose::URL_SAFE_NO_PAD, SECRET)),
            format!("refresh_token={}", url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect::<String>()),
            format!("{{\"t\":{}}}", serde_json::to_string(SECRET).unwrap().replace('/', "\\/")),
        ];
        for t in texts {
            let out = r.scrub(&t);
            assert!(out.contains(REDACTED), "{t} -> {out}");
            for w in SECRET.as_bytes().windows(WINDOW) {
                assert!(!out.as_bytes().windows(WINDOW).any(|x| x == w), "{t} -> {out}");
            }
        }
    }

    #[test]
    fn base64_inside_a_longer_encoding_is_found_at_every_alignment() {
        let r = redactor();
        for lead in ["", "a", "ab", "abc"] {
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{lead}{SECRET}tail"));
            let out = r.scrub(&enc);
            assert!(out.contains(REDACTED), "lead {lead:?}: {enc} -> {out}");
            assert!(out.len() < enc.len(), "lead {lead:?}");
        }
    }

    #[test]
    fn fragments_left_by_a_cut_are_replaced() {
        let r = redactor();
        let head = format!("{}…", &SECRET[..9]);
        assert_eq!(r.scrub(&format!("padding {head}")), format!("padding {REDACTED}…"));
        let tail = &SECRET[SECRET.len() - 8..];
        assert_eq!(r.scrub(&format!("{tail} and more")), format!("{REDACTED} and more"));
    }

    #[test]
    fn redaction_comes_before_the_cut() {
        let r = redactor();
        let long = format!("{} {SECRET} end", "x".repeat(150));
        let out = r.scrub_and_shorten(&long, 160);
        assert!(!out.contains("sk_live"), "{out}");
        assert!(out.contains(REDACTED) || out.ends_with('…'));
    }

    #[test]
    fn short_secrets_match_whole_only_and_tiny_ones_not_at_all() {
        let mut r = Redactor::new();
        r.add_secret("abc12");
        assert_eq!(r.scrub("xabc12y abc1"), format!("x{REDACTED}y abc1"));
        let mut tiny = Redactor::new();
        tiny.add_secret("ab");
        assert_eq!(tiny.scrub("ab ab"), "ab ab");
    }

    #[test]
    fn multibyte_text_stays_valid() {
        let mut r = Redactor::new();
        r.add_secret("ééééabcdefgh");
        let out = r.scrub("→ ééééabcdefgh ←");
        assert_eq!(out, format!("→ {REDACTED} ←"));
        assert_eq!(shorten("ééé", 2), "éé…");
    }
}
