//! The live path, end to end on loopback: TLS against the simulator's own CA (trusted through
//! `market.ca_file`, refused without it, refused when the server will not speak HTTP/2), an
//! HTTP CONNECT proxy (one tunnel per connection, a refusing proxy, a dead one), clock skew,
//! and `skinscan probe` against a server answering a shape skinscan does not know.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use skinscan_core::config::{self, Endpoint, Settings};
use skinscan_core::http::{Proxy, Target};
use skinscan_core::sign::generate_keypair_hex;
use skinscan_core::sim::{SimConfig, SimServer, SimTls};
use skinscan_core::upstream::Upstream;
use skinscan_sdk::{ApiRequest, FetchError, SettingValue};
use skinscan_tests::*;
use tokio_util::sync::CancellationToken;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skinscan-live-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Settings from `toml` with `vars` as the environment (the path a user's config takes).
fn settings(
    name: &str,
    toml: &str,
    vars: &[(&str, &str)],
) -> Result<Settings, config::ConfigError> {
    let path = scratch(name).join("config.toml");
    std::fs::write(&path, toml).unwrap();
    let env: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    config::load(Some(&path), &env)
}

fn target(s: &Settings) -> Target {
    match &s.endpoint {
        Endpoint::Remote(t) => t.clone(),
        Endpoint::Embedded(_) => panic!("expected a remote endpoint"),
    }
}

async fn tls_sim(http1_only: bool, public_key: Option<ed25519_dalek::VerifyingKey>) -> SimServer {
    sim(SimConfig {
        items_per_game: 200,
        limits: None,
        tls: Some(SimTls { http1_only }),
        public_key,
        ..SimConfig::default()
    })
    .await
}

#[tokio::test]
async fn a_signed_scan_over_tls_trusts_the_ca_file_and_uses_one_http2_connection() {
    let (public, secret) = generate_keypair_hex([41; 32]);
    let signer = skinscan_core::sign::Signer::from_hex(&public, &secret).unwrap();
    let sim = tls_sim(false, Some(signer.verifying_key())).await;
    assert!(sim.url().starts_with("https://localhost:"), "{}", sim.url());
    let ca = scratch("ca").join("ca.pem");
    std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
    let s = settings(
        "tls-ok",
        &format!(
            "[market]\nendpoint = \"{}\"\nca_file = \"{}\"\nrate_limit = 1000\n[market.limits]\nmarket = \"1000/s\"\nother = \"1000/s\"\nfees = \"1000/s\"\nsales = \"1000/s\"\n",
            sim.url(),
            ca.display()
        ),
        &[("DMARKET_PUBLIC_KEY", &public), ("DMARKET_SECRET_KEY", secret.expose())],
    )
    .unwrap();
    let config = s.upstream.for_target(target(&s));
    let report = one_cycle(
        config,
        builtins(&[("items", SettingValue::Integer(200))]),
        parallel(4),
    )
    .await;
    assert_all_ok(&report);
    assert_eq!(report.stats.connections, 1);
    assert_eq!(
        sim.stats().connections,
        1,
        "one TLS connection for every game"
    );
    assert_eq!(sim.stats().status.get("401"), None);
    assert!(
        report
            .games
            .iter()
            .all(|g| g.report.as_ref().unwrap().listings_seen == 200)
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_once_with_what_to_do() {
    let sim = tls_sim(false, None).await;
    let s = settings(
        "tls-untrusted",
        &format!("[market]\nendpoint = \"{}\"\n", sim.url()),
        &[],
    )
    .unwrap();
    let mut config = s.upstream.for_target(target(&s));
    config.policy.group_limits.clear();
    let report = one_cycle(config, builtins(&[]), parallel(4)).await;
    for g in &report.games {
        let failure = g.failure.as_ref().expect("refused").to_string();
        assert!(
            failure.contains("is not trusted") && failure.contains("set market.ca_file to that CA"),
            "{failure}"
        );
    }
    // One failed handshake per attempt shared by every game, not one per game and attempt.
    let handshakes = sim.stats().connections;
    assert!(
        handshakes <= 4 * 4 / 2,
        "{handshakes} handshakes for 4 games"
    );
}

#[tokio::test]
async fn a_server_that_will_not_speak_http2_is_refused_with_the_alpn_message() {
    let sim = tls_sim(true, None).await;
    let ca = scratch("ca1").join("ca.pem");
    std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
    let s = settings(
        "tls-h1",
        &format!(
            "[market]\nendpoint = \"{}\"\nca_file = \"{}\"\n",
            sim.url(),
            ca.display()
        ),
        &[],
    )
    .unwrap();
    let upstream = Upstream::new(s.upstream.for_target(target(&s)));
    let err = send_page(&upstream).await.unwrap_err().to_string();
    assert!(
        err.contains("does not speak HTTP/2") && err.contains("ALPN"),
        "{err}"
    );
}

#[test]
fn a_ca_file_that_is_not_pem_is_refused_at_start_up() {
    let bad = scratch("badca").join("ca.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let err = settings(
        "badca",
        &format!(
            "[market]\nendpoint = \"https://api.dmarket.com\"\nca_file = \"{}\"\n",
            bad.display()
        ),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("market.ca_file") && err.contains("no PEM certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn the_connection_goes_through_an_http_connect_proxy_once() {
    let sim = plain_sim(200).await;
    let (proxy, tunnels) = connect_proxy(Some("s3cret")).await;
    let s = settings(
        "proxy-ok",
        &format!(
            "[market]\nendpoint = \"{}\"\nproxy = \"http://trader:s3cret@{proxy}\"\n",
            sim.url()
        ),
        &[],
    )
    .unwrap();
    // The password is a secret: never in the effective config, nor in Debug.
    assert!(!s.effective_toml().contains("s3cret"));
    assert!(!format!("{:?}", s.upstream).contains("s3cret"));
    let mut config = s.upstream.for_target(target(&s));
    config.policy.group_limits.clear();
    config.policy.rate = skinscan_core::limit::Rate::per_second(1000.0).unwrap();
    let report = one_cycle(config, builtins(&[]), parallel(4)).await;
    assert_all_ok(&report);
    assert_eq!(
        tunnels.load(Ordering::SeqCst),
        1,
        "one tunnel for the one connection"
    );
    assert_eq!(sim.stats().connections, 1);
}

#[tokio::test]
async fn a_refusing_proxy_and_a_dead_one_are_named_in_the_error() {
    let sim = plain_sim(10).await;
    let request = ApiRequest::get("/exchange/v1/market/items").param("gameId", "a8db");
    let (proxy, _) = connect_proxy(Some("s3cret")).await;
    let mut config = upstream_config(&sim.url(), 1000.0);
    config.policy.http.proxy =
        Some(Proxy::parse(&format!("http://trader:wrong@{proxy}"), "market.proxy").unwrap());
    let err = Upstream::new(config)
        .send(&request, &CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "proxy http://***@{proxy} (market.proxy) refused CONNECT"
        )) && err.contains("407")
            && !err.contains("wrong"),
        "{err}"
    );
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut config = upstream_config(&sim.url(), 1000.0);
    config.policy.http.proxy =
        Some(Proxy::parse(&format!("http://{dead}"), "HTTPS_PROXY").unwrap());
    let err = Upstream::new(config)
        .send(&request, &CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "cannot connect to the proxy http://{dead} (HTTPS_PROXY)"
        )),
        "{err}"
    );
    assert_eq!(sim.stats().requests, 0);
}

#[test]
fn environment_proxies_apply_to_the_live_endpoint_but_not_loopback_nor_no_proxy() {
    let live = |vars: &[(&str, &str)]| {
        settings(
            "envproxy",
            "[market]\nendpoint = \"https://api.dmarket.com\"\n",
            vars,
        )
        .unwrap()
        .upstream
        .http
        .proxy
        .map(|p| p.to_string())
    };
    assert_eq!(
        live(&[("HTTPS_PROXY", "http://u:p@10.0.0.1:3128")]).as_deref(),
        Some("proxy http://***@10.0.0.1:3128 (HTTPS_PROXY)")
    );
    assert_eq!(
        live(&[("ALL_PROXY", "10.0.0.2:8080")]).as_deref(),
        Some("proxy http://10.0.0.2:8080 (ALL_PROXY)")
    );
    assert_eq!(
        live(&[
            ("HTTPS_PROXY", "http://10.0.0.1:3128"),
            ("NO_PROXY", "localhost,.dmarket.com")
        ]),
        None
    );
    assert_eq!(
        live(&[("HTTP_PROXY", "http://10.0.0.1:3128")]),
        None,
        "HTTP_PROXY is for http:// endpoints"
    );
    // The config wins over the environment.
    let s = settings(
        "envproxy2",
        "[market]\nendpoint = \"https://api.dmarket.com\"\nproxy = \"http://10.9.9.9:1\"\n",
        &[("HTTPS_PROXY", "http://10.0.0.1:3128")],
    )
    .unwrap();
    assert_eq!(
        s.upstream.http.proxy.unwrap().to_string(),
        "proxy http://10.9.9.9:1 (market.proxy)"
    );
    // A loopback endpoint never goes through an environment proxy.
    let s = settings(
        "envproxy3",
        "[market]\nendpoint = \"http://127.0.0.1:9\"\n",
        &[("HTTP_PROXY", "http://10.0.0.1:3128")],
    )
    .unwrap();
    assert!(s.upstream.http.proxy.is_none());
    let err = settings("envproxy4", "[market]\nproxy = \"socks5://x:1\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("market.proxy must be an http:// proxy"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_clock_off_by_90_seconds_is_measured_and_named_on_a_401() {
    let (public, secret) = generate_keypair_hex([42; 32]);
    let signer = skinscan_core::sign::Signer::from_hex(&public, &secret).unwrap();
    let sim = sim(SimConfig {
        items_per_game: 10,
        limits: None,
        public_key: Some(signer.verifying_key()),
        clock_offset_secs: 150,
        ..SimConfig::default()
    })
    .await;
    let mut config = upstream_config(&sim.url(), 1000.0);
    config.policy.signer = Some(signer);
    let upstream = Upstream::new(config);
    let err = send_page(&upstream).await.unwrap_err();
    let skew = upstream.clock_skew().expect("the Date header was read");
    assert!((148..=152).contains(&skew), "{skew}");
    match err {
        FetchError::Http {
            status: 401,
            message,
        } => assert!(
            message.contains("this machine's clock is")
                && message.contains("behind the server's")
                && message.contains("NTP"),
            "{message}"
        ),
        other => panic!("expected a 401, got {other}"),
    }
}

#[tokio::test]
async fn probe_passes_against_the_simulator_and_fails_showing_an_unknown_shape() {
    let sim = plain_sim(100).await;
    let games = vec![skinscan_core::probe::ProbeGame {
        name: "csgo".into(),
        game_id: "a8db".into(),
        price_game: "a8db".into(),
        api: None,
    }];
    let upstream = Upstream::new(upstream_config(&sim.url(), 1000.0));
    let report = skinscan_core::probe::run(&upstream, &games).await;
    assert!(report.ok(), "{}", skinscan_core::probe::render(&report));
    let kinds: Vec<&str> = report.requests.iter().map(|l| l.what.as_str()).collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(
        kinds[0].contains("listings (v2)")
            && kinds[1].contains("aggregated prices")
            && kinds[2].contains("last sales")
    );

    // A server that answers listings in a shape nobody documented.
    let (addr, _) = fake_server(|_, parts| {
        let body = if parts.uri.path().contains("offers") {
            br#"{"items":[{"id":"x","cost":{"usd":12}}],"total":1,"cursor":""}"#.to_vec()
        } else {
            b"{}".to_vec()
        };
        (200, Vec::new(), body)
    })
    .await;
    let upstream = Upstream::new(upstream_config(&format!("http://{addr}"), 1000.0));
    let report = skinscan_core::probe::run(&upstream, &games).await;
    assert!(!report.ok());
    let text = skinscan_core::probe::render(&report);
    assert!(
        text.contains("1 entries parsed of which 1 NOT understood"),
        "{text}"
    );
    assert!(
        text.contains(r#"first entry not understood: {"id":"x","cost":{"usd":12}}"#),
        "{text}"
    );
}

#[tokio::test]
async fn another_market_that_offers_only_http1_is_read_over_one_http1_connection() {
    let sim = sim(SimConfig {
        items_per_game: 50,
        limits: None,
        tls: Some(SimTls { http1_only: true }),
        markets: skinscan_core::sim::SimMarkets {
            skinport: true,
            csfloat: false,
        },
        ..SimConfig::default()
    })
    .await;
    let ca = scratch("ca-h1-market").join("ca.pem");
    std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
    let s = settings(
        "tls-h1-market",
        &format!(
            "[market]\nendpoint = \"https://api.dmarket.com\"\n[markets.skinport]\nenabled = true\nendpoint = \"{}\"\nca_file = \"{}\"\napp_ids = {{ csgo = 730 }}\n",
            sim.url(),
            ca.display()
        ),
        &[],
    )
    .unwrap();
    let refs = skinscan_core::references::References::new(&s.references, None).unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    refs.refresh_due(&["csgo".to_owned()], &cancel).await;
    let status = refs.status();
    let (game, rows, fetched_at, error) = &status[0].games[0];
    assert_eq!(game, "csgo");
    assert!(*rows > 0 && fetched_at.is_some(), "{error:?}");
    assert_eq!(error, &None);
    assert_eq!(status[0].stats.connections, 1);
    assert_eq!(sim.stats().connections, 1);
}
