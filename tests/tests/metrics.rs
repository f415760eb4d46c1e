//! The host's events reach the Prometheus endpoint: scraped while a scan runs and after.

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
