//! Platform-wide faults of the fake platform, for fault tests: every call answering one status
//! (a 500 mode), every call hanging until the fault is lifted (a hung platform; the calls that
//! arrived and the ones whose client gave up are counted), or every call answered after a delay
//! (a healthy but slow platform). A platform restarted with empty state is
//! [`FakePlatform::forget_everything`](super::FakePlatform::forget_everything).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// What every call meets, set with [`FakePlatform::set_fault`](super::FakePlatform::set_fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Calls are served normally.
    #[default]
    None,
    /// Every call answers this status with `{"error": "injected fault …"}`, until lifted.
    Status(u16),
    /// Every call waits, unanswered, until the fault is lifted (then it is served normally).
    Hang,
    /// Every call is served normally after this delay.
    Delay(Duration),
}

/// The fault in force and the hung calls.
pub(crate) struct Faults {
    pub(crate) now: watch::Sender<Fault>,
    hanging: AtomicUsize,
    abandoned: AtomicUsize,
    hung_total: AtomicUsize,
}

impl Faults {
    pub(crate) fn new() -> Self {
        Faults {
            now: watch::channel(Fault::None).0,
            hanging: AtomicUsize::new(0),
            abandoned: AtomicUsize::new(0),
            hung_total: AtomicUsize::new(0),
        }
    }

    /// Calls hanging now.
    pub(crate) fn hanging(&self) -> usize {
        self.hanging.load(Ordering::SeqCst)
    }

    /// Hung calls whose client gave up (closed the connection) before the fault was lifted.
    pub(crate) fn abandoned(&self) -> usize {
        self.abandoned.load(Ordering::SeqCst)
    }

    /// Every call that ever hung.
    pub(crate) fn hung_total(&self) -> usize {
        self.hung_total.load(Ordering::SeqCst)
    }

    /// Applies the fault in force to one call: `Some(status)` to answer at once with it,
    /// `None` to serve the call (after waiting out a hang or a delay).
    pub(crate) async fn meet(&self) -> Option<u16> {
        let fault = *self.now.borrow();
        match fault {
            Fault::None => None,
            Fault::Status(status) => Some(status),
            Fault::Delay(d) => {
                tokio::time::sleep(d).await;
                None
            }
            Fault::Hang => {
                let mut guard = HangGuard {
                    faults: self,
                    lifted: false,
                };
                self.hanging.fetch_add(1, Ordering::SeqCst);
                self.hung_total.fetch_add(1, Ordering::SeqCst);
                let mut rx = self.now.subscribe();
                let _ = rx.wait_for(|f| *f != Fault::Hang).await;
                guard.lifted = true;
                None
            }
        }
    }
}

/// Counts a hung call out; when its future is dropped before the hang was lifted (the client
/// went away), counts it as abandoned.
struct HangGuard<'a> {
    faults: &'a Faults,
    lifted: bool,
}

impl Drop for HangGuard<'_> {
    fn drop(&mut self) {
        self.faults.hanging.fetch_sub(1, Ordering::SeqCst);
        if !self.lifted {
            self.faults.abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}
