//! The simulator's server: accept loop, per-request pipeline (count, rate-limit, verify,
//! fault, delay, route) and the endpoint handlers.
//!
//! Long because it is one handler per simulated endpoint with the limits and faults they
//! share (about 1,390 lines, tests 60). The next markets' simulators are modules of their own.

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

use std::fmt::Write as _;

use crate::catalogue::{Catalogue, EPOCH, GameMarket, SimListing, uuid};
use crate::config::{Fault, GroupLimits, SimConfig, SimStats, endpoint_url};
use crate::csfloat::{self, Csfloat};
use crate::living::Living;
use crate::other::{Answer, cross_entries};
use crate::paths::{
    AGGREGATED_PRICES as AGGREGATED_PRICES_PATH, CUSTOMIZED_FEES as CUSTOMIZED_FEES_PATH,
    LAST_SALES as LAST_SALES_PATH, MARKET_ITEMS as MARKET_ITEMS_PATH, OFFERS_V2 as OFFERS_V2_PATH,
};
use crate::rng::Rng;
use crate::skinport::{self, Skinport};
use base64::Engine as _;

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    ca_pem: Option<String>,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl SimServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, or `https://localhost:PORT` when serving TLS (the certificate's name).
    pub fn url(&self) -> String {
        match self.ca_pem {
            None => endpoint_url(self.addr),
            Some(_) => format!("https://localhost:{}", self.addr.port()),
        }
    }

    /// The CA that signed the TLS certificate, as PEM (when serving TLS).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
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
    let (acceptor, ca_pem) = match &config.tls {
        None => (None, None),
        Some(tls) => {
            // h2 only, as skinscan needs; http/1.1 only when asked (a server that refuses
            // HTTP/2).
            let alpn: &[&[u8]] = if tls.http1_only {
                &[b"http/1.1"]
            } else {
                &[b"h2"]
            };
            let (acceptor, ca) = tls_acceptor(alpn).map_err(std::io::Error::other)?;
            (Some(acceptor), Some(ca))
        }
    };
    let catalogue = Catalogue::generate(config.seed, config.items_per_game);
    let living = config.living.clone().map(|l| {
        let start_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Living::new(l, config.seed, start_unix)
    });
    let skinport = config.markets.skinport.then(Skinport::new);
    let csfloat = config.markets.csfloat.then(Csfloat::new);
    let config_buy = config.buy.clone();
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
        windows: Mutex::new(BTreeMap::new()),
        started: Instant::now(),
        living,
        sales: crate::buy::Sales::new(config_buy),
        skinport,
        csfloat,
    });
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let server = SimServer {
        addr,
        ca_pem,
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
            match &acceptor {
                None => {
                    accept_tracker.spawn(serve_connection(stream, state, shutdown));
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    accept_tracker.spawn(async move {
                        match acceptor.accept(stream).await {
                            Ok(tls) => serve_connection(tls, state, shutdown).await,
                            Err(e) => {
                                tracing::debug!(error = %e, "simulator: TLS handshake failed")
                            }
                        }
                    });
                }
            }
        }
    });
    Ok(server)
}

/// A CA and a certificate for `localhost` and `127.0.0.1` signed by it, made now: the
/// acceptor (offering `alpn`) and the CA in PEM, for a client to trust. (Tests' fake TLS
/// servers use it too.)
pub fn tls_acceptor(alpn: &[&[u8]]) -> Result<(tokio_rustls::TlsAcceptor, String), String> {
    let e = |e: &dyn std::fmt::Display| format!("cannot make the simulator's certificate: {e}");
    let ca_key = rcgen::KeyPair::generate().map_err(|x| e(&x))?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|x| e(&x))?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "skinscan simulator CA");
    let ca = ca_params.self_signed(&ca_key).map_err(|x| e(&x))?;
    let key = rcgen::KeyPair::generate().map_err(|x| e(&x))?;
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(|x| e(&x))?;
    let cert = params.signed_by(&key, &ca, &ca_key).map_err(|x| e(&x))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|x| e(&x))?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .map_err(|x| e(&x))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(config)), ca.pem()))
}

async fn serve_connection<IO>(stream: IO, state: Arc<State>, shutdown: CancellationToken)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
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

