//! The simulated market as a client sees it: paging, limits, signatures, faults, stats.
//!
//! Long because it is the simulator's specification, one test per behaviour a client relies on.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use skinscan_core::http::{H2Client, HttpErrorKind, HttpOptions, HttpResponse, Target};
use skinscan_core::sign::{Signer, generate_keypair_hex, signing_string};
use skinscan_core::sim::{SimConfig, SimStats};
use skinscan_sdk::dmarket::{self, ListingApi, ListingOrder, ListingsQuery};
use skinscan_sdk::{ApiRequest, Currency};
use skinscan_tests::*;

fn client(url: &str) -> H2Client {
    H2Client::new(Target::parse(url).unwrap(), HttpOptions::default())
}

async fn get(c: &H2Client, req: &ApiRequest) -> HttpResponse {
    c.send(
        Method::GET,
        &req.path_and_query(),
        HeaderMap::new(),
        Bytes::new(),
    )
    .await
    .expect("the sim answers")
}

async fn all_pages(c: &H2Client, query: ListingsQuery) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let r = get(c, &query.clone().cursor(cursor).to_request()).await;
        assert_eq!(r.status, 200);
        let page = dmarket::parse_listings_page(&r.body, Currency::Usd).unwrap();
        assert_eq!(page.malformed(), 0);
        ids.extend(page.listings.into_iter().map(|l| l.item_id));
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn paging_returns_every_listing_exactly_once() {
    for (seed, items) in [(1, 1), (2, 99), (3, 100), (4, 101), (5, 777)] {
        let sim = sim(SimConfig {
            seed,
            items_per_game: items,
            limits: None,
            ..SimConfig::default()
        })
        .await;
        let c = client(&sim.url());
        for game in ["a8db", "9a92", "rust", "tf2"] {
            for limit in [100, 37] {
                let ids =
                    all_pages(&c, ListingsQuery::new(ListingApi::V1, game).limit(limit)).await;
                let unique: HashSet<&String> = ids.iter().collect();
                assert_eq!(
                    ids.len() as u64,
                    items,
                    "seed {seed} game {game} limit {limit}"
                );
                assert_eq!(
                    unique.len(),
                    ids.len(),
                    "duplicates for seed {seed} game {game}"
                );
            }
        }
    }
}

#[tokio::test]
async fn pages_are_sorted_filtered_and_deterministic() {
    let a = plain_sim(500).await;
    let b = plain_sim(500).await;
    let q = ListingsQuery::new(ListingApi::V1, "a8db").price_band(200, 900);
    let (ca, cb) = (client(&a.url()), client(&b.url()));
    let first_a = get(&ca, &q.to_request()).await;
    let first_b = get(&cb, &q.to_request()).await;
    assert_eq!(first_a.body, first_b.body, "same seed, same data");
    let page = dmarket::parse_listings_page(&first_a.body, Currency::Usd).unwrap();
    let prices: Vec<i64> = page.listings.iter().map(|l| l.price.cents()).collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]));
    assert!(prices.iter().all(|p| (200..=900).contains(p)));
    let desc = get(&ca, &q.clone().order(ListingOrder::PriceDesc).to_request()).await;
    let desc = dmarket::parse_listings_page(&desc.body, Currency::Usd).unwrap();
    assert!(desc.listings.windows(2).all(|w| w[0].price >= w[1].price));
    // A title filter returns only that title.
    let title = page.listings[0].title.clone();
    let by_title = get(
        &ca,
        &ListingsQuery::new(ListingApi::V1, "a8db")
            .title(&title)
            .to_request(),
    )
    .await;
    let by_title = dmarket::parse_listings_page(&by_title.body, Currency::Usd).unwrap();
    assert!(!by_title.listings.is_empty() && by_title.listings.iter().all(|l| l.title == title));
}

