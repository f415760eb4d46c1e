//! The simulated reference markets over the wire (HTTP/2 through the host's own client):
//! Skinport's Brotli-only answers, its 406 and 429, CSFloat's rate headers and envelope, and
//! the cross truth (`/__sim/cross`) agreeing with what the two markets answer and with the
//! DMarket listings the same simulator serves.

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use skinscan_core::http::{H2Client, HttpOptions, HttpResponse, Target};
use skinscan_core::sim::{SimConfig, SimMarkets};
use skinscan_tests::*;

fn client(url: &str) -> H2Client {
    H2Client::new(Target::parse(url).unwrap(), HttpOptions::default())
}

async fn get(c: &H2Client, path: &str, accept_encoding: Option<&str>) -> HttpResponse {
    let mut headers = HeaderMap::new();
    if let Some(e) = accept_encoding {
        headers.insert("accept-encoding", HeaderValue::from_str(e).unwrap());
    }
    c.send(Method::GET, path, headers, Bytes::new())
        .await
        .expect("the sim answers")
}

/// A Brotli body decoded as the client decodes it.
fn debrotli(body: &[u8]) -> Vec<u8> {
    skinscan_core::markets::skinport::decode_brotli(body, 64 << 20).expect("a Brotli body")
}

/// A Brotli body read as JSON.
fn unbrotli(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(&debrotli(body)).expect("JSON inside")
}

async fn markets_sim(items: u64) -> skinscan_core::sim::SimServer {
    sim(SimConfig {
        items_per_game: items,
        limits: None,
        markets: SimMarkets {
            skinport: true,
            csfloat: true,
        },
        ..SimConfig::default()
    })
    .await
}

#[tokio::test]
async fn skinport_answers_only_with_brotli_and_keeps_8_requests_per_5_minutes() {
    let server = markets_sim(20).await;
    let c = client(&server.url());
    let refused = get(
        &c,
        "/v1/items?app_id=730&currency=USD",
        Some("gzip, deflate"),
    )
    .await;
    assert_eq!(refused.status.as_u16(), 406);
    let body: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(body[0]["id"], "not_acceptable");
    let ok = get(&c, "/v1/items?app_id=730&currency=USD", Some("br")).await;
    assert_eq!(ok.status.as_u16(), 200);
    assert_eq!(ok.headers.get("content-encoding").unwrap(), "br");
    let rows = unbrotli(&ok.body);
    let first = &rows[0];
    assert_eq!(first["currency"], "USD");
    assert!(first["market_hash_name"].is_string());
    for _ in 2..8 {
        let a = get(&c, "/v1/sales/history?app_id=570&currency=USD", Some("br")).await;
        assert_eq!(a.status.as_u16(), 200);
    }
    // The ninth in five minutes (the 406 counted too).
    let limited = get(&c, "/v1/items?app_id=730&currency=USD", Some("br")).await;
    assert_eq!(limited.status.as_u16(), 429);
    let body: serde_json::Value = serde_json::from_slice(&limited.body).unwrap();
    assert_eq!(body["errors"][0]["id"], "rate_limit_exceeded");
}

#[tokio::test]
async fn csfloat_answers_in_cents_with_its_rate_headers() {
    let server = markets_sim(20).await;
    let c = client(&server.url());
    let list = get(&c, "/api/v1/listings/price-list", None).await;
    assert_eq!(list.status.as_u16(), 200);
    assert_eq!(list.headers.get("x-ratelimit-remaining").unwrap(), "19");
    let reset: u64 = list.headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > 1_700_000_000, "unix seconds: {reset}");
    let rows: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
    let first = &rows[0];
    assert!(first["min_price"].is_i64(), "{first}");
    let name = first["market_hash_name"].as_str().unwrap();
    let path = format!(
        "/api/v1/listings?limit=50&sort_by=lowest_price&market_hash_name={}",
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
    );
    let page = get(&c, &path, None).await;
    let page: serde_json::Value = serde_json::from_slice(&page.body).unwrap();
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len() as i64, first["quantity"].as_i64().unwrap());
    assert_eq!(data[0]["price"], first["min_price"]);
    assert!(data.iter().all(|l| l["item"]["market_hash_name"] == name));
}

