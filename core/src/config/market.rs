//! `[market]` and its `[market.limits]`, `[market.retry]`, `[market.breaker]`,
//! `[market.embedded]` tables: where the market is and how the request path reaches it.
//! The sections with their defaults, and the check that turns them into an [`Endpoint`]
//! and the [`UpstreamPolicy`] of `skinscan-net`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use skinscan_settings::Dur;

use super::error::{ConfigError, invalid};
use crate::http::{HttpOptions, Proxy, Target, TlsOptions};
use crate::limit::Rate;
use crate::resilience::RetryPolicy;
use crate::secret::Secret;
use crate::sign::{KeyError, Signer};
use crate::sim::{FaultSpec, SimConfig, SimLimits};
use crate::upstream::{EndpointGroup, UpstreamPolicy};

pub use crate::limit::MAX_BURST;

/// `[market]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    /// `"embedded"` (the simulated market, started in-process) or a URL such as
    /// `"https://api.dmarket.com"`.
    pub endpoint: String,
    /// Requests per second for the whole upstream, shared by all games (`MARKET_RATELIMIT`).
    pub rate_limit: f64,
    /// Requests that may go at once after an idle spell (never more than `rate_limit` in any
    /// second). Default 1: evenly spaced.
    pub burst: u32,
    /// Limits per endpoint group, each with its unit (`"10/s"`, `"300/min"`): `market`
    /// (listings), `sales` (last sales), `fees` (customized fees), `other` (everything else,
    /// aggregated prices included). Unset groups get DMarket's published limit for signed
    /// (10, 6, 110, 20 per second) or unsigned use (2, counted under other, 2, 6).
    pub limits: BTreeMap<String, String>,
    /// The longest wait a server may ask for (`RateLimit-Reset`, `Retry-After`) before the
    /// request fails instead.
    pub max_server_wait: Dur,
    /// TCP + TLS + HTTP/2 handshake limit.
    pub connect_timeout: Dur,
    /// Limit for one request attempt, body included.
    pub request_timeout: Dur,
    /// Retries.
    pub retry: RetryConfig,
    /// Circuit breaker.
    pub breaker: BreakerConfig,
    /// DMarket public key, 64 hex (prefer `DMARKET_PUBLIC_KEY`).
    pub public_key: Option<String>,
    /// DMarket secret key, 128 hex (prefer `DMARKET_SECRET_KEY`; never commit it).
    pub secret_key: Option<Secret>,
    /// The embedded simulated market, when `endpoint = "embedded"`.
    pub embedded: EmbeddedConfig,
    /// Extra CA certificates (PEM) to trust, e.g. a corporate proxy's or a test server's.
    pub ca_file: Option<PathBuf>,
    /// An HTTP proxy, `http://[user:pass@]host:port`, reached with CONNECT. Wins over
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY`. A secret: it may hold a password.
    pub proxy: Option<Secret>,
    /// The proxy found in the environment (variable name, URL), when `proxy` is unset.
    #[serde(skip)]
    pub env_proxy: Option<(String, Secret)>,
    /// `NO_PROXY` from the environment.
    #[serde(skip)]
    pub no_proxy: Option<String>,
    /// The environment's proxy for `https://` (variable name, URL): the other markets'.
    #[serde(skip)]
    pub env_https_proxy: Option<(String, Secret)>,
}

impl Default for MarketConfig {
    fn default() -> Self {
        MarketConfig {
            endpoint: "embedded".into(),
            rate_limit: 30.0,
            burst: 1,
            limits: BTreeMap::new(),
            max_server_wait: Dur(Duration::from_secs(60)),
            connect_timeout: Dur(Duration::from_secs(5)),
            request_timeout: Dur(Duration::from_secs(10)),
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
            public_key: None,
            secret_key: None,
            embedded: EmbeddedConfig::default(),
            ca_file: None,
            proxy: None,
            env_proxy: None,
            no_proxy: None,
            env_https_proxy: None,
        }
    }
}

/// `[market.retry]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts in all, the first included (1 = never retry).
    pub attempts: u32,
    /// The first backoff's ceiling (full jitter: a random wait up to it).
    pub base: Dur,
    /// The largest backoff.
    pub cap: Dur,
    /// Retries may add at most this % of the last ten seconds' requests...
    pub budget_percent: u32,
    /// ...plus this many.
    pub budget_floor: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: 4,
            base: Dur(Duration::from_millis(200)),
            cap: Dur(Duration::from_secs(5)),
            budget_percent: 20,
            budget_floor: 10,
        }
    }
}

/// `[market.breaker]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures (5xx, timeouts, connection errors) that open the breaker.
    pub failures: u32,
    /// How long it stays open before one probe is let through.
    pub cooldown: Dur,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures: 5,
            cooldown: Dur(Duration::from_secs(10)),
        }
    }
}

