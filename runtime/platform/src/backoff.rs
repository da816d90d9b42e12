//! Retry schedules. Production defaults follow the contract; tests shrink them to milliseconds.

use std::time::Duration;

/// An exponential schedule: the wait after failed attempt `n` (0-based) is
/// `min(base · 2ⁿ, max)`, optionally jittered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Total attempts, including the first.
    pub attempts: u32,
    /// Wait after the first failure.
    pub base: Duration,
    /// Longest wait.
    pub max: Duration,
    /// Randomise each wait to 50–100 % of its nominal value (never below `base`, never above `max`).
    pub jitter: bool,
}

impl Backoff {
    /// Registration: 8 attempts, waits min(2ⁿ, 30) s, no jitter.
    pub const REGISTER: Backoff = Backoff {
        attempts: 8,
        base: Duration::from_secs(1),
        max: Duration::from_secs(30),
        jitter: false,
    };

    /// A2A through the platform proxy: 5 tries, jittered waits between 1 and 16 s.
    pub const A2A_PROXY: Backoff = Backoff {
        attempts: 5,
        base: Duration::from_secs(1),
        max: Duration::from_secs(16),
        jitter: true,
    };

    /// The same shape scaled to `unit` instead of one second (tests use a millisecond).
    pub fn scaled(self, unit: Duration) -> Backoff {
        let scale = |d: Duration| unit.mul_f64(d.as_secs_f64());
        Backoff {
            base: scale(self.base),
            max: scale(self.max),
            ..self
        }
    }

    /// The nominal wait after failed attempt `n` (0-based), before jitter.
    pub fn nominal(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.min(30));
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The wait after failed attempt `n`, jittered when configured.
    pub fn delay(&self, n: u32) -> Duration {
        let d = self.nominal(n);
        if !self.jitter {
            return d;
        }
        d.mul_f64(0.5 + 0.5 * unit_random()).max(self.base.min(d))
    }
}

/// A cheap random number in [0, 1) for jitter (not for secrets).
pub(crate) fn unit_random() -> f64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_schedule_is_min_of_power_of_two_and_thirty() {
        let waits: Vec<u64> = (0..8)
            .map(|n| Backoff::REGISTER.delay(n).as_secs())
            .collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn a2a_schedule_stays_between_one_and_sixteen_seconds() {
        for n in 0..10 {
            let d = Backoff::A2A_PROXY.delay(n);
            assert!(
                d >= Duration::from_secs(1) && d <= Duration::from_secs(16),
                "{d:?}"
            );
        }
        assert_eq!(Backoff::A2A_PROXY.nominal(4), Duration::from_secs(16));
    }

    #[test]
    fn scaled_keeps_shape() {
        let b = Backoff::REGISTER.scaled(Duration::from_millis(1));
        assert_eq!(b.delay(6), Duration::from_millis(30));
    }
}
