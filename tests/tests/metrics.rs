//! The host's events reach the Prometheus endpoint: scraped while a scan runs and after;
//! alerts not delivered, by sink and reason.

use std::net::SocketAddr;

use skinscan_sdk::SettingValue;
use skinscan_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned(),
    )
}

/// The value of the sample `name{labels}` in Prometheus text (0 when absent).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_scan_is_counted_on_the_metrics_endpoint() {
    let stop = CancellationToken::new();
    let addr = skinscan_core::events::serve_metrics("127.0.0.1:0".parse().unwrap(), stop.clone())
        .await
        .unwrap();
    let sim = plain_sim(200).await;
    let before = get(addr, "/metrics").await.1;
    let cycle = tokio::spawn(one_cycle(
        upstream_config(&sim.url(), 1_000.0),
        builtins(&[("items", SettingValue::Integer(200))]),
        parallel(4),
    ));
    // Scraped during the scan: the endpoint answers while requests go out.
    let (status, body) = get(addr, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let report = cycle.await.unwrap();
    assert_all_ok(&report);
    let (status, after) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    let grew = |series: &str| sample(&after, series) - sample(&before, series);
    // Two listing pages and at least one price batch per game.
    assert!(
        grew(r#"skinscan_requests_total{group="market"}"#) >= 8.0,
        "{after}"
    );
    assert!(
        grew(r#"skinscan_requests_total{group="other"}"#) >= 4.0,
        "{after}"
    );
    assert!(
        grew(r#"skinscan_listings_total{game="csgo"}"#) >= 200.0,
        "{after}"
    );
    let found: u64 = report
        .games
        .iter()
        .map(|g| g.report.as_ref().unwrap().opportunities.len() as u64)
        .sum();
    let counted: f64 = ["csgo", "dota2", "rust", "tf2"]
        .iter()
        .map(|g| grew(&format!("skinscan_opportunities_total{{game=\"{g}\"}}")))
        .sum();
    assert!(counted >= found as f64, "{counted} < {found}");
    assert!(
        after.contains("skinscan_request_latency_seconds_bucket"),
        "{after}"
    );
    assert!(grew("skinscan_cycles_total") >= 1.0, "{after}");
    assert_eq!(get(addr, "/nope").await.0, 404);
    stop.cancel();
}

/// A `new` watch event for `offer`, net profit $1.23.
fn found(offer: &str) -> skinscan_core::sinks::Event {
    use skinscan_sdk::{Bps, GameId, Listing, Money, Strategy};
    let mut listing = Listing::new(format!("item-{offer}"), "AK-47 | Redline", Money::usd(900));
    listing.offer_id = Some(offer.to_owned());
    let opportunity = skinscan_sdk::arbitrage::opportunity(
        &GameId::new("csgo").unwrap(),
        &listing,
        Strategy::Instant,
        1_100,
        &skinscan_sdk::arbitrage::FeeRule::fixed(Bps::new(700).unwrap()),
    );
    skinscan_core::sinks::Event::Watch(std::sync::Arc::new(skinscan_core::report::WatchEvent {
        kind: skinscan_core::report::WatchKind::New,
        opportunity,
        detected_at: std::time::SystemTime::now(),
        delay: None,
        reason: None,
        backlog: false,
    }))
}

/// The only test of this file sending alerts: the counts it reads are its own.
#[tokio::test]
async fn undelivered_alerts_are_counted_by_sink_and_reason_with_no_secret_in_a_label() {
    use skinscan_core::alerts::{AlertOptions, AlertSink, Service};
    use skinscan_core::secret::Secret;
    use skinscan_core::sinks::Sink;
    let stop = CancellationToken::new();
    let addr = skinscan_core::events::serve_metrics("127.0.0.1:0".parse().unwrap(), stop.clone())
        .await
        .unwrap();
    let (refusing, _) = recording_server(|_, _| {
        (
            401,
            Vec::new(),
            br#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#.to_vec(),
        )
    })
    .await;
    let (portal, _) = recording_server(|_, _| {
        (
            200,
            vec![("content-type", "text/html".to_owned())],
            b"<html>log in</html>".to_vec(),
        )
    })
    .await;
    let client =
        skinscan_core::alerts::client(&skinscan_core::http::TlsOptions::default(), None).unwrap();
    let before = get(addr, "/metrics").await.1;
    let sinks = [
        Service::Telegram {
            base_url: format!("http://{refusing}"),
            token: Secret::new("123456:SECRET-token"),
            chat_ids: vec!["42".to_owned(), "43".to_owned()],
        },
        Service::Discord {
            url: Secret::new(format!("http://{portal}/api/webhooks/1/SECRETwebhookTOKEN")),
        },
    ];
    for service in sinks {
        let mut o = AlertOptions::new(service);
        o.digest_at = 0;
        let mut sink = AlertSink::new(o, client.clone(), None);
        for offer in ["o1", "o2", "o3"] {
            sink.handle(&found(offer)).await.unwrap();
        }
        sink.finish().await.unwrap();
    }
    let after = get(addr, "/metrics").await.1;
    let grew = |series: &str| sample(&after, series) - sample(&before, series);
    // Telegram: each of three messages to each of two chats, under the refusal that stopped
    // the sink; Discord: three pages that are not its 204.
    assert_eq!(
        grew(r#"skinscan_alerts_failed_total{sink="telegram",reason="unauthorized"}"#),
        6.0,
        "{after}"
    );
    assert_eq!(
        grew(r#"skinscan_alerts_failed_total{sink="discord",reason="bad_answer"}"#),
        3.0,
        "{after}"
    );
    let failed: Vec<&str> = after
        .lines()
        .filter(|l| l.starts_with("skinscan_alerts_failed_total{"))
        .collect();
    assert_eq!(failed.len(), 2, "{after}");
    assert_eq!(grew(r#"skinscan_alerts_sent_total{sink="telegram"}"#), 0.0);
    assert!(!after.contains("SECRET"), "{after}");
    stop.cancel();
}
