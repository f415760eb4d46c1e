//! `[buy]`: whether and within which limits skinscan buys what it finds. The section, its
//! defaults (in [`BuyConfig::default`], the one place) and the check that turns it into the
//! [`BuyOptions`] the buyer runs with.
//!
//! Off by default. `live` also needs `SKINSCAN_BUY_LIVE=1` in the environment (read by the
//! config's env layer into [`BuyConfig::live_switch`]), so no config file alone can spend.
//! Money is written in dollars as text or a number (`"25.00"`, `25`, `0.5`) and parsed from
//! its text into whole cents; more than two decimals is refused, never rounded.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use skinscan_settings::{Invalid, invalid};

/// The environment switch `live` needs.
pub const LIVE_SWITCH: &str = "SKINSCAN_BUY_LIVE";

/// Whether skinscan buys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuyMode {
    /// Never (the default).
    #[default]
    Off,
    /// Everything but the request: checks, ledger (its own), events; no buy is sent.
    DryRun,
    /// Buys, within the caps (needs `SKINSCAN_BUY_LIVE=1`).
    Live,
}

impl BuyMode {
    /// `off`, `dry-run`, `live`: also the ledger's mode.
    pub fn as_str(self) -> &'static str {
        match self {
            BuyMode::Off => "off",
            BuyMode::DryRun => "dry-run",
            BuyMode::Live => "live",
        }
    }
}

/// An amount of dollars as written in the config, kept as its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Dollars(pub String);

impl<'de> Deserialize<'de> for Dollars {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(i64),
            // A TOML float: its shortest round-trip text ("0.1" stays "0.1"), parsed as text.
            Float(f64),
        }
        Ok(Dollars(match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Int(i) => i.to_string(),
            Raw::Float(f) => f.to_string(),
        }))
    }
}

impl Dollars {
    fn cents(&self, key: &str) -> Result<i64, Invalid> {
        skinscan_sdk::money::parse_dollars_cents(self.0.trim())
            .filter(|c| *c >= 0)
            .ok_or_else(|| {
                invalid(
                    key,
                    format!(
                        "must be dollars with at most two decimals, like \"25.00\", got {:?}",
                        self.0
                    ),
                )
            })
    }
}

/// `[buy]` in config.toml.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuyConfig {
    /// `"off"` (default), `"dry-run"` or `"live"` (also needs `SKINSCAN_BUY_LIVE=1`).
    pub mode: BuyMode,
    /// The most one item may cost, in dollars.
    pub max_price: Dollars,
    /// The most spent (bought, or in flight, or unknown) over any 24 hours, in dollars;
    /// kept in the history, so it holds across restarts.
    pub daily_budget: Dollars,
    /// The most buys sent over any hour (whatever came of them), across restarts.
    pub max_buys_per_hour: u32,
    /// Net profit a buy needs, in dollars, on top of the game's own filters.
    pub min_profit: Dollars,
    /// ROI a buy needs, in percent, on top of the game's own filters.
    pub min_roi: Dollars,
    /// Strategies bought: `instant` (sold at once into the best buy order) by default.
    pub strategies: Vec<String>,
    /// Games bought (plugin names); empty: every game watched.
    pub games: Vec<String>,
    /// While this file exists, nothing is bought (checked before every buy).
    pub stop_file: PathBuf,
    /// Whether `SKINSCAN_BUY_LIVE=1` is set (the environment's, never the file's).
    #[serde(skip)]
    pub live_switch: bool,
}

impl Default for BuyConfig {
    fn default() -> Self {
        BuyConfig {
            mode: BuyMode::Off,
            max_price: Dollars("10.00".into()),
            daily_budget: Dollars("20.00".into()),
            max_buys_per_hour: 5,
            min_profit: Dollars("0.10".into()),
            min_roi: Dollars("5".into()),
            strategies: vec!["instant".into()],
            games: Vec::new(),
            stop_file: PathBuf::from("skinscan-buy.stop"),
            live_switch: false,
        }
    }
}

/// The validated `[buy]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyOptions {
    /// The mode.
    pub mode: BuyMode,
    /// Per item, cents.
    pub max_price_cents: i64,
    /// Per 24 h, cents.
    pub daily_budget_cents: i64,
    /// Per hour.
    pub max_buys_per_hour: u32,
    /// Net profit, cents.
    pub min_profit_cents: i64,
    /// ROI, basis points.
    pub min_roi_bps: i64,
    /// Strategies bought.
    pub strategies: Vec<String>,
    /// Games bought (empty: all).
    pub games: Vec<String>,
    /// The kill switch.
    pub stop_file: PathBuf,
}

impl Default for BuyOptions {
    fn default() -> Self {
        BuyConfig::default()
            .options(false)
            .expect("the built-in [buy] defaults are valid")
    }
}

/// The strategies an opportunity can have.
const STRATEGIES: &[&str] = &["instant", "relist", "cross"];

impl BuyConfig {
    /// Reads `SKINSCAN_BUY_LIVE` (`1` on; unset, empty or `0` off; anything else refused).
    pub fn apply_env(&mut self, value: Option<String>) -> Result<(), Invalid> {
        self.live_switch = match value.as_deref().map(str::trim) {
            None | Some("") | Some("0") => false,
            Some("1") => true,
            Some(other) => {
                return Err(invalid(
                    LIVE_SWITCH,
                    format!("must be 1 (live buying allowed) or 0, got {other:?}"),
                ));
            }
        };
        Ok(())
    }

