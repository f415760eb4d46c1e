//! Watch mode on a living market: every underpriced listing that lives long enough is
//! reported once as `new`, never twice; `gone` follows a sale.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use skinscan_core::report::{WatchEvent, WatchKind};
use skinscan_core::sim::{LivingConfig, SimConfig};
use skinscan_core::sinks::Fanout;
use skinscan_core::upstream::Upstream;
use skinscan_core::watch::WatchOptions;
use skinscan_tests::*;
use tokio_util::sync::CancellationToken;

/// A watch running, its events collected.
struct Watching {
    events: Collect,
    outputs: Arc<Fanout>,
    stop: CancellationToken,
    run: tokio::task::JoinHandle<Arc<skinscan_core::watch::WatchStats>>,
}

/// Watches the built-in `games` through `upstream` until `stop`.
fn watch(upstream: Arc<Upstream>, games: &[&str], options: WatchOptions) -> Watching {
    let mut plugins = builtins(&[]);
    for p in &mut plugins {
        p.enabled = games.contains(&p.name.as_str());
    }
    let events = Collect::default();
    let outputs = Arc::new(Fanout::new(vec![Box::new(events.clone())]));
    let stop = CancellationToken::new();
    let run = tokio::spawn(skinscan_core::watch::run(
        upstream,
        plugins,
        outputs.clone(),
        options,
        None,
        stop.clone(),
    ));
    Watching {
        events,
        outputs,
        stop,
        run,
    }
}

