//! The simulator's server: accept loop, per-request pipeline (count, rate-limit, verify,
//! fault, delay, route) and the endpoint handlers.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::catalogue::{Catalogue, GameMarket};
use super::{Fault, SimConfig, SimStats};
use crate::rng::Rng;
use skinscan_sdk::dmarket::{AGGREGATED_PRICES_PATH, LAST_SALES_PATH, MARKET_ITEMS_PATH};

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl SimServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        super::endpoint_url(self.addr)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        self.stats.snapshot()
    }

    /// Stops accepting and closes every connection; waits until they are gone.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Binds `listen` and serves until the returned server is stopped or dropped.
pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<SimServer> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let catalogue = Catalogue::generate(config.seed, config.items_per_game);
    let state = Arc::new(State {
        limiter: config.rate.map(|rate| {
            let burst = f64::from(config.burst.unwrap_or(rate.ceil().max(1.0) as u32).max(1));
            Mutex::new(Bucket {
                rate,
                burst,
                tokens: burst,
                last: Instant::now(),
            })
        }),
        config,
        catalogue,
        stats: Arc::new(Stats::default()),
        request_seq: AtomicU64::new(0),
    });
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let server = SimServer {
        addr,
        stats: state.stats.clone(),
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
    };
    let accept_tracker = tracker.clone();
    tracker.spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "simulator: accept failed");
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            state.stats.connections.fetch_add(1, Ordering::Relaxed);
            let state = state.clone();
            let shutdown = shutdown.clone();
            accept_tracker.spawn(serve_connection(stream, state, shutdown));
        }
    });
    Ok(server)
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    state: Arc<State>,
    shutdown: CancellationToken,
) {
    let goaway = Arc::new(Notify::new());
    let streams = Arc::new(AtomicU64::new(0));
    let service = {
        let goaway = goaway.clone();
        hyper::service::service_fn(move |req| {
            let state = state.clone();
            let n = streams.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(every) = state.config.faults.goaway_every
                && n.is_multiple_of(every)
            {
                state.stats.fault(Fault::GoAway);
                goaway.notify_one();
            }
            async move { handle(req, state).await }
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_concurrent_streams(1_000)
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(8 << 20);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "simulator: connection ended with an error");
                }
                break;
            }
            _ = goaway.notified(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = shutdown.cancelled(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

struct State {
    config: SimConfig,
    catalogue: Catalogue,
    stats: Arc<Stats>,
    limiter: Option<Mutex<Bucket>>,
    request_seq: AtomicU64,
}

struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Takes a token, or says how long until one is available.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// The simulator's counters.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    requests: AtomicU64,
    connections: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    inner: Mutex<StatsInner>,
}

#[derive(Debug, Default)]
struct StatsInner {
    status: BTreeMap<String, u64>,
    faults: BTreeMap<String, u64>,
    paths: BTreeMap<String, u64>,
    window: VecDeque<Instant>,
    max_in_1s: u64,
}

impl Stats {
    fn lock(&self) -> std::sync::MutexGuard<'_, StatsInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn arrived(&self, path: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut s = self.lock();
        *s.paths.entry(path.to_owned()).or_insert(0) += 1;
        s.window.push_back(now);
        while s
            .window
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= Duration::from_secs(1))
        {
            s.window.pop_front();
        }
        s.max_in_1s = s.max_in_1s.max(s.window.len() as u64);
    }

    fn answered(&self, status: StatusCode) {
        *self
            .lock()
            .status
            .entry(status.as_u16().to_string())
            .or_insert(0) += 1;
    }

    fn fault(&self, fault: Fault) {
        *self
            .lock()
            .faults
            .entry(fault.name().to_owned())
            .or_insert(0) += 1;
    }

    pub(crate) fn snapshot(&self) -> SimStats {
        let s = self.lock();
        SimStats {
            requests: self.requests.load(Ordering::Relaxed),
            status: s.status.clone(),
            faults: s.faults.clone(),
            connections: self.connections.load(Ordering::Relaxed),
            max_requests_in_1s: s.max_in_1s,
            max_concurrent_streams: self.max_in_flight.load(Ordering::Relaxed),
            paths: s.paths.clone(),
        }
    }
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a>(&'a Stats);

impl<'a> InFlight<'a> {
    fn new(stats: &'a Stats) -> Self {
        let now = stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        stats.max_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(stats)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The error a handler returns to make hyper reset the stream (RST_STREAM on HTTP/2).
#[derive(Debug)]
struct ResetStream;

impl std::fmt::Display for ResetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("simulated stream reset")
    }
}

impl std::error::Error for ResetStream {}

type SimResponse = Response<Full<Bytes>>;

async fn handle(req: Request<Incoming>, state: Arc<State>) -> Result<SimResponse, ResetStream> {
    if req.uri().path() == "/__sim/stats" {
        let body = serde_json::to_vec(&state.stats.snapshot()).unwrap_or_default();
        return Ok(json_response(StatusCode::OK, body));
    }
    let stats = &state.stats;
    stats.arrived(req.uri().path());
    let _in_flight = InFlight::new(stats);
    let seq = state.request_seq.fetch_add(1, Ordering::Relaxed);

    if let Some(limiter) = &state.limiter {
        let verdict = limiter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(Instant::now());
        if let Err(wait) = verdict {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut r = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "rate limit exceeded",
            );
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
            r.headers_mut()
                .insert("x-ratelimit-remaining", HeaderValue::from(0));
            stats.answered(r.status());
            return Ok(r);
        }
    }

    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, 1 << 20).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let r = error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BadRequest",
                "body too large or unreadable",
            );
            stats.answered(r.status());
            return Ok(r);
        }
    };

    if let Some(key) = &state.config.public_key
        && let Err(reason) = verify_signature(key, &parts, &body)
    {
        let r = error_response(StatusCode::UNAUTHORIZED, "Unauthorized", &reason);
        stats.answered(r.status());
        return Ok(r);
    }

    let mut rng = Rng::derive(state.config.seed, 0xfa17, seq);
    let fault = pick_fault(&state.config.faults.probabilities, &mut rng);
    let delay = state.config.latency
        + if state.config.jitter.is_zero() {
            Duration::ZERO
        } else {
            state.config.jitter.mul_f64(rng.unit())
        };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(fault) = fault {
        stats.fault(fault);
        match fault {
            Fault::ServerError => {
                let status = if rng.below(2) == 0 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                let r = error_response(status, "InternalError", "simulated server error");
                stats.answered(r.status());
                return Ok(r);
            }
            Fault::Reset => return Err(ResetStream),
            Fault::Stall => {
                std::future::pending::<()>().await;
                unreachable!("a pending future never completes");
            }
            _ => {}
        }
    }

    let mut response = route(
        &state,
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
        &body,
    );
    match fault {
        Some(Fault::Malformed) if response.status().is_success() => {
            *response.body_mut() = Full::new(Bytes::from_static(
                b"<html><body>502 Bad Gateway</body></html>",
            ));
        }
        Some(Fault::Truncate) if response.status().is_success() => {
            let full = response
                .body_mut()
                .clone()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            *response.body_mut() = Full::new(full.slice(..full.len() / 2));
        }
        _ => {}
    }
    stats.answered(response.status());
    Ok(response)
}