/// Fixed-window counters by (group, signed): (window index, count).
type Windows = BTreeMap<(&'static str, bool), (u64, u64)>;

struct State {
    config: SimConfig,
    catalogue: Catalogue,
    stats: Arc<Stats>,
    limiter: Option<Mutex<Bucket>>,
    request_seq: AtomicU64,
    windows: Mutex<Windows>,
    started: Instant,
    living: Option<Living>,
    sales: crate::buy::Sales,
    skinport: Option<Skinport>,
    csfloat: Option<Csfloat>,
}

/// The published group of a path and its limit, as the simulator counts them. Last sales
/// without a limit of its own (unsigned) counts under `other`.
fn group_of(path: &str, limits: &GroupLimits) -> (&'static str, u32) {
    match (path, limits.sales) {
        (MARKET_ITEMS_PATH | OFFERS_V2_PATH, _) => ("market", limits.market),
        (LAST_SALES_PATH, Some(n)) => ("sales", n),
        (CUSTOMIZED_FEES_PATH, _) => ("fees", limits.fees),
        _ => ("other", limits.other),
    }
}

/// One answer's view of its group's window.
#[derive(Debug, Clone, Copy)]
struct Window {
    group: &'static str,
    limit: u32,
    remaining: u64,
    /// Whole seconds until the window resets (at least 1, as the headers carry integers).
    reset_secs: u64,
    admitted: bool,
}

impl State {
    /// Counts the request in its group's fixed one-second window.
    fn count_in_window(&self, path: &str, signed: bool) -> Option<Window> {
        let limits = self.config.limits?;
        let table = if signed {
            &limits.signed
        } else {
            &limits.anonymous
        };
        let (group, limit) = group_of(path, table);
        let elapsed = Instant::now().saturating_duration_since(self.started);
        let index = elapsed.as_secs();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let entry = windows.entry((group, signed)).or_insert((index, 0));
        if entry.0 != index {
            *entry = (index, 0);
        }
        let admitted = entry.1 < u64::from(limit);
        if admitted {
            entry.1 += 1;
            self.stats.window_peak(group, entry.1);
        }
        let reset = Duration::from_secs(index + 1).saturating_sub(elapsed);
        Some(Window {
            group,
            limit,
            remaining: u64::from(limit).saturating_sub(entry.1),
            reset_secs: reset.as_secs_f64().ceil().max(1.0) as u64,
            admitted,
        })
    }
}

impl State {
    /// The server's clock: this machine's plus the configured offset.
    fn now_unix(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
            + self.config.clock_offset_secs
    }

    fn stamp_date(&self, r: &mut SimResponse) {
        let when = UNIX_EPOCH + Duration::from_secs(self.now_unix().max(0) as u64);
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(when)) {
            r.headers_mut().insert(http::header::DATE, v);
        }
    }
}

impl Window {
    fn stamp(&self, r: &mut SimResponse) {
        let h = r.headers_mut();
        h.insert("ratelimit-limit", HeaderValue::from(self.limit));
        h.insert("ratelimit-remaining", HeaderValue::from(self.remaining));
        h.insert("ratelimit-reset", HeaderValue::from(self.reset_secs));
        h.insert("x-ratelimit-limit-second", HeaderValue::from(self.limit));
        h.insert(
            "x-ratelimit-remaining-second",
            HeaderValue::from(self.remaining),
        );
    }
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
    limited: BTreeMap<String, u64>,
    max_in_window: BTreeMap<String, u64>,
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

    fn window_peak(&self, group: &str, n: u64) {
        let mut s = self.lock();
        let peak = s.max_in_window.entry(group.to_owned()).or_insert(0);
        *peak = (*peak).max(n);
    }

    fn limited(&self, group: &str) {
        *self.lock().limited.entry(group.to_owned()).or_insert(0) += 1;
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
            limited: s.limited.clone(),
            max_in_window: s.max_in_window.clone(),
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
pub(crate) struct ResetStream;

impl std::fmt::Display for ResetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("simulated stream reset")
    }
}

impl std::error::Error for ResetStream {}

type SimResponse = Response<Full<Bytes>>;

async fn handle(req: Request<Incoming>, state: Arc<State>) -> Result<SimResponse, ResetStream> {
    if req.uri().path() == "/__sim/truth" {
        let now = Instant::now()
            .saturating_duration_since(state.started)
            .as_secs_f64();
        let truth = state
            .living
            .as_ref()
            .map(|l| l.truth(&state.catalogue, now))
            .unwrap_or_default();
        let body =
            serde_json::to_vec(&serde_json::json!({"underpriced": truth})).unwrap_or_default();
        return Ok(json_response(StatusCode::OK, body));
    }
    if req.uri().path() == "/__sim/cross" {
        return Ok(json_response(
            StatusCode::OK,
            cross(&state, req.uri().query()),
        ));
    }
    if let Some(r) = other_market(&req, &state) {
        return Ok(r);
    }
    if req.uri().path() == "/__sim/buys" {
        return Ok(json_response(StatusCode::OK, state.sales.truth()));
    }
    if req.uri().path() == "/__sim/stats" {
        let body = serde_json::to_vec(&state.stats.snapshot()).unwrap_or_default();
        return Ok(json_response(StatusCode::OK, body));
    }
    let stats = &state.stats;
    stats.arrived(req.uri().path());
    let _in_flight = InFlight::new(stats);
    let path = req.uri().path().to_owned();
    let signed = req.headers().contains_key("x-api-key");
    let window = state.count_in_window(&path, signed);
    if let Some(w) = window
        && !w.admitted
    {
        stats.limited(w.group);
        // Documented without Retry-After: RateLimit-Reset says when to come back.
        let mut r = error_for(
            &path,
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "too many requests",
        );
        w.stamp(&mut r);
        state.stamp_date(&mut r);
        stats.answered(r.status());
        return Ok(r);
    }
    let mut r = handle_admitted(req, &state).await?;
    if let Some(w) = window {
        w.stamp(&mut r);
    }
    state.stamp_date(&mut r);
    Ok(r)
}

