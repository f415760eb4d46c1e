//! Configuration: `config.toml`, then `.env`, then environment variables, validated in one
//! step into [`Settings`] that the rest of the host trusts.
//!
//! One serde struct per TOML table, unknown keys rejected with line and column, defaults in
//! one place (each struct's `Default`), units in the type (`"60s"`, `"30/min"`). The original
//! bot's environment names still work: `PARALLEL_SCANNER_ENABLED`,
//! `PARALLEL_CONCURRENT_SCANS`, `MARKET_RATELIMIT`, `SCAN_INTERVAL`, `DMARKET_PUBLIC_KEY`,
//! `DMARKET_SECRET_KEY`. Secrets are held in [`Secret`] and printed as `***`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use skinscan_sdk::{PluginSettings, SettingValue};

use crate::http::{HttpOptions, Proxy, Target, TlsOptions};
use crate::limit::Rate;
use crate::resilience::RetryPolicy;
use crate::secret::Secret;
use crate::sign::{KeyError, Signer};
use crate::sim::{FaultSpec, SimConfig, SimLimits};
use crate::upstream::{EndpointGroup, UpstreamPolicy};

/// The config file used when none is given and it exists.
pub const DEFAULT_CONFIG_PATH: &str = "config/config.toml";

/// A configuration problem: what, where, how to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{key} {message}")]
    Invalid {
        /// The dotted key (`market.rate_limit`).
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// An environment variable has a bad value.
    #[error("environment variable {var}={value:?} is not valid: {expected}")]
    Env {
        /// The variable.
        var: &'static str,
        /// Its value (never a secret's).
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// The API keys cannot be used.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// A duration written as `"60s"`, `"250ms"`, `"2m"` (or a bare number of seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        let d = match Raw::deserialize(d)? {
            Raw::Secs(s) => Duration::from_secs(s),
            Raw::Text(t) => humantime::parse_duration(t.trim()).map_err(|e| {
                serde::de::Error::custom(format!(
                    "{t:?} is not a duration ({e}); write e.g. \"60s\", \"500ms\", \"2m\""
                ))
            })?,
        };
        if d > MAX_DURATION {
            return Err(serde::de::Error::custom(format!(
                "{} is longer than the longest accepted, 30 days",
                humantime::format_duration(d)
            )));
        }
        Ok(Dur(d))
    }
}

/// The longest duration any setting accepts: longer ones would overflow timers, and no
/// sensible interval or timeout comes near it.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 86_400);

/// The largest config file read (a config is a few KB; this refuses `/dev/zero`).
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// The most requests `market.burst` lets go at once.
pub const MAX_BURST: u32 = 10_000;

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[scanner]`: cycles and concurrency.
    #[serde(default)]
    pub scanner: ScannerConfig,
    /// `[market]`: the upstream API.
    #[serde(default)]
    pub market: MarketConfig,
    /// `[output]`: table, JSON, JSON Lines.
    #[serde(default)]
    pub output: OutputConfig,
    /// `[log]`: tracing output.
    #[serde(default)]
    pub log: LogConfig,
    /// `[metrics]`: the Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `[watch]`: `skinscan watch`.
    #[serde(default)]
    pub watch: WatchConfig,
    /// `[history]`: the SQLite history.
    #[serde(default)]
    pub history: HistoryConfig,
    /// `[alerts]`: Telegram, Discord, webhook.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// `[plugins.<name>]`: each game's table (`enabled`, `path`, and its own settings).
    #[serde(default)]
    pub plugins: BTreeMap<String, toml::Table>,
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` (Prometheus text) and `/healthz` on this address, e.g.
    /// `"127.0.0.1:9898"`; off when unset.
    pub listen: Option<String>,
}

/// `[watch]`: how `skinscan watch` spends its budget.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchConfig {
    /// How long a title's reference price is reused.
    pub price_ttl: Dur,
    /// Price titles asked for within the hour again before their price expires.
    pub refresh_ahead: bool,
    /// How often live opportunities are checked for having left the market.
    pub gone_every: Dur,
    /// Titles checked per gone round (each one listings request).
    pub gone_titles: u32,
    /// Share of the poll budget split evenly among games (0..=1); the rest follows where
    /// listings arrive.
    pub floor_share: f64,
    /// Share of the listing budget for the background sweep of older listings (0..=0.5;
    /// 0 turns it off).
    pub sweep_share: f64,
    /// Pages read per poll at most, catching up after a gap.
    pub max_pages: u32,
    /// Listing ids remembered per game.
    pub seen_capacity: u32,
}

impl Default for WatchConfig {
    fn default() -> Self {
        let d = crate::watch::WatchOptions::default();
        WatchConfig {
            price_ttl: Dur(d.price_ttl),
            refresh_ahead: d.refresh_ahead,
            gone_every: Dur(d.gone_every),
            gone_titles: d.gone_titles as u32,
            floor_share: d.floor_share,
            sweep_share: d.sweep_share,
            max_pages: d.max_pages as u32,
            seen_capacity: d.seen_capacity as u32,
        }
    }
}