/// `[market.embedded]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedConfig {
    /// Catalogue seed: same seed, same market.
    pub seed: u64,
    /// Listings per game.
    pub items_per_game: u64,
    /// Added to every answer.
    pub latency: Dur,
    /// Random extra latency, up to this.
    pub jitter: Dur,
    /// An extra server-side limit on all requests, per second (none when absent); answered
    /// with 429 and `Retry-After`.
    pub rate_limit: Option<f64>,
    /// Enforce DMarket's published per-group limits (fixed windows per second, signed or
    /// not by `X-Api-Key`), with `RateLimit-*` headers on every answer.
    pub published_limits: bool,
    /// Faults to inject, as for `skinscan sim --faults`.
    pub faults: String,
    /// Serve TLS (a CA made at start-up, trusted by this host only): the live path's TLS
    /// and ALPN, end to end.
    pub tls: bool,
    /// A living market: listings arrive and underpriced ones are bought by competitors.
    pub living: bool,
    /// With `living`: new listings per second, per game.
    pub arrivals_per_sec: f64,
    /// With `living`: the mean time before a competitor buys an underpriced listing.
    pub competitor_mean: Dur,
    /// The other markets the simulator answers as too, each then judged against
    /// (`[markets.<name>]` turned on with `endpoint = "embedded"`): `"skinport"`,
    /// `"csfloat"`. Their prices share the catalogue's titles, so cross opportunities exist
    /// and `/__sim/cross` lists them.
    pub markets: Vec<String>,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            seed: 42,
            items_per_game: 1_000,
            latency: Dur(Duration::from_millis(20)),
            jitter: Dur(Duration::from_millis(10)),
            rate_limit: None,
            published_limits: true,
            faults: String::new(),
            tls: false,
            living: false,
            arrivals_per_sec: 2.0,
            competitor_mean: Dur(Duration::from_secs(20)),
            markets: Vec::new(),
        }
    }
}

/// Where the market is.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// The simulator, started in-process.
    Embedded(Box<SimConfig>),
    /// A real server.
    Remote(Target),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Embedded(_) => f.write_str("embedded simulated market"),
            Endpoint::Remote(t) => f.write_str(&t.origin()),
        }
    }
}

