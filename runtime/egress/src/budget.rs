//! [`CallBudget`]: the outgoing-HTTP budget of one call — requests, and bytes (request bodies
//! sent plus response bodies received). The embedder sets the limits and the refusal text
//! (naming its own config keys) with [`CallBudget::on_spent`]; this crate knows no config.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use wasmtime_wasi_http::Error;

/// Which part of a [`CallBudget`] was spent, with its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// Requests per call.
    Requests {
        /// The limit, in requests.
        limit: u64,
    },
    /// Body bytes per call (sent plus received).
    Bytes {
        /// The limit, in bytes.
        limit: u64,
    },
}

/// Makes the refusal text for a spent budget (and may count it somewhere).
type Refusal = dyn Fn(Spent) -> String + Send + Sync;

/// The outgoing-HTTP budget of one call. Clones share the counters: give one to each store
/// with [`crate::EgressState::with_budget`].
#[derive(Clone)]
pub struct CallBudget {
    inner: Arc<Counters>,
    refusal: Arc<Refusal>,
}

struct Counters {
    max_requests: u64,
    max_bytes: u64,
    requests: AtomicU64,
    bytes: AtomicU64,
    noted_requests: AtomicBool,
    noted_bytes: AtomicBool,
}

impl std::fmt::Debug for CallBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (requests, bytes) = self.used();
        f.debug_struct("CallBudget")
            .field("max_requests", &self.inner.max_requests)
            .field("max_bytes", &self.inner.max_bytes)
            .field("requests", &requests)
            .field("bytes", &bytes)
            .finish()
    }
}

impl CallBudget {
    /// At most `max_requests` requests and `max_bytes` body bytes (sent plus received).
    pub fn new(max_requests: u64, max_bytes: u64) -> Self {
        CallBudget {
            inner: Arc::new(Counters {
                max_requests,
                max_bytes,
                requests: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
                noted_requests: AtomicBool::new(false),
                noted_bytes: AtomicBool::new(false),
            }),
            refusal: Arc::new(default_refusal),
        }
    }

    /// Uses `refusal` for the error text of each refusal (called once per refusal).
    pub fn on_spent(mut self, refusal: impl Fn(Spent) -> String + Send + Sync + 'static) -> Self {
        self.refusal = Arc::new(refusal);
        self
    }

    /// The error text of a refusal of `spent`.
    pub fn refusal(&self, spent: Spent) -> String {
        (self.refusal)(spent)
    }

    /// What was used so far: (requests, body bytes). Refused requests are not counted.
    pub fn used(&self) -> (u64, u64) {
        let c = &self.inner;
        (
            c.requests.load(Ordering::Relaxed).min(c.max_requests),
            c.bytes.load(Ordering::Relaxed).min(c.max_bytes),
        )
    }

    /// Takes one request, or the error the guest gets (`internal-error` with the text).
    pub(crate) fn take_request(&self, component: &str) -> Result<(), Error> {
        let c = &self.inner;
        let taken = c
            .requests
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < c.max_requests).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(()),
            Err(_) => Err(self.refuse(
                component,
                Spent::Requests {
                    limit: c.max_requests,
                },
                &c.noted_requests,
            )),
        }
    }

    /// Takes `n` body bytes, all or nothing, or the error that ends the body.
    pub(crate) fn take_bytes(&self, component: &str, n: u64) -> Result<(), Error> {
        let c = &self.inner;
        let taken = c
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(n).filter(|total| *total <= c.max_bytes)
            });
        match taken {
            Ok(_) => Ok(()),
            Err(_) => Err(self.refuse(
                component,
                Spent::Bytes { limit: c.max_bytes },
                &c.noted_bytes,
            )),
        }
    }

    /// The refusal error; the first of each kind in a call is logged.
    fn refuse(&self, component: &str, spent: Spent, noted: &AtomicBool) -> Error {
        let text = self.refusal(spent);
        if !noted.swap(true, Ordering::Relaxed) {
            tracing::warn!(component, "outgoing HTTP refused from here on: {text}");
        }
        Error::InternalError(Some(text))
    }
}

fn default_refusal(spent: Spent) -> String {
    match spent {
        Spent::Requests { limit } => {
            format!("budget spent: outgoing HTTP requests per call are limited to {limit}")
        }
        Spent::Bytes { limit } => {
            format!("budget spent: outgoing HTTP bytes per call are limited to {limit}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_bytes_run_out_and_clones_share_them() {
        let budget = CallBudget::new(2, 10).on_spent(|s| format!("spent {s:?}"));
        let other = budget.clone();
        assert!(budget.take_request("c").is_ok());
        assert!(other.take_request("c").is_ok());
        let refused = budget.take_request("c").unwrap_err();
        assert!(
            matches!(&refused, Error::InternalError(Some(t)) if t == "spent Requests { limit: 2 }"),
            "{refused:?}"
        );
        assert!(budget.take_bytes("c", 8).is_ok());
        assert!(other.take_bytes("c", 3).is_err(), "all or nothing");
        assert!(other.take_bytes("c", 2).is_ok());
        assert_eq!(budget.used(), (2, 10));
    }
}
