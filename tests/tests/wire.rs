//! DMarket's real wire format end to end: the host against the simulator's real shapes and
//! published limits, a 429 that names only `RateLimit-Reset`, trade locks, and the v1, v2 and
//! `auto` listing endpoints.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skinscan_core::config::group_limits;
use skinscan_core::schedule::{NoObserver, Scheduler};
use skinscan_core::sign::{Signer, generate_keypair_hex};
use skinscan_core::sim::SimConfig;
use skinscan_core::upstream::Upstream;
use skinscan_sdk::dmarket::{MARKET_ITEMS_PATH, OFFERS_V2_PATH};
use skinscan_sdk::model::FeeSource;
use skinscan_sdk::{FetchError, Opportunity, RejectReason, SettingValue, Strategy};
use skinscan_tests::*;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn opportunities(report: &skinscan_core::schedule::CycleReport) -> Vec<&Opportunity> {
    report
        .games
        .iter()
        .filter_map(|g| g.report.as_ref())
        .flat_map(|r| &r.opportunities)
        .collect()
}

fn rejected(report: &skinscan_core::schedule::CycleReport, reason: RejectReason) -> u64 {
    report
        .games
        .iter()
        .filter_map(|g| g.report.as_ref())
        .filter_map(|r| r.rejected.get(&reason))
        .sum()
}

#[tokio::test]
async fn a_scan_at_the_published_limits_finds_opportunities_without_a_429_unsigned_and_signed() {
    for signed in [false, true] {
        let keys = signed.then(|| {
            let (public, secret) = generate_keypair_hex([31; 32]);
            Signer::from_hex(&public, &secret).unwrap()
        });
        // The simulator enforces DMarket's published limits (its default).
        let sim = sim(SimConfig {
            items_per_game: 300,
            public_key: keys.as_ref().map(Signer::verifying_key),
            ..SimConfig::default()
        })
        .await;
        // The host uses the defaults a config without [market.limits] gets.
        let mut config = upstream_config(&sim.url(), 30.0);
        config.policy.group_limits = group_limits(&BTreeMap::new(), signed);
        config.policy.signer = keys;
        let report = one_cycle(
            config,
            builtins(&[("items", SettingValue::Integer(300))]),
            parallel(4),
        )
        .await;
        assert_all_ok(&report);
        let stats = sim.stats();
        assert_eq!(stats.status.get("429"), None, "signed={signed}: {stats:?}");
        assert!(stats.limited.is_empty(), "signed={signed}: {stats:?}");
        assert_eq!(report.stats.rate_limited, 0);
        // 3 pages per game; the windows were used, never overrun.
        let market_peak = stats.max_in_window.get("market").copied().unwrap_or(0);
        assert!(
            market_peak <= if signed { 10 } else { 2 },
            "signed={signed}: {market_peak} listing requests in one window"
        );
        let found = opportunities(&report);
        assert!(!found.is_empty(), "signed={signed}: nothing found");
        assert!(
            found
                .iter()
                .all(|o| o.offer_id.is_some() && o.listed_at.is_some()),
            "every opportunity carries its offer id and listing time"
        );
        let fee_reads = stats
            .paths
            .get("/exchange/v1/customized-fees")
            .copied()
            .unwrap_or(0);
        if signed {
            // The account's fees were read once per game and used.
            assert_eq!(fee_reads, 4);
            assert!(found.iter().all(|o| o.fee_source != FeeSource::Fixed));
        } else {
            assert_eq!(fee_reads, 0);
            assert!(found.iter().all(|o| o.fee_source == FeeSource::Fixed));
        }
        // Nothing was dropped: the simulator's shapes are the ones the sdk reads.
        for g in &report.games {
            let r = g.report.as_ref().unwrap();
            assert_eq!(r.wire.dropped_total(), 0, "{}: {:?}", g.game, r.wire);
            assert!(
                r.wire.forms.contains_key(&(
                    "aggregated prices".to_owned(),
                    "price=commonMoney".to_owned()
                )),
                "{}: {:?}",
                g.game,
                r.wire.forms
            );
        }
    }
}