fn pick_fault(probabilities: &[(Fault, f64)], rng: &mut Rng) -> Option<Fault> {
    if probabilities.is_empty() {
        return None;
    }
    let roll = rng.unit();
    let mut acc = 0.0;
    for &(fault, p) in probabilities {
        acc += p;
        if roll < acc {
            return Some(fault);
        }
    }
    None
}

/// Checks the request the way the live API does: `METHOD + path (percent-decoded) + ?query
/// (as on the wire) + body + X-Sign-Date`, Ed25519, date within 120 s.
fn verify_signature(
    key: &ed25519_dalek::VerifyingKey,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<(), String> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let api_key = header("x-api-key").ok_or("missing X-Api-Key header")?;
    if !api_key.eq_ignore_ascii_case(&hex::encode(key.as_bytes())) {
        return Err("unknown X-Api-Key".into());
    }
    let date = header("x-sign-date").ok_or("missing X-Sign-Date header")?;
    let when: i64 = date
        .parse()
        .map_err(|_| format!("X-Sign-Date {date:?} is not unix seconds"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if (now - when).abs() > 120 {
        return Err(format!(
            "X-Sign-Date is {}s off the server clock (more than 120s): sync the clock",
            now - when
        ));
    }
    let sign = header("x-request-sign").ok_or("missing X-Request-Sign header")?;
    let hex_sig = sign
        .strip_prefix("dmar ed25519 ")
        .ok_or("X-Request-Sign must start with \"dmar ed25519 \"")?;
    let sig_bytes: [u8; 64] = hex::decode(hex_sig)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("X-Request-Sign is not 64 bytes of hex")?;
    let path = percent_encoding::percent_decode_str(parts.uri.path()).decode_utf8_lossy();
    let mut message = Vec::with_capacity(64 + body.len());
    message.extend_from_slice(parts.method.as_str().as_bytes());
    message.extend_from_slice(path.as_bytes());
    if let Some(q) = parts.uri.query() {
        message.push(b'?');
        message.extend_from_slice(q.as_bytes());
    }
    message.extend_from_slice(body);
    message.extend_from_slice(date.as_bytes());
    key.verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&sig_bytes))
        .map_err(|_| "signature does not match the request".to_owned())
}