#[tokio::test]
async fn aggregated_prices_answer_known_titles_and_omit_unknown_ones() {
    let sim = plain_sim(300).await;
    let c = client(&sim.url());
    let page = get(&c, &ListingsQuery::new(ListingApi::V1, "9a92").to_request()).await;
    let page = dmarket::parse_listings_page(&page.body, Currency::Usd).unwrap();
    let known = page.listings[0].title.clone();
    let req =
        dmarket::aggregated_prices_request("9a92", &[known.clone(), "No Such Item".into()], None);
    let r = c
        .send(
            Method::POST,
            &req.path_and_query(),
            HeaderMap::new(),
            Bytes::from(req.body.unwrap()),
        )
        .await
        .unwrap();
    let prices = dmarket::parse_aggregated_prices(&r.body, Currency::Usd)
        .unwrap()
        .prices;
    assert_eq!(prices.len(), 1);
    assert_eq!(prices[0].title, known);
    // The best offer is the cheapest listing of that title.
    let cheapest = page
        .listings
        .iter()
        .filter(|l| l.title == known)
        .map(|l| l.price)
        .min();
    assert_eq!(prices[0].best_offer, cheapest);
    assert!(prices[0].best_order.is_some() && prices[0].offer_count >= 1);
    // More than 100 titles is refused.
    let titles: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    let body = serde_json::json!({"filter": {"game": "9a92", "titles": titles}}).to_string();
    let r = c
        .send(
            Method::POST,
            dmarket::AGGREGATED_PRICES_PATH,
            HeaderMap::new(),
            Bytes::from(body),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let sim = plain_sim(10).await;
    let c = client(&sim.url());
    for (path, status, words) in [
        (
            "/exchange/v1/market/items?gameId=a8db&limit=101",
            400,
            "limit: must be no greater than 100.",
        ),
        (
            "/exchange/v1/market/items?limit=10",
            400,
            "gameId is required",
        ),
        (
            "/exchange/v1/market/items?gameId=zzzz",
            400,
            "unknown gameId",
        ),
        (
            "/exchange/v1/market/items?gameId=a8db&cursor=garbage",
            400,
            "cursor: invalid.",
        ),
        ("/no/such/path", 404, "no route /no/such/path"),
    ] {
        let r = c
            .send(Method::GET, path, HeaderMap::new(), Bytes::new())
            .await
            .unwrap();
        assert_eq!(r.status.as_u16(), status, "{path}");
        let e = dmarket::parse_error_body(&r.body)
            .unwrap_or_else(|| panic!("{path}: not a JSON error"));
        assert!(e.message.contains(words), "{path}: {}", e.message);
    }
    let sales = get(&c, &dmarket::last_sales_request("a8db", "No Such Item", 10)).await;
    assert!(
        dmarket::parse_last_sales(&sales.body, Currency::Usd)
            .unwrap()
            .sales
            .is_empty()
    );
}

#[tokio::test]
async fn over_the_limit_gets_429_with_retry_after_and_under_it_never_does() {
    let sim = sim(SimConfig {
        items_per_game: 10,
        rate: Some(20.0),
        burst: Some(5),
        limits: None,
        ..SimConfig::default()
    })
    .await;
    let c = client(&sim.url());
    let req = ListingsQuery::new(ListingApi::V1, "a8db").to_request();
    let answers = futures_join_all(&c, &req, 12).await;
    let limited: Vec<&HttpResponse> = answers.iter().filter(|r| r.status == 429).collect();
    assert_eq!(answers.len() - limited.len(), 5, "the burst lets 5 through");
    for r in &limited {
        let after: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(after >= 1);
        assert_eq!(
            dmarket::parse_error_body(&r.body).unwrap().code,
            "TooManyRequests"
        );
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Under the limit: one request every 60 ms is ~16/s < 20/s.
    for _ in 0..10 {
        assert_eq!(get(&c, &req).await.status, 200);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(
        sim.stats().status.get("429").copied(),
        Some(limited.len() as u64)
    );
}

async fn futures_join_all(c: &H2Client, req: &ApiRequest, n: usize) -> Vec<HttpResponse> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (c, pq) = (c.clone(), req.path_and_query());
        set.spawn(async move {
            c.send(Method::GET, &pq, HeaderMap::new(), Bytes::new())
                .await
                .unwrap()
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn signed_headers(signer: &Signer, req: &ApiRequest, date: u64) -> HeaderMap {
    let s = signer.sign("GET", &req.path, &req.encoded_query(), b"", date);
    let mut h = HeaderMap::new();
    h.insert("x-api-key", HeaderValue::from_str(&s.api_key).unwrap());
    h.insert("x-sign-date", HeaderValue::from_str(&s.date).unwrap());
    h.insert(
        "x-request-sign",
        HeaderValue::from_str(&s.signature).unwrap(),
    );
    h
}

#[tokio::test]
async fn signatures_are_verified_and_each_failure_is_named() {
    let (public, secret) = generate_keypair_hex([11; 32]);
    let signer = Signer::from_hex(&public, &secret).unwrap();
    let sim = sim(SimConfig {
        items_per_game: 10,
        public_key: Some(signer.verifying_key()),
        limits: None,
        ..SimConfig::default()
    })
    .await;
    let c = client(&sim.url());
    let req = ListingsQuery::new(ListingApi::V1, "a8db")
        .title("AK-47 | Redline (Field-Tested)")
        .to_request();
    let pq = req.path_and_query();
    let send = |h: HeaderMap| {
        let c = c.clone();
        let pq = pq.clone();
        async move { c.send(Method::GET, &pq, h, Bytes::new()).await.unwrap() }
    };
    assert_eq!(send(signed_headers(&signer, &req, now())).await.status, 200);

    let reason = |r: HttpResponse| {
        assert_eq!(r.status, 401);
        dmarket::parse_error_body(&r.body).unwrap().message
    };
    assert!(reason(send(HeaderMap::new()).await).contains("missing X-Api-Key"));
    let mut h = signed_headers(&signer, &req, now());
    h.remove("x-request-sign");
    assert!(reason(send(h).await).contains("missing X-Request-Sign"));
    let mut h = signed_headers(&signer, &req, now());
    h.insert(
        "x-sign-date",
        HeaderValue::from_str(&(now() + 1).to_string()).unwrap(),
    );
    assert!(reason(send(h).await).contains("signature does not match"));
    let stale = reason(send(signed_headers(&signer, &req, now() - 300)).await);
    assert!(
        stale.contains("off the server clock") && stale.contains("sync the clock"),
        "{stale}"
    );
    let (other, other_secret) = generate_keypair_hex([12; 32]);
    let other = Signer::from_hex(&other, &other_secret).unwrap();
    assert!(reason(send(signed_headers(&other, &req, now())).await).contains("unknown X-Api-Key"));
    // The original's bug: signing spaces as '+' while sending %20.
    let date = now();
    let plus = signer.sign(
        "GET",
        &req.path,
        &req.encoded_query().replace("%20", "+"),
        b"",
        date,
    );
    let mut h = signed_headers(&signer, &req, date);
    h.insert(
        "x-request-sign",
        HeaderValue::from_str(&plus.signature).unwrap(),
    );
    assert!(reason(send(h).await).contains("signature does not match"));
}

#[test]
fn our_signatures_verify_with_an_independent_ed25519_implementation() {
    let (public, secret) = generate_keypair_hex([21; 32]);
    let signer = Signer::from_hex(&public, &secret).unwrap();
    let req = ApiRequest::get("/exchange/v1/market/items")
        .param("gameId", "a8db")
        .param("title", "AWP | Asiimov");
    let signed = signer.sign("GET", &req.path, &req.encoded_query(), b"", 1605619994);
    let sig = hex::decode(signed.signature.strip_prefix("dmar ed25519 ").unwrap()).unwrap();
    let message = signing_string("GET", &req.path, &req.encoded_query(), b"", 1605619994);
    assert_eq!(
        String::from_utf8(message.clone()).unwrap(),
        "GET/exchange/v1/market/items?gameId=a8db&title=AWP%20%7C%20Asiimov1605619994"
    );
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ED25519,
        hex::decode(&public).unwrap(),
    );
    key.verify(&message, &sig)
        .expect("ring accepts skinscan's signature");
    assert!(key.verify(b"something else", &sig).is_err());
    // And ring's own signature over the same bytes is what ed25519-dalek produced (Ed25519
    // is deterministic).
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[21; 32]).unwrap();
    assert_eq!(pair.sign(&message).as_ref(), sig.as_slice());
}

async fn one(
    sim_faults: &str,
) -> (
    Result<HttpResponse, skinscan_core::http::HttpError>,
    SimStats,
) {
    let sim = sim(SimConfig {
        items_per_game: 50,
        faults: sim_faults.parse().unwrap(),
        limits: None,
        ..SimConfig::default()
    })
    .await;
    let c = client(&sim.url());
    let req = ListingsQuery::new(ListingApi::V1, "a8db").to_request();
    let r = tokio::time::timeout(
        Duration::from_millis(500),
        c.send(
            Method::GET,
            &req.path_and_query(),
            HeaderMap::new(),
            Bytes::new(),
        ),
    )
    .await;
    let r = r.unwrap_or_else(|_| {
        Err(skinscan_core::http::HttpError {
            kind: HttpErrorKind::Other,
            message: "stalled".into(),
        })
    });
    (r, sim.stats())
}

#[tokio::test]
async fn each_fault_kind_is_observable_by_a_client() {
    let (r, s) = one("5xx=1").await;
    let r = r.unwrap();
    assert!(r.status == 500 || r.status == 503, "{}", r.status);
    assert_eq!(s.faults.get("5xx"), Some(&1));

    let (r, s) = one("reset=1").await;
    assert_eq!(r.unwrap_err().kind, HttpErrorKind::Reset);
    assert_eq!(s.faults.get("reset"), Some(&1));

    let (r, s) = one("stall=1").await;
    assert_eq!(r.unwrap_err().message, "stalled");
    assert_eq!(s.faults.get("stall"), Some(&1));

    let (r, _) = one("malformed=1").await;
    let r = r.unwrap();
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());

    let (clean, _) = one("").await;
    let clean = clean.unwrap().body;
    let (r, s) = one("truncate=1").await;
    let cut = r.unwrap().body;
    assert!(
        cut.len() < clean.len() && clean.starts_with(&cut),
        "a truncated body is a prefix of the real one"
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&cut).is_err());
    assert_eq!(s.faults.get("truncate"), Some(&1));
}

#[tokio::test]
async fn goaway_closes_the_connection_after_n_streams_and_the_client_reconnects() {
    let sim = sim(SimConfig {
        items_per_game: 10,
        faults: "goaway-every=2".parse().unwrap(),
        limits: None,
        ..SimConfig::default()
    })
    .await;
    let c = client(&sim.url());
    let req = ListingsQuery::new(ListingApi::V1, "tf2").to_request();
    for _ in 0..6 {
        // A request caught by the GOAWAY is retried once here, as the host's retry would.
        let r = match c
            .send(
                Method::GET,
                &req.path_and_query(),
                HeaderMap::new(),
                Bytes::new(),
            )
            .await
        {
            Ok(r) => r,
            Err(_) => get(&c, &req).await,
        };
        assert_eq!(r.status, 200);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = sim.stats();
    assert!(s.connections >= 3, "{s:?}");
    assert!(s.faults.get("goaway").copied().unwrap_or(0) >= 2);
    assert_eq!(c.connections_opened(), s.connections);
}

#[tokio::test]
async fn stats_count_requests_statuses_streams_and_windows() {
    let sim = sim(SimConfig {
        items_per_game: 10,
        latency: Duration::from_millis(150),
        limits: None,
        ..SimConfig::default()
    })
    .await;
    let c = client(&sim.url());
    let req = ListingsQuery::new(ListingApi::V1, "rust").to_request();
    let answers = futures_join_all(&c, &req, 20).await;
    assert!(answers.iter().all(|r| r.status == 200));
    let _ = c
        .send(Method::GET, "/nope", HeaderMap::new(), Bytes::new())
        .await
        .unwrap();
    // The stats endpoint itself is not counted, and is served over HTTP/1.1 too (curl).
    let body = http1_get(sim.addr(), "/__sim/stats").await;
    let s: SimStats = serde_json::from_str(&body).unwrap();
    assert_eq!(s.requests, 21);
    assert_eq!(s.status.get("200"), Some(&20));
    assert_eq!(s.status.get("404"), Some(&1));
    assert_eq!(s.max_concurrent_streams, 20);
    assert_eq!(s.max_requests_in_1s, 21);
    assert_eq!(
        s.connections, 2,
        "the h2 client's connection and the HTTP/1.1 one"
    );
    assert_eq!(s.paths.get("/exchange/v1/market/items"), Some(&20));
}

/// A raw HTTP/1.1 GET over a plain socket, as curl would send it (async: the simulator
/// shares this test's runtime).
async fn http1_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out.split("\r\n\r\n").nth(1).unwrap().to_owned()
}

async fn get_json(
    c: &H2Client,
    path_and_query: &str,
    headers: HeaderMap,
) -> (u16, HeaderMap, serde_json::Value) {
    let r = c
        .send(Method::GET, path_and_query, headers, Bytes::new())
        .await
        .unwrap();
    let v = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
    (r.status.as_u16(), r.headers, v)
}

#[tokio::test]
async fn listings_have_the_real_v1_and_v2_shapes() {
    let sim = sim(SimConfig {
        items_per_game: 10_050,
        limits: None,
        ..SimConfig::default()
    })
    .await;
    let c = client(&sim.url());
    let (status, _, v) = get_json(&c, "/exchange/v1/market/items?gameId=a8db&currency=USD&limit=100&orderBy=price&orderDir=asc&types=dmarket", HeaderMap::new()).await;
    assert_eq!(status, 200);
    let o = &v["objects"][0];
    let fields = o.as_object().unwrap().len() + o["extra"].as_object().unwrap().len();
    assert!(
        o.as_object().unwrap().len() >= 28,
        "{} top-level fields",
        o.as_object().unwrap().len()
    );
    assert!(fields >= 40, "{fields}");
    assert_eq!(o["type"], "offer");
    assert_eq!(o["price"]["DMC"], "");
    assert!(o["price"]["USD"].as_str().unwrap().parse::<i64>().is_ok());
    assert!(o["createdAt"].is_i64());
    assert!(o["extra"]["offerId"].is_string());
    assert!(o["extra"]["tradeLock"].is_u64() && o["extra"]["tradeLockDuration"].is_u64());
    // The five counts, items capped at 10,000 as the live API caps it.
    assert_eq!(v["total"]["offers"], 10_050);
    assert_eq!(v["total"]["items"], 10_000);
    for k in ["targets", "completedOffers", "closedTargets"] {
        assert!(v["total"][k].is_u64(), "{k}");
    }
    // A base64 cursor of a JSON array with '=' padding: it must travel percent-encoded.
    let cursor = v["cursor"].as_str().unwrap().to_owned();
    let page =
        dmarket::parse_listings_page(&serde_json::to_vec(&v).unwrap(), Currency::Usd).unwrap();
    assert_eq!(page.malformed(), 0);
    assert_eq!(page.cursor.as_deref(), Some(cursor.as_str()));
    let all_cs: Vec<_> = (0..5).map(|_| ()).collect();
    let _ = all_cs;
    let next = ListingsQuery::new(ListingApi::V1, "a8db")
        .cursor(Some(cursor.clone()))
        .to_request();
    assert!(
        next.path_and_query().contains("%3D"),
        "{}",
        next.path_and_query()
    );
    let r = get(&c, &next).await;
    assert_eq!(r.status, 200);
    // A float within its exterior's range on CS:GO skins, lowercase exterior.
    let floated = page
        .listings
        .iter()
        .find(|l| l.float_value.is_some())
        .expect("a CS:GO skin with a float");
    let ext = floated.exterior.as_deref().unwrap();
    assert_eq!(ext, ext.to_lowercase());
    // Some listings are trade locked.
    let (_, _, many) = get_json(
        &c,
        "/exchange/v1/market/items?gameId=9a92&limit=100&orderBy=title",
        HeaderMap::new(),
    )
    .await;
    let locked = many["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["extra"]["tradeLock"].as_u64() > Some(0))
        .count();
    assert!((3..=40).contains(&locked), "{locked} of 100 locked");

    // Newest first by `updated` (v1) and `createdAt` (v2).
    let (_, _, newest) = get_json(
        &c,
        "/exchange/v1/market/items?gameId=rust&limit=50&orderBy=updated&orderDir=desc",
        HeaderMap::new(),
    )
    .await;
    let times: Vec<i64> = newest["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["createdAt"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let (_, _, v2) = get_json(
        &c,
        "/marketplace-api/v2/offers?gameId=rust&limit=50&orderBy=createdAt&orderDir=desc",
        HeaderMap::new(),
    )
    .await;
    let first = &v2["items"][0];
    assert!(
        first["offerId"].is_string()
            && first["priceCents"].is_i64()
            && first["locked"].is_boolean()
    );
    assert!(first["attributes"]["title"].is_string());
    assert!(v2["total"].is_u64());
    let v2_times: Vec<i64> = v2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| dmarket::parse_rfc3339(o["createdAt"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(
        v2_times, times,
        "the same listings, newest first, on both endpoints"
    );
    // v2 requires a limit; over 100 is refused in the exchange service's words.
    let (status, _, e) = get_json(
        &c,
        "/marketplace-api/v2/offers?gameId=rust",
        HeaderMap::new(),
    )
    .await;
    assert_eq!(
        (status, e["Code"].as_str()),
        (400, Some("BadRequest")),
        "{e}"
    );
    let (status, _, e) = get_json(
        &c,
        "/exchange/v1/market/items?gameId=rust&limit=101",
        HeaderMap::new(),
    )
    .await;
    assert_eq!(
        (status, e["message"].as_str()),
        (400, Some("limit: must be no greater than 100."))
    );
}

#[tokio::test]
async fn prices_sales_and_fees_have_the_real_shapes_and_error_bodies() {
    let sim = plain_sim(300).await;
    let c = client(&sim.url());
    let page = get(&c, &ListingsQuery::new(ListingApi::V1, "tf2").to_request()).await;
    let title = dmarket::parse_listings_page(&page.body, Currency::Usd)
        .unwrap()
        .listings[0]
        .title
        .clone();
    let post = |game: &str| {
        let req = dmarket::aggregated_prices_request(game, std::slice::from_ref(&title), None);
        let c = c.clone();
        async move {
            let r = c
                .send(
                    Method::POST,
                    &req.path_and_query(),
                    HeaderMap::new(),
                    Bytes::from(req.body.unwrap()),
                )
                .await
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()
        }
    };
    let v = post("tf2").await;
    let e = &v["aggregatedPrices"][0];
    assert_eq!(e["offerBestPrice"]["Currency"], "USD");
    assert!(
        e["offerBestPrice"]["Amount"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .is_ok()
    );
    assert!(e["offerCount"].is_string() && e["orderCount"].is_string());
    assert_eq!(v["nextCursor"], "");
    // filter.game is the gameId: the old name matches nothing (200, empty).
    assert_eq!(
        post("team fortress").await["aggregatedPrices"],
        serde_json::json!([])
    );

    let (status, _, sales) = get_json(
        &c,
        &dmarket::last_sales_request("tf2", &title, 20).path_and_query(),
        HeaderMap::new(),
    )
    .await;
    assert_eq!(status, 200);
    let price = sales["sales"][0]["price"].as_str().unwrap();
    assert!(
        price
            .split_once('.')
            .is_none_or(|(_, c)| c.len() <= 2 && !c.ends_with('0')),
        "{price}"
    );
    let parsed =
        dmarket::parse_last_sales(&serde_json::to_vec(&sales).unwrap(), Currency::Usd).unwrap();
    assert_eq!(parsed.sales.len(), 10);
    let (status, _, e) = get_json(
        &c,
        "/trade-aggregator/v1/last-sales?gameId=tf2&title=x&limit=21",
        HeaderMap::new(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(e["code"], 3, "a gRPC code: {e}");
    assert!(e["details"].is_array() && e["error"].is_string());

    let (status, _, e) = get_json(
        &c,
        "/exchange/v1/customized-fees?gameId=a8db&offset=0&limit=100",
        HeaderMap::new(),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (401, Some("Unauthorized")),
        "{e}"
    );
    let mut signed = HeaderMap::new();
    signed.insert("x-api-key", HeaderValue::from_static("00"));
    let (status, _, fees) = get_json(
        &c,
        "/exchange/v1/customized-fees?gameId=a8db&offset=0&limit=100",
        signed,
    )
    .await;
    assert_eq!(status, 200);
    let parsed =
        dmarket::parse_customized_fees(&serde_json::to_vec(&fees).unwrap(), Currency::Usd).unwrap();
    assert_eq!(parsed.default.unwrap().rate.get(), 700);
    assert_eq!(parsed.wire.dropped_total(), 0);
}

#[tokio::test]
async fn published_limits_are_fixed_windows_with_headers_on_every_answer() {
    let sim = sim(SimConfig {
        items_per_game: 10,
        ..SimConfig::default()
    })
    .await;
    let c = client(&sim.url());
    let req = ListingsQuery::new(ListingApi::V1, "a8db").to_request();
    // Unsigned: 2 listing requests per second.
    let answers = futures_join_all(&c, &req, 5).await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    assert!((1..=2).contains(&ok), "{ok} admitted at 2/s");
    for r in &answers {
        for h in [
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
            "x-ratelimit-limit-second",
            "x-ratelimit-remaining-second",
        ] {
            assert!(r.headers.contains_key(h), "{h} missing on a {}", r.status);
        }
        assert_eq!(r.headers["ratelimit-limit"], "2");
        if r.status == 429 {
            assert!(
                !r.headers.contains_key("retry-after"),
                "documented without Retry-After"
            );
            assert_eq!(r.headers["ratelimit-remaining"], "0");
            assert_eq!(r.headers["ratelimit-reset"], "1");
        }
    }
    // Other groups have their own windows: aggregated prices (other, 6/s) still answers.
    let body = serde_json::json!({"filter": {"game": "a8db", "titles": ["x"]}, "limit": "100", "cursor": ""}).to_string();
    let r = c
        .send(
            Method::POST,
            dmarket::AGGREGATED_PRICES_PATH,
            HeaderMap::new(),
            Bytes::from(body),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["ratelimit-limit"], "6");
    // Signed requests (X-Api-Key) get the signed limits.
    let mut h = HeaderMap::new();
    h.insert("x-api-key", HeaderValue::from_static("00"));
    let r = c
        .send(Method::GET, &req.path_and_query(), h, Bytes::new())
        .await
        .unwrap();
    assert_eq!(r.headers["ratelimit-limit"], "10");
    let s = sim.stats();
    assert_eq!(s.limited.get("market").copied().unwrap_or(0), 5 - ok as u64);
}

#[tokio::test]
async fn a_living_market_lists_new_arrivals_first_and_keeps_the_truth() {
    let sim = sim(SimConfig {
        items_per_game: 50,
        limits: None,
        living: Some(skinscan_core::sim::LivingConfig {
            arrivals_per_sec: 200.0,
            underpriced_share: 0.3,
            competitor_mean: Duration::from_millis(200),
            ..skinscan_core::sim::LivingConfig::default()
        }),
        ..SimConfig::default()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let c = client(&sim.url());
    let newest = ListingsQuery::new(ListingApi::V2, "a8db")
        .order(ListingOrder::NewestFirst)
        .to_request();
    let page = dmarket::parse_listings_page(&get(&c, &newest).await.body, Currency::Usd).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let first = page.listings[0].listed_at.unwrap();
    assert!(
        (now - 2..=now).contains(&first),
        "newest {first}, now {now}"
    );
    let times: Vec<i64> = page.listings.iter().map(|l| l.listed_at.unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    // More than the 50 catalogue listings are on the market now.
    assert!(page.total.unwrap() > 50, "{:?}", page.total);
    let truth = http1_get(sim.addr(), "/__sim/truth").await;
    let truth: serde_json::Value = serde_json::from_str(&truth).unwrap();
    let entries = truth["underpriced"].as_array().unwrap();
    assert!(!entries.is_empty());
    let e = &entries[0];
    assert!(e["offer_id"].is_string() && e["profit_cents"].as_i64().unwrap() > 0);
    assert!(e["gone"].as_f64().unwrap() > e["created"].as_f64().unwrap());
}