/// The host's upstream to a fake server at `addr` (200 requests a second).
fn fake_upstream(addr: std::net::SocketAddr) -> Arc<Upstream> {
    Arc::new(Upstream::new(upstream_config(
        &format!("http://{addr}"),
        200.0,
    )))
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_long_lived_underpriced_listing_is_reported_once_and_its_sale_seen() {
    let sim = sim(SimConfig {
        items_per_game: 50,
        limits: None,
        living: Some(LivingConfig {
            arrivals_per_sec: 15.0,
            underpriced_share: 0.3,
            competitor_mean: Duration::from_secs(2),
            ..LivingConfig::default()
        }),
        ..SimConfig::default()
    })
    .await;
    let upstream = Arc::new(Upstream::new(upstream_config(&sim.url(), 200.0)));
    let Watching {
        events: collect,
        outputs,
        stop,
        run,
    } = watch(
        upstream.clone(),
        &["csgo", "dota2"],
        WatchOptions {
            gone_every: Duration::from_millis(500),
            ..WatchOptions::default()
        },
    );
    // Watch 4 s after both games' first polls were answered (on a busy machine they come
    // late): three listing polls each, give or take.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline
        && sim
            .stats()
            .paths
            .get(skinscan_sdk::dmarket::OFFERS_V2_PATH)
            .copied()
            .unwrap_or(0)
            < 6
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.cancel();
    let stats = run.await.unwrap();
    outputs.flush().await.unwrap();
    let ended = unix(SystemTime::now());

    let events = collect.0.lock().unwrap().clone();
    let new_ids: Vec<String> = events
        .iter()
        .filter(|e| e.kind == WatchKind::New)
        .map(|e| e.opportunity.offer_id.clone().unwrap())
        .collect();
    let unique: HashSet<&String> = new_ids.iter().collect();
    assert_eq!(unique.len(), new_ids.len(), "an opportunity reported twice");

    // The first poll's finds are the backlog, reported without a delay; what was listed
    // after it was answered counts as listed while watching.
    let began = stats.began.lock().unwrap().clone();
    let watching_from = |game: &str| {
        let plugin = if game == "a8db" { "csgo" } else { "dota2" };
        unix(began[plugin])
    };
    let truth = sim_json(sim.addr(), "/__sim/truth").await;
    let expected: Vec<&serde_json::Value> = truth["underpriced"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| ["a8db", "9a92"].contains(&t["game"].as_str().unwrap()))
        .filter(|t| {
            let (c, g) = (t["created"].as_f64().unwrap(), t["gone"].as_f64().unwrap());
            // Listed after the first poll, before the last seconds, and lived 1.5 s (a
            // busy 2-core machine polls each game about every half second).
            // (The CS:GO plugin leaves Souvenir items out by default.)
            let souvenir = t["title"].as_str().unwrap().starts_with("Souvenir ");
            !souvenir
                && c > watching_from(t["game"].as_str().unwrap())
                && c < ended - 2.0
                && g - c >= 1.5
        })
        .collect();
    assert!(expected.len() >= 5, "{} expected", expected.len());
    let caught = expected
        .iter()
        .filter(|t| unique.contains(&t["offer_id"].as_str().unwrap().to_owned()))
        .count();
    eprintln!(
        "watch: caught {caught} of {} long-lived underpriced listings",
        expected.len()
    );
    assert!(
        caught * 100 >= expected.len() * 90,
        "caught {caught} of {} (stats {stats:?})",
        expected.len()
    );
    // Listed while watching: each carries its detection delay, measured from `createdAt`
    // (whole seconds, so up to a second more than the truth).
    for t in &expected {
        let id = t["offer_id"].as_str().unwrap();
        if let Some(e) = events
            .iter()
            .find(|e| e.kind == WatchKind::New && e.opportunity.offer_id.as_deref() == Some(id))
        {
            assert!(!e.backlog, "{e:?}");
            let delay = e.delay.expect("a delay").as_secs_f64();
            let truth = unix(e.detected_at) - t["created"].as_f64().unwrap();
            assert!(
                delay >= truth - 0.01 && delay <= truth + 1.01,
                "{delay} vs {truth}"
            );
        }
    }
    // Competitors bought some of what was reported: their sale was seen.
    let gone = events.iter().filter(|e| e.kind == WatchKind::Gone).count();
    assert!(gone > 0, "no gone event among {} events", events.len());
    // New titles were priced once and then served from the cache.
    assert!(
        stats.cache_hits.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_and_429_bursts_never_report_twice_and_no_window_is_overrun() {
    use skinscan_core::limit::Rate;
    use skinscan_core::upstream::EndpointGroup;
    // Published limits x10 on both sides, GOAWAY every 15 streams, and an extra token
    // bucket (429 + Retry-After) below the host's pace.
    let sim = sim(SimConfig {
        items_per_game: 50,
        limits: Some(skinscan_core::sim::SimLimits::published().scaled(10)),
        rate: Some(12.0),
        burst: Some(2),
        faults: "goaway-every=10".parse().unwrap(),
        living: Some(LivingConfig {
            arrivals_per_sec: 10.0,
            underpriced_share: 0.3,
            competitor_mean: Duration::from_secs(3),
            ..LivingConfig::default()
        }),
        ..SimConfig::default()
    })
    .await;
    let mut config = upstream_config(&sim.url(), 60.0);
    config.policy.group_limits = vec![
        (EndpointGroup::Market, Rate::per_second(20.0).unwrap()),
        (EndpointGroup::Other, Rate::per_second(60.0).unwrap()),
    ];
    let upstream = Arc::new(Upstream::new(config));
    let Watching {
        events: collect,
        outputs,
        stop,
        run,
    } = watch(upstream.clone(), &["rust", "tf2"], WatchOptions::default());
    // Run until the market has answered enough for both disturbances to have happened (a
    // count, not a time: a busy machine sends fewer requests per second).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = sim.stats();
        let limited = s.status.get("429").copied().unwrap_or(0);
        if (s.requests >= 40 && s.connections >= 2 && limited > 0)
            || tokio::time::Instant::now() > deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    run.await.unwrap();
    outputs.flush().await.unwrap();
    let events = collect.0.lock().unwrap().clone();
    let ids: Vec<String> = events
        .iter()
        .filter(|e| e.kind == WatchKind::New)
        .map(|e| e.opportunity.offer_id.clone().unwrap())
        .collect();
    assert!(!ids.is_empty());
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "reported twice across reconnects or 429s"
    );
    let stats = sim.stats();
    assert!(stats.connections >= 2, "no reconnect happened: {stats:?}");
    assert!(
        stats.status.get("429").copied().unwrap_or(0) > 0,
        "no 429: {stats:?}"
    );
    // The published windows (x10) were never overrun: the simulator refused nothing by them.
    assert!(stats.limited.is_empty(), "{stats:?}");
}

/// A market of two scripted listings (`o1`, `o2`) on v2, priced by aggregated prices, whose
/// listing prices, buy orders and presence the test changes while watch mode runs.
#[derive(Debug)]
struct Scripted {
    /// o1's price (title AK).
    price: std::sync::atomic::AtomicI64,
    /// AK's best buy order.
    order: std::sync::atomic::AtomicI64,
    /// o2 (title M4, 900 against an order of 1100) is still listed.
    o2_listed: std::sync::atomic::AtomicBool,
}

const AK: &str = "AK-47 | Redline (Field-Tested)";
const M4: &str = "M4A1-S | Guardian (Field-Tested)";

/// A CS:GO listing as the v2 offers API gives it.
fn offer_json(id: &str, title: &str, price: i64, created: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"offerId": id, "priceCents": price, "createdAt": created,
        "locked": false, "attributes": {"title": title, "gameId": "a8db", "tradable": true}})
}

