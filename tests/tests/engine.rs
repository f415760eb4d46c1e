//! The host engine against the simulator: one connection, the shared limiter, 429s,
//! faults, the breaker, signing. Fast: high rates and small catalogues.

use std::sync::Arc;
use std::time::Duration;

use skinscan_core::sim::{FaultSpec, SimConfig};
use skinscan_core::upstream::Upstream;
use skinscan_sdk::{ApiRequest, FetchError, SettingValue};
use skinscan_tests::*;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn four_games_in_one_cycle_share_exactly_one_tcp_connection() {
    let sim = plain_sim(100).await;
    let report = one_cycle(
        upstream_config(&sim.url(), 1_000.0),
        builtins(&[]),
        parallel(4),
    )
    .await;
    assert_all_ok(&report);
    assert_eq!(report.games.len(), 4);
    let stats = sim.stats();
    assert_eq!(stats.connections, 1);
    // One page and one price batch per game.
    assert_eq!(stats.requests, 8);
    assert_eq!(report.stats.requests, 8);
    assert!(report.opportunity_count() > 0);
}

#[tokio::test]
async fn sixteen_concurrent_scans_finishing_at_different_times_never_fail() {
    // The seed's bug: a scan that finished closed the shared client under the others.
    let sim = sim(SimConfig {
        items_per_game: 400,
        latency: Duration::from_millis(5),
        limits: None,
        ..SimConfig::default()
    })
    .await;
    let mut plugins = Vec::new();
    for i in 0..16u64 {
        for mut p in builtins(&[("items", SettingValue::Integer(((i % 4) + 1) as i64 * 100))]) {
            if p.name == ["csgo", "dota2", "rust", "tf2"][(i % 4) as usize] {
                p.name = format!("{}{i}", p.name);
                plugins.push(p);
            }
        }
    }
    assert_eq!(plugins.len(), 16);
    let report = one_cycle(upstream_config(&sim.url(), 2_000.0), plugins, parallel(16)).await;
    assert_all_ok(&report);
    let elapsed: Vec<Duration> = report.games.iter().map(|g| g.elapsed).collect();
    assert!(
        elapsed.iter().max() > elapsed.iter().min(),
        "the scans should finish at different times"
    );
    assert_eq!(sim.stats().connections, 1);
}

#[tokio::test]
async fn a_host_limit_of_r_against_a_sim_enforcing_r_never_sees_a_429() {
    const R: f64 = 100.0;
    let sim = sim(SimConfig {
        items_per_game: 200,
        rate: Some(R),
        limits: None,
        ..SimConfig::default()
    })
    .await;
    // One request per listing: up to 4 x (1 page + 30 prices) = 124 requests at 100/s
    // (listings excluded by game rules, like Souvenirs, need no price).
    let plugins = builtins(&[
        ("items", SettingValue::Integer(30)),
        ("pricing", SettingValue::String("per_listing".into())),
    ]);
    let report = one_cycle(upstream_config(&sim.url(), R), plugins, parallel(4)).await;
    assert_all_ok(&report);
    let stats = sim.stats();
    let sent = requests_sent(&report);
    assert!(sent > 110, "{sent}");
    assert_eq!(stats.requests, sent);
    assert_eq!(stats.status.get("429"), None, "{:?}", stats.status);
    assert!(
        stats.max_requests_in_1s <= R as u64,
        "{} in one second",
        stats.max_requests_in_1s
    );
    // And it kept to the rate: N requests cannot take less than N - 1 intervals.
    assert!(
        report.elapsed >= Duration::from_millis((sent - 1) * 10),
        "{:?}",
        report.elapsed
    );
}

#[tokio::test]
async fn a_sim_limit_below_the_host_rate_is_absorbed_and_no_request_is_lost() {
    let sim = sim(SimConfig {
        items_per_game: 200,
        rate: Some(40.0),
        burst: Some(5),
        limits: None,
        ..SimConfig::default()
    })
    .await;
    let plugins = builtins(&[
        ("items", SettingValue::Integer(15)),
        ("pricing", SettingValue::String("per_listing".into())),
    ]);
    let report = one_cycle(upstream_config(&sim.url(), 500.0), plugins, parallel(4)).await;
    assert_all_ok(&report);
    let stats = sim.stats();
    let got_429 = stats.status.get("429").copied().unwrap_or(0);
    assert!(
        got_429 > 0,
        "the sim should have pushed back: {:?}",
        stats.status
    );
    assert_eq!(report.stats.rate_limited, got_429);
    // Every logical request succeeded exactly once.
    let sent = requests_sent(&report);
    assert!(sent > 50, "{sent}");
    assert_eq!(stats.status.get("200").copied(), Some(sent));
    assert_eq!(stats.requests, sent + got_429);
    assert_eq!(report.stats.failures, 0);
}

