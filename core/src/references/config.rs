//! `[markets]`, `[markets.skinport]` and `[markets.csfloat]`: the other markets DMarket
//! listings are judged against (`cross`). Each is off by default; each has its own endpoint,
//! limit, fee (unverified defaults, `shared/markets.md`), reference, liquidity gates,
//! refresh and `max_age`, and shares `[market]`'s timeouts, retries, breaker, proxy and CA
//! file unless it sets its own. DMarket's keys are never sent to another market.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use skinscan_sdk::markets::cross::{CrossReference, CrossRules};
use skinscan_sdk::markets::snapshot::ReferenceMarket;
use skinscan_sdk::{Bps, Currency};
use skinscan_settings::{Dur, Invalid, invalid};

use crate::http::{Proxy, Target, TlsOptions};
use crate::limit::Rate;
use crate::markets::skinport::LimitScope;
use crate::markets::{Csfloat, MarketApi, Skinport};
use crate::secret::Secret;
use crate::upstream::{EndpointGroup, UpstreamPolicy};

/// `[markets]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketsConfig {
    /// Skinport.
    pub skinport: SkinportConfig,
    /// CSFloat.
    pub csfloat: CsfloatConfig,
    /// How long an item bought on DMarket waits, per game, before it can be traded to
    /// another market: Steam's trade protection (7 days for CS2 since 2025-07-15). Shown as
    /// the LOCK of a `cross` opportunity.
    pub trade_protection: BTreeMap<String, Dur>,
}

impl Default for MarketsConfig {
    fn default() -> Self {
        MarketsConfig {
            skinport: SkinportConfig::default(),
            csfloat: CsfloatConfig::default(),
            trade_protection: BTreeMap::from([(
                "csgo".to_owned(),
                Dur(Duration::from_secs(7 * 86_400)),
            )]),
        }
    }
}

/// A percentage as people write it (`12`, `12.5`, `"12%"`), turned into basis points
/// exactly (no float arithmetic: the text is read digit by digit).
#[derive(Debug, Clone, PartialEq)]
pub struct Percent(pub String);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Float(f64),
            Text(String),
        }
        Ok(Percent(match Raw::deserialize(d)? {
            Raw::Int(i) => i.to_string(),
            // The shortest text that reads back as the same float: `12.5` stays "12.5".
            Raw::Float(f) => format!("{f}"),
            Raw::Text(t) => t.trim().trim_end_matches('%').trim().to_owned(),
        }))
    }
}

impl Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}%", self.0))
    }
}

impl Percent {
    fn bps(&self, key: &str) -> Result<Bps, Invalid> {
        skinscan_sdk::money::parse_percent_bps(&self.0)
            .and_then(|b| u32::try_from(b).ok())
            .and_then(|b| Bps::new(b).ok())
            .ok_or_else(|| {
                invalid(
                    key,
                    format!(
                        "must be a percentage from 0 to 100 with at most two decimals, like 12 or \"2.5%\", got {:?}",
                        self.0
                    ),
                )
            })
    }
}

