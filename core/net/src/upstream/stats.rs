//! The upstream's counters for the per-cycle summary: requests, retries, 429s, failures,
//! bad bodies, server holds, and a latency histogram for percentiles. All atomics: every
//! request records here, so nothing on the request path takes a lock (a mutex-guarded
//! reservoir of samples was 0.8% of the request path's samples, BENCHMARKS.md row 4a).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters for the per-cycle summary.
#[derive(Debug, Default)]
pub struct UpstreamStats {
    pub(super) requests: AtomicU64,
    pub(super) retries: AtomicU64,
    pub(super) rate_limited: AtomicU64,
    pub(super) failures: AtomicU64,
    pub(super) latencies: LatencyHistogram,
    pub(super) bad_bodies: AtomicU64,
    pub(super) server_holds: AtomicU64,
}

impl UpstreamStats {
    pub(super) fn record_latency(&self, micros: u32) {
        self.latencies.record(micros);
    }
}

/// Latencies in microseconds, counted in log-linear buckets: exact below 16 us, then 16
/// buckets per power of two (a bucket spans at most 1/16 of its lower bound, so a percentile
/// read from it is within 6.25%). Fixed size (464 counters, whatever the count), one
/// relaxed atomic add per sample.
#[derive(Debug)]
pub(super) struct LatencyHistogram {
    buckets: Box<[AtomicU64; BUCKETS]>,
}

/// Mantissa bits per power of two.
const SUB: u32 = 4;
const BUCKETS: usize = (1 << SUB) + (32 - SUB as usize) * (1 << SUB);

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: Box::new(std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }
}

impl LatencyHistogram {
    fn bucket(micros: u32) -> usize {
        if micros < 1 << SUB {
            return micros as usize;
        }
        let exp = 31 - micros.leading_zeros(); // >= SUB
        let mantissa = (micros >> (exp - SUB)) & ((1 << SUB) - 1);
        ((1 << SUB) + (exp - SUB) * (1 << SUB) + mantissa) as usize
    }

    /// The smallest value that falls in bucket `i`.
    fn lower_bound(i: usize) -> u64 {
        let sub = 1usize << SUB;
        if i < sub {
            return i as u64;
        }
        let exp = (i - sub) / sub + SUB as usize;
        let mantissa = ((i - sub) % sub) as u64;
        (1u64 << exp) + (mantissa << (exp - SUB as usize))
    }

    fn record(&self, micros: u32) {
        self.buckets[Self::bucket(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far, zeroed after reading when `reset` (a sample recorded meanwhile
    /// lands in one cycle or the next, never in both).
    pub(super) fn take(&self, reset: bool) -> Percentiles {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| {
                if reset {
                    b.swap(0, Ordering::Relaxed)
                } else {
                    b.load(Ordering::Relaxed)
                }
            })
            .collect();
        Percentiles { counts }
    }
}

/// One reading of a [`LatencyHistogram`].
pub(super) struct Percentiles {
    counts: Vec<u64>,
}

impl Percentiles {
    /// The `p`th percentile (nearest rank over the samples, as sorted), as the middle of
    /// the bucket it falls in; zero with no samples.
    pub(super) fn at(&self, p: u64) -> Duration {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return Duration::ZERO;
        }
        // The 0-based index the sorted samples would have: (n - 1) * p / 100.
        let rank = (total - 1) * p / 100;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen > rank {
                let low = LatencyHistogram::lower_bound(i);
                let high = LatencyHistogram::lower_bound(i + 1);
                return Duration::from_micros(low + (high - low - 1) / 2);
            }
        }
        Duration::ZERO
    }
}

/// A snapshot of [`UpstreamStats`], with latency percentiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Requests (first attempts).
    pub requests: u64,
    /// Retries.
    pub retries: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Requests that failed in the end.
    pub failures: u64,
    /// 2xx answers whose body was cut short or not JSON (each retried).
    pub bad_bodies: u64,
    /// Times a group was held because the server's window was spent by sends not ours.
    pub server_holds: u64,
    /// Median latency of successful attempts.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Connections opened so far.
    pub connections: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_contiguous_and_cover_every_u32() {
        let mut last = 0;
        for v in (0..100_000u32).chain([u32::MAX - 1, u32::MAX]) {
            let b = LatencyHistogram::bucket(v);
            assert!(b >= last, "bucket of {v} went down");
            assert!(b < BUCKETS);
            assert!(LatencyHistogram::lower_bound(b) <= u64::from(v));
            assert!(u64::from(v) < LatencyHistogram::lower_bound(b + 1));
            last = b;
        }
        assert_eq!(LatencyHistogram::bucket(u32::MAX), BUCKETS - 1);
        assert_eq!(LatencyHistogram::bucket(15), 15);
        assert_eq!(LatencyHistogram::bucket(16), 16);
    }

    #[test]
    fn percentiles_are_within_a_sixteenth_and_reset_empties() {
        let h = LatencyHistogram::default();
        // 1..=1000 us: p50 is 500 us, p99 990 us in the sorted samples.
        for v in 1..=1000 {
            h.record(v);
        }
        let p = h.take(false);
        for (pct, exact) in [(50u64, 500.0), (99, 990.0), (0, 1.0), (100, 1000.0)] {
            let got = p.at(pct).as_micros() as f64;
            assert!(
                (got - exact).abs() <= exact / 16.0,
                "p{pct}: {got} vs {exact}"
            );
        }
        assert_eq!(h.take(true).at(50), p.at(50));
        assert_eq!(h.take(false).at(50), Duration::ZERO, "reset leaves nothing");
        h.record(7);
        assert_eq!(
            h.take(false).at(99),
            Duration::from_micros(7),
            "exact below 16 us"
        );
    }
}