async fn faulty_run(
    faults: &str,
    seed: u64,
) -> (
    skinscan_core::schedule::CycleReport,
    skinscan_core::sim::SimStats,
) {
    let sim = sim(SimConfig {
        items_per_game: 300,
        seed,
        faults: faults.parse::<FaultSpec>().unwrap(),
        limits: None,
        ..SimConfig::default()
    })
    .await;
    let mut config = upstream_config(&sim.url(), 1_000.0);
    config.policy.request_timeout = Duration::from_millis(300);
    // Sequential games and sequential requests in a game: the order of requests, hence which
    // ones the seeded faults hit, is the same on every run.
    let plugins = builtins(&[
        ("items", SettingValue::Integer(300)),
        ("max_in_flight", SettingValue::Integer(1)),
    ]);
    let mut options = parallel(1);
    options.parallel = false;
    let report = one_cycle(config, plugins, options).await;
    (report, sim.stats())
}

#[tokio::test]
async fn every_fault_kind_is_survived_with_the_same_results_as_a_clean_run() {
    let (clean, clean_stats) = faulty_run("", 7).await;
    assert_all_ok(&clean);
    assert_eq!(clean_stats.connections, 1);
    let expected = opportunity_ids(&clean);
    assert!(!expected.is_empty());
    for (spec, kind) in [
        ("5xx=0.2", "5xx"),
        ("reset=0.2", "reset"),
        ("stall=0.1", "stall"),
        ("malformed=0.1", "malformed"),
        ("truncate=0.1", "truncate"),
        ("goaway-every=5", "goaway"),
    ] {
        let (report, stats) = faulty_run(spec, 7).await;
        assert!(
            stats.faults.get(kind).copied().unwrap_or(0) > 0,
            "{spec}: no {kind} fault was injected: {stats:?}"
        );
        assert_all_ok(&report);
        assert_eq!(
            opportunity_ids(&report),
            expected,
            "{spec}: results differ from the clean run"
        );
        if kind == "goaway" {
            assert!(stats.connections > 1, "GOAWAY should force reconnects");
        }
    }
}

#[tokio::test]
async fn the_breaker_opens_on_a_dead_endpoint_fails_fast_and_recovers() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let mut config = upstream_config(&url, 1_000.0);
    config.policy.retry.attempts = 1;
    config.policy.breaker_failures = 3;
    config.policy.breaker_cooldown = Duration::from_millis(300);
    let upstream = Upstream::new(config);
    let cancel = CancellationToken::new();
    let req = ApiRequest::get("/exchange/v1/market/items").param("gameId", "a8db");
    for _ in 0..3 {
        let err = upstream.send(&req, &cancel).await.unwrap_err();
        assert!(
            matches!(&err, FetchError::Transport { message } if message.contains(&url)),
            "{err}"
        );
    }
    let started = std::time::Instant::now();
    let err = upstream.send(&req, &cancel).await.unwrap_err();
    assert!(matches!(err, FetchError::CircuitOpen { .. }), "{err}");
    assert!(err.to_string().contains("circuit breaker for"), "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "open breaker must fail fast"
    );
    // The market comes back on the same port; after the cool-down one probe closes the breaker.
    let sim = skinscan_core::sim::start(SimConfig::default(), ([127, 0, 0, 1], port).into())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    let ok = upstream
        .send(&req, &cancel)
        .await
        .expect("the probe succeeds");
    assert_eq!(ok.status, 200);
    assert!(upstream.send(&req, &cancel).await.is_ok());
    assert_eq!(sim.stats().requests, 2);
}

#[tokio::test]
async fn signed_requests_are_accepted_and_a_wrong_key_is_refused_with_a_hint() {
    let (public, secret) = skinscan_core::sign::generate_keypair_hex([5; 32]);
    let signer = skinscan_core::sign::Signer::from_hex(&public, &secret).unwrap();
    let sim = sim(SimConfig {
        items_per_game: 100,
        public_key: Some(signer.verifying_key()),
        limits: None,
        ..SimConfig::default()
    })
    .await;
    let mut config = upstream_config(&sim.url(), 1_000.0);
    config.policy.signer = Some(signer);
    let report = one_cycle(config, builtins(&[]), parallel(4)).await;
    assert_all_ok(&report);
    // Per game: one listings page, one price batch, and (signed) the account's fees.
    assert_eq!(sim.stats().status.get("200").copied(), Some(12));
    assert_eq!(
        sim.stats()
            .paths
            .get("/exchange/v1/customized-fees")
            .copied(),
        Some(4)
    );
    assert_eq!(sim.stats().status.get("401"), None);

    let (other_public, other_secret) = skinscan_core::sign::generate_keypair_hex([6; 32]);
    let mut config = upstream_config(&sim.url(), 1_000.0);
    config.policy.signer =
        Some(skinscan_core::sign::Signer::from_hex(&other_public, &other_secret).unwrap());
    let upstream = Upstream::new(config);
    let err = send_page(&upstream).await.unwrap_err();
    match err {
        FetchError::Http {
            status: 401,
            message,
        } => {
            assert!(
                message.contains("unknown X-Api-Key") && message.contains("DMARKET_PUBLIC_KEY"),
                "{message}"
            )
        }
        other => panic!("expected a 401, got {other}"),
    }
}

