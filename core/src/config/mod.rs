//! Configuration: `config.toml`, then `.env`, then environment variables, validated in one
//! step into [`Settings`] that the rest of the host trusts.
//!
//! **Each feature owns its section:** the serde type of its table, its defaults and the check
//! that turns it into the feature's options live with the feature (`[scanner]` in
//! `schedule`, `[watch]` in `watch`, `[alerts]` in `skinscan-alerts`, `[history]` in
//! `skinscan-history`, `[market]` in `market.rs` here, `[output]`/`[log]` in `output`,
//! `[plugins.*]` in `plugin`). This module only composes them, reads the file and the
//! environment, and adds file:line:column to a refusal.
//!
//! One serde struct per TOML table, unknown keys rejected with line and column, defaults in
//! one place (each struct's `Default`), units in the type (`"60s"`, `"30/min"`). The original
//! bot's environment names still work: `PARALLEL_SCANNER_ENABLED`,
//! `PARALLEL_CONCURRENT_SCANS`, `MARKET_RATELIMIT`, `SCAN_INTERVAL`, `DMARKET_PUBLIC_KEY`,
//! `DMARKET_SECRET_KEY`. Secrets are held in [`Secret`] and printed as `***`.

mod error;
mod market;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
pub use skinscan_settings::{Dur, Invalid, MAX_DURATION};

pub use self::error::ConfigError;
pub use self::market::{
    BreakerConfig, EmbeddedConfig, Endpoint, MAX_BURST, MarketConfig, RetryConfig, group_limits,
};
pub use crate::alerts::{
    AlertFilterConfig, AlertsConfig, DiscordConfig, TelegramConfig, WebhookConfig,
};
pub use crate::history::HistoryConfig;
use crate::limit::Rate;
pub use crate::output::{LogConfig, LogFormat, OutputConfig, OutputFormat};
pub use crate::plugin::{PluginEntry, plugin_entry, setting_value};
pub use crate::references::{MarketsConfig, ReferenceOptions};
pub use crate::schedule::{ScanOptions, ScannerConfig};
use crate::secret::Secret;
use crate::upstream::UpstreamPolicy;
pub use crate::watch::WatchConfig;

/// The config file used when none is given and it exists.
pub const DEFAULT_CONFIG_PATH: &str = "config/config.toml";

/// The largest config file read (a config is a few KB; this refuses `/dev/zero`).
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

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
    /// `[buy]`: buying what watch mode finds (off by default).
    #[serde(default)]
    pub buy: crate::buy::BuyConfig,
    /// `[markets]`: the other markets listings are judged against (`cross`).
    #[serde(default)]
    pub markets: MarketsConfig,
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
    /// `[buy]`, validated.
    pub buy: crate::buy::BuyOptions,
    /// The other markets (`[markets.*]`), enabled ones only.
    pub references: ReferenceOptions,
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
const SECRET_KEYS: [&str; 6] = [
    "secret_key",
    "proxy",
    "token",
    "webhook_url",
    "secret",
    "api_key",
];

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
    raw.buy.apply_env(env.get(crate::buy::LIVE_SWITCH))?;
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
    // The other markets are reached over https: their proxy is the https one.
    raw.market.env_https_proxy = var(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]);
    if let Some(v) = set(skinscan_sdk::markets::csfloat::API_KEY_ENV) {
        raw.markets.csfloat.api_key = Some(Secret::new(v.trim()));
    }
    // `market.embedded.markets` turns the simulated markets on as references.
    if raw.market.endpoint.trim() == "embedded" {
        for name in raw.market.embedded.markets.clone() {
            let (enabled, endpoint, live) = match name.trim() {
                "skinport" => (
                    &mut raw.markets.skinport.enabled,
                    &mut raw.markets.skinport.endpoint,
                    skinscan_sdk::markets::skinport::BASE_URL,
                ),
                "csfloat" => (
                    &mut raw.markets.csfloat.enabled,
                    &mut raw.markets.csfloat.endpoint,
                    skinscan_sdk::markets::csfloat::BASE_URL,
                ),
                _ => continue,
            };
            // An endpoint of the user's own (not the live default) and the simulated market
            // for the same market: one of the two is a mistake, and which is not ours to guess.
            let given = endpoint.trim().trim_end_matches('/');
            if given != "embedded" && given != live.trim_end_matches('/') {
                return Err(ConfigError::Invalid {
                    key: format!("markets.{}.endpoint", name.trim()),
                    message: format!(
                        "is {given:?}, but market.embedded.markets lists {0}, which answers {0} \
                         from the simulated market: remove {0} from market.embedded.markets to \
                         use {given:?}, or remove this endpoint",
                        name.trim()
                    ),
                });
            }
            *enabled = true;
            *endpoint = "embedded".to_owned();
        }
    }
    Ok(raw)
}

/// Turns the raw config into [`Settings`], or says what is wrong: each section checks its
/// own values (its feature owns it); this only composes them.
pub fn validate(raw: RawConfig, source: Option<PathBuf>) -> Result<Settings, ConfigError> {
    let scan = raw.scanner.options()?;
    let (endpoint, upstream) = raw.market.options()?;
    let plugins = raw
        .plugins
        .iter()
        .map(|(name, table)| plugin_entry(name, table))
        .collect::<Result<Vec<_>, _>>()?;
    let metrics_listen = raw.metrics.listen()?;
    let references = raw.markets.options(&crate::references::config::Inherited {
        policy: &upstream,
        embedded_market: matches!(endpoint, Endpoint::Embedded(_)),
        env_proxy: raw.market.env_https_proxy.clone(),
        no_proxy: raw.market.no_proxy.clone(),
    })?;
    let mut endpoint = endpoint;
    if let Endpoint::Embedded(sim) = &mut endpoint {
        for market in references.embedded() {
            match market {
                skinscan_sdk::markets::snapshot::ReferenceMarket::Skinport => {
                    sim.markets.skinport = true
                }
                skinscan_sdk::markets::snapshot::ReferenceMarket::Csfloat => {
                    sim.markets.csfloat = true
                }
                _ => {}
            }
        }
    }
    Ok(Settings {
        source,
        parallel: scan.parallel,
        concurrent_scans: scan.concurrent_scans,
        scan_interval: scan.scan_interval,
        game_timeout: scan.game_timeout,
        grace_period: scan.grace_period,
        endpoint,
        upstream,
        output_format: raw.output.format,
        top: raw.output.top,
        jsonl: raw.output.jsonl.clone(),
        log_format: raw.log.format,
        log_level: raw.log.level.clone(),
        plugins,
        metrics_listen,
        watch: raw.watch.options()?,
        history: raw.history.enabled.then(|| raw.history.clone()),
        alerts: raw.alerts.options()?,
        buy: raw.buy.options(raw.history.enabled)?,
        references,
        raw,
    })
}

impl MetricsConfig {
    /// The address to serve metrics on, when set.
    fn listen(&self) -> Result<Option<std::net::SocketAddr>, Invalid> {
        self.listen
            .as_deref()
            .map(|a| {
                a.trim().parse::<std::net::SocketAddr>().map_err(|_| {
                    skinscan_settings::invalid(
                        "metrics.listen",
                        format!("must be an address and port like \"127.0.0.1:9898\", got {a:?}"),
                    )
                })
            })
            .transpose()
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

#[cfg(test)]
mod tests;
