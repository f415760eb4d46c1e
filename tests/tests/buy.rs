//! Buying against the simulated market (which sells: balances per key, `offers-buy`, its
//! refusals, faults that lose the answer after the purchase): a dry run sends nothing; live
//! buys each offer once, within the budget, from a backlog of opportunities at once; a lost
//! or hostile answer is settled by reading the account, never by a second buy; an
//! overcharge halts buying.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use skinscan_core::buy::{BuyMode, BuyOptions, Buyer};
use skinscan_core::history::Store;
use skinscan_core::sign::{Signer, generate_keypair_hex};
use skinscan_core::sim::buy::{BuyFault, SimBuyConfig};
use skinscan_core::sim::{SimConfig, SimServer};
use skinscan_core::sinks::Fanout;
use skinscan_core::upstream::Upstream;
use skinscan_core::watch::WatchOptions;
use skinscan_tests::*;
use tokio_util::sync::CancellationToken;

struct Run {
    sim: SimServer,
    buyer: Arc<Buyer>,
    store: Arc<Store>,
    stop: CancellationToken,
    watch: tokio::task::JoinHandle<()>,
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skinscan-buy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn options(mode: BuyMode, dir: &std::path::Path) -> BuyOptions {
    BuyOptions {
        mode,
        max_price_cents: 1_000_000,
        daily_budget_cents: 10_000_000,
        max_buys_per_hour: 10_000,
        min_profit_cents: 0,
        min_roi_bps: 0,
        strategies: vec!["instant".into()],
        games: Vec::new(),
        stop_file: dir.join("stop"),
    }
}

/// A signed watch of csgo on a 300-listing catalogue with a buyer.
async fn run(
    name: &str,
    buy: SimBuyConfig,
    opts: impl FnOnce(&mut BuyOptions),
    mode: BuyMode,
) -> Run {
    let (public, secret) = generate_keypair_hex([23; 32]);
    let keys = Signer::from_hex(&public, &secret).unwrap();
    let sim = sim(SimConfig {
        items_per_game: 300,
        limits: None,
        public_key: Some(keys.verifying_key()),
        buy,
        ..SimConfig::default()
    })
    .await;
    let mut config = upstream_config(&sim.url(), 500.0);
    config.policy.signer = Some(keys);
    config.policy.request_timeout = Duration::from_secs(2);
    let upstream = Arc::new(Upstream::new(config));
    let dir = scratch(name);
    let store = Arc::new(Store::open(&dir.join("h.db")).unwrap());
    let mut o = options(mode, &dir);
    opts(&mut o);
    let outputs = Arc::new(Fanout::new(Vec::new()));
    let buyer = Buyer::start(&o, Some(store.clone()), upstream.clone(), outputs.clone())
        .await
        .unwrap()
        .expect("buying is on");
    let mut plugins = builtins(&[]);
    for p in &mut plugins {
        p.enabled = p.name == "csgo";
    }
    let stop = CancellationToken::new();
    let watch = tokio::spawn(skinscan_core::watch::run_buying(
        upstream,
        plugins,
        outputs,
        WatchOptions {
            sweep_share: 0.0,
            ..WatchOptions::default()
        },
        None,
        Some(buyer.clone()),
        stop.clone(),
    ));
    let watch = tokio::spawn(async move {
        watch.await.unwrap();
    });
    Run {
        sim,
        buyer,
        store,
        stop,
        watch,
    }
}

/// Waits until `done` holds (20 s at most), then stops the watch.
async fn until(r: &Run, done: impl Fn(&Buyer) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(&r.buyer) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        done(&r.buyer),
        "the buyer did not get there: {:?}",
        r.buyer.stats
    );
}

async fn stop(r: Run) -> (serde_json::Value, Arc<Store>) {
    r.stop.cancel();
    r.watch.await.unwrap();
    let truth = sim_json(r.sim.addr(), "/__sim/buys").await;
    (truth, r.store)
}