impl WatchConfig {
    /// The options, checked.
    fn options(&self) -> Result<crate::watch::WatchOptions, ConfigError> {
        let share = |key: &str, v: f64, max: f64| {
            if v.is_finite() && (0.0..=max).contains(&v) {
                Ok(v)
            } else {
                Err(invalid(
                    key,
                    format!("must be a number from 0 to {max}, got {v}"),
                ))
            }
        };
        let positive = |key: &str, v: u32| {
            if v == 0 {
                Err(invalid(key, "must be at least 1".to_owned()))
            } else {
                Ok(v as usize)
            }
        };
        let nonzero = |key: &str, d: Duration| {
            if d.is_zero() {
                Err(invalid(key, "must be longer than 0s".to_owned()))
            } else {
                Ok(d)
            }
        };
        Ok(crate::watch::WatchOptions {
            price_ttl: nonzero("watch.price_ttl", self.price_ttl.0)?,
            gone_every: nonzero("watch.gone_every", self.gone_every.0)?,
            gone_titles: self.gone_titles as usize,
            floor_share: share("watch.floor_share", self.floor_share, 1.0)?,
            sweep_share: share("watch.sweep_share", self.sweep_share, 0.5)?,
            max_pages: positive("watch.max_pages", self.max_pages)?,
            seen_capacity: positive("watch.seen_capacity", self.seen_capacity)?,
            refresh_ahead: self.refresh_ahead,
            ..crate::watch::WatchOptions::default()
        })
    }
}

/// `[history]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Keep a history (and make alerts restart-safe).
    pub enabled: bool,
    /// The SQLite file (created on first run, with its folder).
    pub path: PathBuf,
    /// Rows older than this are deleted at start and every hour.
    pub retention: Dur,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            enabled: true,
            path: PathBuf::from("skinscan-history.db"),
            retention: Dur(Duration::from_secs(30 * 86_400)),
        }
    }
}

/// `[alerts]`: shared settings and one table per service. A service is on once its secret
/// (Telegram's token and chats, Discord's webhook URL, the webhook's URL) is set.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// The listing link: `{game}`, `{title}` and `{offer}` are filled in.
    pub link: String,
    /// `[alerts.telegram]`.
    pub telegram: TelegramConfig,
    /// `[alerts.discord]`.
    pub discord: DiscordConfig,
    /// `[alerts.webhook]`.
    pub webhook: WebhookConfig,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            link: crate::alerts::DEFAULT_LINK.to_owned(),
            telegram: TelegramConfig::default(),
            discord: DiscordConfig::default(),
            webhook: WebhookConfig::default(),
        }
    }
}

/// What a service is sent, and how much it may queue.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertFilterConfig {
    /// Only these games (plugin names); empty: all.
    pub games: Vec<String>,
    /// Net profit at least this many dollars.
    pub min_profit: f64,
    /// ROI at least this many percent.
    pub min_roi: f64,
    /// Only these levels (boost, standard, medium, advanced, pro); empty: any.
    pub levels: Vec<String>,
    /// Events sent: `new` (a cycle's finds count as new), `changed`, `gone`.
    pub events: Vec<String>,
    /// A backlog of this many alerts or more goes as one digest (0: never); unset: 5 for
    /// Telegram and Discord, and never for the webhook (one POST per event), which refuses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_at: Option<u32>,
    /// Alerts queued while the service is slow or down; more are dropped, counted.
    pub queue: u32,
}

impl Default for AlertFilterConfig {
    fn default() -> Self {
        AlertFilterConfig {
            games: Vec::new(),
            min_profit: 0.0,
            min_roi: 0.0,
            levels: Vec::new(),
            events: vec!["new".to_owned()],
            digest_at: None,
            queue: 1_000,
        }
    }
}

/// `[alerts.telegram]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramConfig {
    /// The bot's token from @BotFather (prefer `TELEGRAM_BOT_TOKEN`).
    pub token: Option<Secret>,
    /// Chat ids to send to (`TELEGRAM_CHAT_IDS`, comma-separated).
    pub chat_ids: Vec<String>,
    /// The Bot API's address.
    pub base_url: String,
    /// What is sent.
    #[serde(flatten)]
    pub filter: AlertFilterConfig,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            token: None,
            chat_ids: Vec::new(),
            base_url: "https://api.telegram.org".to_owned(),
            filter: AlertFilterConfig::default(),
        }
    }
}

/// `[alerts.discord]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// The channel's webhook URL (a secret; prefer `DISCORD_WEBHOOK_URL`).
    pub webhook_url: Option<Secret>,
    /// What is sent.
    #[serde(flatten)]
    pub filter: AlertFilterConfig,
}

/// `[alerts.webhook]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Where each alert is POSTed as JSON.
    pub url: Option<String>,
    /// Signs each body (`X-Skinscan-Signature: sha256=<hex HMAC-SHA256>`); prefer
    /// `SKINSCAN_WEBHOOK_SECRET`.
    pub secret: Option<Secret>,
    /// Requests at most, like `"10/s"`.
    pub rate: String,
    /// What is sent.
    #[serde(flatten)]
    pub filter: AlertFilterConfig,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            url: None,
            secret: None,
            rate: "10/s".to_owned(),
            filter: AlertFilterConfig::default(),
        }
    }
}

