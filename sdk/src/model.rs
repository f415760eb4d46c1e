//! The data a scan works with: listings, reference prices, opportunities and the report.
//!
//! Plain sdk-owned types (std and sdk only) so they can cross a cdylib boundary. Nothing in
//! here performs I/O or arithmetic beyond construction; pricing lives in `arbitrage`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::money::{Bps, Money};

/// A plugin's id: lowercase ASCII letters, digits and `_`, 1 to 32 characters (`csgo`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GameId(String);

/// A string that is not a valid [`GameId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a valid game id: use 1 to 32 lowercase letters, digits or '_' (like \"csgo\")"
)]
pub struct GameIdError(pub String);

impl GameId {
    /// Validates `id`.
    pub fn new(id: &str) -> Result<Self, GameIdError> {
        let ok = (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(GameId(id.to_owned()))
        } else {
            Err(GameIdError(id.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GameId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// What a plugin tells the host about its game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameInfo {
    /// Plugin id, also the `[plugins.<id>]` config table (`csgo`).
    pub id: GameId,
    /// Human name for logs and tables (`CS:GO`).
    pub display_name: String,
    /// DMarket's market `gameId` (`a8db`).
    pub market_game_id: String,
    /// The `filter.game` value of aggregated prices (`csgo`).
    pub price_game: String,
    /// The marketplace fee on a sale, in basis points.
    pub fee: Bps,
}

/// One offer for sale on the market, as parsed from a market-items page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// DMarket's item id.
    pub item_id: String,
    /// The market title (`AK-47 | Redline (Field-Tested)`).
    pub title: String,
    /// The asking price.
    pub price: Money,
    /// DMarket's suggested price, when it has one.
    pub suggested_price: Option<Money>,
    /// Game-specific attributes from `extra` (category, exterior, rarity, ...), as strings.
    pub attributes: BTreeMap<String, String>,
}

/// What the market pays and asks for one title: the reference a listing is judged against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferencePrice {
    /// The title.
    pub title: String,
    /// The best (highest) buy order, if any.
    pub best_order: Option<Money>,
    /// How many buy orders stand.
    pub order_count: u32,
    /// The best (lowest) offer, if any.
    pub best_offer: Option<Money>,
    /// How many offers stand.
    pub offer_count: u32,
    /// Recent sale prices, newest first, when they were fetched.
    pub recent_sales: Vec<Money>,
}

/// How an opportunity would be realised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// Buy the listing and sell at once into the best buy order.
    Instant,
    /// Buy the listing and relist it one cent under the best other offer.
    Relist,
}

impl Strategy {
    /// `instant` or `relist`.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Instant => "instant",
            Strategy::Relist => "relist",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The original bot's trading levels, chosen by buy price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// $0.50 to $3, 1-5% ROI.
    Boost,
    /// $3 to $10, 5-10% ROI.
    Standard,
    /// $10 to $30, 5-20% ROI.
    Medium,
    /// $30 to $100, 10-30% ROI.
    Advanced,
    /// $100 to $1000, 20-100% ROI.
    Pro,
}

impl Level {
    /// Every level, cheapest band first.
    pub const ALL: [Level; 5] = [
        Level::Boost,
        Level::Standard,
        Level::Medium,
        Level::Advanced,
        Level::Pro,
    ];

