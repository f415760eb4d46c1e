//! What cross-market judging costs, for `bench/run.sh` (row 10). Two parts:
//!
//! 1. **Cycles.** One scan of the embedded simulator (four games, `--items` listings each,
//!    DMarket's published unsigned limits, `--latency-ms` per answer) three ways, each with a
//!    fresh simulator of the same seed and the same plugin settings: DMarket alone; with
//!    Skinport and CSFloat (`market.embedded.markets`, defaults: Skinport's lowest listing,
//!    so one `/v1/items` per game; CSFloat's price list for CS2); and with Skinport's 7-day
//!    median (`reference = "median"`: `/v1/sales/history` too, two requests per game). Two
//!    cycles each: the first fetches the snapshots before it scans, the second finds them
//!    fresh. Per run: requests per market, each cycle's wall time, and opportunities by
//!    strategy.
//! 2. **Snapshot memory.** A synthetic Skinport `/v1/items` answer of `--rows` names (1% of
//!    them Dopplers in four phases) and a sales history of as many rows, parsed and built
//!    into a [`Snapshot`] as the host does; a counting global allocator gives the bytes
//!    the snapshot keeps (live after the build, answers dropped, less live before) and the
//!    peak while building; then `--lookups` title lookups, timed.
//!
//! ```text
//! cargo run -p skinscan-core --release --example crossbench -- --items 100 --rows 20000 --lookups 100000
//! ```
//!
//! Prints one JSON object (`cycles`, `snapshot`). Nothing here asserts a timing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use skinscan_core::app;
use skinscan_core::config::{Env, apply_env, parse_str, validate};
use skinscan_core::schedule::{NoObserver, ScheduleOptions, Scheduler};
use skinscan_core::upstream::Upstream;
use skinscan_sdk::Currency;
use skinscan_sdk::markets::skinport::{parse_items, parse_sales_history};
use skinscan_sdk::markets::snapshot::{ReferenceMarket, Snapshot, SnapshotBuilder};
use tokio_util::sync::CancellationToken;

/// The system allocator, counting the bytes live and the most ever live.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` with the caller's arguments unchanged; the
// counters are only arithmetic on the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc`, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (hence `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `dealloc` for `ptr` and `layout`; `new_size` is the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

