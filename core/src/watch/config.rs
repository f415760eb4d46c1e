//! `[watch]`: how `skinscan watch` spends its budget. The section and its defaults (taken
//! from [`WatchOptions::default`], so they live in one place) and the check that turns it
//! into the options watch mode runs with.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use skinscan_settings::{Dur, Invalid, invalid};

/// How watch mode runs (`[watch]` in config.toml).
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Pages read per poll at most (catching up after a gap).
    pub max_pages: usize,
    /// How long a title's reference price is reused.
    pub price_ttl: Duration,
    /// How often live opportunities are checked for having left the market.
    pub gone_every: Duration,
    /// Titles checked per gone round at most: each check is a listings request, taken from
    /// the same budget as the polls, so it is kept small (freshness first).
    pub gone_titles: usize,
    /// Listing ids remembered per game (the oldest are forgotten first).
    pub seen_capacity: usize,
    /// Share of the poll budget split evenly among the games, whatever arrives (0..=1).
    pub floor_share: f64,
    /// Share of the listing budget spent on the background sweep (0 turns it off).
    pub sweep_share: f64,
    /// Poll batches priced and judged at once per game.
    pub judge_concurrency: usize,
    /// Price titles asked for within the hour again before their cached price expires.
    pub refresh_ahead: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            max_pages: 5,
            price_ttl: Duration::from_secs(300),
            gone_every: Duration::from_secs(15),
            gone_titles: 2,
            seen_capacity: 50_000,
            floor_share: 0.5,
            sweep_share: 0.05,
            judge_concurrency: 4,
            refresh_ahead: true,
        }
    }
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
        let d = WatchOptions::default();
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
    pub fn options(&self) -> Result<WatchOptions, Invalid> {
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
        Ok(WatchOptions {
            price_ttl: self.price_ttl.nonzero("watch.price_ttl")?,
            gone_every: self.gone_every.nonzero("watch.gone_every")?,
            gone_titles: self.gone_titles as usize,
            floor_share: share("watch.floor_share", self.floor_share, 1.0)?,
            sweep_share: share("watch.sweep_share", self.sweep_share, 0.5)?,
            max_pages: positive("watch.max_pages", self.max_pages)?,
            seen_capacity: positive("watch.seen_capacity", self.seen_capacity)?,
            refresh_ahead: self.refresh_ahead,
            ..WatchOptions::default()
        })
    }
}