    /// Checks the section; `history` says whether the history (the buy ledger) is kept.
    pub fn options(&self, history: bool) -> Result<BuyOptions, Invalid> {
        if self.mode == BuyMode::Live && !self.live_switch {
            return Err(invalid(
                "buy.mode",
                format!(
                    "is \"live\", but live buying also needs {LIVE_SWITCH}=1 in the environment (so that no config file alone can spend): run with {LIVE_SWITCH}=1 to buy, or set buy.mode = \"dry-run\" to rehearse"
                ),
            ));
        }
        if self.mode != BuyMode::Off && !history {
            return Err(invalid(
                "buy.mode",
                "needs history.enabled = true: the history holds the buy ledger that keeps the caps across restarts and never buys an offer twice",
            ));
        }
        let min_roi_bps = skinscan_sdk::money::parse_percent_bps(self.min_roi.0.trim())
            .filter(|b| *b >= 0)
            .ok_or_else(|| {
                invalid(
                    "buy.min_roi",
                    format!(
                        "must be a percent like 5 or \"7.5\", got {:?}",
                        self.min_roi.0
                    ),
                )
            })?;
        if self.strategies.is_empty() {
            return Err(invalid(
                "buy.strategies",
                "must name at least one strategy (\"instant\"); to buy nothing set buy.mode = \"off\"",
            ));
        }
        if let Some(s) = self
            .strategies
            .iter()
            .find(|s| !STRATEGIES.contains(&s.as_str()))
        {
            return Err(invalid(
                "buy.strategies",
                format!("unknown strategy {s:?}: use {}", STRATEGIES.join(", ")),
            ));
        }
        if self.max_buys_per_hour == 0 && self.mode != BuyMode::Off {
            return Err(invalid(
                "buy.max_buys_per_hour",
                "must be at least 1 (to buy nothing set buy.mode = \"off\")",
            ));
        }
        Ok(BuyOptions {
            mode: self.mode,
            max_price_cents: self.max_price.cents("buy.max_price")?,
            daily_budget_cents: self.daily_budget.cents("buy.daily_budget")?,
            max_buys_per_hour: self.max_buys_per_hour,
            min_profit_cents: self.min_profit.cents("buy.min_profit")?,
            min_roi_bps,
            strategies: self.strategies.clone(),
            games: self.games.clone(),
            stop_file: self.stop_file.clone(),
        })
    }
}

impl BuyOptions {
    /// The start-up line: whether buying is off, a dry run or live, and with which caps.
    pub fn summary(&self) -> String {
        let dollars = |c: i64| format!("${}.{:02}", c / 100, c % 100);
        match self.mode {
            BuyMode::Off => "buying: OFF (buy.mode = \"off\"): nothing is bought".to_owned(),
            mode => format!(
                "buying: {} — at most {} an item, {} per 24 h, {} buys an hour; needs {} net and {} ROI; strategies {}; games {}; stop file {}",
                if mode == BuyMode::Live {
                    "LIVE: real money is spent"
                } else {
                    "DRY RUN: checks and ledger only, no buy is sent"
                },
                dollars(self.max_price_cents),
                dollars(self.daily_budget_cents),
                self.max_buys_per_hour,
                dollars(self.min_profit_cents),
                skinscan_sdk::money::format_bps_percent(self.min_roi_bps),
                self.strategies.join(","),
                if self.games.is_empty() {
                    "all watched".to_owned()
                } else {
                    self.games.join(",")
                },
                self.stop_file.display(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> BuyConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn live_needs_the_environment_switch_and_the_history() {
        let mut c = parse("mode = \"live\"");
        let e = c.options(true).unwrap_err();
        assert_eq!(e.key, "buy.mode");
        assert!(e.message.contains("SKINSCAN_BUY_LIVE=1"), "{}", e.message);
        c.apply_env(Some("1".into())).unwrap();
        assert_eq!(c.options(true).unwrap().mode, BuyMode::Live);
        assert!(c.options(false).unwrap_err().message.contains("history"));
        assert!(c.apply_env(Some("yes".into())).is_err());
        c.apply_env(Some("0".into())).unwrap();
        assert!(c.options(true).is_err());
    }

    #[test]
    fn money_is_parsed_from_its_text_and_bad_values_name_their_key() {
        let c = parse(
            "mode = \"dry-run\"\nmax_price = 12.5\ndaily_budget = \"100\"\nmin_profit = 0.1\nmin_roi = 7.5",
        );
        let o = c.options(true).unwrap();
        assert_eq!(
            (
                o.max_price_cents,
                o.daily_budget_cents,
                o.min_profit_cents,
                o.min_roi_bps
            ),
            (1_250, 10_000, 10, 750)
        );
        assert_eq!(o.strategies, ["instant"]);
        let e = parse("max_price = \"1.234\"").options(true).unwrap_err();
        assert_eq!(e.key, "buy.max_price");
        let e = parse("strategies = [\"yolo\"]").options(true).unwrap_err();
        assert_eq!(e.key, "buy.strategies");
        assert!(toml::from_str::<BuyConfig>("mode = \"on\"").is_err());
        assert!(toml::from_str::<BuyConfig>("budget = 1").is_err());
        assert_eq!(BuyOptions::default().mode, BuyMode::Off);
        assert!(BuyOptions::default().summary().contains("OFF"));
    }
}
