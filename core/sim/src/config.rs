//! How the simulator behaves ([`SimConfig`]): its limits, faults, TLS and living market, and
//! the counters it keeps ([`SimStats`]).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::living::LivingConfig;

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of the catalogue and of fault decisions.
    pub seed: u64,
    /// Listings per game.
    pub items_per_game: u64,
    /// DMarket's per-group limits; `None` for none (tests that want speed).
    pub limits: Option<SimLimits>,
    /// An extra server-side limit on all requests, per second (a token bucket answering 429
    /// with `Retry-After`); `None` for none.
    pub rate: Option<f64>,
    /// Token-bucket capacity for the rate limit (defaults to the rate, at least 1).
    pub burst: Option<u32>,
    /// Added to every answer: a round trip, half before the market is read and half after.
    pub latency: Duration,
    /// Uniform extra latency, up to this.
    pub jitter: Duration,
    /// Faults to inject.
    pub faults: FaultSpec,
    /// When set, every API request must be signed by this key's secret.
    pub public_key: Option<ed25519_dalek::VerifyingKey>,
    /// Paths answered 404 (an API version that no longer has them, e.g. the v2 offers
    /// endpoint, to exercise `listings_api = "auto"`).
    pub missing_paths: Vec<String>,
    /// Serve TLS with a CA and certificate made at start-up.
    pub tls: Option<SimTls>,
    /// The server's clock runs this many seconds ahead of (or, negative, behind) this
    /// machine's: its `Date` header and its signature-date check use it.
    pub clock_offset_secs: i64,
    /// A living market (listings arrive and are bought) instead of a frozen snapshot; the
    /// ground truth at `GET /__sim/truth`.
    pub living: Option<LivingConfig>,
    /// Also answer as Skinport (`/v1/items`, `/v1/sales/history`) and as CSFloat
    /// (`/api/v1/listings/price-list`, `/api/v1/listings`), over the same catalogue's titles;
    /// `/__sim/cross` then lists the cross opportunities the catalogue holds.
    pub markets: SimMarkets,
    /// The selling side: balances per key, buy faults (`buy.rs`).
    pub buy: crate::buy::SimBuyConfig,
}

/// The reference markets the simulator also answers as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimMarkets {
    /// Skinport.
    pub skinport: bool,
    /// CSFloat.
    pub csfloat: bool,
}

/// How the simulator serves TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimTls {
    /// Offer only `http/1.1` by ALPN (a server that will not speak HTTP/2, for the refusal
    /// test); by default only `h2`.
    pub http1_only: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            items_per_game: 100,
            limits: Some(SimLimits::published()),
            rate: None,
            burst: None,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            faults: FaultSpec::default(),
            public_key: None,
            missing_paths: Vec::new(),
            tls: None,
            clock_offset_secs: 0,
            living: None,
            markets: SimMarkets::default(),
            buy: crate::buy::SimBuyConfig::default(),
        }
    }
}

/// Requests per second per endpoint group, as DMarket publishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLimits {
    /// Listings (v1 market items, v2 offers).
    pub market: u32,
    /// Last sales; `None`: counted under `other`.
    pub sales: Option<u32>,
    /// Customized fees.
    pub fees: u32,
    /// Everything else, aggregated prices included.
    pub other: u32,
}

/// The limits for signed requests (per account) and unsigned ones (per IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimLimits {
    /// With `X-Api-Key`.
    pub signed: GroupLimits,
    /// Without.
    pub anonymous: GroupLimits,
}

impl SimLimits {
    /// DMarket's help-center article "What are the rate limits for requests".
    pub fn published() -> SimLimits {
        SimLimits {
            signed: GroupLimits {
                market: 10,
                sales: Some(6),
                fees: 110,
                other: 20,
            },
            anonymous: GroupLimits {
                market: 2,
                sales: None,
                fees: 2,
                other: 6,
            },
        }
    }

    /// Every limit multiplied by `factor` (at least 1): fast tests keep the shape.
    pub fn scaled(self, factor: u32) -> SimLimits {
        let s = |g: GroupLimits| GroupLimits {
            market: g.market.saturating_mul(factor),
            sales: g.sales.map(|n| n.saturating_mul(factor)),
            fees: g.fees.saturating_mul(factor),
            other: g.other.saturating_mul(factor),
        };
        SimLimits {
            signed: s(self.signed),
            anonymous: s(self.anonymous),
        }
    }
}