/// The answer of a reference market the simulator also plays (Skinport, CSFloat), counted
/// and dated as every answer is; `None` for DMarket's paths.
fn other_market(req: &Request<Incoming>, state: &State) -> Option<SimResponse> {
    let path = req.uri().path();
    // DMarket's requests (every request, by default) pass without a query parse.
    let played = (state.skinport.is_some() && skinport::serves(path))
        || (state.csfloat.is_some() && csfloat::serves(path));
    if !played {
        return None;
    }
    let q = parse_query(req.uri().query().unwrap_or(""));
    let now = Instant::now().into_std();
    let seed = state.config.seed;
    let answer = state
        .skinport
        .as_ref()
        .and_then(|s| {
            let enc = req
                .headers()
                .get(http::header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok());
            s.answer(&state.catalogue, seed, path, &q, enc, now)
        })
        .or_else(|| {
            state
                .csfloat
                .as_ref()
                .and_then(|c| c.answer(&state.catalogue, seed, path, &q, now))
        })?;
    state.stats.arrived(path);
    let Answer {
        status,
        headers,
        body,
    } = answer;
    let mut r = json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    );
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut().insert(name, v);
        }
    }
    state.stamp_date(&mut r);
    state.stats.answered(r.status());
    Some(r)
}

/// `/__sim/cross[?skinport_fee_bps=N&csfloat_fee_bps=N]`: every catalogue listing that
/// resells at a profit on an enabled reference market after its fee (defaults: Skinport
/// 12%, CSFloat 2%), at the reference a seller prices at (Skinport's floor less a cent,
/// CSFloat's floor).
fn cross(state: &State, query: Option<&str>) -> Vec<u8> {
    let q = parse_query(query.unwrap_or(""));
    let fee = |key: &str, default: i64| {
        q.get(key)
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|b| (0..=10_000).contains(b))
            .unwrap_or(default)
    };
    let seed = state.config.seed;
    let mut all = Vec::new();
    if state.skinport.is_some() {
        let games: Vec<&str> = skinport::APPS.iter().map(|(_, g)| *g).collect();
        all.extend(cross_entries(
            &state.catalogue,
            seed,
            "skinport",
            fee("skinport_fee_bps", skinport::FEE_BPS),
            &games,
            |m, t| skinport::reference(seed, m, t),
        ));
    }
    if state.csfloat.is_some() {
        all.extend(cross_entries(
            &state.catalogue,
            seed,
            "csfloat",
            fee("csfloat_fee_bps", csfloat::FEE_BPS),
            &[csfloat::GAME],
            |m, t| csfloat::reference(seed, m, t),
        ));
    }
    serde_json::to_vec(&serde_json::json!({"cross": all})).unwrap_or_default()
}