/// A server that answers its first request 429 with only `RateLimit-Reset: <reset>` (no
/// `Retry-After`), every later one 200; it records when each request arrived.
async fn reset_only_server(reset: &'static str) -> (SocketAddr, Arc<Mutex<Vec<Instant>>>) {
    scripted_server(reset, true).await
}

/// As [`reset_only_server`]; with `limited` false the first answer is a 200 whose window is
/// spent (`RateLimit-Remaining: 0`), as when another client shares the account.
async fn scripted_server(
    reset: &'static str,
    limited: bool,
) -> (SocketAddr, Arc<Mutex<Vec<Instant>>>) {
    fake_server(move |n, _| match (n, limited) {
        (1, true) => (
            429,
            vec![("ratelimit-reset", reset.to_owned())],
            br#"{"code":"TooManyRequests","message":"too many requests"}"#.to_vec(),
        ),
        (1, false) => (
            200,
            vec![
                ("ratelimit-limit", "10".to_owned()),
                ("ratelimit-remaining", "0".to_owned()),
                ("ratelimit-reset", reset.to_owned()),
            ],
            b"{}".to_vec(),
        ),
        _ => (200, Vec::new(), b"{}".to_vec()),
    })
    .await
}

#[tokio::test]
async fn a_429_with_only_ratelimit_reset_is_retried_no_sooner_than_the_reset() {
    let (addr, arrivals) = reset_only_server("1").await;
    let mut config = upstream_config(&format!("http://{addr}"), 1_000.0);
    config.policy.group_limits = group_limits(&BTreeMap::new(), true);
    let upstream = Upstream::new(config);
    let answer = send_page(&upstream).await.expect("the retry succeeds");
    assert_eq!(answer.status, 200);
    let a = arrivals.lock().unwrap().clone();
    assert_eq!(a.len(), 2);
    let gap = a[1] - a[0];
    assert!(
        gap >= Duration::from_secs(1),
        "retried after {gap:?}, before RateLimit-Reset: 1"
    );
    assert!(
        gap < Duration::from_secs(3),
        "waited {gap:?}: far longer than asked"
    );
    assert_eq!(upstream.stats(false).rate_limited, 1);
}

#[tokio::test]
async fn a_window_spent_by_another_client_holds_the_group_until_its_reset() {
    let (addr, arrivals) = scripted_server("1", false).await;
    let mut config = upstream_config(&format!("http://{addr}"), 1_000.0);
    config.policy.group_limits = group_limits(&BTreeMap::new(), true);
    let upstream = Upstream::new(config);
    // One send of ours cannot explain "0 of 10 left": someone else used the window.
    assert_eq!(send_page(&upstream).await.unwrap().status, 200);
    assert_eq!(send_page(&upstream).await.unwrap().status, 200);
    let a = arrivals.lock().unwrap().clone();
    let gap = a[1] - a[0];
    assert!(gap >= Duration::from_millis(990), "held only {gap:?}");
    assert!(gap < Duration::from_secs(3), "held {gap:?}");
    let stats = upstream.stats(false);
    assert_eq!((stats.rate_limited, stats.server_holds), (0, 1));
}

