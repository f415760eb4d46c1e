//! Cross-market arbitrage through the whole host: the embedded market with both simulated
//! reference markets, configured as a user would (`market.embedded.markets`), one cycle.
//! Every cross opportunity the simulator's truth lists is found, at the truth's net, on the
//! market that nets most, and nothing its fees make unprofitable; one connection per
//! market, no 429.

use std::collections::BTreeMap;
use std::sync::Arc;

use skinscan_core::app;
use skinscan_core::config::{Env, parse_str, validate};
use skinscan_core::http::{H2Client, HttpOptions, Target};
use skinscan_core::report::WatchKind;
use skinscan_core::schedule::{NoObserver, ScheduleOptions, Scheduler};
use skinscan_core::sinks::Fanout;
use skinscan_core::upstream::Upstream;
use skinscan_sdk::Strategy;
use skinscan_tests::Collect;
use tokio_util::sync::CancellationToken;

const ITEMS: u64 = 150;

fn config() -> String {
    let mut toml = format!(
        r#"
[market]
endpoint = "embedded"
rate_limit = 500
[market.embedded]
items_per_game = {ITEMS}
latency = "0s"
jitter = "0s"
markets = ["skinport", "csfloat"]
"#
    );
    for game in ["csgo", "dota2", "rust", "tf2"] {
        toml.push_str(&format!(
            r#"
[plugins.{game}]
items = {ITEMS}
strategies = ["cross"]
min_price = 0.01
max_price = 100000
min_profit_percent = 0
use_default_blacklist = false
max_results = 10000
"#
        ));
    }
    toml.replace(
        "[plugins.csgo]\n",
        "[plugins.csgo]\ninclude_souvenir = true\n",
    )
}

/// The settings of [`config`], with no environment.
fn settings() -> skinscan_core::config::Settings {
    let raw = parse_str(&config(), "test").unwrap();
    let raw = skinscan_core::config::apply_env(raw, &BTreeMap::<String, String>::new() as &dyn Env)
        .unwrap();
    validate(raw, None).unwrap()
}

#[tokio::test]
async fn a_cycle_finds_every_cross_opportunity_of_the_truth_on_the_market_that_nets_most() {
    let mut settings = settings();
    assert_eq!(settings.references.markets.len(), 2);
    let (server, target) = app::market(&mut settings).await.unwrap();
    let server = server.expect("the embedded market runs");
    let refs = app::references(&settings, &target)
        .unwrap()
        .expect("two markets");
    let plugins = app::plugins_for(&settings, None).unwrap();
    let upstream = Arc::new(Upstream::new(settings.upstream.for_target(target.clone())));
    let scheduler = Scheduler::new(
        upstream.clone(),
        plugins,
        ScheduleOptions {
            parallel: true,
            concurrent_scans: 4,
            game_timeout: std::time::Duration::from_secs(60),
            grace_period: std::time::Duration::from_secs(2),
        },
    )
    .with_references(Some(refs.clone()));
    let report = scheduler
        .run_cycle(1, &CancellationToken::new(), Arc::new(NoObserver))
        .await;

    // What the host found: item -> (market, net).
    let mut found: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for g in &report.games {
        assert!(g.failure.is_none(), "{}: {:?}", g.game, g.failure);
        for o in &g.report.as_ref().unwrap().opportunities {
            assert_eq!(o.strategy, Strategy::Cross);
            assert!(o.net_profit.cents() > 0, "{o:?}");
            assert_eq!(
                o.sell_price.cents() - o.fee.cents() - o.buy_price.cents(),
                o.net_profit.cents()
            );
            found.insert(
                o.offer_id.clone().expect("listings carry their offer id"),
                (o.sell_market.as_str().to_owned(), o.net_profit.cents()),
            );
        }
    }
    let expected = truth(&server.url()).await;
    assert!(
        expected.len() >= 20,
        "the truth holds cross opportunities: {}",
        expected.len()
    );
    let markets: std::collections::BTreeSet<&str> =
        expected.values().map(|(m, _)| m.as_str()).collect();
    assert_eq!(markets.len(), 2, "both markets pay somewhere: {markets:?}");
    let missing: Vec<_> = expected
        .iter()
        .filter(|(k, v)| found.get(*k) != Some(v))
        .collect();
    let extra: Vec<_> = found
        .iter()
        .filter(|(k, _)| !expected.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing or different: {missing:?}\nnot in the truth: {extra:?}"
    );

    // After the cycle, CSFloat's three best candidates were checked against their live
    // listings: their floor (the simulator's, unchanged) and Steam's price are in the
    // snapshot now.
    let book = refs.book("csgo").unwrap();
    let csfloat = book
        .entries()
        .iter()
        .find(|e| e.snapshot.market().as_str() == "csfloat")
        .unwrap();
    let checked: Vec<_> = csfloat
        .snapshot
        .iter()
        .filter(|(_, _, q)| q.steam.is_some())
        .collect();
    assert_eq!(checked.len(), 3, "confirm_top = 3 titles checked");
    for (title, _, q) in &checked {
        assert!(
            q.lowest.is_some() && q.steam.unwrap().cents() > 0,
            "{title}"
        );
    }

    // One connection per market, no 429 anywhere, each market asked once per game (and
    // CSFloat once per candidate checked).
    let dmarket = upstream.stats(false);
    assert_eq!((dmarket.connections, dmarket.rate_limited), (1, 0));
    let status = refs.status();
    assert_eq!(status.len(), 2);
    for m in &status {
        assert_eq!(m.stats.connections, 1, "{}", m.market);
        assert_eq!(m.stats.rate_limited, 0, "{}", m.market);
        let candidates = if m.market.as_str() == "csfloat" { 3 } else { 0 };
        assert_eq!(
            m.stats.requests,
            m.games.len() as u64 + candidates,
            "{}",
            m.market
        );
        for (game, rows, fetched_at, error) in &m.games {
            assert!(
                *rows > 0 && fetched_at.is_some() && error.is_none(),
                "{} {game}",
                m.market
            );
        }
    }
    assert_eq!(
        report
            .markets
            .iter()
            .map(|(m, _)| m.as_str())
            .collect::<Vec<_>>(),
        ["skinport", "csfloat"]
    );
    // In the metrics each other market's requests have their own label, never DMarket's.
    let text = skinscan_core::events::metrics().encode();
    for market in ["skinport", "csfloat"] {
        assert!(
            text.contains(&format!("skinscan_requests_total{{group=\"{market}\"}}")),
            "{market} in {text}"
        );
    }
}