#[tokio::test]
async fn a_panicking_plugin_fails_alone() {
    use skinscan_sdk::prelude::*;
    struct Boom;
    #[async_trait]
    impl GameScanner for Boom {
        fn info(&self) -> GameInfo {
            GameInfo::new(
                GameId::new("boom").unwrap(),
                "Boom",
                "a8db",
                Bps::new(700).unwrap(),
            )
        }
        async fn scan(
            &self,
            ctx: &dyn ScanContext,
            _: &PluginSettings,
        ) -> Result<GameReport, ScanError> {
            ctx.send(ApiRequest::get("/exchange/v1/market/items").param("gameId", "a8db"))
                .await?;
            panic!("boom on the second request");
        }
    }
    let sim = plain_sim(100).await;
    let mut plugins = builtins(&[]);
    let guarded = skinscan_sdk::plugin::construct(|| Boom).unwrap();
    let mut boom = plugins[0].clone();
    boom.name = "boom".into();
    boom.info = guarded.info();
    boom.scanner = Arc::from(guarded);
    plugins.push(boom);
    let report = one_cycle(upstream_config(&sim.url(), 1_000.0), plugins, parallel(5)).await;
    let failed = failed_games(&report);
    assert_eq!(failed, vec!["boom"]);
    let boom = report.games.iter().find(|g| g.game == "boom").unwrap();
    assert_eq!(
        boom.failure.as_ref().unwrap().to_string(),
        "plugin panicked: boom on the second request"
    );
    assert_eq!(
        report.games.iter().filter(|g| g.report.is_some()).count(),
        4
    );
}

#[tokio::test]
async fn per_endpoint_group_limits_space_that_group_only() {
    let sim = plain_sim(100).await;
    let mut config = upstream_config(&sim.url(), 1_000.0);
    config.policy.group_limits = vec![(
        skinscan_core::upstream::EndpointGroup::Market,
        "10/s".parse().unwrap(),
    )];
    let upstream = Arc::new(Upstream::new(config));
    let cancel = CancellationToken::new();
    let started = tokio::time::Instant::now();
    for _ in 0..4 {
        upstream
            .send(
                &ApiRequest::get("/exchange/v1/market/items").param("gameId", "a8db"),
                &cancel,
            )
            .await
            .unwrap();
    }
    // 4 market requests at 10/s: at least 300 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    let started = tokio::time::Instant::now();
    for _ in 0..4 {
        upstream
            .send(
                &ApiRequest::get("/trade-aggregator/v1/last-sales")
                    .param("gameId", "a8db")
                    .param("title", "x"),
                &cancel,
            )
            .await
            .unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}

/// A layer as a cache or a recorder would be: it wraps the upstream and delegates.
#[derive(Debug)]
struct Counting {
    inner: Arc<Upstream>,
    seen: std::sync::Mutex<Vec<String>>,
}

#[skinscan_sdk::async_trait]
impl skinscan_core::upstream::Transport for Counting {
    async fn send(
        &self,
        request: &ApiRequest,
        cancel: &CancellationToken,
    ) -> Result<skinscan_sdk::ApiResponse, FetchError> {
        self.seen.lock().unwrap().push(request.path.clone());
        self.inner.send(request, cancel).await
    }

    fn signed(&self) -> bool {
        self.inner.signed()
    }
}

#[tokio::test]
async fn a_transport_layer_sees_every_request_of_a_cycle() {
    let sim = plain_sim(100).await;
    let upstream = Arc::new(Upstream::new(upstream_config(&sim.url(), 1_000.0)));
    let layer = Arc::new(Counting {
        inner: upstream.clone(),
        seen: std::sync::Mutex::new(Vec::new()),
    });
    let scheduler = skinscan_core::schedule::Scheduler::new(upstream, builtins(&[]), parallel(4))
        .with_transport(layer.clone());
    let report = scheduler
        .run_cycle(
            1,
            &CancellationToken::new(),
            Arc::new(skinscan_core::schedule::NoObserver),
        )
        .await;
    assert_all_ok(&report);
    let seen = layer.seen.lock().unwrap().len() as u64;
    assert_eq!(seen, sim.stats().requests);
    assert_eq!(seen, report.stats.requests);
}