/// A server counting per fixed second, reached over a round trip, sees sends of ours that are
/// more than a second old by the time its `Remaining: 0` arrives: those are ours, not another
/// client's, and must not hold the group (they once held it a second out of every two, and
/// watch mode polled at half the limit).
#[tokio::test]
async fn our_own_sends_seen_over_a_round_trip_do_not_hold_the_group() {
    let (public, secret) = generate_keypair_hex([32; 32]);
    let keys = Signer::from_hex(&public, &secret).unwrap();
    let sim = sim(SimConfig {
        items_per_game: 50,
        latency: Duration::from_millis(100),
        public_key: Some(keys.verifying_key()),
        ..SimConfig::default()
    })
    .await;
    let mut config = upstream_config(&sim.url(), 1_000.0);
    config.policy.group_limits = group_limits(&BTreeMap::new(), true);
    config.policy.signer = Some(keys);
    let upstream = Arc::new(Upstream::new(config));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let u = upstream.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..8 {
                assert_eq!(send_page(&u).await.unwrap().status, 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let stats = upstream.stats(false);
    assert_eq!(stats.rate_limited, 0, "{:?}", sim.stats());
    assert_eq!(stats.server_holds, 0, "held by our own sends");
    // 32 requests at 10/s: about 3.2 s; a hold per window would have made it 5 s or more.
    assert!(elapsed < Duration::from_millis(4_300), "took {elapsed:?}");
    assert!(sim.stats().max_in_window.get("market").copied() <= Some(10));
}

#[tokio::test]
async fn a_server_wait_longer_than_max_server_wait_fails_at_once_quoting_it() {
    let (addr, arrivals) = reset_only_server("3600").await;
    let mut config = upstream_config(&format!("http://{addr}"), 1_000.0);
    config.policy.group_limits = group_limits(&BTreeMap::new(), true);
    let upstream = Upstream::new(config);
    let started = Instant::now();
    let err = send_page(&upstream).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    match err {
        FetchError::Http {
            status: 429,
            message,
        } => assert!(
            message.contains("wait 1h (RateLimit-Reset)")
                && message.contains("market.max_server_wait (1m)"),
            "{message}"
        ),
        other => panic!("expected a 429, got {other}"),
    }
    assert_eq!(arrivals.lock().unwrap().len(), 1, "no retry");
}

#[tokio::test]
async fn a_trade_locked_listing_is_never_an_instant_opportunity() {
    let sim = sim(SimConfig {
        items_per_game: 2_000,
        limits: None,
        ..SimConfig::default()
    })
    .await;
    let report = one_cycle(
        upstream_config(&sim.url(), 1_000.0),
        builtins(&[
            ("items", SettingValue::Integer(2_000)),
            ("max_results", SettingValue::Integer(10_000)),
        ]),
        parallel(4),
    )
    .await;
    assert_all_ok(&report);
    let found = opportunities(&report);
    let instant: Vec<_> = found
        .iter()
        .filter(|o| o.strategy == Strategy::Instant)
        .collect();
    assert!(!instant.is_empty());
    assert!(
        instant.iter().all(|o| !o.trade_lock.is_locked()),
        "a locked item counted as an instant resale"
    );
    // Locked items were seen, and refused for instant (relist may still take them).
    assert!(
        found.iter().any(|o| o.trade_lock.is_locked())
            || rejected(&report, RejectReason::TradeLocked) > 0
    );
    let locked_relist = found
        .iter()
        .filter(|o| o.trade_lock.is_locked())
        .all(|o| o.strategy == Strategy::Relist);
    assert!(locked_relist);
}

#[tokio::test]
async fn v1_v2_and_auto_listing_endpoints_all_work() {
    let run = |api: &'static str, missing: Vec<String>| async move {
        let sim = sim(SimConfig {
            items_per_game: 300,
            limits: None,
            missing_paths: missing,
            ..SimConfig::default()
        })
        .await;
        let scheduler = Scheduler::new(
            Arc::new(Upstream::new(upstream_config(&sim.url(), 1_000.0))),
            builtins(&[
                ("items", SettingValue::Integer(300)),
                ("listings_api", SettingValue::String(api.into())),
                // v2 offers carry no suggested price, which `relist` falls back to when no
                // other offer is dearer: compare on `instant`, which both read alike.
                (
                    "strategies",
                    SettingValue::List(vec![SettingValue::String("instant".into())]),
                ),
            ]),
            parallel(4),
        );
        let first = scheduler
            .run_cycle(1, &CancellationToken::new(), Arc::new(NoObserver))
            .await;
        let after_first = sim.stats();
        let second = scheduler
            .run_cycle(2, &CancellationToken::new(), Arc::new(NoObserver))
            .await;
        (first, second, after_first, sim.stats())
    };
    let offer_ids = |r: &skinscan_core::schedule::CycleReport| {
        let mut ids: Vec<String> = opportunities(r)
            .iter()
            .map(|o| o.offer_id.clone().unwrap())
            .collect();
        ids.sort();
        ids
    };
    let (v1, _, v1_stats, _) = run("v1", Vec::new()).await;
    let (v2, _, v2_stats, _) = run("v2", Vec::new()).await;
    assert_all_ok(&v1);
    assert_all_ok(&v2);
    assert_eq!(v1_stats.paths.get(MARKET_ITEMS_PATH), Some(&12));
    assert_eq!(v1_stats.paths.get(OFFERS_V2_PATH), None);
    assert_eq!(v2_stats.paths.get(OFFERS_V2_PATH), Some(&12));
    assert_eq!(v2_stats.paths.get(MARKET_ITEMS_PATH), None);
    // The same market read through either endpoint gives the same opportunities.
    assert!(!offer_ids(&v1).is_empty());
    assert_eq!(offer_ids(&v1), offer_ids(&v2));

    // auto where v2 is gone: one 404 per game, then v1, remembered for the next cycle.
    let (first, second, after_first, after_second) =
        run("auto", vec![OFFERS_V2_PATH.to_owned()]).await;
    assert_all_ok(&first);
    assert_all_ok(&second);
    assert_eq!(after_first.paths.get(OFFERS_V2_PATH), Some(&4));
    assert_eq!(after_first.status.get("404"), Some(&4));
    assert_eq!(
        after_second.paths.get(OFFERS_V2_PATH),
        Some(&4),
        "not probed again"
    );
    assert_eq!(offer_ids(&first), offer_ids(&v1));
    // auto where both answer: v2.
    let (auto, _, auto_stats, _) = run("auto", Vec::new()).await;
    assert_eq!(auto_stats.paths.get(MARKET_ITEMS_PATH), None);
    assert_eq!(offer_ids(&auto), offer_ids(&v2));
}

#[tokio::test]
async fn a_body_cut_short_is_retried_and_counted() {
    let (addr, arrivals) = fake_server(|n, _| {
        let whole = br#"{"objects":[],"total":{"items":0},"cursor":""}"#.to_vec();
        if n == 1 {
            // A clean end of stream before the JSON is complete.
            (200, Vec::new(), whole[..20].to_vec())
        } else {
            (200, Vec::new(), whole)
        }
    })
    .await;
    let upstream = Upstream::new(upstream_config(&format!("http://{addr}"), 1_000.0));
    let answer = send_page(&upstream)
        .await
        .expect("the second answer is whole");
    assert!(answer.body.ends_with(b"}"));
    assert_eq!(arrivals.lock().unwrap().len(), 2);
    let stats = upstream.stats(false);
    assert_eq!((stats.bad_bodies, stats.retries), (1, 1));
}

#[tokio::test]
async fn a_path_that_is_not_a_request_target_is_refused_before_sending_and_not_retried() {
    let (addr, arrivals) = fake_server(|_, _| (200, Vec::new(), b"{}".to_vec())).await;
    let upstream = Upstream::new(upstream_config(&format!("http://{addr}"), 1_000.0));
    let request =
        skinscan_sdk::ApiRequest::get("/exchange/v1/market items").param("gameId", "a8db");
    let err = upstream
        .send(&request, &tokio_util::sync::CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("invalid request path \"/exchange/v1/market items\""),
        "{err}"
    );
    assert!(arrivals.lock().unwrap().is_empty(), "nothing was sent");
    assert_eq!(upstream.stats(false).retries, 0);
}

#[tokio::test]
async fn hostile_retry_after_values_fail_at_once_and_never_panic() {
    for (value, quoted) in [
        ("999999", "wait 11days 13h 46m 39s (Retry-After)"),
        (
            "18446744073709551615",
            "(Retry-After), more than market.max_server_wait",
        ),
        (
            "Wed, 21 Oct 2099 07:28:00 GMT",
            "(Retry-After), more than market.max_server_wait",
        ),
    ] {
        let (addr, arrivals) = fake_server(move |_, _| {
            (
                429,
                vec![("retry-after", value.to_owned())],
                br#"{"code":"TooManyRequests","message":"slow down"}"#.to_vec(),
            )
        })
        .await;
        let upstream = Upstream::new(upstream_config(&format!("http://{addr}"), 1_000.0));
        let err = send_page(&upstream).await.unwrap_err().to_string();
        assert!(
            err.contains(quoted) && err.contains("slow down"),
            "{value}: {err}"
        );
        assert_eq!(arrivals.lock().unwrap().len(), 1, "{value}: retried");
    }
}
