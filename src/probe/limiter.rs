//! The per-API-host request budget (`requests_per_second_per_host`), shared by background
//! and on-demand probes so that neither can push a provider into rate limiting.

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

/// A keyed token bucket: one bucket per host.
#[derive(Debug)]
pub struct HostLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    /// The configured rate, to know when a reload must rebuild it.
    pub rate: f64,
}

impl HostLimiter {
    /// A limiter allowing `rate` requests per second per host, bursting up to one second's worth.
    pub fn new(rate: f64) -> HostLimiter {
        let rate = if rate.is_finite() && rate > 0.0 { rate } else { 1.0 };
        let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
        let burst = NonZeroU32::new(rate.ceil().clamp(1.0, f64::from(u32::MAX)) as u32).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)).allow_burst(burst);
        HostLimiter { limiter: RateLimiter::keyed(quota), rate }
    }

    /// Waits until `host` may be sent one more request.
    pub async fn wait(&self, host: &str) {
        self.limiter.until_key_ready(&host.to_string()).await;
    }
}