/// An aggregated-prices answer: (title, best order, best offer) in cents.
fn prices_json(entries: &[(&str, i64, i64)]) -> serde_json::Value {
    let money = |c: i64| serde_json::json!({"Currency": "USD", "Amount": c.to_string()});
    let prices: Vec<serde_json::Value> = entries
        .iter()
        .map(|(title, order, offer)| {
            serde_json::json!({"title": title, "orderBestPrice": money(*order), "orderCount": "5",
                "offerBestPrice": money(*offer), "offerCount": "1"})
        })
        .collect();
    serde_json::json!({"aggregatedPrices": prices, "nextCursor": ""})
}

const LONG_AGO: &str = "2026-11-24T21:47:00Z";

fn scripted_answer(m: &Scripted, parts: &http::request::Parts) -> FakeAnswer {
    use std::sync::atomic::Ordering::SeqCst;
    let offer = |id: &str, title: &str, price: i64| offer_json(id, title, price, LONG_AGO.into());
    let price = m.price.load(SeqCst);
    let body = match parts.uri.path() {
        "/marketplace-api/v2/offers" => {
            let query = parts.uri.query().unwrap_or("");
            let mut items = Vec::new();
            if !query.contains("title=") || query.contains("AK-47") {
                items.push(offer("o1", AK, price));
            }
            if m.o2_listed.load(SeqCst) && (!query.contains("title=") || query.contains("M4A1")) {
                items.push(offer("o2", M4, 900));
            }
            serde_json::json!({"items": items, "total": items.len(), "cursor": ""})
        }
        "/marketplace-api/v1/aggregated-prices" => {
            prices_json(&[(AK, m.order.load(SeqCst), price), (M4, 1_100, 900)])
        }
        _ => return (404, Vec::new(), b"{}".to_vec()),
    };
    (200, Vec::new(), serde_json::to_vec(&body).unwrap())
}

/// Waits (up to 20 s) until `events` holds one matching `want`.
async fn wait_for(events: &Collect, what: &str, want: impl Fn(&WatchEvent) -> bool) -> WatchEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(e) = events.0.lock().unwrap().iter().find(|e| want(e)) {
            return e.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {what} event among {:?}",
            events.0.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_price_is_changed_a_lost_margin_or_a_sale_is_gone_and_new_comes_once() {
    use skinscan_core::report::GoneReason;
    use std::sync::atomic::Ordering::SeqCst;
    let market = Arc::new(Scripted {
        price: 900.into(),
        order: 1_100.into(),
        o2_listed: true.into(),
    });
    let m = market.clone();
    let (addr, _) = fake_server(move |_, parts| scripted_answer(&m, parts)).await;
    let Watching {
        events: collect,
        outputs,
        stop,
        run,
    } = watch(
        fake_upstream(addr),
        &["csgo"],
        WatchOptions {
            gone_every: Duration::from_millis(100),
            price_ttl: Duration::from_millis(300),
            sweep_share: 0.2,
            ..WatchOptions::default()
        },
    );
    let is = |kind: WatchKind, id: &'static str| {
        move |e: &WatchEvent| e.kind == kind && e.opportunity.offer_id.as_deref() == Some(id)
    };
    let new = wait_for(&collect, "new o1", is(WatchKind::New, "o1")).await;
    assert_eq!(new.opportunity.buy_price.cents(), 900);
    // On the market before the first poll: the backlog, with no detection delay.
    assert!(new.backlog && new.delay.is_none(), "{new:?}");
    wait_for(&collect, "new o2", is(WatchKind::New, "o2")).await;

    // o1 is relisted dearer, still under the order after the fee: changed.
    market.price.store(950, SeqCst);
    let changed = wait_for(&collect, "changed o1", is(WatchKind::Changed, "o1")).await;
    assert_eq!(changed.opportunity.buy_price.cents(), 950);
    assert!(changed.opportunity.net_profit.cents() < new.opportunity.net_profit.cents());

    // AK's buy order falls below o1's price: once the cached price is refreshed (or
    // expires), o1 is gone.
    market.order.store(900, SeqCst);
    let lost = wait_for(&collect, "gone o1", is(WatchKind::Gone, "o1")).await;
    assert_eq!(lost.reason, Some(GoneReason::Unprofitable));

    // o2 is sold: gone, delisted.
    market.o2_listed.store(false, SeqCst);
    let sold = wait_for(&collect, "gone o2", is(WatchKind::Gone, "o2")).await;
    assert_eq!(sold.reason, Some(GoneReason::Delisted));

    // AK pays again: o1 was reported once and is not reported new again.
    market.order.store(1_100, SeqCst);
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.cancel();
    let stats = run.await.unwrap();
    outputs.flush().await.unwrap();
    let events = collect.0.lock().unwrap().clone();
    for id in ["o1", "o2"] {
        let news = events.iter().filter(|e| is(WatchKind::New, id)(e)).count();
        assert_eq!(news, 1, "{id} reported new {news} times: {events:?}");
    }
    assert!(stats.sweep_pages.load(SeqCst) > 0, "the sweep ran");
    assert!(
        stats.refreshed.load(SeqCst) > 0,
        "prices were refreshed ahead"
    );
    assert!(stats.cache_hits.load(SeqCst) > 0 && stats.cache_misses.load(SeqCst) > 0);
}