/// `[markets.skinport]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SkinportConfig {
    /// Judge DMarket listings against Skinport.
    pub enabled: bool,
    /// `"https://api.skinport.com"`, or `"embedded"` for the simulated market's Skinport
    /// (only with `market.endpoint = "embedded"`).
    pub endpoint: String,
    /// The currency asked for. Only `USD`: DMarket prices in USD and skinscan converts none.
    pub currency: String,
    /// The published limit, `"8/5min"` (8 requests per 5 minutes).
    pub rate_limit: String,
    /// Whether the limit is shared by `/v1/items` and `/v1/sales/history` (`"shared"`, the
    /// default: the reading that can never exceed it) or each endpoint's own
    /// (`"per-endpoint"`, one client's reading, unconfirmed).
    pub limit_scope: String,
    /// The seller fee on a resale (12%, unverified: four fee tables agree, no primary source).
    pub fee_percent: Percent,
    /// The resale price: `"lowest"` (the lowest listing less one cent) or `"median"` (the
    /// 7-day median sale).
    pub reference: String,
    /// Sales in the last 7 days at least (from `/v1/sales/history`); 0: no gate, and the
    /// sales history is fetched only for `reference = "median"`.
    pub min_volume_7d: u32,
    /// Listings on sale at least.
    pub min_quantity: u32,
    /// Only tradable items (`tradable=1`) in the prices.
    pub tradable_only: bool,
    /// How often each game's snapshot is fetched (the server caches 5 minutes: faster buys
    /// nothing). Games are staggered over this period.
    pub refresh: Dur,
    /// The oldest snapshot used; an older one is refused (`stale_reference`).
    pub max_age: Dur,
    /// Steam `app_id` per game (plugin id): the games Skinport is asked about.
    pub app_ids: BTreeMap<String, u32>,
    /// Limit for one request (the answers are a few MB).
    pub request_timeout: Dur,
    /// The most bytes a decoded answer may hold, in MiB (a Brotli bomb guard).
    pub max_decoded_mib: u32,
    /// A proxy of its own (else `[market]`'s, else the environment's). A secret.
    pub proxy: Option<Secret>,
    /// Extra CA certificates of its own (else `market.ca_file`).
    pub ca_file: Option<PathBuf>,
}

impl Default for SkinportConfig {
    fn default() -> Self {
        SkinportConfig {
            enabled: false,
            endpoint: skinscan_sdk::markets::skinport::BASE_URL.to_owned(),
            currency: "USD".to_owned(),
            rate_limit: "8/5min".to_owned(),
            limit_scope: "shared".to_owned(),
            fee_percent: Percent("12".to_owned()),
            reference: "lowest".to_owned(),
            min_volume_7d: 0,
            min_quantity: 1,
            tradable_only: false,
            refresh: Dur(Duration::from_secs(600)),
            max_age: Dur(Duration::from_secs(1_500)),
            app_ids: BTreeMap::from([
                ("csgo".to_owned(), 730),
                ("dota2".to_owned(), 570),
                ("rust".to_owned(), 252_490),
                ("tf2".to_owned(), 440),
            ]),
            request_timeout: Dur(Duration::from_secs(30)),
            max_decoded_mib: 64,
            proxy: None,
            ca_file: None,
        }
    }
}

/// `[markets.csfloat]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsfloatConfig {
    /// Judge DMarket listings against CSFloat (CS2 only).
    pub enabled: bool,
    /// `"https://csfloat.com"`, or `"embedded"`.
    pub endpoint: String,
    /// The key from your CSFloat profile's developer tab (prefer `CSFLOAT_API_KEY`), sent
    /// raw as `Authorization`. A secret. The price list is read without one.
    pub api_key: Option<Secret>,
    /// CSFloat publishes no limit; this pace is ours (`X-Ratelimit-*` and 429s are obeyed
    /// on top of it).
    pub rate_limit: String,
    /// The seller fee on a resale (2%, unverified).
    pub fee_percent: Percent,
    /// Listings on sale at least.
    pub min_quantity: u32,
    /// How often the price list is fetched.
    pub refresh: Dur,
    /// The oldest snapshot used.
    pub max_age: Dur,
    /// The games (plugin ids) judged against CSFloat: it lists CS2 only.
    pub games: Vec<String>,
    /// After a cycle, the best this many titles that sell on CSFloat are checked against
    /// their live listings (`/api/v1/listings`, one request each): the floor listed now
    /// replaces the price list's, and Steam's price (`item.scm`) is logged. 0: off.
    pub confirm_top: usize,
    /// Limit for one request.
    pub request_timeout: Dur,
    /// A proxy of its own (else `[market]`'s, else the environment's). A secret.
    pub proxy: Option<Secret>,
    /// Extra CA certificates of its own (else `market.ca_file`).
    pub ca_file: Option<PathBuf>,
}

