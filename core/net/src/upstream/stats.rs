//! The upstream's counters for the per-cycle summary: requests, retries, 429s, failures,
//! bad bodies, server holds, and a bounded latency sample (reservoir) for percentiles.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters for the per-cycle summary.
#[derive(Debug, Default)]
pub struct UpstreamStats {
    pub(super) requests: AtomicU64,
    pub(super) retries: AtomicU64,
    pub(super) rate_limited: AtomicU64,
    pub(super) failures: AtomicU64,
    pub(super) latencies_us: Mutex<Vec<u32>>,
    pub(super) latency_seen: AtomicU64,
    pub(super) bad_bodies: AtomicU64,
    pub(super) server_holds: AtomicU64,
}

/// Latency samples kept between resets: a long cycle keeps a uniform sample of this many
/// (reservoir sampling), so memory does not grow with the requests sent.
const MAX_LATENCY_SAMPLES: usize = 16_384;

impl UpstreamStats {
    pub(super) fn record_latency(&self, micros: u32) {
        let seen = self.latency_seen.fetch_add(1, Ordering::Relaxed) + 1;
        let mut lat = self.latencies_us.lock().unwrap_or_else(|p| p.into_inner());
        if lat.len() < MAX_LATENCY_SAMPLES {
            lat.push(micros);
        } else {
            // Keep each of the `seen` samples with equal probability (Algorithm R); a cheap
            // hash of the count stands in for a random number, taken into 0..seen by a
            // multiply and shift rather than a division (Lemire's reduction).
            let hash = seen.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let slot = ((u128::from(hash) * u128::from(seen)) >> 64) as u64;
            if let Some(x) = lat.get_mut(slot as usize) {
                *x = micros;
            }
        }
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
