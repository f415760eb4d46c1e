//! Drives skinscan's own request path at full speed, for `bench/run.sh`: the same
//! `Upstream::send` a scan uses (limiter, retries, breaker, the one HTTP/2 connection), with
//! `--concurrency` requests in flight, like `h2load -c1 -mN`.
//!
//! ```text
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8080 --requests 200000 --concurrency 100
//! ```
//!
//! Prints one JSON object: requests, errors, seconds, requests per second, 429s, connections,
//! latency p50/p99, and the exact path requested (so h2load can ask for the same one).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use skinscan_core::http::Target;
use skinscan_core::limit::Rate;
use skinscan_core::upstream::Upstream;
use skinscan_sdk::dmarket::{ListingApi, ListingsQuery};
use tokio_util::sync::CancellationToken;

struct Args {
    url: String,
    requests: u64,
    concurrency: u64,
    rate: f64,
    threads: usize,
    limit: u32,
    rss_every: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        requests: 100_000,
        concurrency: 100,
        rate: 10_000_000.0,
        threads: 1,
        limit: 10,
        rss_every: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: {v:?} is not a number"))
        };
        match flag.as_str() {
            "--url" => args.url = value()?,
            "--requests" => args.requests = number(value()?)? as u64,
            "--concurrency" => args.concurrency = number(value()?)? as u64,
            "--rate" => args.rate = number(value()?)?,
            "--threads" => args.threads = number(value()?)? as usize,
            "--limit" => args.limit = number(value()?)? as u32,
            "--rss-every" => args.rss_every = number(value()?)? as u64,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.url.is_empty() {
        return Err("--url is required (e.g. http://127.0.0.1:8080)".into());
    }
    Ok(args)
}

fn main() -> std::process::ExitCode {
    // As `skinscan` itself does.
    skinscan_core::malloc::keep_freed_memory();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "error: {e}\nusage: loadgen --url URL [--requests N] [--concurrency C] [--rate R] [--threads T] [--limit L] [--rss-every N]"
            );
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match args.threads {
        0 | 1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    }
    .expect("a runtime");
    runtime.block_on(run(args))
}

async fn run(args: Args) -> std::process::ExitCode {
    // The shipped defaults (retries, breaker, timeouts), with the rate from --rate.
    let mut settings = match skinscan_core::config::load(None, &BTreeMap::<String, String>::new()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    settings.upstream.rate = Rate::per_second(args.rate).expect("a positive --rate");
    // Raw throughput: DMarket's per-group limits (the defaults) would measure them, not us.
    settings.upstream.group_limits.clear();
    let target = match Target::parse(&args.url) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let upstream = Arc::new(Upstream::new(settings.upstream.for_target(target)));
    let request = Arc::new(
        ListingsQuery::new(ListingApi::V1, "a8db")
            .limit(args.limit)
            .to_request(),
    );
    let cancel = CancellationToken::new();
    // Warm up: the connection and the first page.
    if let Err(e) = upstream.send(&request, &cancel).await {
        eprintln!("error: the first request failed: {e}");
        return std::process::ExitCode::from(1);
    }
    let _ = upstream.stats(true);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (upstream, request, cancel, next, errors) = (
            upstream.clone(),
            request.clone(),
            cancel.clone(),
            next.clone(),
            errors.clone(),
        );
        let total = args.requests;
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                match upstream.send(&request, &cancel).await {
                    Ok(r) if r.status == 200 => {}
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    // With --rss-every N: the resident set every N requests (a leak is a rising line).
    let rss_samples = Arc::new(std::sync::Mutex::new(Vec::<(u64, u64)>::new()));
    if args.rss_every > 0 {
        let (next, samples, every, total) = (
            next.clone(),
            rss_samples.clone(),
            args.rss_every,
            args.requests,
        );
        tasks.spawn(async move {
            let mut mark = 0;
            loop {
                let done = next.load(Ordering::Relaxed).min(total);
                if done >= mark {
                    samples.lock().unwrap().push((done, rss_kb()));
                    mark += every;
                }
                if done >= total {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let seconds = started.elapsed().as_secs_f64();
    let stats = upstream.stats(false);
    let done = stats.requests - 1;
    println!(
        "{}",
        serde_json::json!({
            "requests": done,
            "errors": errors.load(Ordering::Relaxed),
            "seconds": seconds,
            "rps": done as f64 / seconds,
            "retries": stats.retries,
            "rate_limited": stats.rate_limited,
            "connections": stats.connections,
            "p50_ms": stats.p50.as_secs_f64() * 1e3,
            "p99_ms": stats.p99.as_secs_f64() * 1e3,
            "path": request.path_and_query(),
            "rss_kb": *rss_samples.lock().unwrap(),
        })
    );
    std::process::ExitCode::SUCCESS
}

/// This process's resident set in KB (Linux `/proc/self/statm`), 0 elsewhere.
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4)
}