impl Default for CsfloatConfig {
    fn default() -> Self {
        CsfloatConfig {
            enabled: false,
            endpoint: skinscan_sdk::markets::csfloat::BASE_URL.to_owned(),
            api_key: None,
            rate_limit: "6/min".to_owned(),
            fee_percent: Percent("2".to_owned()),
            min_quantity: 1,
            refresh: Dur(Duration::from_secs(600)),
            max_age: Dur(Duration::from_secs(1_500)),
            games: vec!["csgo".to_owned()],
            confirm_top: 3,
            request_timeout: Dur(Duration::from_secs(30)),
            proxy: None,
            ca_file: None,
        }
    }
}

/// Where a reference market is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketEndpoint {
    /// The embedded simulated market (its address is known once it runs).
    Embedded,
    /// A URL.
    Remote(Target),
}

/// One enabled reference market, validated.
#[derive(Debug, Clone)]
pub struct MarketOptions {
    /// Which.
    pub market: ReferenceMarket,
    /// Where.
    pub endpoint: MarketEndpoint,
    /// Its request path: its own limit, `[market]`'s retries and breaker, never DMarket's
    /// keys.
    pub policy: UpstreamPolicy,
    /// What the pipeline needs to know of it (groups, headers, decoding, error bodies).
    pub api: Arc<dyn MarketApi>,
    /// How its resales are judged.
    pub rules: CrossRules,
    /// How often each game's snapshot is fetched.
    pub refresh: Duration,
    /// The currency asked for and parsed.
    pub currency: Currency,
    /// The games it covers: plugin id and Steam `app_id` (CSFloat: 730).
    pub games: BTreeMap<String, u32>,
    /// Whether the sales history is read too (Skinport, for a 7-day gate or median).
    pub sales_history: bool,
    /// Skinport's `tradable` filter.
    pub tradable_only: bool,
    /// CSFloat candidates checked per cycle ([`CsfloatConfig::confirm_top`]); 0 elsewhere.
    pub confirm_top: usize,
    /// Whether the fee is the unverified default (said at start-up).
    pub fee_is_default: bool,
}

/// The validated `[markets]`.
#[derive(Debug, Clone, Default)]
pub struct ReferenceOptions {
    /// The enabled markets.
    pub markets: Vec<MarketOptions>,
    /// Trade protection per game.
    pub protection: BTreeMap<String, Duration>,
}

impl ReferenceOptions {
    /// The markets the embedded simulator must answer as.
    pub fn embedded(&self) -> Vec<ReferenceMarket> {
        self.markets
            .iter()
            .filter(|m| m.endpoint == MarketEndpoint::Embedded)
            .map(|m| m.market)
            .collect()
    }
}

/// What `[markets]` inherits from `[market]`.
#[derive(Debug, Clone)]
pub struct Inherited<'a> {
    /// `[market]`'s request path (its signer is dropped).
    pub policy: &'a UpstreamPolicy,
    /// Whether `[market]` is the embedded simulator.
    pub embedded_market: bool,
    /// The environment's proxy (variable, URL) for `https://` endpoints, and `NO_PROXY`.
    pub env_proxy: Option<(String, Secret)>,
    /// `NO_PROXY`.
    pub no_proxy: Option<String>,
}

impl MarketsConfig {
    /// The enabled markets, checked, or the first value that is wrong.
    pub fn options(&self, inherited: &Inherited<'_>) -> Result<ReferenceOptions, Invalid> {
        let mut protection = BTreeMap::new();
        for (game, d) in &self.trade_protection {
            protection.insert(game.clone(), d.0);
        }
        let mut markets = Vec::new();
        if self.skinport.enabled {
            markets.push(self.skinport.options(inherited)?);
        }
        if self.csfloat.enabled {
            markets.push(self.csfloat.options(inherited)?);
        }
        Ok(ReferenceOptions {
            markets,
            protection,
        })
    }
}

