//! One upstream (the market API): the path every request takes, shared by all games.
//!
//! `send` = breaker check -> endpoint-group limiter -> upstream limiter -> sign (after the
//! wait, afresh per attempt, over the exact bytes sent) -> HTTP/2 with a timeout -> classify
//! -> retry with full-jitter backoff under the budget. A 429 pauses the shared bucket for
//! `Retry-After` and slows it (AIMD). Every attempt runs in a `request{path, attempt}` span.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use skinscan_sdk::{ApiRequest, ApiResponse, FetchError, Method};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::http::{H2Client, HttpErrorKind, HttpOptions, Target};
use crate::limit::{Rate, RateLimiter};
use crate::resilience::{CircuitBreaker, Refused, RetryBudget, RetryPolicy};
use crate::rng::Rng;
use crate::sign::Signer;

/// A family of endpoints that may have its own limit (`[market.limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointGroup {
    /// Market listings (`/exchange/v1/market/items`).
    Market,
    /// Aggregated prices.
    Prices,
    /// Last sales.
    Sales,
    /// Anything else.
    Other,
}

impl EndpointGroup {
    /// Every group, in config order.
    pub const ALL: [EndpointGroup; 4] = [
        EndpointGroup::Market,
        EndpointGroup::Prices,
        EndpointGroup::Sales,
        EndpointGroup::Other,
    ];

    /// The group of a request path.
    pub fn of(path: &str) -> EndpointGroup {
        match path {
            skinscan_sdk::dmarket::MARKET_ITEMS_PATH => EndpointGroup::Market,
            skinscan_sdk::dmarket::AGGREGATED_PRICES_PATH => EndpointGroup::Prices,
            skinscan_sdk::dmarket::LAST_SALES_PATH => EndpointGroup::Sales,
            _ => EndpointGroup::Other,
        }
    }

    /// The key in `[market.limits]`.
    pub fn key(self) -> &'static str {
        match self {
            EndpointGroup::Market => "market",
            EndpointGroup::Prices => "prices",
            EndpointGroup::Sales => "sales",
            EndpointGroup::Other => "other",
        }
    }
}

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
    /// Extra limits per endpoint group.
    pub group_limits: Vec<(EndpointGroup, Rate)>,
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

/// Counters for the per-cycle summary.
#[derive(Debug, Default)]
pub struct UpstreamStats {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    failures: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
}

/// A snapshot of [`UpstreamStats`], with latency percentiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Requests (first attempts).
    pub requests: u64,
    /// Retries.
    pub retries: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Requests that failed in the end.
    pub failures: u64,
    /// Median latency of successful attempts.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Connections opened so far.
    pub connections: u64,
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
    user_agent: HeaderValue,
}