impl MarketConfig {
    /// Where the market is and how requests reach it, or the first value refused.
    pub fn options(&self) -> Result<(Endpoint, UpstreamPolicy), ConfigError> {
        let m = self;
        let rate = Rate::per_second(m.rate_limit).map_err(|_| {
            invalid(
                "market.rate_limit",
                format!(
                    "must be a number of requests per second from 0.001 to 1e9, got {}",
                    m.rate_limit
                ),
            )
        })?;
        if m.burst == 0 || m.burst > MAX_BURST {
            return Err(invalid(
                "market.burst",
                format!("must be from 1 to {MAX_BURST}, got {}", m.burst),
            ));
        }
        let signed = m.public_key.is_some() || m.secret_key.is_some();
        let mut configured = BTreeMap::new();
        for (key, value) in &m.limits {
            if key == "prices" {
                return Err(invalid(
                    "market.limits.prices",
                    "is no longer a group: DMarket counts aggregated prices under \"everything \
                     else\"; set market.limits.other instead",
                ));
            }
            let group = EndpointGroup::ALL
                .into_iter()
                .find(|g| g.key() == key)
                .ok_or_else(|| {
                    invalid(
                        format!("market.limits.{key}"),
                        "is not an endpoint group; use market, sales, fees or other",
                    )
                })?;
            let rate: Rate = value.parse().map_err(|e: crate::limit::RateError| {
                invalid(format!("market.limits.{key}"), e.to_string())
            })?;
            configured.insert(group, rate);
        }
        let group_limits = group_limits(&configured, signed);
        if m.max_server_wait.0.is_zero() {
            return Err(invalid(
                "market.max_server_wait",
                "must be longer than 0s (how long a 429 may ask us to wait)",
            ));
        }
        if m.request_timeout.0.is_zero() || m.connect_timeout.0.is_zero() {
            return Err(invalid(
                "market.request_timeout",
                "and market.connect_timeout must be longer than 0s",
            ));
        }
        if m.retry.attempts == 0 {
            return Err(invalid(
                "market.retry.attempts",
                "must be at least 1 (1 = no retries)",
            ));
        }
        if m.retry.base.0 > m.retry.cap.0 {
            return Err(invalid(
                "market.retry.base",
                "must not exceed market.retry.cap",
            ));
        }
        if m.breaker.failures == 0 {
            return Err(invalid("market.breaker.failures", "must be at least 1"));
        }
        let signer = match (&m.public_key, &m.secret_key) {
            (None, None) => None,
            (Some(p), Some(sk)) => Some(Signer::from_hex(p, sk)?),
            _ => return Err(KeyError::Incomplete.into()),
        };
        let endpoint = if m.endpoint.trim() == "embedded" {
            let e = &m.embedded;
            let faults: FaultSpec =
                e.faults
                    .parse()
                    .map_err(|err: crate::sim::FaultSpecError| {
                        invalid("market.embedded.faults", err.to_string())
                    })?;
            if let Some(bad) = e
                .markets
                .iter()
                .find(|m| !matches!(m.trim(), "skinport" | "csfloat"))
            {
                return Err(invalid(
                    "market.embedded.markets",
                    format!("may hold only \"skinport\" and \"csfloat\", got {bad:?}"),
                ));
            }
            if let Some(r) = e.rate_limit
                && !(r.is_finite() && r > 0.0)
            {
                return Err(invalid(
                    "market.embedded.rate_limit",
                    format!("must be greater than 0, got {r}"),
                ));
            }
            Endpoint::Embedded(Box::new(SimConfig {
                seed: e.seed,
                items_per_game: e.items_per_game,
                rate: e.rate_limit,
                burst: None,
                tls: e.tls.then(crate::sim::SimTls::default),
                clock_offset_secs: 0,
                living: e.living.then(|| crate::sim::LivingConfig {
                    arrivals_per_sec: e.arrivals_per_sec,
                    competitor_mean: e.competitor_mean.0,
                    ..crate::sim::LivingConfig::default()
                }),
                limits: e.published_limits.then(SimLimits::published),
                latency: e.latency.0,
                jitter: e.jitter.0,
                faults,
                public_key: signer.as_ref().map(Signer::verifying_key),
                missing_paths: Vec::new(),
                markets: crate::sim::SimMarkets::default(),
            }))
        } else {
            Endpoint::Remote(
                Target::parse(m.endpoint.trim())
                    .map_err(|e| invalid("market.endpoint", e.to_string()))?,
            )
        };
        let mut tls = TlsOptions::default();
        if let Some(path) = &m.ca_file {
            tls.add_ca_file(path).map_err(|e| {
                invalid(
                    "market.ca_file",
                    format!("{e}; give a PEM file of CA certificates"),
                )
            })?;
        }
        let proxy = resolve_proxy(m, &endpoint)?;
        let policy = UpstreamPolicy {
            http: HttpOptions {
                connect_timeout: m.connect_timeout.0,
                tls,
                proxy,
                ..HttpOptions::default()
            },
            rate,
            burst: m.burst,
            group_limits,
            max_server_wait: m.max_server_wait.0,
            request_timeout: m.request_timeout.0,
            retry: RetryPolicy {
                attempts: m.retry.attempts,
                base: m.retry.base.0,
                cap: m.retry.cap.0,
            },
            budget_percent: m.retry.budget_percent,
            budget_floor: m.retry.budget_floor,
            breaker_failures: m.breaker.failures,
            breaker_cooldown: m.breaker.cooldown.0,
            signer,
        };
        Ok((endpoint, policy))
    }
}

/// The proxy for `endpoint`: `market.proxy`, else the environment's (never for a loopback
/// endpoint such as the embedded market, and not for a host in `NO_PROXY`).
fn resolve_proxy(m: &MarketConfig, endpoint: &Endpoint) -> Result<Option<Proxy>, ConfigError> {
    if let Some(url) = &m.proxy {
        return Proxy::parse(url.expose(), "market.proxy")
            .map(Some)
            .map_err(|e| invalid("market.proxy", e));
    }
    let Some((var, url)) = &m.env_proxy else {
        return Ok(None);
    };
    let host = match endpoint {
        Endpoint::Embedded(_) => return Ok(None),
        Endpoint::Remote(t) => t.host.as_str(),
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback
        || m.no_proxy
            .as_deref()
            .is_some_and(|n| Proxy::bypassed(n, host))
    {
        return Ok(None);
    }
    Proxy::parse(url.expose(), var)
        .map(Some)
        .map_err(|e| invalid(var.clone(), e))
}

/// The per-group limits: each configured one, else DMarket's published limit for signed or
/// unsigned use. Last sales unsigned has none published: it counts under `other` (by having
/// no limiter of its own).
pub fn group_limits(
    configured: &BTreeMap<EndpointGroup, Rate>,
    signed: bool,
) -> Vec<(EndpointGroup, Rate)> {
    EndpointGroup::ALL
        .into_iter()
        .filter_map(|g| {
            let rate = configured.get(&g).copied().or_else(|| {
                g.published_per_sec(signed)
                    .and_then(|n| Rate::per_second(f64::from(n)).ok())
            })?;
            Some((g, rate))
        })
        .collect()
}