#[tokio::test]
async fn the_cross_truth_is_what_the_markets_answer_less_the_fee_against_dmarkets_listings() {
    let server = markets_sim(200).await;
    let c = client(&server.url());
    let truth = get(&c, "/__sim/cross", None).await;
    let truth: serde_json::Value = serde_json::from_slice(&truth.body).unwrap();
    let entries = truth["cross"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["sell_market"] == "skinport")
            && entries.iter().any(|e| e["sell_market"] == "csfloat"),
        "the catalogue holds cross opportunities on both markets"
    );
    // Skinport's floors as it answers them, in cents (the sim writes whole cents).
    let rows = unbrotli(
        &get(&c, "/v1/items?app_id=730&currency=USD", Some("br"))
            .await
            .body,
    );
    let floor: HashMap<String, i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            let min = r["min_price"].as_f64()?;
            Some((
                r["market_hash_name"].as_str()?.to_owned(),
                (min * 100.0).round() as i64,
            ))
        })
        .collect();
    // DMarket's own listings of the same simulator.
    let listed = get(
        &c,
        "/exchange/v1/market/items?gameId=a8db&limit=100&currency=USD&orderBy=price&orderDir=asc",
        None,
    )
    .await;
    let listed: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
    let prices: HashMap<String, i64> = listed["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["itemId"].as_str().unwrap().to_owned(),
                o["price"]["USD"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let mut checked = 0;
    for e in entries
        .iter()
        .filter(|e| e["sell_market"] == "skinport" && e["game_id"] == "a8db")
    {
        let sell = e["sell_cents"].as_i64().unwrap();
        assert_eq!(sell, floor[e["title"].as_str().unwrap()] - 1, "{e}");
        let fee = (sell * 1_200 + 9_999) / 10_000;
        assert_eq!(e["fee_cents"].as_i64().unwrap(), fee);
        let buy = e["buy_cents"].as_i64().unwrap();
        assert_eq!(e["net_cents"].as_i64().unwrap(), sell - fee - buy);
        assert!(sell - fee - buy > 0);
        if let Some(p) = prices.get(e["item_id"].as_str().unwrap()) {
            assert_eq!(*p, buy, "the truth's buy price is DMarket's: {e}");
            checked += 1;
        }
    }
    assert!(
        checked > 0,
        "some truth entries are among the 100 cheapest listings"
    );
    // A fee that eats every margin leaves nothing.
    let none = get(
        &c,
        "/__sim/cross?skinport_fee_bps=10000&csfloat_fee_bps=10000",
        None,
    )
    .await;
    let none: serde_json::Value = serde_json::from_slice(&none.body).unwrap();
    assert_eq!(none["cross"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn without_the_markets_turned_on_their_paths_are_not_found() {
    let server = plain_sim(10).await;
    let c = client(&server.url());
    assert_eq!(get(&c, "/v1/items", Some("br")).await.status.as_u16(), 404);
    assert_eq!(
        get(&c, "/api/v1/listings/price-list", None)
            .await
            .status
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn the_sdk_reads_every_simulated_row_and_agrees_with_the_cross_truth() {
    use skinscan_sdk::Currency;
    use skinscan_sdk::markets::{csfloat, skinport};
    let server = markets_sim(50).await;
    let c = client(&server.url());
    let br = get(&c, "/v1/items?app_id=730&currency=USD", Some("br")).await;
    let plain = debrotli(&br.body);
    let items = skinport::parse_items(&plain, Currency::Usd).unwrap();
    assert_eq!(
        items.wire.dropped_total(),
        0,
        "{}",
        items.wire.dropped_summary()
    );
    assert_eq!(items.items.len() as u64, items.entries);
    let floors: HashMap<&str, i64> = items
        .items
        .iter()
        .filter_map(|i| Some((i.market_hash_name.as_str(), i.min_price?.cents())))
        .collect();
    let list = get(&c, "/api/v1/listings/price-list", None).await;
    let list = csfloat::parse_price_list(&list.body).unwrap();
    assert_eq!(
        list.wire.dropped_total(),
        0,
        "{}",
        list.wire.dropped_summary()
    );
    let csfloat_floor: HashMap<&str, i64> = list
        .entries
        .iter()
        .map(|e| (e.market_hash_name.as_str(), e.min_price.cents()))
        .collect();
    let truth = get(&c, "/__sim/cross", None).await;
    let truth: serde_json::Value = serde_json::from_slice(&truth.body).unwrap();
    let mut seen = (0, 0);
    for e in truth["cross"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["game_id"] == "a8db")
    {
        let title = e["title"].as_str().unwrap();
        let sell = e["sell_cents"].as_i64().unwrap();
        match e["sell_market"].as_str().unwrap() {
            "skinport" => {
                assert_eq!(sell, floors[title] - 1, "{e}");
                seen.0 += 1;
            }
            "csfloat" => {
                assert_eq!(sell, csfloat_floor[title], "{e}");
                seen.1 += 1;
            }
            other => panic!("unknown market {other}"),
        }
    }
    assert!(seen.0 > 0 && seen.1 > 0, "{seen:?}");
}

#[tokio::test]
async fn the_cross_judgement_finds_exactly_the_truths_opportunities_among_the_listings_read() {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use skinscan_sdk::markets::cross::{self, CrossReference, CrossRules};
    use skinscan_sdk::markets::snapshot::{ReferenceMarket, SnapshotBuilder};
    use skinscan_sdk::markets::{csfloat, skinport};
    use skinscan_sdk::{Bps, Currency};
    let server = markets_sim(100).await;
    let c = client(&server.url());
    let now = 1_800_000_000;
    let br = get(&c, "/v1/items?app_id=730&currency=USD", Some("br")).await;
    let plain = debrotli(&br.body);
    let sp = SnapshotBuilder::new(ReferenceMarket::Skinport, Currency::Usd)
        .skinport_items(skinport::parse_items(&plain, Currency::Usd).unwrap(), now)
        .build();
    let list = get(&c, "/api/v1/listings/price-list", None).await;
    let cf = SnapshotBuilder::new(ReferenceMarket::Csfloat, Currency::Usd)
        .csfloat_price_list(csfloat::parse_price_list(&list.body).unwrap(), now)
        .build();
    let page = get(
        &c,
        "/exchange/v1/market/items?gameId=a8db&limit=100&currency=USD&orderBy=price&orderDir=asc",
        None,
    )
    .await;
    let page = skinscan_sdk::dmarket::parse_listings_page(&page.body, Currency::Usd).unwrap();
    let rules = |bps| CrossRules {
        fee: Bps::new(bps).unwrap(),
        reference: CrossReference::Lowest,
        min_volume_7d: 0,
        min_quantity: 1,
        max_age: Duration::from_secs(600),
    };
    let mut found = BTreeSet::new();
    for l in &page.listings {
        for (snapshot, r, market) in [
            (&sp, rules(1_200), "skinport"),
            (&cf, rules(200), "csfloat"),
        ] {
            if let Ok(deal) = cross::judge(l, snapshot, &r, now) {
                found.insert((market.to_owned(), l.item_id.clone(), deal.net.cents()));
            }
        }
    }
    let read: BTreeSet<&str> = page.listings.iter().map(|l| l.item_id.as_str()).collect();
    let truth = get(&c, "/__sim/cross", None).await;
    let truth: serde_json::Value = serde_json::from_slice(&truth.body).unwrap();
    let expected: BTreeSet<(String, String, i64)> = truth["cross"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["game_id"] == "a8db" && read.contains(e["item_id"].as_str().unwrap()))
        .map(|e| {
            (
                e["sell_market"].as_str().unwrap().to_owned(),
                e["item_id"].as_str().unwrap().to_owned(),
                e["net_cents"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        !expected.is_empty(),
        "the truth has cross opportunities among the listings read"
    );
    assert_eq!(
        found, expected,
        "every one the truth lists, and none it does not"
    );
}

#[tokio::test]
async fn skinports_upstream_decodes_brotli_and_its_ninth_request_in_5_minutes_fails_at_once() {
    use std::sync::Arc;

    use skinscan_core::markets::Skinport;
    use skinscan_core::upstream::Upstream;
    use skinscan_sdk::markets::skinport;
    use skinscan_sdk::{Currency, FetchError};
    use tokio_util::sync::CancellationToken;

    let server = markets_sim(40).await;
    let upstream = Upstream::with_api(
        upstream_config(&server.url(), 1_000.0),
        Arc::new(Skinport::default()),
    );
    let cancel = CancellationToken::new();
    let request = skinport::items_request(730, Currency::Usd, false);
    // The pipeline asks for Brotli and hands the sdk plain JSON.
    for _ in 0..8 {
        let answer = upstream.send(&request, &cancel).await.unwrap();
        let items = skinport::parse_items(&answer.body, Currency::Usd).unwrap();
        assert!(!items.items.is_empty());
    }
    // The 9th in the window: a 429 naming no wait stands for Skinport's 5-minute window,
    // past max_server_wait: failed at once, not retried into the same spent window.
    let sent_before = server.stats().requests;
    match upstream.send(&request, &cancel).await {
        Err(FetchError::Http {
            status: 429,
            message,
        }) => {
            assert!(
                message.contains("8 requests per 5 minutes")
                    && message.contains("the market's published window"),
                "{message}"
            );
        }
        other => panic!("expected a 429 failure, got {other:?}"),
    }
    assert_eq!(
        server.stats().requests,
        sent_before + 1,
        "sent once, no retry"
    );
    let s = upstream.stats(false);
    assert_eq!((s.rate_limited, s.retries, s.connections), (1, 0, 1));
}