impl Upstream {
    /// Builds the upstream; connects on first use.
    pub fn new(config: UpstreamConfig) -> Upstream {
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
            .map(|(g, rate)| (*g, RateLimiter::new(g.key(), *rate, 1)))
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
            user_agent: HeaderValue::from_static(concat!("skinscan/", env!("CARGO_PKG_VERSION"))),
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

    /// Counters so far; `reset_latencies` starts a new latency sample (per cycle).
    pub fn stats(&self, reset_latencies: bool) -> StatsSnapshot {
        let s = &self.stats;
        let mut lat = s.latencies_us.lock().unwrap_or_else(|p| p.into_inner());
        let mut sorted = lat.clone();
        if reset_latencies {
            lat.clear();
        }
        drop(lat);
        sorted.sort_unstable();
        let pct = |p: usize| {
            if sorted.is_empty() {
                Duration::ZERO
            } else {
                Duration::from_micros(u64::from(sorted[((sorted.len() - 1) * p) / 100]))
            }
        };
        StatsSnapshot {
            requests: s.requests.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            rate_limited: s.rate_limited.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
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
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.budget.record_request();
        let result = self.send_with_retries(request, cancel).await;
        if result.is_err() {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    async fn send_with_retries(
        &self,
        request: &ApiRequest,
        cancel: &CancellationToken,
    ) -> Result<ApiResponse, FetchError> {
        let group = EndpointGroup::of(&request.path);
        let group_limiter = self
            .groups
            .iter()
            .find(|(g, _)| *g == group)
            .map(|(_, l)| l);
        let path_and_query = request.path_and_query();
        let query = request.encoded_query();
        let body = Bytes::from(request.body.clone().unwrap_or_default());
        let mut rng = Rng::from_entropy();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            if cancel.is_cancelled() {
                return Err(FetchError::Cancelled);
            }
            self.fail_fast_if_open()?;
            let wait = async {
                if let Some(l) = group_limiter {
                    l.acquire().await;
                }
                self.limiter.acquire().await;
            };
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(FetchError::Cancelled),
                _ = wait => {}
            }
            if let Err(Refused(retry_in)) = self.breaker.check() {
                return Err(self.circuit_open(retry_in));
            }
            let span = tracing::debug_span!("request", path = %request.path, attempt);
            let verdict = self
                .attempt(request, &path_and_query, &query, &body, group_limiter)
                .instrument(span)
                .await;
            let (error, rate_limited) = match verdict {
                Verdict::Done(result) => return result,
                Verdict::Retry {
                    error,
                    rate_limited,
                } => (error, rate_limited),
            };
            if attempt >= self.config.policy.retry.attempts {
                return Err(error);
            }
            if !self.budget.try_retry() {
                tracing::warn!(path = %request.path, %error, "retry budget spent: not retrying");
                return Err(error);
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            if !rate_limited {
                // A 429 already paused the shared bucket; other failures back off here.
                let backoff = self.config.policy.retry.backoff(attempt - 1, &mut rng);
                tracing::debug!(path = %request.path, %error, backoff_ms = backoff.as_millis() as u64, "retrying");
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
        }
    }

    async fn attempt(
        &self,
        request: &ApiRequest,
        path_and_query: &str,
        query: &str,
        body: &Bytes,
        group_limiter: Option<&RateLimiter>,
    ) -> Verdict {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::USER_AGENT, self.user_agent.clone());
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        if request.body.is_some() {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Some(signer) = &self.config.policy.signer {
            let date = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let signed = signer.sign(request.method.as_str(), &request.path, query, body, date);
            for (name, value) in [
                ("x-api-key", signed.api_key),
                ("x-sign-date", signed.date),
                ("x-request-sign", signed.signature),
            ] {
                if let Ok(mut v) = HeaderValue::from_str(&value) {
                    v.set_sensitive(true);
                    headers.insert(name, v);
                }
            }
        }
        let method = match request.method {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
        };
        let started = Instant::now();
        let timeout = self.config.policy.request_timeout;
        let outcome = tokio::time::timeout(
            timeout,
            self.client
                .send(method, path_and_query, headers, body.clone()),
        )
        .await;
        let response = match outcome {
            Err(_) => {
                self.record_failure();
                let error = FetchError::Timeout { after: timeout };
                return Verdict::retry_if(request.read_only, error, false);
            }
            Ok(Err(e)) => {
                self.record_failure();
                let safe = request.read_only
                    || matches!(e.kind, HttpErrorKind::Connect | HttpErrorKind::NotProcessed);
                let error = FetchError::Transport { message: e.message };
                return Verdict::retry_if(safe, error, false);
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status;
        if status.is_success() {
            self.breaker.record(true);
            self.limiter.on_success();
            if let Some(g) = group_limiter {
                g.on_success();
            }
            let micros = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            self.stats
                .latencies_us
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(micros);
            return Verdict::Done(Ok(ApiResponse {
                status: status.as_u16(),
                body: Vec::from(response.body),
            }));
        }
        let message = skinscan_sdk::dmarket::parse_error_body(&response.body)
            .map(|e| {
                if e.message.is_empty() {
                    e.code
                } else {
                    e.message
                }
            })
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.breaker.record(true);
            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            let retry_after = response
                .headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let limiter = group_limiter.unwrap_or(&self.limiter);
            let pause = limiter.on_rate_limited(retry_after);
            if group_limiter.is_some() {
                self.limiter.on_rate_limited(retry_after);
            }
            tracing::warn!(
                path = %request.path,
                effective_rate = format_args!("{:.1}/s", self.limiter.effective_per_sec()),
                "Rate limit hit, retrying in {}s",
                pause.as_secs_f64().ceil() as u64
            );
            let error = FetchError::Http {
                status: 429,
                message,
            };
            return Verdict::retry_if(request.read_only, error, true);
        }
        if status.is_server_error() {
            self.record_failure();
            let error = FetchError::Http {
                status: status.as_u16(),
                message,
            };
            return Verdict::retry_if(request.read_only, error, false);
        }
        // Other 4xx: the server is fine, the request is not. No retry.
        self.breaker.record(true);
        let message = if status == StatusCode::UNAUTHORIZED {
            if message.contains("clock") || message.to_ascii_lowercase().contains("date") {
                format!(
                    "{message} (the signature's X-Sign-Date is checked against the server clock: sync this machine's clock, e.g. with NTP)"
                )
            } else {
                format!("{message} (check DMARKET_PUBLIC_KEY and DMARKET_SECRET_KEY)")
            }
        } else {
            message
        };
        Verdict::Done(Err(FetchError::Http {
            status: status.as_u16(),
            message,
        }))
    }

    fn record_failure(&self) {
        if self.breaker.record(false) {
            tracing::warn!(
                upstream = %self.config.target.origin(),
                failures = self.config.policy.breaker_failures,
                cooldown_ms = self.config.policy.breaker_cooldown.as_millis() as u64,
                "circuit breaker opened: failing fast until the cool-down ends"
            );
        }
    }
}

enum Verdict {
    Done(Result<ApiResponse, FetchError>),
    Retry {
        error: FetchError,
        rate_limited: bool,
    },
}

impl Verdict {
    /// Retries when resending is `safe` (a read, or a request that never reached the
    /// server); anything else fails at once, since it may have taken effect.
    fn retry_if(safe: bool, error: FetchError, rate_limited: bool) -> Verdict {
        if safe {
            Verdict::Retry {
                error,
                rate_limited,
            }
        } else {
            Verdict::Done(Err(error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_endpoint_groups() {
        assert_eq!(
            EndpointGroup::of("/exchange/v1/market/items"),
            EndpointGroup::Market
        );
        assert_eq!(
            EndpointGroup::of("/marketplace-api/v1/aggregated-prices"),
            EndpointGroup::Prices
        );
        assert_eq!(
            EndpointGroup::of("/trade-aggregator/v1/last-sales"),
            EndpointGroup::Sales
        );
        assert_eq!(
            EndpointGroup::of("/account/v1/balance"),
            EndpointGroup::Other
        );
    }
}
