//! Retries with full-jitter exponential backoff under a retry budget, and the circuit
//! breaker. Both are per upstream and shared by every game.
//!
//! The budget keeps an outage from multiplying load: retries may add at most `percent` of
//! the requests of the last ten seconds, plus a small floor. The breaker opens after
//! `failures` consecutive failures, fails fast while open (saying for how long), and lets a
//! single probe through after the cool-down.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::rng::Rng;

/// When and how often to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub attempts: u32,
    /// The first backoff's ceiling.
    pub base: Duration,
    /// The largest backoff.
    pub cap: Duration,
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (0-based): uniform in
    /// `[0, min(cap, base x 2^retry)]` ("full jitter").
    pub(crate) fn backoff(&self, retry: u32, rng: &mut Rng) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << retry.min(20))
            .min(self.cap);
        ceiling.mul_f64(rng.unit())
    }
}

/// Limits retries to a share of recent traffic.
///
/// Counts in two 10 s epochs (this one and the last), by the epoch's parity. Every request
/// records here, so recording is two atomic operations and a clock read: no lock. Only the
/// epoch's turn (once per 10 s of traffic) and a retry take the lock.
#[derive(Debug)]
pub struct RetryBudget {
    percent: u32,
    floor: u32,
    start: Instant,
    /// The newest epoch counted (epochs since `start`); its slot is `epoch % 2`.
    epoch: AtomicU64,
    requests: [AtomicU64; 2],
    retries: [AtomicU64; 2],
    /// Serializes the epoch's turns and the retries' check-and-take.
    turn: Mutex<()>,
}

const BUDGET_EPOCH: Duration = Duration::from_secs(10);

impl RetryBudget {
    /// Retries may be `percent`% of recent requests, plus `floor`.
    pub fn new(percent: u32, floor: u32) -> Self {
        RetryBudget {
            percent,
            floor,
            start: Instant::now(),
            epoch: AtomicU64::new(0),
            requests: [AtomicU64::new(0), AtomicU64::new(0)],
            retries: [AtomicU64::new(0), AtomicU64::new(0)],
            turn: Mutex::new(()),
        }
    }

    /// The epoch of now, its slot ready to count into (older counts moved out).
    fn current(&self) -> usize {
        let now = Instant::now().saturating_duration_since(self.start);
        let epoch = (now.as_millis() / BUDGET_EPOCH.as_millis()) as u64;
        if epoch > self.epoch.load(Ordering::Acquire) {
            let _turn = self.turn.lock().unwrap_or_else(|p| p.into_inner());
            let last = self.epoch.load(Ordering::Acquire);
            if epoch > last {
                // The slot this epoch reuses held epoch - 2: gone. Two or more epochs on,
                // the last one is gone too.
                self.clear((epoch % 2) as usize);
                if epoch - last >= 2 {
                    self.clear(((epoch + 1) % 2) as usize);
                }
                self.epoch.store(epoch, Ordering::Release);
            }
        }
        (epoch % 2) as usize
    }

    fn clear(&self, slot: usize) {
        self.requests[slot].store(0, Ordering::Relaxed);
        self.retries[slot].store(0, Ordering::Relaxed);
    }

    /// Counts a first attempt.
    pub fn record_request(&self) {
        let slot = self.current();
        self.requests[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one retry from the budget; `false` when it is spent.
    pub fn try_retry(&self) -> bool {
        let slot = self.current();
        let _turn = self.turn.lock().unwrap_or_else(|p| p.into_inner());
        let sum = |c: &[AtomicU64; 2]| c.iter().map(|x| x.load(Ordering::Relaxed)).sum::<u64>();
        let allowed = u64::from(self.floor) + sum(&self.requests) * u64::from(self.percent) / 100;
        if sum(&self.retries) < allowed {
            self.retries[slot].fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }
}

/// The breaker's state, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests fail fast.
    Open,
    /// One probe is allowed through.
    HalfOpen,
}

/// A circuit breaker over consecutive failures.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<Breaker>,
    /// True while the state is `Closed` with no failure counted: then `check` and a
    /// success's `record` have nothing to do, and do it without the lock or the clock (every
    /// request calls both). Written only under the lock, as the state changes.
    clean: AtomicBool,
}

#[derive(Debug)]
enum Breaker {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Why the breaker refused: it is open for this much longer (zero while a probe is out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub Duration);

impl CircuitBreaker {
    /// Opens after `threshold` consecutive failures, for `cooldown`.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        CircuitBreaker {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(Breaker::Closed { failures: 0 }),
            clean: AtomicBool::new(true),
        }
    }