impl SkinportConfig {
    fn options(&self, inherited: &Inherited<'_>) -> Result<MarketOptions, Invalid> {
        let key = |k: &str| format!("markets.skinport.{k}");
        let currency = match self.currency.trim().to_ascii_uppercase().as_str() {
            "USD" => Currency::Usd,
            other => {
                return Err(invalid(
                    key("currency"),
                    format!(
                        "must be \"USD\": DMarket prices in USD and skinscan converts no currency, got {other:?}"
                    ),
                ));
            }
        };
        let scope = match self.limit_scope.trim() {
            "shared" => LimitScope::Shared,
            "per-endpoint" => LimitScope::PerEndpoint,
            other => {
                return Err(invalid(
                    key("limit_scope"),
                    format!("must be \"shared\" or \"per-endpoint\", got {other:?}"),
                ));
            }
        };
        let reference = match self.reference.trim() {
            "lowest" => CrossReference::Lowest,
            "median" => CrossReference::Median7d,
            other => {
                return Err(invalid(
                    key("reference"),
                    format!("must be \"lowest\" or \"median\", got {other:?}"),
                ));
            }
        };
        if self.max_decoded_mib == 0 || self.max_decoded_mib > 1_024 {
            return Err(invalid(
                key("max_decoded_mib"),
                format!("must be from 1 to 1024, got {}", self.max_decoded_mib),
            ));
        }
        if self.app_ids.is_empty() {
            return Err(invalid(
                key("app_ids"),
                "names no game: give each game's Steam app_id, like { csgo = 730 }",
            ));
        }
        let api = Skinport {
            scope,
            max_decoded_bytes: (self.max_decoded_mib as usize) << 20,
        };
        let rate = parse_rate(&self.rate_limit, &key("rate_limit"))?;
        let groups = match scope {
            LimitScope::Shared => Vec::new(),
            LimitScope::PerEndpoint => {
                vec![(EndpointGroup::Market, rate), (EndpointGroup::Sales, rate)]
            }
        };
        let whole = match scope {
            LimitScope::Shared => rate,
            LimitScope::PerEndpoint => Rate {
                count: rate.count * 2.0,
                ..rate
            },
        };
        let endpoint = endpoint(&self.endpoint, &key("endpoint"), inherited)?;
        let policy = policy(
            inherited,
            &endpoint,
            whole,
            groups,
            self.request_timeout.nonzero(&key("request_timeout"))?,
            self.proxy.as_ref(),
            self.ca_file.as_ref(),
            &key(""),
        )?;
        Ok(MarketOptions {
            market: ReferenceMarket::Skinport,
            endpoint,
            policy,
            api: Arc::new(api),
            rules: CrossRules {
                fee: self.fee_percent.bps(&key("fee_percent"))?,
                reference,
                min_volume_7d: self.min_volume_7d,
                min_quantity: self.min_quantity,
                max_age: self.max_age.nonzero(&key("max_age"))?,
            },
            refresh: self.refresh.nonzero(&key("refresh"))?,
            currency,
            games: self.app_ids.clone(),
            sales_history: self.min_volume_7d > 0 || reference == CrossReference::Median7d,
            tradable_only: self.tradable_only,
            confirm_top: 0,
            fee_is_default: self.fee_percent == SkinportConfig::default().fee_percent,
        })
    }
}

impl CsfloatConfig {
    fn options(&self, inherited: &Inherited<'_>) -> Result<MarketOptions, Invalid> {
        let key = |k: &str| format!("markets.csfloat.{k}");
        if self.games.is_empty() {
            return Err(invalid(
                key("games"),
                "names no game: CSFloat lists CS2 only, so [\"csgo\"]",
            ));
        }
        let rate = parse_rate(&self.rate_limit, &key("rate_limit"))?;
        let endpoint = endpoint(&self.endpoint, &key("endpoint"), inherited)?;
        let policy = policy(
            inherited,
            &endpoint,
            rate,
            Vec::new(),
            self.request_timeout.nonzero(&key("request_timeout"))?,
            self.proxy.as_ref(),
            self.ca_file.as_ref(),
            &key(""),
        )?;
        let api_key = self
            .api_key
            .as_ref()
            .filter(|k| !k.expose().trim().is_empty())
            .cloned();
        Ok(MarketOptions {
            market: ReferenceMarket::Csfloat,
            endpoint,
            policy,
            api: Arc::new(Csfloat::new(api_key)),
            rules: CrossRules {
                fee: self.fee_percent.bps(&key("fee_percent"))?,
                reference: CrossReference::Lowest,
                min_volume_7d: 0,
                min_quantity: self.min_quantity,
                max_age: self.max_age.nonzero(&key("max_age"))?,
            },
            refresh: self.refresh.nonzero(&key("refresh"))?,
            currency: Currency::Usd,
            games: self.games.iter().map(|g| (g.clone(), 730)).collect(),
            sales_history: false,
            tradable_only: false,
            confirm_top: self.confirm_top.min(50),
            fee_is_default: self.fee_percent == CsfloatConfig::default().fee_percent,
        })
    }
}