impl AlertFilterConfig {
    fn options(
        &self,
        section: &str,
        service: crate::alerts::Service,
        link: &str,
    ) -> Result<crate::alerts::AlertOptions, ConfigError> {
        let key = |k: &str| format!("alerts.{section}.{k}");
        let finite = |k: &str, v: f64| {
            if v.is_finite() && (0.0..=1e9).contains(&v) {
                Ok(v)
            } else {
                Err(invalid(
                    key(k),
                    format!("must be a number from 0 up, got {v}"),
                ))
            }
        };
        let min_profit = finite("min_profit", self.min_profit)?;
        let min_roi = finite("min_roi", self.min_roi)?;
        let levels = self
            .levels
            .iter()
            .map(|l| {
                skinscan_sdk::Level::parse(l).ok_or_else(|| {
                    invalid(
                        key("levels"),
                        format!(
                            "{l:?} is not a level: use boost, standard, medium, advanced or pro"
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let events = self
            .events
            .iter()
            .map(|e| match e.as_str() {
                "new" => Ok(crate::report::WatchKind::New),
                "changed" => Ok(crate::report::WatchKind::Changed),
                "gone" => Ok(crate::report::WatchKind::Gone),
                other => Err(invalid(
                    key("events"),
                    format!("{other:?} is not an event: use new, changed or gone"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.queue == 0 {
            return Err(invalid(key("queue"), "must be at least 1".to_owned()));
        }
        let mut o = crate::alerts::AlertOptions::new(service);
        o.filter = crate::alerts::AlertFilter {
            games: self.games.clone(),
            min_profit_cents: (min_profit * 100.0).round() as i64,
            min_roi_bps: (min_roi * 100.0).round() as i64,
            levels,
            events,
        };
        o.digest_at = self
            .digest_at
            .unwrap_or(if section == "webhook" { 0 } else { 5 }) as usize;
        o.queue = self.queue as usize;
        o.link = link.to_owned();
        Ok(o)
    }
}

impl AlertsConfig {
    /// The alert sinks configured, checked.
    fn options(&self) -> Result<Vec<crate::alerts::AlertOptions>, ConfigError> {
        use crate::alerts::Service;
        let mut out = Vec::new();
        if !self.link.starts_with("https://") && !self.link.starts_with("http://") {
            return Err(invalid(
                "alerts.link",
                "must be an http(s) URL template".to_owned(),
            ));
        }
        let base = |key: &str, url: &str| {
            let url = url.trim().trim_end_matches('/');
            if url.starts_with("https://") || url.starts_with("http://") {
                Ok(url.to_owned())
            } else {
                Err(invalid(
                    key,
                    format!("must be an http:// or https:// URL, got {url:?}"),
                ))
            }
        };
        let t = &self.telegram;
        match (&t.token, t.chat_ids.is_empty()) {
            (Some(token), false) if !token.is_empty() => {
                if let Some(bad) = t.chat_ids.iter().find(|c| {
                    let c = c.trim();
                    !(c.starts_with('@') && c.len() > 1
                        || c.strip_prefix('-')
                            .unwrap_or(c)
                            .chars()
                            .all(|d| d.is_ascii_digit())
                            && !c.trim_start_matches('-').is_empty())
                }) {
                    return Err(invalid(
                        "alerts.telegram.chat_ids",
                        format!(
                            "{bad:?} is not a chat id: use the number (negative for groups) or @channelname"
                        ),
                    ));
                }
                out.push(t.filter.options(
                    "telegram",
                    Service::Telegram {
                        base_url: base("alerts.telegram.base_url", &t.base_url)?,
                        token: token.clone(),
                        chat_ids: t.chat_ids.iter().map(|c| c.trim().to_owned()).collect(),
                    },
                    &self.link,
                )?);
            }
            (Some(token), true) if !token.is_empty() => {
                return Err(invalid(
                    "alerts.telegram.chat_ids",
                    "a token is set but no chat: add chat_ids (or TELEGRAM_CHAT_IDS)".to_owned(),
                ));
            }
            (None, false) => {
                return Err(invalid(
                    "alerts.telegram.token",
                    "chat ids are set but no token: set TELEGRAM_BOT_TOKEN (or token)".to_owned(),
                ));
            }
            _ => {}
        }
        if let Some(url) = self.discord.webhook_url.as_ref().filter(|u| !u.is_empty()) {
            if !url.expose().starts_with("https://") && !url.expose().starts_with("http://") {
                return Err(invalid(
                    "alerts.discord.webhook_url",
                    "must be the webhook's https:// URL (it is not shown: it holds a secret)"
                        .to_owned(),
                ));
            }
            out.push(self.discord.filter.options(
                "discord",
                Service::Discord { url: url.clone() },
                &self.link,
            )?);
        }
        let w = &self.webhook;
        if let Some(url) = w.url.as_deref().filter(|u| !u.trim().is_empty()) {
            let rate: Rate = w.rate.parse().map_err(|e: crate::limit::RateError| {
                invalid("alerts.webhook.rate", e.to_string())
            })?;
            if w.filter.digest_at.is_some_and(|n| n > 0) {
                return Err(invalid(
                    "alerts.webhook.digest_at",
                    "a webhook gets one POST per event, never a digest (digests are for \
                     phones): remove it"
                        .to_owned(),
                ));
            }
            out.push(w.filter.options(
                "webhook",
                Service::Webhook {
                    url: base("alerts.webhook.url", url)?,
                    secret: w.secret.clone().filter(|s| !s.is_empty()),
                    rate,
                },
                &self.link,
            )?);
        }
        Ok(out)
    }
}

/// `[scanner]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScannerConfig {
    /// Scan games in parallel (`PARALLEL_SCANNER_ENABLED`); false scans them in turn.
    pub parallel: bool,
    /// Games scanned at once in parallel mode (`PARALLEL_CONCURRENT_SCANS`).
    pub concurrent_scans: u32,
    /// Time from one cycle's start to the next (`SCAN_INTERVAL`, seconds). Cycles never overlap.
    pub scan_interval: Dur,
    /// A game's scan is cancelled after this long and reported as timed out.
    pub game_timeout: Dur,
    /// On shutdown, how long in-flight requests may take to finish.
    pub grace_period: Dur,
}

impl Default for ScannerConfig {
    fn default() -> Self {
        ScannerConfig {
            parallel: true,
            concurrent_scans: 4,
            scan_interval: Dur(Duration::from_secs(60)),
            game_timeout: Dur(Duration::from_secs(120)),
            grace_period: Dur(Duration::from_secs(5)),
        }
    }
}

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
        }
    }
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// `"table"` (stdout, one per cycle) or `"json"` (one JSON document per cycle).
    pub format: OutputFormat,
    /// Rows in the table.
    pub top: usize,
    /// Append every opportunity to this JSON Lines file.
    pub jsonl: Option<PathBuf>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            format: OutputFormat::Table,
            top: 20,
            jsonl: None,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `"human"` or `"json"`.
    pub format: LogFormat,
    /// Default filter when `RUST_LOG` is unset (`"info"`, `"skinscan=debug"`).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Human,
            level: "info".into(),
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

/// The output format on stdout. Typed in the schema: a wrong value is refused by the parser
/// with its line and column and the accepted values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// A table per cycle.
    Table,
    /// A JSON document per cycle.
    Json,
}

/// The log format on stderr (typed in the schema, as [`OutputFormat`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Human,
    /// One JSON object per line.
    Json,
}

/// One `[plugins.<name>]` entry.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// The table's name.
    pub name: String,
    /// Scanned or not.
    pub enabled: bool,
    /// Load this library instead of the built-in.
    pub path: Option<PathBuf>,
    /// The plugin's own settings.
    pub settings: PluginSettings,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The effective raw configuration (env applied), for `config check`.
    pub raw: RawConfig,
    /// The file it came from, if any.
    pub source: Option<PathBuf>,
    /// Parallel or sequential.
    pub parallel: bool,
    /// Games at once.
    pub concurrent_scans: usize,
    /// Cycle period.
    pub scan_interval: Duration,
    /// Per-game limit.
    pub game_timeout: Duration,
    /// Shutdown grace.
    pub grace_period: Duration,
    /// Where the market is.
    pub endpoint: Endpoint,
    /// The upstream settings (target filled in once the embedded market runs).
    pub upstream: UpstreamPolicy,
    /// Stdout format.
    pub output_format: OutputFormat,
    /// Table rows.
    pub top: usize,
    /// JSON Lines file.
    pub jsonl: Option<PathBuf>,
    /// Log format.
    pub log_format: LogFormat,
    /// Default log filter.
    pub log_level: String,
    /// Plugin tables, in name order.
    pub plugins: Vec<PluginEntry>,
    /// Where to serve metrics, when set.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `skinscan watch`'s options.
    pub watch: crate::watch::WatchOptions,
    /// The history database, when kept.
    pub history: Option<HistoryConfig>,
    /// Alert sinks.
    pub alerts: Vec<crate::alerts::AlertOptions>,
}

/// Where environment values come from (the process, `.env`, or a test's map).
pub trait Env {
    /// The value of `var`, if set.
    fn get(&self, var: &str) -> Option<String>;
}

/// The process environment, then `.env` in the working directory (process wins).
#[derive(Debug, Default)]
pub struct ProcessEnv {
    dotenv: BTreeMap<String, String>,
}

impl ProcessEnv {
    /// Reads `.env` if present (malformed lines are an error naming the file).
    pub fn load() -> Result<ProcessEnv, ConfigError> {
        let mut dotenv = BTreeMap::new();
        if Path::new(".env").exists() {
            let iter = dotenvy::from_path_iter(".env").map_err(|e| ConfigError::Parse {
                path: ".env".into(),
                message: e.to_string(),
            })?;
            for item in iter {
                let (k, v) = item.map_err(|e| ConfigError::Parse {
                    path: ".env".into(),
                    message: e.to_string(),
                })?;
                dotenv.insert(k, v);
            }
        }
        Ok(ProcessEnv { dotenv })
    }
}

impl Env for ProcessEnv {
    fn get(&self, var: &str) -> Option<String> {
        std::env::var(var)
            .ok()
            .or_else(|| self.dotenv.get(var).cloned())
    }
}

impl Env for BTreeMap<String, String> {
    fn get(&self, var: &str) -> Option<String> {
        BTreeMap::get(self, var).cloned()
    }
}

/// Reads the config: `path` if given (must exist), else `config/config.toml` if it exists,
/// else the defaults; then applies `env` and validates.
pub fn load(path: Option<&Path>, env: &dyn Env) -> Result<Settings, ConfigError> {
    let file = match path {
        Some(p) => Some(p.to_path_buf()),
        None if Path::new(DEFAULT_CONFIG_PATH).exists() => Some(PathBuf::from(DEFAULT_CONFIG_PATH)),
        None => None,
    };
    let Some(file) = file else {
        return validate(apply_env(RawConfig::default(), env)?, None);
    };
    let text = read_file(&file)?;
    let raw = parse_str(&text, &file.display().to_string())?;
    validate(apply_env(raw, env)?, Some(file.clone())).map_err(|e| match e {
        // A value the file set: say where, as the parser does for syntax errors.
        ConfigError::Invalid { key, message } => match locate_key(&text, &key) {
            Some((line, column)) => ConfigError::Invalid {
                key: format!("{}:{line}:{column}: {key}", file.display()),
                message,
            },
            None => ConfigError::Invalid { key, message },
        },
        other => other,
    })
}

/// Reads a config file: a regular file of at most [`MAX_CONFIG_BYTES`] (never a device,
/// FIFO or directory, which could block or never end).
fn read_file(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let err = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    if !meta.is_file() {
        return Err(err(std::io::Error::other(
            "not a regular file; give the path of a TOML file",
        )));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(err)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(err)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(err(std::io::Error::other(format!(
            "larger than {} MB; a configuration is a few KB",
            MAX_CONFIG_BYTES >> 20
        ))));
    }
    Ok(text)
}

/// The 1-based line and column where `text` sets the dotted `key` (`market.rate_limit`,
/// `plugins.csgo.items`), for error messages; `None` when the value did not come from a
/// plain `key = value` line under its table header.
fn locate_key(text: &str, key: &str) -> Option<(usize, usize)> {
    let mut table = String::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(header) = trimmed.strip_prefix('[') {
            let header = header.split(']').next().unwrap_or_default();
            table = header
                .split('.')
                .map(|p| p.trim().trim_matches('"'))
                .collect::<Vec<_>>()
                .join(".");
            continue;
        }
        let Some((name, _)) = trimmed.split_once('=') else {
            continue;
        };
        let name = name.trim().trim_matches('"');
        if name.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let full = if table.is_empty() {
            name.to_owned()
        } else {
            format!("{table}.{name}")
        };
        if full == key {
            return Some((n + 1, line.len() - trimmed.len() + 1));
        }
    }
    None
}

/// Parses config text; `origin` names it in errors.
pub fn parse_str(text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: origin.to_owned(),
        message: redact_secret_lines(text, e.to_string().trim_end()),
    })
}

/// Keys whose lines are never echoed in an error: they hold secrets.
const SECRET_KEYS: [&str; 5] = ["secret_key", "proxy", "token", "webhook_url", "secret"];

/// `message` with every line of `text` that sets a secret key replaced: the parser quotes
/// the offending line, and a syntax error on `secret_key = "…` must not print the key.
fn redact_secret_lines(text: &str, message: &str) -> String {
    let mut out = message.to_owned();
    for line in text.lines() {
        let key = line
            .trim_start()
            .split(['=', ' ', '\t'])
            .next()
            .unwrap_or("");
        let key = key.trim_matches('"');
        if SECRET_KEYS.contains(&key) && line.trim().len() > key.len() {
            out = out.replace(
                line.trim_end(),
                &format!("{key} = *** (the line is hidden: it holds a secret)"),
            );
        }
    }
    out
}

/// Applies the original bot's environment variables over `raw`.
pub fn apply_env(mut raw: RawConfig, env: &dyn Env) -> Result<RawConfig, ConfigError> {
    if let Some(v) = env.get("PARALLEL_SCANNER_ENABLED") {
        raw.scanner.parallel = match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => {
                return Err(ConfigError::Env {
                    var: "PARALLEL_SCANNER_ENABLED",
                    value: v,
                    expected: "true or false",
                });
            }
        };
    }
    if let Some(v) = env.get("PARALLEL_CONCURRENT_SCANS") {
        raw.scanner.concurrent_scans =
            v.trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(ConfigError::Env {
                    var: "PARALLEL_CONCURRENT_SCANS",
                    value: v.clone(),
                    expected: "a whole number of games greater than 0",
                })?;
    }
    if let Some(v) = env.get("MARKET_RATELIMIT") {
        raw.market.rate_limit = v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|r| Rate::in_range(*r))
            .ok_or(ConfigError::Env {
                var: "MARKET_RATELIMIT",
                value: v.clone(),
                expected: "a number of requests per second from 0.001 to 1e9, like 30",
            })?;
    }
    if let Some(v) = env.get("SCAN_INTERVAL") {
        raw.scanner.scan_interval = v
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|d| *d <= MAX_DURATION)
            .map(Dur)
            .ok_or(ConfigError::Env {
                var: "SCAN_INTERVAL",
                value: v.clone(),
                expected: "a number of seconds from 0 to 2592000 (30 days), like 60",
            })?;
    }
    // Shown in `config check` as in effect.
    for filter in [
        &mut raw.alerts.telegram.filter,
        &mut raw.alerts.discord.filter,
    ] {
        filter.digest_at.get_or_insert(5);
    }
    let set = |name: &str| env.get(name).filter(|v| !v.trim().is_empty());
    if let Some(v) = set("TELEGRAM_BOT_TOKEN") {
        raw.alerts.telegram.token = Some(Secret::new(v.trim()));
    }
    if let Some(v) = set("TELEGRAM_CHAT_IDS") {
        raw.alerts.telegram.chat_ids = v
            .split(',')
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
    }
    if let Some(v) = set("DISCORD_WEBHOOK_URL") {
        raw.alerts.discord.webhook_url = Some(Secret::new(v.trim()));
    }
    if let Some(v) = set("SKINSCAN_WEBHOOK_SECRET") {
        raw.alerts.webhook.secret = Some(Secret::new(v));
    }
    if let Some(v) = env
        .get("DMARKET_PUBLIC_KEY")
        .filter(|v| !v.trim().is_empty())
    {
        raw.market.public_key = Some(v);
    }
    if let Some(v) = env
        .get("DMARKET_SECRET_KEY")
        .filter(|v| !v.trim().is_empty())
    {
        raw.market.secret_key = Some(Secret::new(v));
    }
    // Proxies as curl reads them, upper case first; which one applies depends on the
    // endpoint's scheme, decided in `validate`.
    let var = |names: &[&str]| {
        names.iter().find_map(|n| {
            env.get(n)
                .filter(|v| !v.trim().is_empty())
                .map(|v| ((*n).to_owned(), Secret::new(v)))
        })
    };
    let https = raw.market.endpoint.trim().starts_with("https://");
    raw.market.env_proxy = if https {
        var(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"])
    } else {
        var(&["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
    };
    raw.market.no_proxy = var(&["NO_PROXY", "no_proxy"]).map(|(_, v)| v.expose().to_owned());
    Ok(raw)
}

/// Turns the raw config into [`Settings`], or says what is wrong.
pub fn validate(raw: RawConfig, source: Option<PathBuf>) -> Result<Settings, ConfigError> {
    let s = &raw.scanner;
    if s.concurrent_scans == 0 {
        return Err(invalid(
            "scanner.concurrent_scans",
            "must be at least 1 (games scanned at once)",
        ));
    }
    if s.game_timeout.0.is_zero() {
        return Err(invalid("scanner.game_timeout", "must be longer than 0s"));
    }
    let m = &raw.market;
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
        let faults: FaultSpec = e
            .faults
            .parse()
            .map_err(|err: crate::sim::FaultSpecError| {
                invalid("market.embedded.faults", err.to_string())
            })?;
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
    let output_format = raw.output.format;
    let log_format = raw.log.format;
    let plugins = raw
        .plugins
        .iter()
        .map(|(name, table)| plugin_entry(name, table))
        .collect::<Result<Vec<_>, _>>()?;
    let metrics_listen = raw
        .metrics
        .listen
        .as_deref()
        .map(|a| {
            a.trim().parse::<std::net::SocketAddr>().map_err(|_| {
                invalid(
                    "metrics.listen",
                    format!("must be an address and port like \"127.0.0.1:9898\", got {a:?}"),
                )
            })
        })
        .transpose()?;
    Ok(Settings {
        source,
        parallel: s.parallel,
        concurrent_scans: s.concurrent_scans as usize,
        scan_interval: s.scan_interval.0,
        game_timeout: s.game_timeout.0,
        grace_period: s.grace_period.0,
        endpoint,
        upstream: UpstreamPolicy {
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
        },
        output_format,
        top: raw.output.top,
        jsonl: raw.output.jsonl.clone(),
        log_format,
        log_level: raw.log.level.clone(),
        plugins,
        metrics_listen,
        watch: raw.watch.options()?,
        history: raw.history.enabled.then(|| raw.history.clone()),
        alerts: raw.alerts.options()?,
        raw,
    })
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

fn plugin_entry(name: &str, table: &toml::Table) -> Result<PluginEntry, ConfigError> {
    let key = |k: &str| format!("plugins.{name}.{k}");
    let enabled = match table.get("enabled") {
        None => true,
        Some(toml::Value::Boolean(b)) => *b,
        Some(other) => {
            return Err(invalid(
                key("enabled"),
                format!("must be true or false, got {other}"),
            ));
        }
    };
    let path = match table.get("path") {
        None => None,
        Some(toml::Value::String(p)) if !p.trim().is_empty() => Some(PathBuf::from(p)),
        Some(other) => {
            return Err(invalid(
                key("path"),
                format!("must be the path of a plugin library, got {other}"),
            ));
        }
    };
    let values = table
        .iter()
        .filter(|(k, _)| k.as_str() != "enabled" && k.as_str() != "path")
        .map(|(k, v)| (k.clone(), setting_value(v)))
        .collect();
    Ok(PluginEntry {
        name: name.to_owned(),
        enabled,
        path,
        settings: PluginSettings::new(name, values),
    })
}

/// TOML to the sdk's own value type (no third-party type crosses the plugin boundary).
/// Floats keep their shortest decimal text so percentages never go through float math.
pub fn setting_value(v: &toml::Value) -> SettingValue {
    match v {
        toml::Value::Boolean(b) => SettingValue::Bool(*b),
        toml::Value::Integer(i) => SettingValue::Integer(*i),
        toml::Value::Float(f) => SettingValue::Decimal(format!("{f}")),
        toml::Value::String(s) => SettingValue::String(s.clone()),
        toml::Value::Array(items) => SettingValue::List(items.iter().map(setting_value).collect()),
        other => SettingValue::Other(other.to_string()),
    }
}

impl Settings {
    /// The effective configuration as TOML, secrets shown as `***`.
    pub fn effective_toml(&self) -> String {
        // `Secret` serializes as "***" by construction.
        toml::to_string_pretty(&self.raw)
            .unwrap_or_else(|e| format!("# cannot render the configuration: {e}\n"))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Embedded(_) => f.write_str("embedded simulated market"),
            Endpoint::Remote(t) => f.write_str(&t.origin()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_located_under_their_table() {
        let text = "# c\n[scanner]\nparallel = true\n\n[market]\n  rate_limit = 0\n[market.retry]\nattempts = 0\n";
        assert_eq!(locate_key(text, "market.rate_limit"), Some((6, 3)));
        assert_eq!(locate_key(text, "market.retry.attempts"), Some((8, 1)));
        assert_eq!(locate_key(text, "scanner.parallel"), Some((3, 1)));
        assert_eq!(locate_key(text, "scanner.concurrent_scans"), None);
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn settings(toml_text: &str, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        validate(
            apply_env(parse_str(toml_text, "test.toml")?, &env(vars))?,
            None,
        )
    }

    #[test]
    fn the_shipped_config_parses_and_matches_the_defaults() {
        let text = include_str!("../../config/config.toml");
        let s = settings(text, &[]).expect("config/config.toml is valid");
        assert!(matches!(s.endpoint, Endpoint::Embedded(_)));
        assert_eq!(s.upstream.rate.per_sec(), 30.0);
        assert_eq!(s.concurrent_scans, 4);
        assert!(s.parallel);
        let names: Vec<&str> = s.plugins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["csgo", "dota2", "rust", "tf2"]);
        // Every documented default equals the code's default.
        let shipped = parse_str(text, "config.toml").unwrap();
        let defaults = RawConfig::default();
        assert_eq!(
            toml::to_string(&shipped.scanner).unwrap(),
            toml::to_string(&defaults.scanner).unwrap()
        );
        assert_eq!(
            toml::to_string(&shipped.market).unwrap(),
            toml::to_string(&defaults.market).unwrap()
        );
        assert_eq!(
            toml::to_string(&shipped.output).unwrap(),
            toml::to_string(&defaults.output).unwrap()
        );
    }

    #[test]
    fn unknown_keys_are_rejected_with_line_and_column() {
        let err = settings("[scanner]\nparallel = true\nconcurent_scans = 3\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("test.toml: TOML parse error at line 3, column 1"),
            "{err}"
        );
        assert!(err.contains("unknown field `concurent_scans`"), "{err}");
    }

    #[test]
    fn wrong_types_and_bad_durations_name_the_place() {
        let err = settings("[market]\nrate_limit = \"fast\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("invalid type"),
            "{err}"
        );
        let err = settings("[scanner]\nscan_interval = \"soon\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("\"soon\" is not a duration"),
            "{err}"
        );
    }

    #[test]
    fn group_limits_default_to_dmarkets_published_ones_by_whether_keys_are_set() {
        use crate::upstream::EndpointGroup::*;
        let per_sec = |s: &Settings| {
            s.upstream
                .group_limits
                .iter()
                .map(|(g, r)| (*g, r.per_sec()))
                .collect::<Vec<_>>()
        };
        let unsigned = settings("", &[]).unwrap();
        // Last sales unsigned has no published limit: it shares `other`'s bucket.
        assert_eq!(
            per_sec(&unsigned),
            vec![(Market, 2.0), (Fees, 2.0), (Other, 6.0)]
        );
        let (public, secret) = crate::sign::generate_keypair_hex([3; 32]);
        let signed = settings(
            "[market.limits]\nother = \"15/s\"\n",
            &[
                ("DMARKET_PUBLIC_KEY", public.as_str()),
                ("DMARKET_SECRET_KEY", secret.expose()),
            ],
        )
        .unwrap();
        assert_eq!(
            per_sec(&signed),
            vec![(Market, 10.0), (Sales, 6.0), (Fees, 110.0), (Other, 15.0)]
        );
        // The whole-upstream cap stays MARKET_RATELIMIT's 30/s.
        assert_eq!(signed.upstream.rate.per_sec(), 30.0);
        assert_eq!(signed.upstream.max_server_wait, Duration::from_secs(60));
    }

    #[test]
    fn out_of_range_values_are_refused_with_the_key() {
        for (text, expected) in [
            (
                "[market]\nrate_limit = 0\n",
                "market.rate_limit must be a number of requests per second from 0.001 to 1e9, got 0",
            ),
            (
                "[scanner]\nconcurrent_scans = 0\n",
                "scanner.concurrent_scans must be at least 1",
            ),
            (
                "[market]\nendpoint = \"ftp://x\"\n",
                "market.endpoint invalid endpoint \"ftp://x\": the scheme must be http or https",
            ),
            (
                "[market.limits]\nmarket = \"30/fortnight\"\n",
                "market.limits.market \"30/fortnight\" is not a rate",
            ),
            (
                "[market.limits]\ntargets = \"10/min\"\n",
                "market.limits.targets is not an endpoint group",
            ),
            (
                "[market.limits]\nprices = \"10/s\"\n",
                "market.limits.prices is no longer a group: DMarket counts aggregated prices under \"everything else\"; set market.limits.other instead",
            ),
            (
                "[market]\nmax_server_wait = \"0s\"\n",
                "market.max_server_wait must be longer than 0s",
            ),
            (
                "[output]\nformat = \"xml\"\n",
                "test.toml: TOML parse error at line 2, column 10",
            ),
            (
                "[plugins.csgo]\nenabled = \"yes\"\n",
                "plugins.csgo.enabled must be true or false",
            ),
            (
                "[market.embedded]\nfaults = \"fire=1\"\n",
                "market.embedded.faults invalid --faults",
            ),
        ] {
            let err = settings(text, &[]).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{text}: {err}");
        }
    }

    #[test]
    fn environment_overrides_use_the_original_names() {
        let s = settings(
            "",
            &[
                ("PARALLEL_SCANNER_ENABLED", "false"),
                ("PARALLEL_CONCURRENT_SCANS", "2"),
                ("MARKET_RATELIMIT", "12.5"),
                ("SCAN_INTERVAL", "90"),
            ],
        )
        .unwrap();
        assert!(!s.parallel);
        assert_eq!(s.concurrent_scans, 2);
        assert_eq!(s.upstream.rate.per_sec(), 12.5);
        assert_eq!(s.scan_interval, Duration::from_secs(90));
        let err = settings("", &[("MARKET_RATELIMIT", "abc")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "environment variable MARKET_RATELIMIT=\"abc\" is not valid: a number of requests per second from 0.001 to 1e9, like 30"
        );
        assert!(settings("", &[("PARALLEL_SCANNER_ENABLED", "maybe")]).is_err());
        assert!(settings("", &[("PARALLEL_CONCURRENT_SCANS", "0")]).is_err());
    }

    #[test]
    fn keys_are_validated_and_never_printed() {
        let (public, secret) = crate::sign::generate_keypair_hex([3; 32]);
        let s = settings(
            "",
            &[
                ("DMARKET_PUBLIC_KEY", &public),
                ("DMARKET_SECRET_KEY", secret.expose()),
            ],
        )
        .unwrap();
        assert!(s.upstream.signer.is_some());
        let shown = s.effective_toml();
        assert!(shown.contains("secret_key = \"***\""), "{shown}");
        assert!(!shown.contains(&secret.expose()[..64]));
        assert!(!format!("{s:?}").contains(&secret.expose()[..64]));
        let err = settings(
            "",
            &[
                ("DMARKET_PUBLIC_KEY", "abc"),
                ("DMARKET_SECRET_KEY", secret.expose()),
            ],
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "the public key (DMARKET_PUBLIC_KEY or market.public_key) must be 64 hex characters"
            ),
            "{err}"
        );
        let err = settings("", &[("DMARKET_PUBLIC_KEY", &public)]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("only one of DMARKET_PUBLIC_KEY and DMARKET_SECRET_KEY is set")
        );
    }

    #[test]
    fn plugin_tables_become_sdk_settings() {
        let s = settings("[plugins.csgo]\nenabled = false\nitems = 50\nmin_profit_percent = 7.35\nblacklist = [\"case\"]\n", &[]).unwrap();
        let p = &s.plugins[0];
        assert!(!p.enabled);
        assert_eq!(p.settings.get("items"), Some(&SettingValue::Integer(50)));
        assert_eq!(p.settings.percent_bps("min_profit_percent", 0), Ok(735));
        assert_eq!(p.settings.get("enabled"), None);
    }
}