/// A kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// A 500 or 503 answer with a JSON error.
    ServerError,
    /// The stream is reset (RST_STREAM) without an answer.
    Reset,
    /// The answer never comes.
    Stall,
    /// A 200 whose body is not JSON.
    Malformed,
    /// A 200 whose body is cut short.
    Truncate,
    /// GOAWAY sent on a connection after its Nth stream.
    GoAway,
}

impl Fault {
    /// The name used in `--faults` and in stats.
    pub fn name(self) -> &'static str {
        match self {
            Fault::ServerError => "5xx",
            Fault::Reset => "reset",
            Fault::Stall => "stall",
            Fault::Malformed => "malformed",
            Fault::Truncate => "truncate",
            Fault::GoAway => "goaway",
        }
    }
}

/// Per-request fault probabilities and the GOAWAY period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    /// Probability of each per-request fault, in `[0, 1]`; at most one fault per request.
    pub probabilities: Vec<(Fault, f64)>,
    /// Send GOAWAY after every N streams on a connection.
    pub goaway_every: Option<u64>,
}

/// A `--faults` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid --faults {spec:?}: {problem} (expected e.g. \"5xx=0.05,reset=0.02,stall=0.01,malformed=0.01,truncate=0.01,goaway-every=200\")"
)]
pub struct FaultSpecError {
    spec: String,
    problem: String,
}

impl std::str::FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |problem: String| FaultSpecError {
            spec: spec.to_owned(),
            problem,
        };
        let mut out = FaultSpec::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| err(format!("{part:?} has no '='")))?;
            if key == "goaway-every" {
                let n: u64 = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    err(format!(
                        "goaway-every must be a whole number > 0, got {value:?}"
                    ))
                })?;
                out.goaway_every = Some(n);
                continue;
            }
            let fault = match key {
                "5xx" => Fault::ServerError,
                "reset" => Fault::Reset,
                "stall" => Fault::Stall,
                "malformed" => Fault::Malformed,
                "truncate" => Fault::Truncate,
                other => {
                    return Err(err(format!(
                        "unknown fault {other:?}; known: 5xx, reset, stall, malformed, truncate, goaway-every"
                    )));
                }
            };
            let p: f64 = value
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| {
                    err(format!(
                        "{key} must be a probability from 0 to 1, got {value:?}"
                    ))
                })?;
            out.probabilities.push((fault, p));
        }
        let total: f64 = out.probabilities.iter().map(|(_, p)| p).sum();
        if total > 1.0 {
            return Err(err(format!(
                "the probabilities add up to {total}, more than 1"
            )));
        }
        Ok(out)
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .probabilities
            .iter()
            .map(|(k, p)| format!("{}={p}", k.name()))
            .collect();
        if let Some(n) = self.goaway_every {
            parts.push(format!("goaway-every={n}"));
        }
        f.write_str(&parts.join(","))
    }
}

/// What the simulator has counted, as served at `GET /__sim/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SimStats {
    /// API requests received (the stats endpoint excluded).
    pub requests: u64,
    /// Answers by status code.
    pub status: BTreeMap<String, u64>,
    /// Injected faults by kind.
    pub faults: BTreeMap<String, u64>,
    /// TCP connections accepted.
    pub connections: u64,
    /// The most requests received in any sliding one-second window.
    pub max_requests_in_1s: u64,
    /// The most requests in flight at once.
    pub max_concurrent_streams: u64,
    /// Requests received per path.
    pub paths: BTreeMap<String, u64>,
    /// 429s from the per-group limits, by group (`market`, `sales`, `fees`, `other`).
    #[serde(default)]
    pub limited: BTreeMap<String, u64>,
    /// The most requests one group admitted in one of its fixed windows, by group.
    #[serde(default)]
    pub max_in_window: BTreeMap<String, u64>,
}

/// The simulator's address for a host config: `http://ADDR`.
pub fn endpoint_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}
