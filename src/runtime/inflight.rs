//! Single-flight: callers that want the same integration probed at the same time share one
//! upstream probe, and each keeps its own deadline.

use crate::probe::ProbeResult;
use crate::reason::Reason;
use futures_util::future::{BoxFuture, Shared};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A probe that every caller joining it can await.
pub(crate) type SharedProbe = Shared<BoxFuture<'static, Arc<ProbeResult>>>;

/// What an on-demand probe request got.
#[derive(Debug, Clone)]
pub enum OnDemand {
    /// A fresh probe was made (or joined).
    Probed(Arc<ProbeResult>),
    /// A recent result was returned without a request upstream.
    Cached(Arc<ProbeResult>),
    /// No such integration.
    Unknown,
}

/// A probe in flight and when its budget runs out.
#[derive(Clone)]
struct Flight {
    result: SharedProbe,
    deadline: Instant,
}

/// The probes in flight, by integration name.
#[derive(Default)]
pub(crate) struct InFlight {
    flights: Mutex<HashMap<String, Flight>>,
}

impl InFlight {
    /// Joins the probe in flight for `name`, or starts one with `start`. Before starting,
    /// `cached` may answer with a result that is still fresh.
    ///
    /// Each caller keeps its own budget (ending at `deadline`): a caller whose budget ends
    /// before the probe in flight gives up at its own deadline with `ran_out()`, a `timeout`
    /// result of its own (the probe goes on and records what it finds), and a caller with a
    /// longer budget that joined a probe cut short by a shorter one (a `/probe` with a short
    /// scrape timeout) probes again with its own budget instead of inheriting that cut.
    pub(crate) async fn join_or_start(
        &self,
        name: &str,
        deadline: Instant,
        cached: impl Fn() -> Option<Arc<ProbeResult>>,
        start: impl Fn() -> SharedProbe,
        ran_out: impl FnOnce() -> ProbeResult,
    ) -> OnDemand {
        loop {
            let (flight, started) = {
                let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
                match flights.get(name) {
                    Some(f) => (f.clone(), false),
                    None => {
                        // Checked under the in-flight lock: a finished probe records its result
                        // before it leaves the in-flight map (which needs this lock), so a
                        // request arriving just as a probe completes gets that result instead
                        // of starting a second upstream probe.
                        if let Some(r) = cached() {
                            return OnDemand::Cached(r);
                        }
                        let f = Flight { result: start(), deadline };
                        flights.insert(name.to_string(), f.clone());
                        (f, true)
                    }
                }
            };
            if started {
                return OnDemand::Probed(flight.result.await);
            }
            if flight.deadline > deadline {
                return match tokio::time::timeout_at(deadline.into(), flight.result).await {
                    Ok(r) => OnDemand::Probed(r),
                    Err(_) => OnDemand::Probed(Arc::new(ran_out())),
                };
            }
            let result = flight.result.await;
            let cut_short = result.reason == Reason::Timeout && flight.deadline < deadline;
            if !cut_short || Instant::now() >= deadline {
                return OnDemand::Probed(result);
            }
            // The joined probe had a shorter budget than this caller's: probe with ours.
        }
    }

    /// Forgets `name`'s probe; called by the probe itself once its result is recorded.
    pub(crate) fn finish(&self, name: &str) {
        self.flights.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
    }
}