    /// The level's lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Boost => "boost",
            Level::Standard => "standard",
            Level::Medium => "medium",
            Level::Advanced => "advanced",
            Level::Pro => "pro",
        }
    }

    /// Parses a level name (case-insensitive).
    pub fn parse(name: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The buy-price band in cents, `[low, high)`.
    pub fn band_cents(self) -> (i64, i64) {
        match self {
            Level::Boost => (50, 300),
            Level::Standard => (300, 1_000),
            Level::Medium => (1_000, 3_000),
            Level::Advanced => (3_000, 10_000),
            Level::Pro => (10_000, 100_000),
        }
    }

    /// The target ROI range in basis points, `[low, high]`.
    pub fn roi_bps(self) -> (i64, i64) {
        match self {
            Level::Boost => (100, 500),
            Level::Standard => (500, 1_000),
            Level::Medium => (500, 2_000),
            Level::Advanced => (1_000, 3_000),
            Level::Pro => (2_000, 10_000),
        }
    }

    /// The level whose band holds `buy_cents`, if any.
    pub fn for_price(buy_cents: i64) -> Option<Level> {
        Level::ALL.into_iter().find(|l| {
            let (lo, hi) = l.band_cents();
            (lo..hi).contains(&buy_cents)
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A listing worth buying: the numbers that make it so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opportunity {
    /// The plugin id of the game.
    pub game: GameId,
    /// DMarket's item id of the listing to buy.
    pub item_id: String,
    /// The title.
    pub title: String,
    /// What buying costs.
    pub buy_price: Money,
    /// What it would be sold for.
    pub sell_price: Money,
    /// The marketplace fee on that sale (rounded up to the cent).
    pub fee: Money,
    /// `sell - fee - buy`.
    pub net_profit: Money,
    /// `net_profit / buy_price` in basis points.
    pub roi_bps: i64,
    /// The level the buy price falls in, if any.
    pub level: Option<Level>,
    /// How the profit is realised.
    pub strategy: Strategy,
}

/// Why a listing was not considered or not kept. Counted per report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RejectReason {
    /// The listing itself could not be parsed (bad price, missing field).
    Malformed,
    /// No reference price for its title.
    NoReference,
    /// Outside the configured price band.
    PriceBand,
    /// Matched the title blacklist.
    Blacklisted,
    /// Too few standing orders or offers.
    Illiquid,
    /// Net profit below the minimum.
    LowProfit,
    /// ROI below the minimum.
    LowRoi,
    /// ROI above the configured level's range (usually a mispriced reference).
    HighRoi,
    /// Dropped by the per-game cap on results.
    Capped,
    /// Excluded by the game's own rules (e.g. Souvenir items in CS:GO).
    GameRule,
}

impl RejectReason {
    /// The reason's snake_case name, used in logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::NoReference => "no_reference",
            RejectReason::PriceBand => "price_band",
            RejectReason::Blacklisted => "blacklisted",
            RejectReason::Illiquid => "illiquid",
            RejectReason::LowProfit => "low_profit",
            RejectReason::LowRoi => "low_roi",
            RejectReason::HighRoi => "high_roi",
            RejectReason::Capped => "capped",
            RejectReason::GameRule => "game_rule",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Counts of rejected listings by reason.
pub type Rejections = BTreeMap<RejectReason, u64>;

/// What one game's scan produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GameReport {
    /// Opportunities, best first.
    pub opportunities: Vec<Opportunity>,
    /// Listings read from the market.
    pub listings_seen: u64,
    /// Listings not kept, by reason.
    pub rejected: Rejections,
    /// Market pages read.
    pub pages: u64,
    /// API requests the plugin made (each counted once, however many retries it took).
    pub requests: u64,
    /// Requests or pages that failed and were skipped, with a short description each.
    pub errors: Vec<String>,
    /// Wall time of the scan.
    pub elapsed: Duration,
    /// True when the scan stopped early because the host cancelled it.
    pub cancelled: bool,
}

impl GameReport {
    /// Counts one rejection.
    pub fn reject(&mut self, reason: RejectReason) {
        self.reject_n(reason, 1);
    }

    /// Counts `n` rejections.
    pub fn reject_n(&mut self, reason: RejectReason, n: u64) {
        if n > 0 {
            *self.rejected.entry(reason).or_insert(0) += n;
        }
    }

    /// Total rejected listings.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn game_id_is_validated() {
        assert_eq!(GameId::new("csgo").unwrap().as_str(), "csgo");
        assert!(GameId::new("dota_2x").is_ok());
        assert!(GameId::new("").is_err());
        assert!(GameId::new("CSGO").is_err());
        assert!(GameId::new("cs-go").is_err());
        assert!(GameId::new(&"a".repeat(33)).is_err());
    }

    #[test]
    fn levels_follow_the_original_bands() {
        assert_eq!(Level::for_price(49), None);
        assert_eq!(Level::for_price(50), Some(Level::Boost));
        assert_eq!(Level::for_price(299), Some(Level::Boost));
        assert_eq!(Level::for_price(300), Some(Level::Standard));
        assert_eq!(Level::for_price(2_999), Some(Level::Medium));
        assert_eq!(Level::for_price(3_000), Some(Level::Advanced));
        assert_eq!(Level::for_price(10_000), Some(Level::Pro));
        assert_eq!(Level::for_price(100_000), None);
        assert_eq!(Level::parse(" Medium "), Some(Level::Medium));
        assert_eq!(Level::parse("gold"), None);
        assert_eq!(Level::Pro.roi_bps(), (2_000, 10_000));
    }

    #[test]
    fn report_counts_rejections_by_reason() {
        let mut r = GameReport::default();
        r.reject(RejectReason::LowProfit);
        r.reject_n(RejectReason::LowProfit, 2);
        r.reject_n(RejectReason::Malformed, 0);
        assert_eq!(r.rejected.get(&RejectReason::LowProfit), Some(&3));
        assert_eq!(r.rejected.get(&RejectReason::Malformed), None);
        assert_eq!(r.rejected_total(), 3);
    }
}