/// `"8/5min"`, `"6/min"`, `"1/s"`.
fn parse_rate(text: &str, key: &str) -> Result<Rate, Invalid> {
    text.parse::<Rate>()
        .map_err(|e| invalid(key, e.to_string()))
}

fn endpoint(text: &str, key: &str, inherited: &Inherited<'_>) -> Result<MarketEndpoint, Invalid> {
    let text = text.trim();
    if text == "embedded" {
        if !inherited.embedded_market {
            return Err(invalid(
                key,
                "is \"embedded\", which needs market.endpoint = \"embedded\" (the simulated \
                 market answers as the other markets too); give the market's URL instead",
            ));
        }
        return Ok(MarketEndpoint::Embedded);
    }
    Target::parse(text)
        .map(MarketEndpoint::Remote)
        .map_err(|e| invalid(key, e.to_string()))
}

/// `[market]`'s policy with this market's limit, timeout, proxy and CA file, and no signer.
#[allow(clippy::too_many_arguments)]
fn policy(
    inherited: &Inherited<'_>,
    endpoint: &MarketEndpoint,
    rate: Rate,
    group_limits: Vec<(EndpointGroup, Rate)>,
    request_timeout: Duration,
    proxy: Option<&Secret>,
    ca_file: Option<&PathBuf>,
    prefix: &str,
) -> Result<UpstreamPolicy, Invalid> {
    let mut policy = inherited.policy.clone();
    // DMarket's keys sign DMarket's requests only.
    policy.signer = None;
    policy.rate = rate;
    // A window's whole allowance may go at once (8 requests, then 5 minutes of nothing):
    // the limiter still never lets more than the rate into any window.
    policy.burst = (rate.count.floor() as u32).clamp(1, crate::limit::MAX_BURST);
    policy.group_limits = group_limits;
    policy.request_timeout = request_timeout;
    // No source says whether these hosts offer HTTP/2: HTTP/1.1 is taken when they do not.
    policy.http.allow_http1 = true;
    if let Some(path) = ca_file {
        let mut tls = TlsOptions::default();
        tls.add_ca_file(path).map_err(|e| {
            invalid(
                format!("{prefix}ca_file"),
                format!("{e}; give a PEM file of CA certificates"),
            )
        })?;
        policy.http.tls = tls;
    }
    policy.http.proxy = match (proxy, endpoint) {
        (_, MarketEndpoint::Embedded) => None,
        (Some(url), _) => Some(
            Proxy::parse(url.expose(), &format!("{prefix}proxy"))
                .map_err(|e| invalid(format!("{prefix}proxy"), e))?,
        ),
        (None, MarketEndpoint::Remote(target)) => {
            match (&inherited.policy.http.proxy, &inherited.env_proxy) {
                (Some(p), _) if !inherited.embedded_market => Some(p.clone()),
                (_, Some((var, url)))
                    if !inherited
                        .no_proxy
                        .as_deref()
                        .is_some_and(|n| Proxy::bypassed(n, &target.host))
                        && !is_loopback(&target.host) =>
                {
                    Some(Proxy::parse(url.expose(), var).map_err(|e| invalid(var.clone(), e))?)
                }
                _ => None,
            }
        }
    };
    Ok(policy)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
