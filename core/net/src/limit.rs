//! The shared rate limiter: one per upstream (and optionally one per endpoint group), used by
//! every game's requests.
//!
//! A leaky bucket as a meter, plus two guarantees the seed lacked:
//! - **Pacing without drift**: slots are theoretical times `t0 + k/R`, so a waiter that wakes
//!   a millisecond late does not push every later request back (N requests take N/R, not
//!   N/R + N x timer slack).
//! - **No window over the limit**: at most `rate x period` sends (actual send instants) in
//!   any sliding `period`, with a 0.2% guard for delivery jitter, so a server counting per
//!   second never sees more than the rate.
//!
//! Waiters are served first come, first served (tokio's `Mutex` is fair), so games share the
//! bucket fairly. A 429 pauses the whole bucket until `Retry-After` and halves the effective
//! rate; each success wins back 1/50 of the configured rate (AIMD). Uses tokio's clock, so
//! tests run under `tokio::time::pause()`.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The most requests a limiter's burst lets go at once (`market.burst`).
pub const MAX_BURST: u32 = 10_000;

/// A rate: `count` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests allowed per period (> 0).
    pub count: f64,
    /// The period.
    pub period: Duration,
}

/// A rate that does not parse, or lies outside [`Rate::MIN_PER_SEC`]..=[`Rate::MAX_PER_SEC`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a rate: use a positive number with a unit, like \"30/s\" or \"30/min\", from 0.001/s (3.6/h) to 1e9/s"
)]
pub struct RateError(pub String);

impl Rate {
    /// The slowest rate accepted: beyond it, intervals grow past what timers handle well.
    pub const MIN_PER_SEC: f64 = 0.001;
    /// The fastest rate accepted.
    pub const MAX_PER_SEC: f64 = 1e9;

    /// Whether `per_sec` is a rate the limiter can keep without overflow.
    pub fn in_range(per_sec: f64) -> bool {
        per_sec.is_finite() && (Self::MIN_PER_SEC..=Self::MAX_PER_SEC).contains(&per_sec)
    }

    /// `count` per second.
    pub fn per_second(count: f64) -> Result<Rate, RateError> {
        if Self::in_range(count) {
            Ok(Rate {
                count,
                period: Duration::from_secs(1),
            })
        } else {
            Err(RateError(count.to_string()))
        }
    }

    /// The spacing between requests at this rate.
    pub fn interval(&self) -> Duration {
        self.period.div_f64(self.count)
    }

    /// Requests per second.
    pub fn per_sec(&self) -> f64 {
        self.count / self.period.as_secs_f64()
    }
}

impl FromStr for Rate {
    type Err = RateError;

    /// `30/s`, `30/sec`, `30/min`, `500/h`, a period of several units (`8/5min`, Skinport's
    /// published limit; `8/300s`), or a bare `30` (per second).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || RateError(s.to_owned());
        let (count, unit) = s.trim().split_once('/').unwrap_or((s.trim(), "s"));
        let count: f64 = count.trim().parse().map_err(|_| err())?;
        let unit = unit.trim();
        let digits = unit.bytes().take_while(u8::is_ascii_digit).count();
        let times: u64 = match digits {
            0 => 1,
            _ => unit[..digits].parse().map_err(|_| err())?,
        };
        let one = match unit[digits..].trim() {
            "s" | "sec" | "second" | "seconds" => 1,
            "m" | "min" | "minute" | "minutes" => 60,
            "h" | "hour" | "hours" => 3_600,
            _ => return Err(err()),
        };
        if times == 0 || times > 86_400 {
            return Err(err());
        }
        let period = Duration::from_secs(one * times);
        if !(count.is_finite() && count > 0.0 && Self::in_range(count / period.as_secs_f64())) {
            return Err(err());
        }
        Ok(Rate { count, period })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.period.as_secs() {
            60 => write!(f, "{}/min", self.count),
            3_600 => write!(f, "{}/h", self.count),
            1 => write!(f, "{}/s", self.count),
            secs if secs % 60 == 0 && self.period.subsec_nanos() == 0 => {
                write!(f, "{}/{}min", self.count, secs / 60)
            }
            _ => write!(f, "{}/{}s", self.count, self.period.as_secs_f64()),
        }
    }
}

