//! Rate-limit headers: the de facto `X-RateLimit-*`, the IETF draft's early
//! `RateLimit-Limit/-Remaining/-Reset` and its current structured `RateLimit`/`RateLimit-Policy`.

use http::HeaderMap;

/// Quota headroom reported by the provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests (or points) left in the current window.
    pub remaining: f64,
    /// Size of the window's quota.
    pub limit: f64,
}

impl RateLimit {
    /// remaining / limit, when the limit is positive.
    pub fn fraction_left(&self) -> Option<f64> {
        (self.limit > 0.0).then(|| self.remaining / self.limit)
    }
}

fn number(headers: &HeaderMap, name: &str) -> Option<f64> {
    let v = headers.get(name)?.to_str().ok()?.trim();
    // Some servers list several windows ("100, 100;w=60"): the first number is the active one.
    let first = v.split([',', ';']).next()?.trim();
    first.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0)
}

/// Reads a remaining/limit pair from two named headers.
pub fn from_pair(headers: &HeaderMap, remaining: &str, limit: &str) -> Option<RateLimit> {
    Some(RateLimit { remaining: number(headers, remaining)?, limit: number(headers, limit)? })
}

/// Reads `X-RateLimit-*` or either draft form of `RateLimit*`.
pub fn parse_standard(headers: &HeaderMap) -> Option<RateLimit> {
    from_pair(headers, "x-ratelimit-remaining", "x-ratelimit-limit")
        .or_else(|| from_pair(headers, "ratelimit-remaining", "ratelimit-limit"))
        .or_else(|| parse_structured(headers))
}

/// The current draft: `RateLimit: "default";r=50;t=30` and `RateLimit-Policy: "default";q=100;w=60`.
fn parse_structured(headers: &HeaderMap) -> Option<RateLimit> {
    let rl = headers.get("ratelimit")?.to_str().ok()?;
    let policy = headers.get("ratelimit-policy")?.to_str().ok()?;
    let (name, remaining) = first_item_param(rl, "r")?;
    // pick the policy item with the same name, else the first
    let limit = policy
        .split(',')
        .find(|item| item_name(item) == name)
        .and_then(|item| param(item, "q"))
        .or_else(|| first_item_param(policy, "q").map(|(_, q)| q))?;
    Some(RateLimit { remaining, limit })
}

fn item_name(item: &str) -> &str {
    item.split(';').next().unwrap_or("").trim().trim_matches('"')
}

fn param(item: &str, key: &str) -> Option<f64> {
    item.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == key).then(|| v.trim().parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0)).flatten()
    })
}

fn first_item_param<'a>(list: &'a str, key: &str) -> Option<(&'a str, f64)> {
    list.split(',').find_map(|item| Some((item_name(item), param(item, key)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn reads_all_three_spellings() {
        let x = headers(&[("x-ratelimit-limit", "5000"), ("x-ratelimit-remaining", "4990")]);
        assert_eq!(parse_standard(&x), Some(RateLimit { remaining: 4990.0, limit: 5000.0 }));
        let draft = headers(&[("ratelimit-limit", "100"), ("ratelimit-remaining", "7"), ("ratelimit-reset", "30")]);
        assert_eq!(parse_standard(&draft), Some(RateLimit { remaining: 7.0, limit: 100.0 }));
        let sf = headers(&[
            ("ratelimit", "\"default\";r=50;t=30"),
            ("ratelimit-policy", "\"burst\";q=10;w=1, \"default\";q=100;w=60"),
        ]);
        assert_eq!(parse_standard(&sf), Some(RateLimit { remaining: 50.0, limit: 100.0 }));
        assert_eq!(parse_standard(&headers(&[("x-ratelimit-limit", "abc"), ("x-ratelimit-remaining", "1")])), None);
        assert_eq!(parse_standard(&HeaderMap::new()), None);
    }
}