/// A listing the polls never show (say, missed after an outage) and the sweep finds: listed
/// after the watch began it is an arrival, with its delay; listed before, the backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_reports_what_was_listed_since_the_watch_began_with_its_delay() {
    let listed_at: Arc<Mutex<Option<u64>>> = Arc::default();
    let listed = listed_at.clone();
    let (addr, _) = fake_server(move |_, parts| {
        let query = parts.uri.query().unwrap_or("");
        let offer =
            |id: &str, title: &str, created: serde_json::Value| offer_json(id, title, 900, created);
        let body = match parts.uri.path() {
            // Only the sweep (cheapest first) sees these two; the polls see nothing.
            "/marketplace-api/v2/offers" if query.contains("orderBy=price") => {
                let mut items = vec![offer("old", M4, LONG_AGO.into())];
                if let Some(at) = *listed.lock().unwrap() {
                    items.push(offer("recent", AK, at.into()));
                }
                serde_json::json!({"items": items, "cursor": ""})
            }
            "/marketplace-api/v2/offers" => serde_json::json!({"items": [], "cursor": ""}),
            "/marketplace-api/v1/aggregated-prices" => {
                prices_json(&[(AK, 1_100, 900), (M4, 1_100, 900)])
            }
            _ => return (404, Vec::new(), b"{}".to_vec()),
        };
        (200, Vec::new(), serde_json::to_vec(&body).unwrap())
    })
    .await;
    let Watching {
        events: collect,
        stop,
        run,
        ..
    } = watch(
        fake_upstream(addr),
        &["csgo"],
        WatchOptions {
            sweep_share: 0.2,
            // (Prices expire fast, and are not refreshed ahead when that is off.)
            price_ttl: Duration::from_millis(100),
            refresh_ahead: false,
            ..WatchOptions::default()
        },
    );
    let is_new = |id: &'static str| {
        move |e: &WatchEvent| {
            e.kind == WatchKind::New && e.opportunity.offer_id.as_deref() == Some(id)
        }
    };
    // Listed days before the watch: found by the sweep, it is the backlog.
    let old = wait_for(&collect, "new old", is_new("old")).await;
    assert!(old.backlog && old.delay.is_none(), "{old:?}");
    // Listed now (in whole seconds, as `createdAt` has them; the watch began before).
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
    *listed_at.lock().unwrap() = Some(secs);
    let recent = wait_for(&collect, "new recent", is_new("recent")).await;
    assert!(!recent.backlog, "{recent:?}");
    let delay = recent.delay.expect("an arrival has a delay").as_secs_f64();
    let truth = unix(recent.detected_at) - secs as f64;
    assert!((delay - truth).abs() < 0.01, "{delay} vs {truth}");
    // Three TTLs more: with refresh_ahead off, nothing is priced ahead.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    let stats = run.await.unwrap();
    assert!(stats.sweep_pages.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert_eq!(stats.refreshed.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(stats.polls.load(std::sync::atomic::Ordering::SeqCst) > 0);
}

/// More listings arrive between two polls than one page holds (after an outage, say): the
/// poll pages deeper while a page holds only listings not seen before, and stops at the
/// first page holding one it has seen; every arrival is reported `new`, none as backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_pages_deeper_to_catch_up_and_stops_at_what_it_has_seen() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let arrived = Arc::new(AtomicBool::new(false));
    let cursors: Arc<Mutex<Vec<String>>> = Arc::default();
    let (state, seen_cursors) = (arrived.clone(), cursors.clone());
    let listed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (addr, _) = fake_server(move |_, parts| {
        let query = parts.uri.query().unwrap_or("");
        let body = match parts.uri.path() {
            "/marketplace-api/v2/offers" if query.contains("orderBy=createdAt") => {
                // Newest first, three to a page; the cursor is the offset.
                let mut ids: Vec<String> = Vec::new();
                if state.load(SeqCst) {
                    ids.extend((1..=7).rev().map(|i| format!("n{i}")));
                }
                ids.extend((1..=3).rev().map(|i| format!("old{i}")));
                let from: usize = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("cursor="))
                    .map(|c| {
                        seen_cursors.lock().unwrap().push(c.to_owned());
                        c.parse().unwrap()
                    })
                    .unwrap_or(0);
                let items: Vec<serde_json::Value> = ids
                    .iter()
                    .skip(from)
                    .take(3)
                    .map(|id| offer_json(id, AK, 900, listed.into()))
                    .collect();
                let next = if from + 3 < ids.len() {
                    (from + 3).to_string()
                } else {
                    String::new()
                };
                serde_json::json!({"items": items, "cursor": next})
            }
            "/marketplace-api/v2/offers" => serde_json::json!({"items": [], "cursor": ""}),
            "/marketplace-api/v1/aggregated-prices" => prices_json(&[(AK, 1_100, 900)]),
            _ => return (404, Vec::new(), b"{}".to_vec()),
        };
        (200, Vec::new(), serde_json::to_vec(&body).unwrap())
    })
    .await;
    let Watching {
        events: collect,
        stop,
        run,
        ..
    } = watch(
        fake_upstream(addr),
        &["csgo"],
        WatchOptions {
            sweep_share: 0.0,
            ..WatchOptions::default()
        },
    );
    // The first poll reads one page (everything is new at start: the rest is the backlog).
    wait_for(&collect, "new old3", |e| {
        e.opportunity.offer_id.as_deref() == Some("old3")
    })
    .await;
    assert!(
        cursors.lock().unwrap().is_empty(),
        "the first poll read one page"
    );
    arrived.store(true, SeqCst);
    for i in 1..=7 {
        let id = format!("n{i}");
        let e = wait_for(&collect, &id, |e| {
            e.kind == WatchKind::New && e.opportunity.offer_id.as_deref() == Some(id.as_str())
        })
        .await;
        assert!(!e.backlog && e.delay.is_some(), "{e:?}");
    }
    stop.cancel();
    let stats = run.await.unwrap();
    // Pages at offsets 3 and 6 held only new listings; the page at 6 (n1, old3, old2) held
    // seen ones, so the poll went no deeper.
    let cursors = cursors.lock().unwrap().clone();
    assert!(
        cursors.contains(&"3".to_owned()) && cursors.contains(&"6".to_owned()),
        "{cursors:?}"
    );
    assert!(!cursors.contains(&"9".to_owned()), "{cursors:?}");
    let events = collect.0.lock().unwrap().clone();
    let news = events.iter().filter(|e| e.kind == WatchKind::New).count();
    assert_eq!(news, 10, "three old, seven new, each once: {events:?}");
    assert_eq!(stats.new_listings.load(SeqCst), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_watch_judges_with_the_accounts_fees() {
    use skinscan_core::config::group_limits;
    use skinscan_core::sign::{Signer, generate_keypair_hex};
    use skinscan_sdk::FeeSource;
    let (public, secret) = generate_keypair_hex([33; 32]);
    let keys = Signer::from_hex(&public, &secret).unwrap();
    let sim = sim(SimConfig {
        items_per_game: 50,
        public_key: Some(keys.verifying_key()),
        living: Some(LivingConfig {
            arrivals_per_sec: 20.0,
            underpriced_share: 0.3,
            ..LivingConfig::default()
        }),
        ..SimConfig::default()
    })
    .await;
    let mut config = upstream_config(&sim.url(), 200.0);
    config.policy.group_limits = group_limits(&std::collections::BTreeMap::new(), true);
    config.policy.signer = Some(keys);
    let Watching {
        events: collect,
        outputs,
        stop,
        run,
    } = watch(
        Arc::new(Upstream::new(config)),
        &["csgo"],
        WatchOptions::default(),
    );
    // Until something was reported (a count, not a time).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while collect.0.lock().unwrap().len() < 5 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    run.await.unwrap();
    outputs.flush().await.unwrap();
    let events = collect.0.lock().unwrap().clone();
    assert!(!events.is_empty());
    // The account's fees were read once, before judging, and used.
    assert_eq!(
        sim.stats()
            .paths
            .get("/exchange/v1/customized-fees")
            .copied(),
        Some(1)
    );
    assert!(
        events
            .iter()
            .all(|e| e.opportunity.fee_source != FeeSource::Fixed),
        "{:?}",
        events
            .iter()
            .map(|e| e.opportunity.fee_source)
            .collect::<Vec<_>>()
    );
}
