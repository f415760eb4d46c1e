//! One upstream (the market API): the path every request takes, shared by all games.
//!
//! `send` = breaker check -> endpoint-group limiter -> upstream limiter -> sign (after the
//! wait, afresh per attempt, over the exact bytes sent) -> HTTP/2 with a timeout -> classify
//! -> retry with full-jitter backoff under the budget. Every answer's `RateLimit-*` headers
//! are read: a group whose server-side window is spent (and not by our own sends) is held
//! until the reset. A 429 pauses its group for `RateLimit-Reset` / `Retry-After` (the larger;
//! DMarket documents 429 without `Retry-After`), capped by `max_server_wait`, and slows it
//! (AIMD). Every attempt runs in a `request{path, attempt}` span.
//!
//! Long because `send`'s pipeline (limits, breaker, attempt, classify, retry, server-window
//! holds) shares the upstream's private state; the answer's reading is in `answer.rs`.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use skinscan_sdk::{ApiRequest, ApiResponse, FetchError, Method};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

mod answer;
mod shape;
mod stats;

use crate::events;
use crate::http::{H2Client, HttpErrorKind, HttpOptions, Target};
use crate::limit::{Rate, RateLimiter};
use crate::resilience::{CircuitBreaker, Refused, RetryBudget, RetryPolicy};
use crate::rng::Rng;
use crate::sign::Signer;

pub use crate::markets::EndpointGroup;
pub use answer::RateHeaders;
pub use stats::{StatsSnapshot, UpstreamStats};

use answer::{Outcome, classify};

/// Delivery-time spread allowed for per-group limits: a group's window is this much longer
/// than its period, so a server counting arrivals per fixed second never sees more than the
/// limit while network delay varies by less than this.
pub const GROUP_WINDOW_GUARD: Duration = Duration::from_millis(25);

/// A validated upstream configuration: where, and how.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Where.
    pub target: Target,
    /// How: limits, retries, breaker, keys.
    pub policy: UpstreamPolicy,
}

/// How requests to an upstream are sent, wherever it is (the config's `[market]`).
#[derive(Debug, Clone)]
pub struct UpstreamPolicy {
    /// Connection settings.
    pub http: HttpOptions,
    /// The shared rate.
    pub rate: Rate,
    /// Requests that may go at once after an idle spell.
    pub burst: u32,
    /// Limits per endpoint group (DMarket's published ones unless configured). A group
    /// without one counts under `Other` (last sales when unsigned).
    pub group_limits: Vec<(EndpointGroup, Rate)>,
    /// The longest a server may make us wait (`Retry-After`, `RateLimit-Reset`) before the
    /// request fails instead, quoting the value.
    pub max_server_wait: Duration,
    /// Limit for one attempt, body included.
    pub request_timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Retries may be this % of recent requests...
    pub budget_percent: u32,
    /// ...plus this many.
    pub budget_floor: u32,
    /// Consecutive failures that open the breaker.
    pub breaker_failures: u32,
    /// How long it stays open.
    pub breaker_cooldown: Duration,
    /// Signs requests when keys are configured.
    pub signer: Option<Signer>,
}

impl UpstreamPolicy {
    /// The full configuration for `target`.
    pub fn for_target(&self, target: Target) -> UpstreamConfig {
        UpstreamConfig {
            target,
            policy: self.clone(),
        }
    }
}

/// Something requests can be sent through: the [`Upstream`] itself, or a layer around one
/// (a cache, a recorder, metrics) that implements this trait and delegates. The scheduler
/// hands games an `Arc<dyn Transport>`.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Sends `request`; `cancel` stops waiting.
    async fn send(
        &self,
        request: &ApiRequest,
        cancel: &CancellationToken,
    ) -> Result<ApiResponse, FetchError>;
    /// Whether requests are signed (plugins then read the account's fees).
    fn signed(&self) -> bool;
}

#[async_trait::async_trait]
impl Transport for Upstream {
    async fn send(
        &self,
        request: &ApiRequest,
        cancel: &CancellationToken,
    ) -> Result<ApiResponse, FetchError> {
        Upstream::send(self, request, cancel).await
    }

