//! The history store's per-event cost, for `bench/run.sh`: `--events` watch events written
//! one transaction each (as the history sink writes them: WAL, `synchronous = NORMAL`), half
//! `new` (an insert) and half `changed` (an update of the same rows), then reference prices
//! in batches of 100 titles.
//!
//! ```text
//! cargo run --release --example storebench -- --events 20000
//! ```
//!
//! Prints one JSON object: events, seconds, events per second, microseconds per event,
//! prices per second and the file's size.

use std::time::{Duration, Instant, SystemTime};

use skinscan_core::history::Store;
use skinscan_core::report::{WatchEvent, WatchKind};
use skinscan_sdk::arbitrage::FeeRule;
use skinscan_sdk::{Bps, GameId, Listing, Money, ReferencePrice, Strategy};

fn event(kind: WatchKind, i: u64, buy: i64) -> WatchEvent {
    let mut listing = Listing::new(
        format!("item-{i}"),
        format!("Title {}", i % 500),
        Money::usd(buy),
    );
    listing.offer_id = Some(format!("offer-{i:08}"));
    listing.listed_at = Some(1_796_000_000);
    WatchEvent {
        kind,
        opportunity: skinscan_sdk::arbitrage::opportunity(
            &GameId::new(["csgo", "dota2", "rust", "tf2"][(i % 4) as usize]).unwrap(),
            &listing,
            Strategy::Instant,
            buy * 13 / 10,
            &FeeRule::fixed(Bps::new(700).unwrap()),
        ),
        detected_at: SystemTime::now(),
        delay: Some(Duration::from_millis(300)),
        reason: None,
        backlog: false,
    }
}

fn main() {
    let mut events: u64 = 20_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--events" => {
                events = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--events N")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let dir = std::env::temp_dir().join(format!("skinscan-storebench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("h.db");
    let store = Store::open(&path).expect("the database opens");
    let half = events / 2;
    let started = Instant::now();
    for i in 0..half {
        store
            .record_event(&event(WatchKind::New, i, 1_000))
            .unwrap();
    }
    for i in 0..events - half {
        store
            .record_event(&event(WatchKind::Changed, i, 990))
            .unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let batches = 200;
    let prices: Vec<ReferencePrice> = (0..100)
        .map(|t| {
            let mut p = ReferencePrice::new(format!("Title {t}"));
            p.best_order = Some(Money::usd(1_200));
            p.order_count = 4;
            p
        })
        .collect();
    let started = Instant::now();
    for _ in 0..batches {
        store
            .record_prices("csgo", &prices, SystemTime::now())
            .unwrap();
    }
    let price_secs = started.elapsed().as_secs_f64();
    let size: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{}",
        serde_json::json!({
            "events": events,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "events_per_sec": (events as f64 / secs).round(),
            "us_per_event": (secs * 1e6 / events as f64 * 10.0).round() / 10.0,
            "prices_per_sec": ((batches * 100) as f64 / price_secs).round(),
            "bytes": size,
        })
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
