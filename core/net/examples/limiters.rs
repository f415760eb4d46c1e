//! Our limiter, the `leaky-bucket` crate (the design card's choice) and `governor`, side by
//! side on one workload, for `bench/run.sh`: N requests at R/s taken by `--tasks` concurrent
//! tasks on one runtime, each limiter in turn, in one process.
//!
//! ```text
//! cargo run --release -p skinscan-net --example limiters -- --rates 30,1000 --seconds 5 --tasks 8
//! ```
//!
//! Prints one JSON object per limiter and rate: N, R, wall time (first acquire to last) over
//! N/R, the most sends in any sliding 1 s window (from the recorded send instants), and the
//! most in any 1 s window over R. Each is configured to its strictest pacing (burst 1), so
//! the three are compared on what a server counting per second would see.
//!
//! What each can do that the request path needs is not measured here but stated in
//! BENCHMARKS.md: a rate changed at run time (AIMD after a 429), a pause for `Retry-After`
//! shared by every waiter, and no sliding window over the rate.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use skinscan_net::limit::{Rate, RateLimiter};

#[derive(Clone, Copy, Debug)]
enum Contender {
    Ours,
    LeakyBucket,
    Governor,
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Contender::Ours => "skinscan limit::RateLimiter",
            Contender::LeakyBucket => "leaky-bucket 1.1",
            Contender::Governor => "governor 0.10",
        }
    }
}

/// One limiter behind one `acquire`.
enum Limiter {
    Ours(RateLimiter),
    LeakyBucket(leaky_bucket::RateLimiter),
    Governor(governor::DefaultDirectRateLimiter),
}

impl Limiter {
    fn new(contender: Contender, per_sec: f64) -> Limiter {
        let interval = Duration::from_secs_f64(1.0 / per_sec);
        match contender {
            Contender::Ours => Limiter::Ours(RateLimiter::new(
                "bench",
                Rate::per_second(per_sec).expect("a rate in range"),
                1,
            )),
            Contender::LeakyBucket => Limiter::LeakyBucket(
                leaky_bucket::RateLimiter::builder()
                    .initial(1)
                    .max(1)
                    .refill(1)
                    .interval(interval)
                    .fair(true)
                    .build(),
            ),
            Contender::Governor => Limiter::Governor(governor::RateLimiter::direct(
                governor::Quota::with_period(interval)
                    .expect("a non-zero interval")
                    .allow_burst(NonZeroU32::MIN),
            )),
        }
    }

    async fn acquire(&self) {
        match self {
            Limiter::Ours(l) => l.acquire().await,
            Limiter::LeakyBucket(l) => l.acquire_one().await,
            Limiter::Governor(l) => l.until_ready().await,
        }
    }
}

async fn measure(contender: Contender, per_sec: f64, n: u64, tasks: u64) -> serde_json::Value {
    let limiter = Arc::new(Limiter::new(contender, per_sec));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (limiter, next) = (limiter.clone(), next.clone());
        set.spawn(async move {
            let mut sent = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < n {
                limiter.acquire().await;
                sent.push(Instant::now());
            }
            sent
        });
    }
    let mut sent: Vec<Instant> = Vec::with_capacity(n as usize);
    while let Some(part) = set.join_next().await {
        sent.extend(part.expect("a task"));
    }
    sent.sort_unstable();
    let wall = sent
        .last()
        .map_or(Duration::ZERO, |t| t.duration_since(started));
    let ideal = n as f64 / per_sec;
    let busiest = busiest_second(&sent);
    serde_json::json!({
        "limiter": contender.name(),
        "n": n,
        "rate": per_sec,
        "tasks": tasks,
        "wall_s": wall.as_secs_f64(),
        "ideal_s": ideal,
        "wall_over_ideal": wall.as_secs_f64() / ideal,
        "max_in_1s": busiest,
        "max_in_1s_over_rate": busiest as f64 / per_sec,
    })
}

/// The most instants of `sorted` in any half-open 1 s window.
fn busiest_second(sorted: &[Instant]) -> usize {
    let mut first = 0;
    let mut best = 0;
    for (last, t) in sorted.iter().enumerate() {
        while t.duration_since(sorted[first]) >= Duration::from_secs(1) {
            first += 1;
        }
        best = best.max(last - first + 1);
    }
    best
}

fn main() -> std::process::ExitCode {
    let mut rates = vec![30.0, 1000.0];
    let mut seconds = 5.0;
    let mut tasks = 8;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        let parsed = match flag.as_str() {
            "--rates" => value
                .split(',')
                .map(str::parse)
                .collect::<Result<Vec<f64>, _>>()
                .map(|r| rates = r)
                .is_ok(),
            "--seconds" => value.parse().map(|s| seconds = s).is_ok(),
            "--tasks" => value.parse().map(|t| tasks = t).is_ok(),
            _ => false,
        };
        if !parsed {
            eprintln!(
                "error: {flag} {value:?}\nusage: limiters [--rates 30,1000] [--seconds 5] [--tasks 8]"
            );
            return std::process::ExitCode::from(2);
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        for &rate in &rates {
            let n = (rate * seconds).round() as u64;
            for contender in [Contender::Ours, Contender::LeakyBucket, Contender::Governor] {
                println!("{}", measure(contender, rate, n, tasks).await);
            }
        }
    });
    std::process::ExitCode::SUCCESS
}
