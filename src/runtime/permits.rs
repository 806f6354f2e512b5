//! `max_concurrency`: how many probes talk to providers at once.

use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The probe permits. A reload that changes their number starts a new semaphore: probes that
/// already hold a permit of the old one finish under it, new ones queue for the new one.
pub(crate) struct Permits {
    current: ArcSwap<Semaphore>,
    size: AtomicUsize,
}

impl Permits {
    /// `n` permits.
    pub(crate) fn new(n: usize) -> Permits {
        Permits { current: ArcSwap::from_pointee(Semaphore::new(n)), size: AtomicUsize::new(n) }
    }

    /// Follows a reloaded `max_concurrency`; nothing changes when it stayed the same.
    pub(crate) fn resize(&self, n: usize) {
        if self.size.swap(n, Ordering::Relaxed) != n {
            self.current.store(Arc::new(Semaphore::new(n)));
        }
    }

    /// Waits for a permit; `None` only if the semaphore was closed (it never is).
    pub(crate) async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        self.current.load_full().acquire_owned().await.ok()
    }
}