/// The slowest the adaptive rate may go, in per mille of the configured rate.
const MIN_FACTOR: u32 = 1_000 / 16;
/// Won back per success, in per mille.
const RECOVERY_PER_SUCCESS: u32 = 20;
/// How late tokio's timer (1 ms ticks) may wake a waiter: lateness up to this is not an idle
/// spell, or every slot of a rate near 1,000/s would be re-anchored a tick late (measured:
/// 5,000 requests at 1,000/s took 2.19x N/R; bench/run.sh row 9).
const TIMER_SLACK: Duration = Duration::from_millis(2);
/// Guard on the sliding window, in parts per 10,000.
const WINDOW_GUARD: u32 = 20;

/// Counts a queued request out when its wait ends or is dropped.
struct Dequeue<'a>(&'a AtomicUsize);

impl Drop for Dequeue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A fair, adaptive rate limiter.
#[derive(Debug)]
pub struct RateLimiter {
    name: String,
    rate: Rate,
    burst: u32,
    window_max: usize,
    window: Duration,
    turnstile: tokio::sync::Mutex<()>,
    state: std::sync::Mutex<State>,
    /// Requests waiting in the turnstile (or about to): while any are, newcomers queue
    /// behind them.
    queued: AtomicUsize,
    /// True while `State::factor` is below full rate: a success then has something to win
    /// back. Read without the lock by every success (almost always false); written under it.
    slowed: AtomicBool,
}

#[derive(Debug)]
struct State {
    next_slot: Option<Instant>,
    sends: VecDeque<Instant>,
    paused_until: Option<Instant>,
    factor: u32,
    last_cut: Option<Instant>,
}

impl RateLimiter {
    /// A limiter named `name` (for logs) at `rate`, letting up to `burst` requests go at once
    /// after an idle spell (never more than the rate in any window).
    pub fn new(name: impl Into<String>, rate: Rate, burst: u32) -> Self {
        Self::with_guard(name, rate, burst, rate.period * WINDOW_GUARD / 10_000)
    }

    /// A limiter whose window is `guard` longer than the rate's period: a server counting
    /// arrivals per fixed second sees at most the rate as long as delivery times vary by less
    /// than `guard`. Used for DMarket's per-group limits, reached over the internet.
    pub fn with_guard(name: impl Into<String>, rate: Rate, burst: u32, guard: Duration) -> Self {
        let window_max = (rate.count.floor() as usize).max(1);
        RateLimiter {
            name: name.into(),
            rate,
            burst: burst.max(1),
            window_max,
            window: rate.period + guard,
            turnstile: tokio::sync::Mutex::new(()),
            state: std::sync::Mutex::new(State {
                next_slot: None,
                sends: VecDeque::with_capacity(window_max.min(4_096) + 1),
                paused_until: None,
                factor: 1_000,
                last_cut: None,
            }),
            slowed: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
        }
    }