    /// Sets the state (under its lock) and whether it is the clean closed state.
    fn set(&self, s: &mut Breaker, to: Breaker) {
        self.clean.store(
            matches!(to, Breaker::Closed { failures: 0 }),
            Ordering::Release,
        );
        *s = to;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        if self.clean.load(Ordering::Acquire) {
            return BreakerState::Closed;
        }
        match *self.lock() {
            Breaker::Closed { .. } => BreakerState::Closed,
            Breaker::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            Breaker::Open { .. } => BreakerState::Open,
            Breaker::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// May a request go? In half-open state only one (the probe) may.
    pub fn check(&self) -> Result<(), Refused> {
        if self.clean.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut s = self.lock();
        let now = Instant::now();
        match *s {
            Breaker::Closed { .. } => Ok(()),
            Breaker::Open { until } if now < until => Err(Refused(until - now)),
            Breaker::Open { .. } | Breaker::HalfOpen { probing: false } => {
                self.set(&mut s, Breaker::HalfOpen { probing: true });
                Ok(())
            }
            Breaker::HalfOpen { probing: true } => Err(Refused(Duration::ZERO)),
        }
    }

    /// The outcome of a request that `check` let through. Returns true when this call
    /// opened the breaker.
    pub fn record(&self, success: bool) -> bool {
        if success && self.clean.load(Ordering::Acquire) {
            return false;
        }
        let mut s = self.lock();
        let to = match (&*s, success) {
            (_, true) => Breaker::Closed { failures: 0 },
            (Breaker::Closed { failures }, false) if failures + 1 < self.threshold => {
                Breaker::Closed {
                    failures: failures + 1,
                }
            }
            (_, false) => Breaker::Open {
                until: Instant::now() + self.cooldown,
            },
        };
        let opened = matches!(to, Breaker::Open { .. });
        self.set(&mut s, to);
        opened
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_cap() {
        let p = RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let mut rng = Rng::new(1);
        for retry in 0..8 {
            let ceiling = Duration::from_millis(100 * (1 << retry)).min(Duration::from_secs(1));
            let samples: Vec<Duration> = (0..200).map(|_| p.backoff(retry, &mut rng)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling));
            // Spread over the whole range, not a fixed delay.
            assert!(
                samples.iter().any(|d| *d < ceiling / 4)
                    && samples.iter().any(|d| *d > ceiling * 3 / 4)
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_allows_a_share_of_recent_requests_plus_a_floor() {
        let b = RetryBudget::new(20, 2);
        for _ in 0..10 {
            b.record_request();
        }
        // 2 + 20% of 10 = 4 retries.
        assert_eq!((0..10).filter(|_| b.try_retry()).count(), 4);
        // Twenty seconds later the old traffic no longer counts: only the floor.
        tokio::time::advance(Duration::from_secs(21)).await;
        assert_eq!((0..10).filter(|_| b.try_retry()).count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_epochs_counts_still_count_and_older_ones_do_not() {
        let b = RetryBudget::new(50, 0);
        for _ in 0..10 {
            b.record_request();
        }
        // The next epoch: the 10 requests still count (50% of them: 5 retries).
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!((0..10).filter(|_| b.try_retry()).count(), 5);
        // Two epochs on: the requests are gone, the 5 retries (last epoch) still count.
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(!b.try_retry());
        for _ in 0..20 {
            b.record_request();
        }
        // 50% of 20 = 10 allowed, 5 taken in the last epoch: 5 more.
        assert_eq!((0..10).filter(|_| b.try_retry()).count(), 5);
        // Much later: nothing left of either.
        tokio::time::advance(Duration::from_secs(95)).await;
        assert!(!b.try_retry());
        b.record_request();
        b.record_request();
        assert_eq!((0..10).filter(|_| b.try_retry()).count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_breaker_opens_fails_fast_and_probes_once() {
        let b = CircuitBreaker::new(3, Duration::from_secs(5));
        assert!(!b.record(false) && !b.record(false));
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.record(false));
        assert_eq!(b.check(), Err(Refused(Duration::from_secs(5))));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(b.check(), Err(Refused(Duration::from_secs(3))));
        tokio::time::advance(Duration::from_secs(3)).await;
        // One probe, not two.
        assert_eq!(b.check(), Ok(()));
        assert_eq!(b.check(), Err(Refused(Duration::ZERO)));
        // A failed probe reopens; a good one closes.
        assert!(b.record(false));
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(b.check(), Ok(()));
        b.record(true);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.check(), Ok(()));
    }

    #[test]
    fn the_lock_free_fast_path_agrees_with_the_state() {
        let b = CircuitBreaker::new(2, Duration::from_secs(60));
        assert!(b.clean.load(Ordering::Relaxed));
        // One failure: no longer clean, still closed, and a success makes it clean again.
        assert!(!b.record(false));
        assert!(!b.clean.load(Ordering::Relaxed));
        assert_eq!((b.state(), b.check()), (BreakerState::Closed, Ok(())));
        assert!(!b.record(true));
        assert!(b.clean.load(Ordering::Relaxed));
        // Open: check refuses (the fast path is off), whatever a late success would say.
        b.record(false);
        assert!(b.record(false));
        assert!(!b.clean.load(Ordering::Relaxed));
        assert!(b.check().is_err());
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let b = CircuitBreaker::new(2, Duration::from_secs(1));
        b.record(false);
        b.record(true);
        assert!(!b.record(false));
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