    fn signed(&self) -> bool {
        Upstream::signed(self)
    }
}

/// The market API as the host reaches it.
#[derive(Debug)]
pub struct Upstream {
    config: UpstreamConfig,
    client: H2Client,
    limiter: RateLimiter,
    groups: Vec<(EndpointGroup, RateLimiter)>,
    breaker: CircuitBreaker,
    budget: RetryBudget,
    stats: UpstreamStats,
    warned_limit: std::sync::atomic::AtomicBool,
    clock: ClockWatch,
    /// The last failure the breaker counted, for its message.
    last_failure: Mutex<Option<String>>,
    /// What the pipeline needs to know of the market (groups, auth, error bodies, hints).
    api: std::sync::Arc<dyn crate::markets::MarketApi>,
    /// The headers of every attempt, made once: user agent, JSON, and the market's
    /// ([`MarketApi::fixed_headers`]); each attempt starts from a copy (no name hashed).
    base_headers: HeaderMap,
    /// Each endpoint group's request counter and latency histogram, found once
    /// ([`EndpointGroup`] order).
    group_metrics: [events::GroupMetrics; 4],
}

/// The server's clock as its `Date` headers tell it, read on the first answer of every
/// connection.
#[derive(Debug, Default)]
struct ClockWatch {
    /// The last connection whose first answer was read.
    checked: AtomicU64,
    /// Server minus local, in seconds; `i64::MIN` until known.
    skew: std::sync::atomic::AtomicI64,
    warned: std::sync::atomic::AtomicBool,
}

/// The skew past which a warning is logged.
pub const CLOCK_SKEW_WARN_SECS: i64 = 30;

impl ClockWatch {
    fn observe(&self, connection: u64, headers: &HeaderMap) {
        if self.checked.fetch_max(connection, Ordering::Relaxed) >= connection {
            return;
        }
        let Some(server) = headers
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
        else {
            return;
        };
        let secs = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        };
        let skew = secs(server) - secs(SystemTime::now());
        self.skew.store(skew, Ordering::Relaxed);
        if skew.abs() > CLOCK_SKEW_WARN_SECS && !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                skew_secs = skew,
                "this machine's clock is {} the server's by {}s: signed requests are refused past 2 minutes; sync it (NTP)",
                if skew > 0 { "behind" } else { "ahead of" },
                skew.abs()
            );
        }
    }

    fn skew(&self) -> Option<i64> {
        let s = self.skew.load(Ordering::Relaxed);
        (s != i64::MIN).then_some(s)
    }
}

/// Every endpoint group, in the order of `Upstream::group_metrics`.
const GROUPS: [EndpointGroup; 4] = [
    EndpointGroup::Market,
    EndpointGroup::Sales,
    EndpointGroup::Fees,
    EndpointGroup::Other,
];

/// The `group` label of a request's metrics: DMarket's endpoint group, or the market's
/// name for another market (`group="skinport"`).
fn metric_group(api: &dyn crate::markets::MarketApi, group: EndpointGroup) -> &'static str {
    match api.name() {
        "dmarket" => group.key(),
        other => other,
    }
}

impl Upstream {
    /// Builds DMarket's upstream; connects on first use.
    pub fn new(config: UpstreamConfig) -> Upstream {
        Upstream::with_api(config, std::sync::Arc::new(crate::markets::Dmarket))
    }

    /// Builds the upstream of the market `api` describes; connects on first use. A fixed
    /// header whose value cannot be sent (a key with a newline, say) is left out and says so.
    pub fn with_api(
        config: UpstreamConfig,
        api: std::sync::Arc<dyn crate::markets::MarketApi>,
    ) -> Upstream {
        let client = H2Client::new(config.target.clone(), config.policy.http.clone());
        let limiter = RateLimiter::new(
            config.target.origin(),
            config.policy.rate,
            config.policy.burst,
        );
        let groups = config
            .policy
            .group_limits
            .iter()
            .map(|(g, rate)| {
                (
                    *g,
                    RateLimiter::with_guard(g.key(), *rate, 1, GROUP_WINDOW_GUARD),
                )
            })
            .collect();
        Upstream {
            client,
            limiter,
            groups,
            breaker: CircuitBreaker::new(
                config.policy.breaker_failures,
                config.policy.breaker_cooldown,
            ),
            budget: RetryBudget::new(config.policy.budget_percent, config.policy.budget_floor),
            stats: UpstreamStats::default(),
            warned_limit: std::sync::atomic::AtomicBool::new(false),
            last_failure: Mutex::new(None),
            base_headers: base_headers(api.as_ref()),
            group_metrics: GROUPS.map(|g| events::GroupMetrics::new(metric_group(api.as_ref(), g))),
            api,
            clock: ClockWatch {
                skew: std::sync::atomic::AtomicI64::new(i64::MIN),
                ..ClockWatch::default()
            },
            config,
        }
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.config.target
    }

