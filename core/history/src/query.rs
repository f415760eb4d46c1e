//! What `skinscan history` asks of the database.

use std::time::{Duration, SystemTime};

use rusqlite::params;
use serde::Serialize;

use crate::store::{Store, StoreError, unix_ms};

/// One of the best opportunities of a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BestRow {
    /// The game (plugin id).
    pub game: String,
    /// The title.
    pub title: String,
    /// Offer id (or item id).
    pub offer: String,
    /// Buy, sell and net profit, in cents.
    pub buy_cents: i64,
    /// Sell, in cents.
    pub sell_cents: i64,
    /// Net profit after the fee, in cents.
    pub net_profit_cents: i64,
    /// ROI in basis points.
    pub roi_bps: i64,
    /// `instant`, `relist` or `cross`.
    pub strategy: String,
    /// Where it sells: `dmarket`, `skinport`, `csfloat`.
    pub sell_market: String,
    /// First seen, ms since the epoch.
    pub first_seen_ms: i64,
    /// Gone since then (ms), if it went.
    pub gone_ms: Option<i64>,
}

/// How often a title was underpriced in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TitleRow {
    /// The game.
    pub game: String,
    /// The title.
    pub title: String,
    /// Opportunities seen.
    pub times: i64,
    /// The best net profit, in cents.
    pub best_profit_cents: i64,
    /// The average net profit, in cents (rounded down).
    pub average_profit_cents: i64,
    /// Last seen, ms since the epoch.
    pub last_seen_ms: i64,
}

/// One observation of a title's reference price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricePoint {
    /// The game.
    pub game: String,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Best buy order, in cents.
    pub best_order_cents: Option<i64>,
    /// Best offer, in cents.
    pub best_offer_cents: Option<i64>,
    /// Buy orders standing.
    pub order_count: i64,
    /// Offers standing.
    pub offer_count: i64,
}

/// A title's history: how often it was underpriced, and its observed prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TitleStats {
    /// The title.
    pub title: String,
    /// Per game it was seen in.
    pub underpriced: Vec<TitleRow>,
    /// Its observed prices, oldest first.
    pub prices: Vec<PricePoint>,
}

fn since_ms(period: Duration) -> i64 {
    unix_ms(SystemTime::now()) - i64::try_from(period.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// The best opportunities first seen within `period`, by net profit, at most `limit` per
    /// game (`game` alone when given).
    pub fn best(
        &self,
        period: Duration,
        game: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BestRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT game, title, offer, buy_cents, sell_cents, net_profit_cents, roi_bps, strategy,
                        first_seen_ms, gone_ms, sell_market
                 FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY game ORDER BY net_profit_cents DESC, id) AS rank
                       FROM opportunities
                       WHERE first_seen_ms >= ?1 AND (?2 IS NULL OR game = ?2))
                 WHERE rank <= ?3
                 ORDER BY game, net_profit_cents DESC, id",
            )
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(
                params![
                    since_ms(period),
                    game,
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |r| {
                    Ok(BestRow {
                        game: r.get(0)?,
                        title: r.get(1)?,
                        offer: r.get(2)?,
                        buy_cents: r.get(3)?,
                        sell_cents: r.get(4)?,
                        net_profit_cents: r.get(5)?,
                        roi_bps: r.get(6)?,
                        strategy: r.get(7)?,
                        first_seen_ms: r.get(8)?,
                        gone_ms: r.get(9)?,
                        sell_market: r.get(10)?,
                    })
                },
            )
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    /// The titles most often underpriced within `period`, most often first.
    pub fn frequent(
        &self,
        period: Duration,
        game: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TitleRow>, StoreError> {
        self.title_rows(
            "WHERE first_seen_ms >= ?1 AND (?2 IS NULL OR game = ?2)",
            params![
                since_ms(period),
                game,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
        )
    }

    fn title_rows(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<TitleRow>, StoreError> {
        let conn = self.lock();
        let sql = format!(
            "SELECT game, title, COUNT(*), MAX(net_profit_cents), SUM(net_profit_cents) / COUNT(*), MAX(last_seen_ms)
             FROM opportunities {filter}
             GROUP BY game, title
             ORDER BY COUNT(*) DESC, MAX(net_profit_cents) DESC, title
             LIMIT ?3"
        );
        let mut stmt = conn.prepare(&sql).map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok(TitleRow {
                    game: r.get(0)?,
                    title: r.get(1)?,
                    times: r.get(2)?,
                    best_profit_cents: r.get(3)?,
                    average_profit_cents: r.get(4)?,
                    last_seen_ms: r.get(5)?,
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    /// `title`'s history (exact title) within `period`: how often it was underpriced, per
    /// game, and its observed prices, oldest first.
    pub fn title(&self, title: &str, period: Duration) -> Result<TitleStats, StoreError> {
        let since = since_ms(period);
        let underpriced = self.title_rows(
            "WHERE first_seen_ms >= ?1 AND title = ?2",
            params![since, title, i64::MAX],
        )?;
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT game, at_ms, best_order_cents, best_offer_cents, order_count, offer_count
                 FROM prices WHERE title = ?1 AND at_ms >= ?2 ORDER BY at_ms, game",
            )
            .map_err(|e| self.error(e))?;
        let prices = stmt
            .query_map(params![title, since], |r| {
                Ok(PricePoint {
                    game: r.get(0)?,
                    at_ms: r.get(1)?,
                    best_order_cents: r.get(2)?,
                    best_offer_cents: r.get(3)?,
                    order_count: r.get(4)?,
                    offer_count: r.get(5)?,
                })
            })
            .map_err(|e| self.error(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))?;
        Ok(TitleStats {
            title: title.to_owned(),
            underpriced,
            prices,
        })
    }

    /// Rows per table: opportunities, events, prices, alerts.
    pub fn counts(&self) -> Result<[i64; 4], StoreError> {
        let conn = self.lock();
        let mut out = [0; 4];
        for (i, table) in ["opportunities", "events", "prices", "alerts"]
            .iter()
            .enumerate()
        {
            out[i] = conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .map_err(|e| self.error(e))?;
        }
        Ok(out)
    }
}