fn route(
    state: &State,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> SimResponse {
    let q = parse_query(query.unwrap_or(""));
    match (path, method) {
        (MARKET_ITEMS_PATH, &Method::GET) => market_items(state, &q),
        (AGGREGATED_PRICES_PATH, &Method::POST) => aggregated_prices(state, body),
        (LAST_SALES_PATH, &Method::GET) => last_sales(state, &q),
        (MARKET_ITEMS_PATH | LAST_SALES_PATH | AGGREGATED_PRICES_PATH, _) => error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!("{method} is not allowed on {path}"),
        ),
        _ => error_response(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("no route {path}"),
        ),
    }
}

/// Query pairs, percent-decoded (`+` read as a space, as most servers do).
fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// The game a request names, or the 400 message.
fn game<'a>(state: &'a State, q: &BTreeMap<String, String>) -> Result<&'a GameMarket, String> {
    let id = q.get("gameId").ok_or("gameId is required")?;
    state
        .catalogue
        .games
        .get(id)
        .ok_or_else(|| format!("unknown gameId {id:?}"))
}

fn market_items(state: &State, q: &BTreeMap<String, String>) -> SimResponse {
    let g = match game(state, q) {
        Ok(g) => g,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, "BadRequest", &message),
    };
    let limit: usize = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "limit must be from 1 to 100",
            );
        }
    };
    if let Some(c) = q.get("currency")
        && c != "USD"
    {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("unsupported currency {c:?}"),
        );
    }
    let num = |k: &str| q.get(k).map(|v| v.parse::<i64>());
    let price_from = match num("priceFrom") {
        None => i64::MIN,
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "priceFrom must be cents",
            );
        }
    };
    let price_to = match num("priceTo") {
        None => i64::MAX,
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "priceTo must be cents",
            );
        }
    };
    let desc = match q.get("orderDir").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("orderDir {other:?}"),
            );
        }
    };
    let offset: usize = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => match decode_cursor(c) {
            Some(o) => o,
            None => return error_response(StatusCode::BAD_REQUEST, "BadRequest", "invalid cursor"),
        },
    };
    // The matching listings as positions in price order.
    let positions: Vec<u32> = match q.get("title") {
        Some(title) => match g.title_index.get(title) {
            Some(&t) => g.by_title[t as usize]
                .iter()
                .copied()
                .filter(|&p| (price_from..=price_to).contains(&g.listings[p as usize].price))
                .collect(),
            None => Vec::new(),
        },
        None => {
            let lo = g.listings.partition_point(|l| l.price < price_from);
            let hi = g.listings.partition_point(|l| l.price <= price_to);
            // Materialising only the page below keeps this O(page), not O(range).
            return render_page(
                g,
                (lo..hi.max(lo)).map(|p| p as u32),
                hi.max(lo) - lo,
                offset,
                limit,
                desc,
            );
        }
    };
    let n = positions.len();
    render_page(g, positions.into_iter(), n, offset, limit, desc)
}

