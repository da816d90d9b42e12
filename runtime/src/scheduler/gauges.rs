//! Process-wide sums of every engine's admission and guest memory, for the `/metrics` gauges.

use std::sync::atomic::AtomicU64;

/// Process-wide sums of every engine's admission, for `/metrics`.
pub(super) struct Gauges {
    pub(super) running: AtomicU64,
    pub(super) waiting: AtomicU64,
    pub(super) memory: AtomicU64,
}

pub(super) static GAUGES: Gauges = Gauges {
    running: AtomicU64::new(0),
    waiting: AtomicU64::new(0),
    memory: AtomicU64::new(0),
};

/// `(calls running, calls waiting for a slot, guest memory in use in bytes)` across the
/// process, for the `/metrics` gauges.
pub fn gauges() -> (u64, u64, u64) {
    use std::sync::atomic::Ordering;
    (
        GAUGES.running.load(Ordering::Relaxed),
        GAUGES.waiting.load(Ordering::Relaxed),
        GAUGES.memory.load(Ordering::Relaxed),
    )
}