    /// The name given at construction.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configured rate.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// The rate in force now (lower after 429s), in requests per second.
    pub fn effective_per_sec(&self) -> f64 {
        self.rate.per_sec() * f64::from(self.lock().factor) / 1_000.0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for this request's slot. Dropping the future gives the place up.
    pub async fn acquire(&self) {
        // Nobody queued: a free slot is taken at once, without the turnstile (whose release
        // takes its waiters' lock on every request). Otherwise, or when there is no free
        // slot, the request queues in FIFO order behind the others.
        if self.queued.load(Ordering::Acquire) == 0 && self.take_slot(Instant::now()).is_none() {
            return;
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        let _queued = Dequeue(&self.queued);
        let _turn = self.turnstile.lock().await;
        loop {
            match self.take_slot(Instant::now()) {
                None => return,
                Some(at) => tokio::time::sleep_until(at).await,
            }
        }
    }

    /// Takes the slot at `now` if it is due (`None`), else says when it will be.
    fn take_slot(&self, now: Instant) -> Option<Instant> {
        let mut s = self.lock();
        let interval = self.rate.interval() * 1_000 / s.factor;
        let tolerance = interval * (self.burst - 1);
        let mut at = match s.next_slot {
            Some(slot) => slot.checked_sub(tolerance).unwrap_or(slot),
            None => now,
        };
        if let Some(p) = s.paused_until {
            at = at.max(p);
        }
        if s.sends.len() >= self.window_max
            && let Some(&oldest) = s.sends.get(s.sends.len() - self.window_max)
        {
            at = at.max(oldest + self.window);
        }
        if at <= now {
            // The slot is theoretical: lateness in waking does not accumulate.
            // Re-anchor to `now` only after an idle spell (more than half an
            // interval past the slot, and more than the timer's slack), never for a
            // late wake-up.
            let late = (interval / 2).max(TIMER_SLACK);
            let base = match s.next_slot {
                Some(slot) if now <= slot + tolerance + late => slot,
                Some(_) | None => now,
            };
            s.next_slot = Some(base + interval);
            s.sends.push_back(now);
            // Only the last window matters: drop by count and by age, or a very high
            // rate (window_max in the millions) keeps every send ever made.
            while s.sends.len() > self.window_max
                || s.sends
                    .front()
                    .is_some_and(|&t| now.saturating_duration_since(t) >= self.window)
            {
                s.sends.pop_front();
            }
            None
        } else {
            Some(at)
        }
    }

    /// A 429: pause the whole bucket for `retry_after` (at least one interval) and halve the
    /// rate, once per interval however many in-flight requests report it. Returns the pause.
    pub fn on_rate_limited(&self, retry_after: Option<Duration>) -> Duration {
        let now = Instant::now();
        let mut s = self.lock();
        let interval = self.rate.interval() * 1_000 / s.factor;
        let pause = retry_after.unwrap_or(Duration::ZERO).max(interval);
        let until = now + pause;
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
        let recently_cut = s
            .last_cut
            .is_some_and(|t| now.saturating_duration_since(t) < pause.max(self.rate.period));
        if !recently_cut {
            s.factor = (s.factor / 2).max(MIN_FACTOR);
            s.last_cut = Some(now);
            self.slowed.store(s.factor < 1_000, Ordering::Release);
        }
        pause
    }

    /// Sends this limiter let go within the last `period`.
    pub fn sent_within(&self, period: Duration) -> usize {
        let now = Instant::now();
        let s = self.lock();
        s.sends
            .iter()
            .filter(|&&t| now.saturating_duration_since(t) < period)
            .count()
    }

    /// Holds every send until `until` (the server said the window is spent). Does not slow
    /// the rate: the server's count, not ours, ran out.
    pub fn hold_until(&self, until: Instant) {
        let mut s = self.lock();
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
    }

    /// A success: win back part of the rate (nothing to do, and no lock taken, at full rate).
    pub fn on_success(&self) {
        if !self.slowed.load(Ordering::Acquire) {
            return;
        }
        let mut s = self.lock();
        if s.factor < 1_000 {
            s.factor = (s.factor + RECOVERY_PER_SUCCESS).min(1_000);
        }
        self.slowed.store(s.factor < 1_000, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn rates_parse_with_units() {
        assert_eq!(
            "30/min".parse::<Rate>().unwrap(),
            Rate {
                count: 30.0,
                period: Duration::from_secs(60)
            }
        );
        assert_eq!(
            "30".parse::<Rate>().unwrap().interval(),
            Duration::from_secs(1) / 30
        );
        assert_eq!("2.5/s".parse::<Rate>().unwrap().per_sec(), 2.5);
        assert!("0/s".parse::<Rate>().is_err());
        assert!("abc".parse::<Rate>().is_err());
        assert!("30/fortnight".parse::<Rate>().is_err());
        assert_eq!("30/min".parse::<Rate>().unwrap().to_string(), "30/min");
        // Skinport's published limit, as its docs write it, and its other spellings.
        let skinport = Rate {
            count: 8.0,
            period: Duration::from_secs(300),
        };
        assert_eq!("8/5min".parse::<Rate>().unwrap(), skinport);
        assert_eq!("8 / 300s".parse::<Rate>().unwrap(), skinport);
        assert_eq!("8/5 minutes".parse::<Rate>().unwrap(), skinport);
        assert_eq!(skinport.to_string(), "8/5min");
        assert_eq!("8/5min".parse::<Rate>().unwrap().to_string(), "8/5min");
        assert!("8/0min".parse::<Rate>().is_err());
        assert!("8/5fortnights".parse::<Rate>().is_err());
    }

    async fn send_times(limiter: Arc<RateLimiter>, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..n {
            let l = limiter.clone();
            tasks.push(tokio::spawn(async move {
                l.acquire().await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap() - start);
        }
        times.sort();
        times
    }

    #[tokio::test(start_paused = true)]
    async fn n_requests_take_n_over_r_without_drift() {
        let limiter = Arc::new(RateLimiter::new("test", Rate::per_second(30.0).unwrap(), 1));
        let times = send_times(limiter, 91).await;
        // 91 requests at 30/s: the last goes at 90/30 = 3 s (plus the window guard per 30).
        let last = *times.last().unwrap();
        assert!(last >= Duration::from_secs(3), "{last:?}");
        assert!(last <= Duration::from_millis(3_020), "{last:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn no_sliding_second_holds_more_than_the_rate() {
        let limiter = Arc::new(RateLimiter::new(
            "test",
            Rate::per_second(10.0).unwrap(),
            10,
        ));
        let times = send_times(limiter, 45).await;
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| **u - *t < Duration::from_secs(1))
                .count();
            assert!(
                in_window <= 10,
                "{in_window} requests in the second from {t:?}"
            );
        }
        // The burst lets the first ten go at once, and exactly ten.
        assert_eq!(times[9], Duration::ZERO);
        assert!(times[10] > Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_the_shared_bucket_and_halves_the_rate() {
        let limiter = Arc::new(RateLimiter::new("test", Rate::per_second(10.0).unwrap(), 1));
        limiter.acquire().await;
        let pause = limiter.on_rate_limited(Some(Duration::from_secs(2)));
        assert_eq!(pause, Duration::from_secs(2));
        assert_eq!(limiter.effective_per_sec(), 5.0);
        // A second 429 from the same burst does not halve again.
        limiter.on_rate_limited(Some(Duration::from_secs(2)));
        assert_eq!(limiter.effective_per_sec(), 5.0);
        let t0 = Instant::now();
        limiter.acquire().await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(2));
        // Then at 5/s: 200 ms apart.
        let t1 = Instant::now();
        limiter.acquire().await;
        assert_eq!(Instant::now() - t1, Duration::from_millis(200));
        // 25 successes win the rate back.
        for _ in 0..25 {
            limiter.on_success();
        }
        assert_eq!(limiter.effective_per_sec(), 10.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_b_goes_at_once_then_pacing_resumes() {
        let limiter = Arc::new(RateLimiter::new("test", "60/min".parse().unwrap(), 3));
        let times = send_times(limiter, 5).await;
        assert_eq!(
            times,
            vec![
                Duration::ZERO,
                Duration::ZERO,
                Duration::ZERO,
                Duration::from_secs(1),
                Duration::from_secs(2)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn per_minute_groups_space_requests_out() {
        let limiter = Arc::new(RateLimiter::new("market", "30/min".parse().unwrap(), 1));
        let times = send_times(limiter, 3).await;
        assert_eq!(
            times,
            vec![
                Duration::ZERO,
                Duration::from_secs(2),
                Duration::from_secs(4)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_are_served_in_arrival_order() {
        let limiter = Arc::new(RateLimiter::new(
            "test",
            Rate::per_second(100.0).unwrap(),
            1,
        ));
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let (l, o) = (limiter.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                l.acquire().await;
                o.lock().unwrap().push(i);
            }));
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn a_newcomer_does_not_take_the_slot_a_queued_waiter_is_about_to_wake_for() {
        let limiter = Arc::new(RateLimiter::new("t", Rate::per_second(10.0).unwrap(), 1));
        limiter.acquire().await; // the free slot, at once; the next is due in 100 ms
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (l, o) = (limiter.clone(), order.clone());
        let waiter = tokio::spawn(async move {
            l.acquire().await;
            o.lock().unwrap().push("queued first");
        });
        tokio::task::yield_now().await;
        assert_eq!(
            limiter.queued.load(Ordering::Relaxed),
            1,
            "it waits in the queue"
        );
        // Its slot is due, and it is woken but has not run: a newcomer polled now must queue
        // behind it, not take the free slot on the fast path.
        tokio::time::advance(Duration::from_millis(100)).await;
        let mut newcomer = Box::pin(limiter.acquire());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(newcomer.as_mut().poll(&mut cx).is_pending());
        drop(newcomer);
        waiter.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["queued first"]);
        assert_eq!(
            limiter.queued.load(Ordering::Relaxed),
            0,
            "a dropped wait counts out"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_very_high_rate_keeps_only_the_last_windows_sends() {
        // At 1e9/s the window would hold a billion sends: they must be dropped by age, or
        // every request ever made stays in memory (16 bytes each).
        let limiter = RateLimiter::new("t", Rate::per_second(1e9).unwrap(), 1);
        for _ in 0..10_000 {
            limiter.acquire().await;
        }
        assert!(limiter.lock().sends.len() <= 10_000);
        tokio::time::advance(Duration::from_secs(2)).await;
        limiter.acquire().await;
        assert_eq!(limiter.lock().sends.len(), 1);
        assert_eq!(limiter.sent_within(Duration::from_secs(1)), 1);
    }
}