fn render_page(
    g: &GameMarket,
    positions: impl DoubleEndedIterator<Item = u32> + ExactSizeIterator,
    total: usize,
    offset: usize,
    limit: usize,
    desc: bool,
) -> SimResponse {
    let page: Vec<u32> = if desc {
        positions.rev().skip(offset).take(limit).collect()
    } else {
        positions.skip(offset).take(limit).collect()
    };
    let end = offset + page.len();
    let mut out = String::with_capacity(page.len() * 240 + 64);
    out.push_str(r#"{"objects":["#);
    for (i, p) in page.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(g.listing_json(*p as usize));
    }
    out.push_str(r#"],"total":{"items":"#);
    out.push_str(&total.to_string());
    out.push_str(r#"},"cursor":""#);
    if end < total {
        out.push_str(&encode_cursor(end));
    }
    out.push_str(r#""}"#);
    json_response(StatusCode::OK, out.into_bytes())
}

/// Cursors are opaque to clients; here an offset in a light disguise.
fn encode_cursor(offset: usize) -> String {
    format!("c1.{:x}", (offset as u64) ^ 0x5eed_5eed)
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let hex = cursor.strip_prefix("c1.")?;
    u64::from_str_radix(hex, 16)
        .ok()
        .map(|v| (v ^ 0x5eed_5eed) as usize)
}

fn aggregated_prices(state: &State, body: &[u8]) -> SimResponse {
    #[derive(serde::Deserialize)]
    struct Req {
        filter: Filter,
    }
    #[derive(serde::Deserialize)]
    struct Filter {
        game: String,
        titles: Vec<String>,
    }
    let req: Req = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("body must be {{\"filter\": {{\"game\": ..., \"titles\": [...]}}}}: {e}"),
            );
        }
    };
    if req.filter.titles.len() > 100 {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "at most 100 titles per request",
        );
    }
    let Some(g) = state
        .catalogue
        .price_games
        .get(&req.filter.game)
        .and_then(|id| state.catalogue.games.get(id))
    else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("unknown game {:?}", req.filter.game),
        );
    };
    let entries: Vec<serde_json::Value> = req
        .filter
        .titles
        .iter()
        .filter_map(|t| g.title_index.get(t))
        .map(|&i| {
            let t = &g.titles[i as usize];
            serde_json::json!({
                "title": t.name,
                "orderBestPrice": t.best_order.to_string(),
                "orderCount": t.order_count,
                "offerBestPrice": t.best_offer.to_string(),
                "offerCount": t.offer_count,
            })
        })
        .collect();
    debug_assert!(g.price_game == req.filter.game);
    let body = serde_json::json!({"aggregatedPrices": entries, "nextCursor": ""});
    json_response(StatusCode::OK, body.to_string().into_bytes())
}

fn last_sales(state: &State, q: &BTreeMap<String, String>) -> SimResponse {
    let g = match game(state, q) {
        Ok(g) => g,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, "BadRequest", &message),
    };
    let Some(title) = q.get("title") else {
        return error_response(StatusCode::BAD_REQUEST, "BadRequest", "title is required");
    };
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let sales: Vec<serde_json::Value> = g
        .title_index
        .get(title)
        .map(|&i| &g.titles[i as usize].sales)
        .into_iter()
        .flatten()
        .take(limit)
        .map(|(price, date)| serde_json::json!({"price": price.to_string(), "date": date.to_string(), "txOperationType": "Offer"}))
        .collect();
    json_response(
        StatusCode::OK,
        serde_json::json!({"sales": sales}).to_string().into_bytes(),
    )
}

fn json_response(status: StatusCode, body: Vec<u8>) -> SimResponse {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn error_response(status: StatusCode, code: &str, message: &str) -> SimResponse {
    let body = serde_json::json!({"code": code, "message": message}).to_string();
    json_response(status, body.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(1234)), Some(1234));
        assert_eq!(decode_cursor("nonsense"), None);
        assert_eq!(decode_cursor("c1.zz"), None);
    }

    #[test]
    fn query_pairs_are_decoded_with_plus_as_space() {
        let q = parse_query("title=AK-47%20%7C%20Redline&x=a+b&empty");
        assert_eq!(q["title"], "AK-47 | Redline");
        assert_eq!(q["x"], "a b");
        assert_eq!(q["empty"], "");
    }

    #[test]
    fn the_bucket_refuses_beyond_its_burst_and_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket {
            rate: 10.0,
            burst: 2.0,
            tokens: 2.0,
            last: t0,
        };
        assert!(b.take(t0).is_ok());
        assert!(b.take(t0).is_ok());
        let wait = b.take(t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        assert!(b.take(t0 + Duration::from_millis(100)).is_ok());
    }

    #[test]
    fn faults_are_picked_by_cumulative_probability() {
        let spec = [(Fault::ServerError, 0.5), (Fault::Reset, 0.5)];
        let mut rng = Rng::new(3);
        let picks: Vec<Option<Fault>> = (0..1000).map(|_| pick_fault(&spec, &mut rng)).collect();
        assert!(picks.iter().all(Option::is_some));
        let resets = picks.iter().filter(|f| **f == Some(Fault::Reset)).count();
        assert!((400..600).contains(&resets), "{resets}");
        assert_eq!(pick_fault(&[], &mut rng), None);
    }
}