    /// The shared limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// The limiter a request of `group` waits on: its own, or `Other`'s when it has none.
    pub fn group_limiter(&self, group: EndpointGroup) -> Option<&RateLimiter> {
        let find = |g: EndpointGroup| self.groups.iter().find(|(x, _)| *x == g).map(|(_, l)| l);
        find(group).or_else(|| find(EndpointGroup::Other))
    }

    /// Requests per second `path` may use at most: its group's limit or the whole
    /// upstream's, whichever is lower.
    pub fn rate_for(&self, path: &str) -> f64 {
        let whole = self.limiter.rate().per_sec();
        self.group_limiter(self.api.group(path))
            .map_or(whole, |g| g.rate().per_sec().min(whole))
    }

    /// The `group` label of `path`'s requests in the metrics: DMarket's endpoint group, or
    /// the other market's name (so Skinport's and CSFloat's requests never count as DMarket's).
    fn metric_group(&self, path: &str) -> &'static str {
        metric_group(self.api.as_ref(), self.api.group(path))
    }

    /// The request metrics of `path`'s group.
    fn group_metrics(&self, path: &str) -> &events::GroupMetrics {
        let group = self.api.group(path);
        let at = GROUPS
            .iter()
            .position(|g| *g == group)
            .unwrap_or(GROUPS.len() - 1);
        &self.group_metrics[at]
    }

    /// The market's message from an error answer (its error body, else the status's reason).
    pub fn error_message(&self, status: u16, body: &[u8]) -> String {
        self.api.error_message(status, body)
    }

    /// Whether requests are signed.
    pub fn signed(&self) -> bool {
        self.config.policy.signer.is_some()
    }

    /// Server clock minus this machine's, in seconds, from the last connection's first
    /// answer (`Date`), once known.
    pub fn clock_skew(&self) -> Option<i64> {
        self.clock.skew()
    }

    /// Counters so far; `reset_latencies` starts a new latency sample (per cycle).
    pub fn stats(&self, reset_latencies: bool) -> StatsSnapshot {
        let s = &self.stats;
        let latencies = s.latencies.take(reset_latencies);
        let pct = |p| latencies.at(p);
        StatsSnapshot {
            requests: s.requests.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            rate_limited: s.rate_limited.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
            bad_bodies: s.bad_bodies.load(Ordering::Relaxed),
            server_holds: s.server_holds.load(Ordering::Relaxed),
            p50: pct(50),
            p99: pct(99),
            connections: self.client.connections_opened(),
        }
    }

    /// Sends `request`: limited, signed, retried. `cancel` stops waiting (nothing new is sent
    /// once it fires); a request already on the wire is let finish.
    pub async fn send(
        &self,
        request: &ApiRequest,
        cancel: &CancellationToken,
    ) -> Result<ApiResponse, FetchError> {
        let group = self.metric_group(&request.path);
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.group_metrics(&request.path).request_sent();
        self.budget.record_request();
        let result = self.send_with_retries(request, cancel).await;
        if result.is_err() {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
            events::RequestFailed { group }.emit();
        }
        result
    }

    async fn send_with_retries(
        &self,
        request: &ApiRequest,
        cancel: &CancellationToken,
    ) -> Result<ApiResponse, FetchError> {
        let group_limiter = self.group_limiter(self.api.group(&request.path));
        // Encoded once per request, not per attempt, straight onto the request line; the
        // query signed is that line's own.
        let (path_and_query, query_at) = request_target(request)?;
        let query = &path_and_query.as_str()[query_at..];
        let body = Bytes::from(request.body.clone().unwrap_or_default());
        // Made on the first retry: most requests never back off.
        let mut rng: Option<Rng> = None;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            if cancel.is_cancelled() {
                return Err(FetchError::Cancelled);
            }
            self.fail_fast_if_open()?;
            let mut wait = std::pin::pin!(async {
                if let Some(l) = group_limiter {
                    l.acquire().await;
                }
                self.limiter.acquire().await;
            });
            // Polled once first: a slot is usually free at once, and watching the token
            // (checked just above) registers a waiter with it, which then has to be removed.
            let done_at_once =
                std::future::poll_fn(|cx| Poll::Ready(wait.as_mut().poll(cx).is_ready())).await;
            if !done_at_once {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Err(FetchError::Cancelled),
                    _ = wait => {}
                }
            }
            if let Err(Refused(retry_in)) = self.breaker.check() {
                return Err(self.circuit_open(retry_in));
            }
            let span = tracing::debug_span!("request", path = %request.path, attempt);
            let verdict = self
                .attempt(request, path_and_query.clone(), query, &body, group_limiter)
                .instrument(span)
                .await;
            let (error, server_wait) = match verdict {
                Verdict::Done(result) => return result,
                Verdict::Retry { error, server_wait } => (error, server_wait),
            };
            if attempt >= self.config.policy.retry.attempts {
                return Err(error);
            }
            if !self.budget.try_retry() {
                tracing::warn!(path = %request.path, %error, "retry budget spent: not retrying");
                return Err(error);
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            // A 429 that named its wait paused the group's bucket (the next acquire waits
            // it out); one that did not, and every other failure, backs off here.
            let backoff = server_wait.is_none().then(|| {
                let rng = rng.get_or_insert_with(Rng::from_entropy);
                self.config.policy.retry.backoff(attempt - 1, rng)
            });
            events::RequestRetried {
                group: self.metric_group(&request.path),
                path: &request.path,
                error: &error,
                backoff,
            }
            .emit();
            if let Some(backoff) = backoff {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Err(FetchError::Cancelled),
                    _ = tokio::time::sleep(backoff) => {}
                }
            }
        }
    }

    fn fail_fast_if_open(&self) -> Result<(), FetchError> {
        if self.breaker.state() == crate::resilience::BreakerState::Open {
            match self.breaker.check() {
                Err(Refused(retry_in)) => return Err(self.circuit_open(retry_in)),
                Ok(()) => {
                    // The cool-down ended between the two calls: this request is the probe,
                    // but it has not waited for its slot. Give the probe back.
                    self.breaker.record(false);
                    return Err(self.circuit_open(self.config.policy.breaker_cooldown));
                }
            }
        }
        Ok(())
    }

    fn circuit_open(&self, retry_in: Duration) -> FetchError {
        FetchError::CircuitOpen {
            upstream: self.config.target.origin(),
            retry_in,
            cause: self
                .last_failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_else(|| "unknown".to_owned()),
        }
    }

    /// The headers of one attempt: user agent, JSON, and the signature (made now, over the
    /// exact bytes sent) when keys are configured.
    fn request_headers(&self, request: &ApiRequest, query: &str, body: &Bytes) -> HeaderMap {
        let mut headers = self.base_headers.clone();
        if request.body.is_some() {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Some(signer) = &self.config.policy.signer {
            for (name, value) in self.api.auth_headers(signer, request, query, body) {
                if let Ok(mut v) = HeaderValue::from_str(&value) {
                    v.set_sensitive(true);
                    headers.insert(name, v);
                }
            }
        }
        headers
    }

    /// One attempt, for `skinscan probe`: limited and signed like any request, never
    /// retried; the whole answer (headers included) and how long it took.
    pub async fn send_once(
        &self,
        request: &ApiRequest,
    ) -> Result<(crate::http::HttpResponse, Duration), FetchError> {
        if let Some(l) = self.group_limiter(self.api.group(&request.path)) {
            l.acquire().await;
        }
        self.limiter.acquire().await;
        let (path_and_query, query_at) = request_target(request)?;
        let body = Bytes::from(request.body.clone().unwrap_or_default());
        let headers = self.request_headers(request, &path_and_query.as_str()[query_at..], &body);
        let method = http_method(request.method);
        let started = Instant::now();
        let timeout = self.config.policy.request_timeout;
        let response = tokio::time::timeout(
            timeout,
            self.client.send_path(method, path_and_query, headers, body),
        )
        .await
        .map_err(|_| FetchError::Timeout { after: timeout })?
        .map_err(|e| FetchError::Transport { message: e.message })?;
        self.clock.observe(response.connection, &response.headers);
        let elapsed = started.elapsed();
        let response = self
            .decoded(response)
            .map_err(|(why, bytes)| FetchError::Transport {
                message: format!(
                    "the answer to {} does not decode ({why}; {bytes} bytes)",
                    request.path
                ),
            })?;
        Ok((response, elapsed))
    }

    async fn attempt(
        &self,
        request: &ApiRequest,
        path_and_query: http::uri::PathAndQuery,
        query: &str,
        body: &Bytes,
        group_limiter: Option<&RateLimiter>,
    ) -> Verdict {
        let headers = self.request_headers(request, query, body);
        let method = http_method(request.method);
        let started = Instant::now();
        let timeout = self.config.policy.request_timeout;
        // `timeout_at` from `started`: one clock read for both.
        let outcome = tokio::time::timeout_at(
            started + timeout,
            self.client
                .send_path(method, path_and_query, headers, body.clone()),
        )
        .await;
        let response = match outcome {
            Err(_) => {
                let error = FetchError::Timeout { after: timeout };
                self.record_failure(&error);
                return Verdict::retry_if(request.read_only, error, None);
            }
            Ok(Err(e)) => {
                let safe = request.read_only
                    || matches!(e.kind, HttpErrorKind::Connect | HttpErrorKind::NotProcessed);
                let error = FetchError::Transport { message: e.message };
                self.record_failure(&error);
                return Verdict::retry_if(safe, error, None);
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status;
        self.clock.observe(response.connection, &response.headers);
        let mut limits = RateHeaders::read(&response.headers);
        if status == StatusCode::TOO_MANY_REQUESTS
            && limits.retry_after.is_none()
            && limits.reset.is_none()
        {
            limits.implied = self.api.wait_after_429();
        }
        // Read once: the window's note and the latency recorded below.
        let latency = started.elapsed();
        self.observe_window(request, &limits, group_limiter, status, latency);
        let group = self.metric_group(&request.path);
        let response = match self.decoded(response) {
            Ok(r) => r,
            Err((why, bytes)) => {
                self.stats.bad_bodies.fetch_add(1, Ordering::Relaxed);
                let error = FetchError::Transport {
                    message: format!(
                        "the answer to {} does not decode ({why}; {bytes} bytes)",
                        request.path
                    ),
                };
                events::BadBody {
                    group,
                    path: &request.path,
                    error: &error,
                }
                .emit();
                return Verdict::retry_if(request.read_only, error, None);
            }
        };
        // Copied out of h2's read buffer first, then checked: the check then reads the
        // copy from the cache the copy just filled.
        let body = Vec::from(response.body);
        match classify(
            status.as_u16(),
            &limits,
            &body,
            self.config.policy.max_server_wait,
        ) {
            Outcome::Success => {
                self.breaker.record(true);
                self.limiter.on_success();
                if let Some(g) = group_limiter {
                    g.on_success();
                }
                let micros = latency.as_micros().min(u128::from(u32::MAX)) as u32;
                self.stats.record_latency(micros);
                self.group_metrics(&request.path).request_succeeded(latency);
                Verdict::Done(Ok(ApiResponse {
                    status: status.as_u16(),
                    body,
                }))
            }
            Outcome::BadBody(why) => {
                self.stats.bad_bodies.fetch_add(1, Ordering::Relaxed);
                let error = FetchError::Transport {
                    message: format!(
                        "the answer to {} was cut short or is not JSON ({why}; {} bytes)",
                        request.path,
                        body.len()
                    ),
                };
                events::BadBody {
                    group,
                    path: &request.path,
                    error: &error,
                }
                .emit();
                Verdict::retry_if(request.read_only, error, None)
            }
            Outcome::WaitTooLong { wait, told_by } => {
                self.breaker.record(true);
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                let message = self.api.error_message(status.as_u16(), &body);
                Verdict::Done(Err(FetchError::Http {
                    status: 429,
                    message: format!(
                        "{message}; the server asks to wait {} ({told_by}), more than \
                         market.max_server_wait ({}): not waiting",
                        humantime::format_duration(Duration::from_secs(wait.as_secs())),
                        humantime::format_duration(self.config.policy.max_server_wait)
                    ),
                }))
            }
            Outcome::RateLimited { wait } => {
                self.breaker.record(true);
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                let pause_for = wait.map(|(w, _)| w);
                let limiter = group_limiter.unwrap_or(&self.limiter);
                let pause = limiter.on_rate_limited(pause_for);
                if group_limiter.is_some() {
                    self.limiter.on_rate_limited(pause_for);
                }
                let retry_in = match wait {
                    Some((_, told_by)) => format!("{:.1}s ({told_by})", pause.as_secs_f64()),
                    None => "a backoff (no RateLimit-Reset or Retry-After)".to_owned(),
                };
                events::RateLimited {
                    group,
                    path: &request.path,
                    effective_per_sec: limiter.effective_per_sec(),
                    retry_in: &retry_in,
                }
                .emit();
                let error = FetchError::Http {
                    status: 429,
                    message: self.api.error_message(status.as_u16(), &body),
                };
                Verdict::retry_if(request.read_only, error, pause_for)
            }
            Outcome::ServerError => {
                let error = FetchError::Http {
                    status: status.as_u16(),
                    message: self.api.error_message(status.as_u16(), &body),
                };
                self.record_failure(&error);
                Verdict::retry_if(request.read_only, error, None)
            }
            Outcome::ClientError => {
                // The server is fine, the request is not. No retry.
                self.breaker.record(true);
                let message = self.api.error_message(status.as_u16(), &body);
                let message = self.api.explain(
                    status.as_u16(),
                    message,
                    self.config.policy.signer.is_some(),
                    self.clock.skew(),
                );
                Verdict::Done(Err(FetchError::Http {
                    status: status.as_u16(),
                    message,
                }))
            }
        }
    }

    /// The answer with its body as the JSON parsers read: a `Content-Encoding` is undone by
    /// the market's module (Skinport's Brotli); an unencoded body passes without a copy.
    fn decoded(
        &self,
        mut response: crate::http::HttpResponse,
    ) -> Result<crate::http::HttpResponse, (String, usize)> {
        let encoding = response
            .headers
            .get(http::header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap_or("(not text)").trim().to_owned());
        match encoding.as_deref() {
            None | Some("") | Some("identity") => Ok(response),
            Some(e) => {
                let bytes = response.body.len();
                let body = self
                    .api
                    .decode_body(Some(e), Vec::from(response.body))
                    .map_err(|why| (why, bytes))?;
                response.body = Bytes::from(body);
                response.headers.remove(http::header::CONTENT_ENCODING);
                Ok(response)
            }
        }
    }

    /// Reads the server's view of the group's window from an answer: a window spent that our
    /// own sends do not explain (another client on the same account or IP) holds the group
    /// until the reset; a server limit below ours is reported once.
    fn observe_window(
        &self,
        request: &ApiRequest,
        limits: &RateHeaders,
        group_limiter: Option<&RateLimiter>,
        status: StatusCode,
        round_trip: Duration,
    ) {
        let Some(limiter) = group_limiter else {
            return;
        };
        if let Some(server_limit) = limits.limit
            && (server_limit as f64) < limiter.rate().per_sec()
            && !self.warned_limit.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                group = limiter.name(),
                server = server_limit,
                configured = %limiter.rate(),
                "the server's RateLimit-Limit is below the configured limit; lower market.limits.{}",
                limiter.name()
            );
        }
        if status == StatusCode::TOO_MANY_REQUESTS || limits.remaining != Some(0) {
            return;
        }
        let Some(reset) = limits.reset else {
            return;
        };
        // The server's window that counted this request began at most a period before it
        // arrived, so any of our sends since a period before this one's may be in it (a
        // fixed window reached over a round trip holds sends older than a period by now).
        let ours = limiter.sent_within(limiter.rate().period + round_trip);
        let limit = limits
            .limit
            .map_or(limiter.rate().count, |l| l as f64)
            .min(limiter.rate().count);
        if (ours as f64) < limit {
            let reset = reset.min(self.config.policy.max_server_wait);
            tracing::debug!(
                path = %request.path,
                ours,
                reset_ms = reset.as_millis() as u64,
                "server window spent by other clients: holding the group until its reset"
            );
            self.stats.server_holds.fetch_add(1, Ordering::Relaxed);
            limiter.hold_until(Instant::now() + reset);
        }
    }

    fn record_failure(&self, error: &FetchError) {
        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
        if self.breaker.record(false) {
            events::BreakerOpened {
                upstream: &self.config.target.origin(),
                cause: error,
                failures: self.config.policy.breaker_failures,
                cooldown: self.config.policy.breaker_cooldown,
            }
            .emit();
        }
    }
}