async fn handle_admitted(
    req: Request<Incoming>,
    state: &Arc<State>,
) -> Result<SimResponse, ResetStream> {
    let stats = &state.stats;
    let seq = state.request_seq.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().to_owned();

    if let Some(limiter) = &state.limiter {
        let verdict = limiter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(Instant::now());
        if let Err(wait) = verdict {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut r = error_for(
                &path,
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
            let r = error_for(
                &path,
                StatusCode::PAYLOAD_TOO_LARGE,
                "BadRequest",
                "body too large or unreadable",
            );
            stats.answered(r.status());
            return Ok(r);
        }
    };

    if let Some(key) = &state.config.public_key
        && let Err(reason) = verify_signature(key, &parts, &body, state.now_unix())
    {
        let r = error_for(&path, StatusCode::UNAUTHORIZED, "Unauthorized", &reason);
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
    // Half the latency on the way in, half on the way back: the market is read in between,
    // as a real server's would be, so a listing created during the round trip's second half
    // is not in the answer.
    let (inbound, outbound) = (delay / 2, delay - delay / 2);
    if !inbound.is_zero() {
        tokio::time::sleep(inbound).await;
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
                let r = error_for(&path, status, "InternalError", "simulated server error");
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

    if crate::buy::serves(&path) {
        return buy_answer(state, &parts, &body, outbound).await;
    }
    let mut response = route(
        state,
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
        &body,
        parts.headers.contains_key("x-api-key"),
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
    if !outbound.is_zero() {
        tokio::time::sleep(outbound).await;
    }
    stats.answered(response.status());
    Ok(response)
}

/// The trading endpoints' answer (`buy.rs`), after the latency's second half.
async fn buy_answer(
    state: &State,
    parts: &http::request::Parts,
    body: &[u8],
    outbound: Duration,
) -> Result<SimResponse, ResetStream> {
    let now = Instant::now()
        .saturating_duration_since(state.started)
        .as_secs_f64();
    let market = crate::buy::Market {
        catalogue: &state.catalogue,
        living: state.living.as_ref(),
        seed: state.config.seed,
        now,
        unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
    };
    let key = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let reply = state
        .sales
        .answer(&market, parts.method.as_str(), parts.uri.path(), key, body);
    if !outbound.is_zero() {
        tokio::time::sleep(outbound).await;
    }
    match reply {
        crate::buy::Reply::Answer(status, body) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            state.stats.answered(status);
            Ok(json_response(status, body))
        }
        crate::buy::Reply::Reset => Err(ResetStream),
        crate::buy::Reply::Stall => std::future::pending().await,
    }
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
    now: i64,
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
    signed: bool,
) -> SimResponse {
    let q = parse_query(query.unwrap_or(""));
    if state.config.missing_paths.iter().any(|m| m == path) {
        return error_for(
            path,
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("no route {path}"),
        );
    }
    match (path, method) {
        (MARKET_ITEMS_PATH, &Method::GET) => listings(state, &q, Api::V1),
        (OFFERS_V2_PATH, &Method::GET) => listings(state, &q, Api::V2),
        (AGGREGATED_PRICES_PATH, &Method::POST) => aggregated_prices(state, body),
        (LAST_SALES_PATH, &Method::GET) => last_sales(state, &q),
        (CUSTOMIZED_FEES_PATH, &Method::GET) => customized_fees(state, &q, signed),
        (
            MARKET_ITEMS_PATH
            | OFFERS_V2_PATH
            | LAST_SALES_PATH
            | AGGREGATED_PRICES_PATH
            | CUSTOMIZED_FEES_PATH,
            _,
        ) => error_for(
            path,
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!("{method} is not allowed on {path}"),
        ),
        _ => error_for(
            path,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    V1,
    V2,
}

/// The listing order a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Price,
    Title,
    Created,
    Discount,
}

fn listings(state: &State, q: &BTreeMap<String, String>, api: Api) -> SimResponse {
    let path = match api {
        Api::V1 => MARKET_ITEMS_PATH,
        Api::V2 => OFFERS_V2_PATH,
    };
    let bad = |message: &str| error_for(path, StatusCode::BAD_REQUEST, "BadRequest", message);
    let g = match game(state, q) {
        Ok(g) => g,
        Err(message) => return bad(&message),
    };
    let limit: usize = match q.get("limit").map(|l| l.parse::<usize>()) {
        None if api == Api::V1 => 100,
        None => return bad("limit: is required."),
        Some(Ok(l)) if l > 100 => return bad("limit: must be no greater than 100."),
        Some(Ok(l)) if l >= 1 => l,
        Some(_) => return bad("limit: must be a number from 1 to 100."),
    };
    if api == Api::V1
        && let Some(c) = q.get("currency")
        && c != "USD"
    {
        return bad(&format!("currency: unsupported {c:?}."));
    }
    let num = |k: &str| q.get(k).map(|v| v.parse::<i64>());
    let price_from = match num("priceFrom") {
        None => i64::MIN,
        Some(Ok(v)) => v,
        Some(Err(_)) => return bad("priceFrom: must be cents."),
    };
    let price_to = match num("priceTo") {
        None => i64::MAX,
        Some(Ok(v)) => v,
        Some(Err(_)) => return bad("priceTo: must be cents."),
    };
    let desc = match q.get("orderDir").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => return bad(&format!("orderDir: {other:?} is not asc or desc.")),
    };
    let order = match (q.get("orderBy").map(String::as_str), api) {
        (None | Some("price"), _) => Order::Price,
        // `personal` sorts by the account's own relevance; with no account here, price.
        (Some("personal"), Api::V1) => Order::Price,
        (Some("title"), _) => Order::Title,
        (Some("updated"), Api::V1) | (Some("createdAt"), Api::V2) => Order::Created,
        (Some("best_discount"), Api::V1) => Order::Discount,
        (Some("float"), Api::V2) => Order::Price,
        (Some(other), _) => return bad(&format!("orderBy: unsupported value {other:?}.")),
    };
    // Every simulated offer is a DMarket one; `types=p2p` alone matches none.
    if api == Api::V1
        && let Some(types) = q.get("types")
        && !types.split(',').any(|t| t.trim() == "dmarket")
    {
        return render_page(g, state, api, &[], 0, 0);
    }
    let offset: usize = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => match decode_cursor(c) {
            Some(o) => o,
            None => return bad("cursor: invalid."),
        },
    };
    if let Some(living) = &state.living {
        return living_page(
            state,
            living,
            g,
            api,
            LivingQuery {
                band: (price_from, price_to),
                title: q.get("title").map(String::as_str),
                order,
                desc,
                offset,
                limit,
            },
        );
    }
    let in_band = |p: &u32| (price_from..=price_to).contains(&g.listings[*p as usize].price);
    // The matching listings as positions, in the order asked for.
    let (page, total): (Vec<u32>, usize) = match (q.get("title"), order) {
        (Some(title), _) => {
            let mut positions: Vec<u32> = g
                .title_index
                .get(title)
                .map(|&t| g.by_title[t as usize].clone())
                .unwrap_or_default();
            positions.retain(in_band);
            sort_positions(g, &mut positions, order);
            take_page(positions, offset, limit, desc)
        }
        (None, Order::Price) => {
            // Materialising only the page keeps this O(page), not O(range).
            let lo = g.listings.partition_point(|l| l.price < price_from);
            let hi = g.listings.partition_point(|l| l.price <= price_to).max(lo);
            let range = (lo as u32)..(hi as u32);
            let page = if desc {
                range.rev().skip(offset).take(limit).collect()
            } else {
                range.skip(offset).take(limit).collect()
            };
            (page, hi - lo)
        }
        (None, Order::Created) => {
            // `newest` is newest first: desc walks it forwards.
            let it = g.newest.iter().copied().filter(in_band);
            let total = g.newest.iter().filter(|p| in_band(p)).count();
            let page = if desc {
                it.skip(offset).take(limit).collect()
            } else {
                let all: Vec<u32> = it.collect();
                all.into_iter().rev().skip(offset).take(limit).collect()
            };
            (page, total)
        }
        (None, order) => {
            let mut positions: Vec<u32> = (0..g.listings.len() as u32).filter(in_band).collect();
            sort_positions(g, &mut positions, order);
            take_page(positions, offset, limit, desc)
        }
    };
    let page: Vec<SimListing> = page.iter().map(|&p| g.listings[p as usize]).collect();
    render_page(g, state, api, &page, offset, total)
}

struct LivingQuery<'a> {
    band: (i64, i64),
    title: Option<&'a str>,
    order: Order,
    desc: bool,
    offset: usize,
    limit: usize,
}

/// A page of the living market: the catalogue's listings and the arrivals live now, in the
/// order asked for (materialised per request; the living mode is for small catalogues).
fn living_page(
    state: &State,
    living: &Living,
    g: &GameMarket,
    api: Api,
    q: LivingQuery<'_>,
) -> SimResponse {
    let now = Instant::now()
        .saturating_duration_since(state.started)
        .as_secs_f64();
    let title = q.title.map(|t| g.title_index.get(t).copied());
    let keep = |l: &SimListing| {
        (q.band.0..=q.band.1).contains(&l.price) && title.is_none_or(|t| t == Some(l.title))
    };
    let mut all: Vec<SimListing> = g.listings.iter().copied().filter(keep).collect();
    all.extend(
        living
            .live(&state.catalogue, &g.game_id, now)
            .into_iter()
            .map(|a| a.listing)
            .filter(keep),
    );
    match q.order {
        Order::Price => all.sort_by_key(|l| (l.price, l.seq)),
        Order::Created => all.sort_by_key(|l| (l.created_at, l.seq)),
        Order::Title => all.sort_by(|a, b| {
            g.titles[a.title as usize]
                .name
                .cmp(&g.titles[b.title as usize].name)
                .then((a.price, a.seq).cmp(&(b.price, b.seq)))
        }),
        Order::Discount => all.sort_by_key(|l| (discount(g, l), l.seq)),
    }
    if q.desc {
        all.reverse();
    }
    let total = all.len();
    let page: Vec<SimListing> = all.into_iter().skip(q.offset).take(q.limit).collect();
    render_page(g, state, api, &page, q.offset, total)
}

fn sort_positions(g: &GameMarket, positions: &mut [u32], order: Order) {
    match order {
        Order::Price => positions.sort_unstable(),
        Order::Title => positions.sort_by(|a, b| {
            let (la, lb) = (&g.listings[*a as usize], &g.listings[*b as usize]);
            g.titles[la.title as usize]
                .name
                .cmp(&g.titles[lb.title as usize].name)
                .then(a.cmp(b))
        }),
        Order::Created => positions.sort_by_key(|&p| {
            let l = &g.listings[p as usize];
            (l.created_at, l.seq)
        }),
        // Ascending discount; `orderDir=desc` gives the best discount first.
        Order::Discount => positions.sort_by_key(|&p| (discount(g, &g.listings[p as usize]), p)),
    }
}

fn take_page(positions: Vec<u32>, offset: usize, limit: usize, desc: bool) -> (Vec<u32>, usize) {
    let total = positions.len();
    let page = if desc {
        positions
            .into_iter()
            .rev()
            .skip(offset)
            .take(limit)
            .collect()
    } else {
        positions.into_iter().skip(offset).take(limit).collect()
    };
    (page, total)
}

/// Whole percent under the suggested price (DMarket's `discount`).
fn discount(g: &GameMarket, l: &SimListing) -> i64 {
    let value = g.titles[l.title as usize].value;
    ((value - l.price) * 100 / value.max(1)).max(0)
}

fn render_page(
    g: &GameMarket,
    state: &State,
    api: Api,
    page: &[SimListing],
    offset: usize,
    total: usize,
) -> SimResponse {
    // A sold listing leaves the page; the cursor still counts it (the next page starts after).
    let taken = page.len();
    let unsold: Vec<SimListing> = page
        .iter()
        .filter(|l| !state.sales.sold(&g.game_id, l.seq))
        .copied()
        .collect();
    let page = &unsold[..];
    let end = offset + taken;
    let cursor = if end < total && taken > 0 {
        encode_cursor(end, state.config.seed)
    } else {
        String::new()
    };
    let mut out = String::with_capacity(page.len() * 1_400 + 200);
    let seed = state.config.seed;
    match api {
        Api::V1 => {
            out.push_str(r#"{"objects":["#);
            for (i, p) in page.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render_v1(&mut out, g, seed, p);
            }
            // `items` is capped at 10,000 as the live API caps it; `offers` is not.
            let _ = write!(
                out,
                r#"],"total":{{"offers":{total},"targets":0,"items":{},"completedOffers":0,"closedTargets":0}},"cursor":"{cursor}"}}"#,
                total.min(10_000)
            );
        }
        Api::V2 => {
            out.push_str(r#"{"items":["#);
            for (i, p) in page.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render_v2(&mut out, g, seed, p);
            }
            let _ = write!(out, r#"],"total":{total},"cursor":"{cursor}"}}"#);
        }
    }
    json_response(StatusCode::OK, out.into_bytes())
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn category_of(title: &str) -> &'static str {
    if title.starts_with("StatTrak™") {
        "stattrak™"
    } else if title.starts_with("Souvenir") {
        "souvenir"
    } else {
        "normal"
    }
}

/// A v1 market-items object with the fields the live API sends (about 30, `extra`
/// included; the price envelopes `{"DMC": "", "USD": "cents"}`).
fn render_v1(out: &mut String, g: &GameMarket, seed: u64, l: &SimListing) {
    let t = &g.titles[l.title as usize];
    let item_id = uuid(seed, &g.game_id, 1, l.seq);
    let offer_id = uuid(seed, &g.game_id, 3, l.seq);
    let class_id = 100_000_000 + Rng::derive(seed, 5, u64::from(l.title)).below(900_000_000);
    let title = json_str(&t.name);
    let lock_secs = u64::from(l.lock_days) * 86_400;
    let mut extra = format!(
        r#""offerId":"{offer_id}","nameColor":"D2D2D2","backgroundColor":"","tradable":{},"withdrawable":{},"tradeLock":{},"tradeLockDuration":{lock_secs},"category":"{}","quality":"","groupId":"{}","isNew":false,"saleRestricted":false,"inGameAssetID":"{}","linkId":"{}","collection":[],"stickers":[],"gameId":"{}""#,
        l.lock_days == 0,
        l.lock_days == 0,
        l.lock_days,
        category_of(&t.name),
        class_id,
        30_000_000_000u64 + l.seq,
        uuid(seed, &g.game_id, 7, l.seq),
        g.game_id,
    );
    if let Some(exterior) = t.exterior {
        let _ = write!(extra, r#","exterior":"{exterior}""#);
    }
    if let Some(f) = l.float_micro {
        let paint_seed = Rng::derive(seed, 9, l.seq).below(1_000);
        let _ = write!(
            extra,
            r#","floatValue":{}.{:06},"floatPartValue":"{}","paintSeed":{paint_seed},"paintIndex":{},"categoryPath":"weapon""#,
            f / 1_000_000,
            f % 1_000_000,
            f / 10_000,
            10 + l.title % 700
        );
    }
    let _ = write!(
        out,
        r#"{{"itemId":"{item_id}","type":"offer","amount":1,"classId":"{class_id}","gameId":"{game}","gameType":"steam","inMarket":true,"lockStatus":{locked},"title":{title},"description":"","image":"https://steamcommunity-a.akamaihd.net/economy/image/{class_id}","slug":"","owner":"{owner}","ownersBlockchainId":"","ownerDetails":{{"id":"{owner}","avatar":"","wallet":""}},"status":"active","discount":{discount},"price":{{"DMC":"","USD":"{price}"}},"instantPrice":{{"DMC":"","USD":""}},"exchangePrice":{{"DMC":"","USD":""}},"instantTargetId":"","suggestedPrice":{{"DMC":"","USD":"{value}"}},"recommendedPrice":{{"offerPrice":{{"DMC":"","USD":""}},"d3":{{"DMC":"","USD":""}},"d7":{{"DMC":"","USD":""}},"d7Plus":{{"DMC":"","USD":""}}}},"discountPrice":{{"DMC":"","USD":""}},"extra":{{{extra}}},"createdAt":{created},"deliveryStats":{{"rate":"100","number":"0"}},"fees":{{}},"favorite":{{"count":0,"forUser":false}}}}"#,
        game = g.game_id,
        locked = l.lock_days > 0,
        owner = uuid(seed, &g.game_id, 11, l.seq % 97),
        discount = discount(g, l),
        price = l.price,
        value = t.value,
        created = l.created_at,
    );
}

/// A v2 offer: `offerId`, `priceCents` (a number), `createdAt` (RFC 3339), `locked`,
/// `attributes`.
fn render_v2(out: &mut String, g: &GameMarket, seed: u64, l: &SimListing) {
    let t = &g.titles[l.title as usize];
    let mut cs2 = String::new();
    if let (Some(exterior), Some(f)) = (t.exterior, l.float_micro) {
        let _ = write!(
            cs2,
            r#","cs2Attributes":{{"exterior":"{exterior}","floatValue":{}.{:06},"paintSeed":{}}}"#,
            f / 1_000_000,
            f % 1_000_000,
            Rng::derive(seed, 9, l.seq).below(1_000)
        );
    }
    let _ = write!(
        out,
        r#"{{"offerId":"{}","priceCents":{},"createdAt":"{}","locked":{},"attributes":{{"title":{},"gameId":"{}","categoryPath":"","tradable":{}{cs2}}}}}"#,
        uuid(seed, &g.game_id, 3, l.seq),
        l.price,
        format_rfc3339(l.created_at),
        l.lock_days > 0,
        json_str(&t.name),
        g.game_id,
        l.lock_days == 0,
    );
}

/// Cursors are what DMarket's look like: base64 (with `=` padding) of a JSON array, here
/// `["<offset>", "<check>"]`, so a client that does not percent-encode them breaks.
fn encode_cursor(offset: usize, seed: u64) -> String {
    let check = Rng::derive(seed, 0xc0, offset as u64).next_u64() & 0xffff_ffff;
    let mut json = format!(r#"["{offset}","{check:08x}"]"#);
    // Trailing whitespace is still the same JSON; it makes every cursor end in "==".
    while json.len() % 3 != 1 {
        json.push(' ');
    }
    base64::engine::general_purpose::STANDARD.encode(json)
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    let parts: Vec<String> = serde_json::from_slice(&bytes).ok()?;
    parts.first()?.parse().ok()
}

fn aggregated_prices(state: &State, body: &[u8]) -> SimResponse {
    #[derive(serde::Deserialize)]
    struct Req {
        filter: Filter,
        #[serde(default)]
        cursor: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Filter {
        game: String,
        titles: Vec<String>,
    }
    let path = AGGREGATED_PRICES_PATH;
    let req: Req = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return error_for(
                path,
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("body must be {{\"filter\": {{\"game\": ..., \"titles\": [...]}}}}: {e}"),
            );
        }
    };
    if req.filter.titles.len() > 100 {
        return error_for(
            path,
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "filter.titles: at most 100 titles per request",
        );
    }
    // One page always holds every title asked (at most 100): a cursor continues nothing.
    let _ = req.cursor;
    // An unknown filter.game matches nothing: an empty list, not an error (see the module
    // docs for why).
    let entries: Vec<serde_json::Value> = match state.catalogue.games.get(&req.filter.game) {
        None => Vec::new(),
        Some(g) => req
            .filter
            .titles
            .iter()
            .filter_map(|t| g.title_index.get(t))
            .map(|&i| {
                let t = &g.titles[i as usize];
                let money = |cents: i64| serde_json::json!({"Currency": "USD", "Amount": cents.to_string()});
                serde_json::json!({
                    "title": t.name,
                    "orderBestPrice": money(t.best_order),
                    "orderCount": t.order_count.to_string(),
                    "offerBestPrice": money(t.best_offer),
                    "offerCount": t.offer_count.to_string(),
                })
            })
            .collect(),
    };
    let body = serde_json::json!({"aggregatedPrices": entries, "nextCursor": ""});
    json_response(StatusCode::OK, body.to_string().into_bytes())
}

/// Cents as DMarket's last-sales dollars: `"12.1"`, `"12"`, `"15.99"`.
fn dollars(cents: i64) -> String {
    let (d, c) = (cents / 100, cents % 100);
    match c {
        0 => d.to_string(),
        c if c % 10 == 0 => format!("{d}.{}", c / 10),
        c => format!("{d}.{c:02}"),
    }
}

fn last_sales(state: &State, q: &BTreeMap<String, String>) -> SimResponse {
    let path = LAST_SALES_PATH;
    let bad = |message: &str| error_for(path, StatusCode::BAD_REQUEST, "BadRequest", message);
    let g = match game(state, q) {
        Ok(g) => g,
        Err(message) => return bad(&message),
    };
    let Some(title) = q.get("title") else {
        return bad("title is required");
    };
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 20,
        Some(Ok(l)) if (1..=20).contains(&l) => l,
        Some(_) => {
            return bad("invalid LastSalesRequest.Limit: value must be inside range [1, 20]");
        }
    };
    let sales: Vec<serde_json::Value> = g
        .title_index
        .get(title)
        .map(|&i| &g.titles[i as usize].sales)
        .into_iter()
        .flatten()
        .take(limit)
        .map(|(price, date)| {
            serde_json::json!({
                "price": dollars(*price),
                "date": date.to_string(),
                "txOperationType": "Offer",
                "offerAttributes": {},
                "orderAttributes": {},
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        serde_json::json!({"sales": sales}).to_string().into_bytes(),
    )
}

/// The account's fees: the game's default fee and a few reduced ones, paged by offset.
/// Signed requests only, as on the live API.
fn customized_fees(state: &State, q: &BTreeMap<String, String>, signed: bool) -> SimResponse {
    let path = CUSTOMIZED_FEES_PATH;
    if !signed {
        return error_for(
            path,
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "customized fees need a signed request (X-Api-Key)",
        );
    }
    let g = match game(state, q) {
        Ok(g) => g,
        Err(message) => return error_for(path, StatusCode::BAD_REQUEST, "BadRequest", &message),
    };
    let num = |k: &str, default: usize| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (offset, limit) = (num("offset", 0), num("limit", 100).clamp(1, 100));
    let default_bps = match g.game_id.as_str() {
        "9a92" => 735,
        "rust" => 770,
        _ => 700,
    };
    let fraction = |bps: u32| format!("0.{bps:04}");
    let reduced: Vec<serde_json::Value> = g
        .reduced_fees
        .iter()
        .skip(offset)
        .take(limit)
        .map(|&(t, bps)| {
            serde_json::json!({
                "title": g.titles[t as usize].name,
                "fraction": fraction(bps),
                "minPrice": {"Currency": "USD", "Amount": "0"},
                "maxPrice": {"Currency": "USD", "Amount": "10000000"},
                "expiresAt": (EPOCH + 365 * 86_400).to_string(),
            })
        })
        .collect();
    let body = serde_json::json!({
        "defaultFee": {"fraction": fraction(default_bps), "minAmount": {"Currency": "USD", "Amount": "1"}},
        "reducedFees": reduced,
    });
    json_response(StatusCode::OK, body.to_string().into_bytes())
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

/// An error in the shape of the service that owns `path`: the exchange service
/// `{"code", "message"}`, marketplace-api `{"Code", "Message"}`, gRPC-gateway routes
/// (trade-aggregator) `{"error", "code": <gRPC code>, "message", "details": []}`.
fn error_for(path: &str, status: StatusCode, code: &str, message: &str) -> SimResponse {
    let body = if path.starts_with("/marketplace-api/") {
        serde_json::json!({"Code": code, "Message": message})
    } else if path.starts_with("/trade-aggregator/") {
        let grpc = match status.as_u16() {
            400 => 3,
            401 => 16,
            404 => 5,
            429 => 8,
            503 => 14,
            _ => 13,
        };
        serde_json::json!({"error": message, "code": grpc, "message": message, "details": []})
    } else {
        serde_json::json!({"code": code, "message": message})
    };
    json_response(status, body.to_string().into_bytes())
}

/// `unix` seconds as RFC 3339 in UTC (`2026-11-24T21:47:00Z`), as v2 answers carry times.
fn format_rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        for offset in [0, 100, 1234, 99_999] {
            let c = encode_cursor(offset, 42);
            assert!(c.ends_with("=="), "{c}");
            assert_eq!(decode_cursor(&c), Some(offset));
        }
        assert_eq!(decode_cursor("nonsense"), None);
        assert_eq!(decode_cursor("WyJ4Il0="), None, "[\"x\"] holds no offset");
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

    #[test]
    fn last_sales_dollars_drop_trailing_zeros_like_the_live_api() {
        assert_eq!(dollars(1210), "12.1");
        assert_eq!(dollars(1200), "12");
        assert_eq!(dollars(1599), "15.99");
        assert_eq!(dollars(5), "0.05");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(format_rfc3339(1_705_000_000), "2024-01-11T19:06:40Z");
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