struct Args {
    items: u64,
    latency_ms: u64,
    rows: usize,
    lookups: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        items: 100,
        latency_ms: 100,
        rows: 20_000,
        lookups: 100_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let n: u64 = value
            .parse()
            .map_err(|_| format!("{flag}: {value:?} is not a whole number"))?;
        match flag.as_str() {
            "--items" => args.items = n,
            "--latency-ms" => args.latency_ms = n,
            "--rows" => args.rows = n as usize,
            "--lookups" => args.lookups = n as usize,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// The config of one run: the same market and plugins, `markets` the only difference.
fn config(args: &Args, markets: &str, skinport_extra: &str) -> String {
    let mut toml = format!(
        "[market]\nendpoint = \"embedded\"\n[market.embedded]\nlatency = \"{}ms\"\njitter = \"0s\"\nmarkets = [{markets}]\n",
        args.latency_ms
    );
    if !skinport_extra.is_empty() {
        toml.push_str(&format!("[markets.skinport]\n{skinport_extra}\n"));
    }
    for game in ["csgo", "dota2", "rust", "tf2"] {
        toml.push_str(&format!("[plugins.{game}]\nitems = {}\n", args.items));
    }
    toml
}

/// Two cycles against a fresh embedded simulator configured by `toml`.
async fn run(name: &str, toml: &str) -> Result<Value, String> {
    let raw = parse_str(toml, name).map_err(|e| e.to_string())?;
    // No environment: the machine's CSFLOAT_API_KEY or proxies never change the figures.
    let raw = apply_env(raw, &BTreeMap::<String, String>::new() as &dyn Env)
        .map_err(|e| e.to_string())?;
    let mut settings = validate(raw, None).map_err(|e| e.to_string())?;
    let (_server, target) = app::market(&mut settings)
        .await
        .map_err(|e| e.to_string())?;
    let refs = app::references(&settings, &target).map_err(|e| e.to_string())?;
    let plugins = app::plugins_for(&settings, None).map_err(|e| e.to_string())?;
    let upstream = Arc::new(Upstream::new(settings.upstream.for_target(target.clone())));
    let scheduler = Scheduler::new(
        upstream.clone(),
        plugins,
        ScheduleOptions {
            parallel: true,
            concurrent_scans: 4,
            game_timeout: Duration::from_secs(120),
            grace_period: Duration::from_secs(2),
        },
    )
    .with_references(refs.clone());
    let cancel = CancellationToken::new();
    let mut cycles = Vec::new();
    let mut before: BTreeMap<String, u64> = BTreeMap::new();
    for id in 1..=2 {
        let report = scheduler.run_cycle(id, &cancel, Arc::new(NoObserver)).await;
        let mut requests: BTreeMap<String, u64> = BTreeMap::new();
        requests.insert("dmarket".into(), upstream.stats(false).requests);
        for (market, stats) in &report.markets {
            requests.insert(market.clone(), stats.requests);
        }
        let this_cycle: BTreeMap<&String, u64> = requests
            .iter()
            .map(|(m, n)| (m, n - before.get(m).copied().unwrap_or(0)))
            .collect();
        let rate_limited: u64 = report.stats.rate_limited
            + report
                .markets
                .iter()
                .map(|(_, s)| s.rate_limited)
                .sum::<u64>();
        let mut by_strategy: BTreeMap<String, u64> = BTreeMap::new();
        let mut by_market: BTreeMap<String, u64> = BTreeMap::new();
        let mut failed = Vec::new();
        for g in &report.games {
            if let Some(f) = &g.failure {
                failed.push(format!("{}: {f}", g.game));
            }
            for o in g.report.iter().flat_map(|r| &r.opportunities) {
                *by_strategy.entry(o.strategy.to_string()).or_default() += 1;
                *by_market
                    .entry(o.sell_market.as_str().to_owned())
                    .or_default() += 1;
            }
        }
        cycles.push(json!({
            "cycle": id,
            "wall_s": (report.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "requests": this_cycle,
            "rate_limited": rate_limited,
            "opportunities": by_strategy,
            "sell_market": by_market,
            "failed": failed,
        }));
        before = requests;
    }
    let snapshots: Vec<Value> = refs
        .iter()
        .flat_map(|r| r.status())
        .map(|m| {
            json!({
                "market": m.market.as_str(),
                "connections": m.stats.connections,
                "rows": m.games.iter().map(|(g, rows, _, _)| (g.clone(), *rows)).collect::<BTreeMap<_, _>>(),
            })
        })
        .collect();
    Ok(json!({ "run": name, "cycles": cycles, "snapshots": snapshots }))
}

/// A Skinport `/v1/items` answer of `rows` rows, as the wire has it (floats in dollars,
/// `version` for a Doppler's phase), and a `/v1/sales/history` answer of the same rows.
fn synthetic(rows: usize) -> (String, String, Vec<String>) {
    const WEARS: [&str; 5] = [
        "Factory New",
        "Minimal Wear",
        "Field-Tested",
        "Well-Worn",
        "Battle-Scarred",
    ];
    const PHASES: [&str; 4] = ["Phase 1", "Phase 2", "Ruby", "Sapphire"];
    let mut items = String::with_capacity(rows * 420);
    let mut sales = String::with_capacity(rows * 520);
    let mut titles = Vec::with_capacity(rows);
    items.push('[');
    sales.push('[');
    let mut i = 0;
    while titles.len() < rows {
        let doppler = i % 100 == 0;
        let wear = WEARS[i % WEARS.len()];
        let (name, versions): (String, &[&str]) = if doppler {
            (
                format!("★ Knife {} | Doppler ({wear})", i / 100),
                &PHASES[..],
            )
        } else {
            (
                format!("Weapon {} | Finish {} ({wear})", i % 97, i),
                &[][..],
            )
        };
        let versions: Vec<Option<&str>> = if versions.is_empty() {
            vec![None]
        } else {
            versions.iter().map(|v| Some(*v)).collect()
        };
        for version in versions {
            if titles.len() == rows {
                break;
            }
            let cents = 50 + (i as u64 * 7_919) % 500_000;
            let price = |c: u64| format!("{}.{:02}", c / 100, c % 100);
            let version = version.map_or("null".to_owned(), |v| format!("{v:?}"));
            if !titles.is_empty() {
                items.push(',');
                sales.push(',');
            }
            let slug = name.to_ascii_lowercase().replace([' ', '|', '(', ')'], "-");
            items.push_str(&format!(
                r#"{{"market_hash_name":{name:?},"version":{version},"currency":"USD","suggested_price":{},"item_page":"https://skinport.com/item/{slug}","market_page":"https://skinport.com/market/{slug}","min_price":{},"max_price":{},"mean_price":{},"median_price":{},"quantity":{},"created_at":1535988254,"updated_at":1776600913}}"#,
                price(cents * 11 / 10),
                price(cents),
                price(cents * 3 / 2),
                price(cents * 6 / 5),
                price(cents * 6 / 5),
                1 + i % 40,
            ));
            let window = |v: usize| {
                format!(
                    r#"{{"min":{},"max":{},"avg":{},"median":{},"volume":{v}}}"#,
                    price(cents * 9 / 10),
                    price(cents * 3 / 2),
                    price(cents * 11 / 10),
                    price(cents * 21 / 20),
                )
            };
            sales.push_str(&format!(
                r#"{{"market_hash_name":{name:?},"version":{version},"currency":"USD","item_page":"https://skinport.com/item/{slug}","market_page":"https://skinport.com/market/{slug}","last_24_hours":{},"last_7_days":{},"last_30_days":{},"last_90_days":{}}}"#,
                window(i % 5),
                window(i % 60),
                window(i % 250),
                window(i % 900),
            ));
            titles.push(name.clone());
        }
        i += 1;
    }
    items.push(']');
    sales.push(']');
    (items, sales, titles)
}

fn mib(bytes: usize) -> f64 {
    (bytes as f64 / (1 << 20) as f64 * 100.0).round() / 100.0
}

/// Builds snapshots from the synthetic answers and measures them.
fn snapshot_figures(rows: usize, lookups: usize) -> Value {
    let (items_body, sales_body, titles) = synthetic(rows);
    let (items_bytes, sales_bytes) = (items_body.len(), sales_body.len());
    let now = 1_800_000_000;

    // Items only (the default: reference "lowest", no 7-day gate).
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let started = Instant::now();
    let items =
        parse_items(items_body.as_bytes(), Currency::Usd).expect("the synthetic answer parses");
    let parsed = started.elapsed();
    let parsed_rows = items.items.len();
    let snapshot = SnapshotBuilder::new(ReferenceMarket::Skinport, Currency::Usd)
        .skinport_items(items, now)
        .build();
    let built = started.elapsed();
    let items_peak = PEAK.load(Ordering::Relaxed) - base;
    let items_kept = LIVE.load(Ordering::Relaxed) - base;

    // Items and sales history merged (reference "median" or min_volume_7d set).
    let base2 = LIVE.load(Ordering::Relaxed);
    PEAK.store(base2, Ordering::Relaxed);
    let started = Instant::now();
    let items = parse_items(items_body.as_bytes(), Currency::Usd).expect("parses");
    let sales = parse_sales_history(sales_body.as_bytes(), Currency::Usd).expect("parses");
    let both = SnapshotBuilder::new(ReferenceMarket::Skinport, Currency::Usd)
        .skinport_items(items, now)
        .skinport_sales(sales, now)
        .build();
    let both_built = started.elapsed();
    let both_peak = PEAK.load(Ordering::Relaxed) - base2;
    let both_kept = LIVE.load(Ordering::Relaxed) - base2;
    drop(items_body);
    drop(sales_body);

    // Lookups: every 10th asks a name no market lists; Dopplers ask Phase 1.
    let max_age = Duration::from_secs(1_500);
    let phase = skinscan_sdk::markets::phase::Phase::parse("Phase 1");
    let asked: Vec<String> = (0..lookups)
        .map(|k| {
            if k % 10 == 9 {
                format!("Nothing | Listed {k} (Field-Tested)")
            } else {
                titles[(k * 7_919) % titles.len()].clone()
            }
        })
        .collect();
    let started = Instant::now();
    let mut found = 0usize;
    for title in &asked {
        if lookup(&both, now, max_age, title, phase) {
            found += 1;
        }
    }
    let lookup_time = started.elapsed();
    json!({
        "rows_asked": rows,
        "items_answer_mib": mib(items_bytes),
        "sales_answer_mib": mib(sales_bytes),
        "items_only": {
            "rows_parsed": parsed_rows,
            "snapshot_rows": snapshot.len(),
            "parse_ms": ms(parsed),
            "parse_and_build_ms": ms(built),
            "kept_mib": mib(items_kept),
            "kept_bytes_per_row": items_kept / snapshot.len().max(1),
            "peak_mib": mib(items_peak),
        },
        "items_and_sales": {
            "snapshot_rows": both.len(),
            "parse_and_build_ms": ms(both_built),
            "kept_mib": mib(both_kept),
            "kept_bytes_per_row": both_kept / both.len().max(1),
            "peak_mib": mib(both_peak),
        },
        "lookups": lookups,
        "found": found,
        "lookup_ms": ms(lookup_time),
        "ns_per_lookup": (lookup_time.as_nanos() as f64 / lookups.max(1) as f64).round(),
    })
}

fn lookup(
    s: &Snapshot,
    now: i64,
    max_age: Duration,
    title: &str,
    phase: Option<skinscan_sdk::markets::phase::Phase>,
) -> bool {
    std::hint::black_box(s.lookup(now, max_age, title, phase)).is_ok()
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("crossbench: {e}");
            std::process::exit(2);
        }
    };
    // The snapshot part first, in a quiet process: nothing else allocates meanwhile.
    let snapshot = snapshot_figures(args.rows, args.lookups);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let runs = runtime.block_on(async {
        let mut runs = Vec::new();
        for (name, markets, extra) in [
            ("dmarket_only", "", ""),
            ("with_skinport_csfloat", "\"skinport\", \"csfloat\"", ""),
            (
                "skinport_median",
                "\"skinport\", \"csfloat\"",
                "reference = \"median\"",
            ),
        ] {
            match run(name, &config(&args, markets, extra)).await {
                Ok(v) => runs.push(v),
                Err(e) => {
                    eprintln!("crossbench: {name}: {e}");
                    std::process::exit(1);
                }
            }
        }
        runs
    });
    println!(
        "{}",
        json!({ "items_per_game": args.items, "latency_ms": args.latency_ms, "cycles": runs, "snapshot": snapshot })
    );
}