fn settled(b: &Buyer) -> u64 {
    b.stats.bought.load(SeqCst) + b.stats.refused.load(SeqCst) + b.stats.unknown.load(SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_sends_no_buy_request_and_keeps_its_own_ledger() {
    let r = run("dry", SimBuyConfig::default(), |_| {}, BuyMode::DryRun).await;
    until(&r, |b| b.stats.bought.load(SeqCst) >= 3).await;
    let sim_stats = r.sim.stats();
    let (truth, store) = stop(r).await;
    assert_eq!(truth["requests"], 0, "{truth}");
    assert!(!sim_stats.paths.contains_key("/exchange/v1/offers-buy"));
    assert!(!sim_stats.paths.contains_key("/account/v1/balance"));
    let rows = store.buys(Duration::from_secs(600), 1_000).unwrap();
    assert!(rows.len() >= 3 && rows.iter().all(|r| r.mode == "dry-run"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_opportunities_at_once_never_pass_the_budget_and_each_offer_is_bought_once() {
    // The backlog holds many opportunities at once; the budget is two hundred dollars.
    let r = run(
        "budget",
        SimBuyConfig::default(),
        |o| o.daily_budget_cents = 20_000,
        BuyMode::Live,
    )
    .await;
    until(&r, |b| {
        b.stats.bought.load(SeqCst) >= 2 && b.stats.skipped.load(SeqCst) >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (truth, store) = stop(r).await;
    let purchases = truth["purchases"].as_array().unwrap();
    let spent: i64 = purchases
        .iter()
        .map(|p| p["price_cents"].as_i64().unwrap())
        .sum();
    assert!(
        spent <= 20_000,
        "spent {spent} of a 20000-cent budget: {truth}"
    );
    let mut offers: Vec<&str> = purchases
        .iter()
        .map(|p| p["offer_id"].as_str().unwrap())
        .collect();
    let n = offers.len();
    offers.sort_unstable();
    offers.dedup();
    assert_eq!(offers.len(), n, "an offer bought twice: {truth}");
    let rows = store.buys(Duration::from_secs(600), 1_000).unwrap();
    let ledger: i64 = rows
        .iter()
        .filter(|r| r.state == "bought")
        .map(|r| r.price_cents)
        .sum();
    assert_eq!(ledger, spent, "the ledger agrees with the market");
    assert_eq!(
        truth["balances"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_i64()
            .unwrap(),
        100_000 - spent
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_after_a_purchase_is_resolved_from_the_account_without_a_second_buy() {
    for fault in [
        BuyFault::ResetAfter,
        BuyFault::ServerErrorAfter,
        BuyFault::StallAfter,
        BuyFault::HostileAfter(r#"{"result":"ok"}"#.into()),
    ] {
        let r = run(
            "lost",
            SimBuyConfig {
                script: vec![fault.clone()],
                ..SimBuyConfig::default()
            },
            |o| o.max_buys_per_hour = 2,
            BuyMode::Live,
        )
        .await;
        until(&r, |b| settled(b) >= 2).await;
        assert_eq!(r.buyer.stats.unknown.load(SeqCst), 1, "{fault:?}");
        assert!(
            r.buyer.halted().is_none(),
            "{fault:?}: {:?}",
            r.buyer.halted()
        );
        let (truth, store) = stop(r).await;
        assert_eq!(
            truth["requests"], 2,
            "{fault:?}: no buy sent twice: {truth}"
        );
        assert_eq!(truth["purchases"].as_array().unwrap().len(), 2, "{fault:?}");
        let mut rows = store.buys(Duration::from_secs(600), 10).unwrap();
        rows.reverse();
        assert_eq!(rows[0].state, "bought", "{fault:?}: {rows:?}");
        assert!(
            rows[0].reason.as_deref().unwrap_or("").contains("resolved"),
            "{fault:?}: {rows:?}"
        );
        assert_eq!(rows[1].state, "bought");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_refused_answers_buy_nothing_more() {
    // An unknown shape without a purchase: the balance is unchanged and the offer still
    // listed, so it is settled as not bought; a price change is DMarket's refusal.
    let r = run(
        "hostile",
        SimBuyConfig {
            script: vec![
                BuyFault::Hostile(r#"{"status":"Done","amount":"1"}"#.into()),
                BuyFault::PriceChanged,
            ],
            ..SimBuyConfig::default()
        },
        |o| o.max_buys_per_hour = 3,
        BuyMode::Live,
    )
    .await;
    until(&r, |b| settled(b) >= 3).await;
    let (truth, store) = stop(r).await;
    assert_eq!(truth["requests"], 3, "{truth}");
    assert_eq!(truth["purchases"].as_array().unwrap().len(), 1, "{truth}");
    let mut rows = store.buys(Duration::from_secs(600), 10).unwrap();
    rows.reverse();
    let states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
    assert_eq!(states, ["not_bought", "refused", "bought"], "{rows:?}");
    assert_eq!(rows[1].reason.as_deref(), Some("PriceChanged"));
    assert_eq!(
        store
            .buy_window("live", std::time::SystemTime::now())
            .unwrap()
            .spent_day_cents,
        rows[2].price_cents
    );

    // A market that debits more than the price: buying halts after that one buy.
    let r = run(
        "overcharge",
        SimBuyConfig {
            script: vec![BuyFault::Overcharge],
            ..SimBuyConfig::default()
        },
        |_| {},
        BuyMode::Live,
    )
    .await;
    until(&r, |b| b.halted().is_some()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (truth, _) = stop(r).await;
    assert_eq!(
        truth["requests"], 1,
        "nothing bought after the overcharge: {truth}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_sells_once_debits_the_key_and_answers_each_refusal_in_dmarkets_shape() {
    use skinscan_sdk::trading::{self, BuyAnswer};
    use skinscan_sdk::{Currency, FetchError, Money};
    let (public, secret) = generate_keypair_hex([5; 32]);
    let keys = Signer::from_hex(&public, &secret).unwrap();
    let sim = sim(SimConfig {
        items_per_game: 20,
        limits: None,
        public_key: Some(keys.verifying_key()),
        buy: SimBuyConfig {
            balance_cents: 1_000_000,
            ..SimBuyConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let mut config = upstream_config(&sim.url(), 500.0);
    config.policy.signer = Some(keys);
    let upstream = Upstream::new(config);
    let never = CancellationToken::new();
    assert_eq!(balance(&upstream).await, 1_000_000);
    let page = send_page(&upstream).await.unwrap();
    let page = skinscan_sdk::dmarket::parse_listings_page(&page.body, Currency::Usd).unwrap();
    let l = page
        .listings
        .iter()
        .find(|l| l.price.cents() < 100_000)
        .unwrap();
    let offer = l.offer_id.clone().unwrap();
    let buy = |price: Money| trading::buy_request(&offer, price);
    // Under the listing's price: not bought.
    let a = upstream
        .send(&buy(Money::usd(l.price.cents() - 1)), &never)
        .await
        .unwrap();
    assert_eq!(
        trading::parse_buy_answer(&a.body, &offer, l.price).answer,
        BuyAnswer::Failed {
            code: "PriceChanged".into()
        }
    );
    // At it: bought, debited, gone from the listings.
    let a = upstream.send(&buy(l.price), &never).await.unwrap();
    assert!(matches!(
        trading::parse_buy_answer(&a.body, &offer, l.price).answer,
        BuyAnswer::Bought { .. }
    ));
    assert_eq!(balance(&upstream).await, 1_000_000 - l.price.cents());
    let page = send_page(&upstream).await.unwrap();
    assert!(!String::from_utf8_lossy(&page.body).contains(&offer));
    // Again: the offer is gone.
    let a = upstream.send(&buy(l.price), &never).await.unwrap();
    assert_eq!(
        trading::parse_buy_answer(&a.body, &offer, l.price).answer,
        BuyAnswer::Failed {
            code: "OfferNotFound".into()
        }
    );
    let truth = sim_json(sim.addr(), "/__sim/buys").await;
    assert_eq!(truth["purchases"].as_array().unwrap().len(), 1, "{truth}");
    assert_eq!(truth["requests"], 3);

    // A key whose balance cannot cover it: 400 NotEnoughBalance, nothing bought.
    let (public, secret) = generate_keypair_hex([6; 32]);
    let keys = Signer::from_hex(&public, &secret).unwrap();
    let poor = skinscan_tests::sim(SimConfig {
        items_per_game: 20,
        limits: None,
        public_key: Some(keys.verifying_key()),
        buy: SimBuyConfig {
            balance_cents: 1,
            ..SimBuyConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let mut config = upstream_config(&poor.url(), 500.0);
    config.policy.signer = Some(keys);
    let upstream = Upstream::new(config);
    let page = send_page(&upstream).await.unwrap();
    let page = skinscan_sdk::dmarket::parse_listings_page(&page.body, Currency::Usd).unwrap();
    let l = &page.listings[0];
    let e = upstream
        .send(
            &trading::buy_request(l.offer_id.as_deref().unwrap(), l.price),
            &never,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, FetchError::Http { status: 400, message } if message.contains("not enough balance")),
        "{e:?}"
    );
    assert_eq!(
        sim_json(poor.addr(), "/__sim/buys").await["purchases"],
        serde_json::json!([])
    );
}

async fn balance(u: &Upstream) -> i64 {
    let r = skinscan_sdk::trading::balance_request();
    let a = u.send(&r, &CancellationToken::new()).await.unwrap();
    skinscan_sdk::trading::parse_balance(&a.body)
        .unwrap()
        .usd
        .cents()
}