/// The headers of every attempt: user agent, JSON, then `api`'s fixed headers as the wire
/// takes them; one that cannot be sent is logged (never its value when sensitive) and left
/// out, so the market's refusal names what is missing.
fn base_headers(api: &dyn crate::markets::MarketApi) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::USER_AGENT,
        HeaderValue::from_static(concat!("skinscan/", env!("CARGO_PKG_VERSION"))),
    );
    headers.insert(
        http::header::ACCEPT,
        HeaderValue::from_static("application/json"),
    );
    let fixed = api.fixed_headers().into_iter().filter_map(|h| {
        let name = http::HeaderName::from_static(h.name);
        match HeaderValue::from_str(&h.value) {
            Ok(mut value) => {
                value.set_sensitive(h.sensitive);
                Some((name, value))
            }
            Err(_) => {
                tracing::error!(
                    header = h.name,
                    "this header's value holds characters HTTP cannot carry (a newline?): \
                         not sent; check the setting it comes from"
                );
                None
            }
        }
    });
    for (name, value) in fixed {
        headers.insert(name, value);
    }
    headers
}

/// `path?query` as it goes on the request line, parsed once per request (no copy: the
/// string's buffer becomes the path's), and where its query starts (its length when there is
/// none). A path that is not a valid request target is the plugin's mistake: refused before
/// anything is sent, never retried.
fn request_target(request: &ApiRequest) -> Result<(http::uri::PathAndQuery, usize), FetchError> {
    let mut line = String::with_capacity(request.path.len() + 64);
    line.push_str(&request.path);
    if !request.query.is_empty() {
        // Not `format!`: its machinery was 1.5% of the request path's samples.
        line.push('?');
        request.push_encoded_query(&mut line);
    }
    let query_at = (request.path.len() + 1).min(line.len());
    let target = http::uri::PathAndQuery::from_maybe_shared(Bytes::from(line)).map_err(|e| {
        FetchError::Transport {
            message: format!("invalid request path {:?}: {e}", request.path),
        }
    })?;
    Ok((target, query_at))
}

fn http_method(method: Method) -> http::Method {
    match method {
        Method::Get => http::Method::GET,
        Method::Post => http::Method::POST,
        Method::Patch => http::Method::PATCH,
    }
}

enum Verdict {
    Done(Result<ApiResponse, FetchError>),
    Retry {
        error: FetchError,
        /// The wait the server asked for (already applied to the group's bucket).
        server_wait: Option<Duration>,
    },
}

impl Verdict {
    /// Retries when resending is `safe` (a read, or a request that never reached the
    /// server); anything else fails at once, since it may have taken effect.
    fn retry_if(safe: bool, error: FetchError, server_wait: Option<Duration>) -> Verdict {
        if safe {
            Verdict::Retry { error, server_wait }
        } else {
            Verdict::Done(Err(error))
        }
    }
}