/// The simulator's truth: the best market per offer (Skinport first on a tie, as the book).
async fn truth(url: &str) -> BTreeMap<String, (String, i64)> {
    let client = H2Client::new(Target::parse(url).unwrap(), HttpOptions::default());
    let truth = client
        .send(
            http::Method::GET,
            "/__sim/cross",
            http::HeaderMap::new(),
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    let truth: serde_json::Value = serde_json::from_slice(&truth.body).unwrap();
    let mut expected: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for e in truth["cross"].as_array().unwrap() {
        let item = e["offer_id"].as_str().unwrap().to_owned();
        let market = e["sell_market"].as_str().unwrap().to_owned();
        let net = e["net_cents"].as_i64().unwrap();
        let better = expected.get(&item).is_none_or(|(m, n)| {
            net > *n || (net == *n && market == "skinport" && m != "skinport")
        });
        if better {
            expected.insert(item, (market, net));
        }
    }
    expected
}

#[tokio::test]
async fn watch_mode_judges_listings_against_the_snapshots_without_a_request_per_listing() {
    let mut settings = settings();
    let (server, target) = app::market(&mut settings).await.unwrap();
    let server = server.expect("the embedded market runs");
    let refs = app::references(&settings, &target)
        .unwrap()
        .expect("two markets");
    let games = ["csgo".to_owned(), "rust".to_owned()];
    let mut plugins = app::plugins_for(&settings, None).unwrap();
    for p in &mut plugins {
        p.enabled = games.contains(&p.name);
    }
    let stop = CancellationToken::new();
    refs.refresh_due(&games, &stop).await;
    let upstream = Arc::new(Upstream::new(settings.upstream.for_target(target.clone())));
    let events = Collect::default();
    let outputs = Arc::new(Fanout::new(vec![Box::new(events.clone())]));
    let run = tokio::spawn(skinscan_core::watch::run(
        upstream,
        plugins,
        outputs.clone(),
        settings.watch.clone(),
        Some(refs.clone()),
        stop.clone(),
    ));
    let expected = truth(&server.url()).await;
    // Wait (real time: the watch polls and sweeps) until a dozen cross events came.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let n = events.0.lock().unwrap().len();
        if n >= 12 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.cancel();
    run.await.unwrap();
    let seen = events.0.lock().unwrap().clone();
    let new: Vec<_> = seen.iter().filter(|e| e.kind == WatchKind::New).collect();
    assert!(new.len() >= 12, "cross events reported: {}", new.len());
    for e in &new {
        let o = &e.opportunity;
        assert_eq!(o.strategy, Strategy::Cross);
        let offer = o.offer_id.clone().unwrap();
        assert_eq!(
            expected.get(&offer),
            Some(&(o.sell_market.as_str().to_owned(), o.net_profit.cents())),
            "{o:?}"
        );
    }
    // The snapshots were fetched once per game (Skinport: both games; CSFloat: csgo), and
    // no listing cost a request to another market.
    for m in refs.status() {
        let covered = m.games.iter().filter(|(g, ..)| games.contains(g)).count() as u64;
        assert_eq!(m.stats.requests, covered, "{}", m.market);
    }
}

#[tokio::test]
async fn a_market_that_does_not_answer_is_said_and_its_snapshot_never_used() {
    // A closed port: every fetch fails at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let text = format!(
        "[market]\nendpoint = \"embedded\"\n[market.retry]\nattempts = 1\n[markets.skinport]\nenabled = true\nendpoint = \"http://{addr}\"\napp_ids = {{ csgo = 730 }}\n"
    );
    let raw = parse_str(&text, "test").unwrap();
    let settings = validate(raw, None).unwrap();
    let refs = skinscan_core::references::References::new(&settings.references, None).unwrap();
    let games = ["csgo".to_owned()];
    refs.refresh_due(&games, &CancellationToken::new()).await;
    let lines = refs.unusable(&games);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("no skinport snapshot has been fetched yet")
            && lines[0].contains("last fetch:")
            && lines[0].contains("cross judges no csgo listing against skinport"),
        "{}",
        lines[0]
    );
    // The book still holds the market, and every lookup refuses: stale, counted as such.
    let book = refs.book("csgo").unwrap();
    let listing = skinscan_sdk::Listing::new(
        "i-1",
        "AK-47 | Redline (Field-Tested)",
        skinscan_sdk::Money::usd(100),
    );
    let verdict = skinscan_sdk::markets::book::evaluate_cross(
        &skinscan_sdk::GameId::new("csgo").unwrap(),
        &listing,
        &book,
        &skinscan_sdk::arbitrage::Filters::default(),
        skinscan_sdk::markets::book::unix_now(),
    );
    assert_eq!(
        verdict,
        Some(Err(skinscan_sdk::RejectReason::StaleReference))
    );
    assert!(
        refs.book("dota2").is_none(),
        "a game no market covers has no book"
    );
}
