//! The data a scan works with: listings, reference prices, opportunities and the report.
//!
//! Plain sdk-owned types (std and sdk only) so they can cross a cdylib boundary. Nothing in
//! here performs I/O or arithmetic beyond construction; pricing lives in `arbitrage`.
//!
//! Long because it is the whole vocabulary of the boundary (listing, reference, opportunity,
//! report, their enums and wire counts: about 520 lines) and these types' tests.

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

/// A game's identity as constants, checked when the constant is built (at compile time in a
/// `const`): the id's characters and the fee's range. [`GameSpec::info`] makes the
/// [`GameInfo`]; `aggregated-prices` uses the market gameId, as DMarket's own clients do.
///
/// ```
/// use skinscan_sdk::model::GameSpec;
/// const RUST: GameSpec = GameSpec::new("rust", "Rust", "rust", 770);
/// assert_eq!(RUST.info().fee.get(), 770);
/// ```
///
/// ```compile_fail
/// // An upper-case id does not compile.
/// const BAD: skinscan_sdk::model::GameSpec = skinscan_sdk::model::GameSpec::new("CSGO", "CS:GO", "a8db", 700);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GameSpec {
    /// Plugin id (`csgo`).
    pub id: &'static str,
    /// Display name (`CS:GO`).
    pub display_name: &'static str,
    /// DMarket's `gameId` (`a8db`).
    pub market_game_id: &'static str,
    /// The fallback fee, in basis points.
    pub fee_bps: u32,
}

impl GameSpec {
    /// A spec; panics (at compile time in a `const`) when `id` is not 1 to 32 lowercase
    /// letters, digits or `_`, or the fee is over 100%.
    pub const fn new(
        id: &'static str,
        display_name: &'static str,
        market_game_id: &'static str,
        fee_bps: u32,
    ) -> GameSpec {
        let b = id.as_bytes();
        assert!(
            !b.is_empty() && b.len() <= 32,
            "a game id has 1 to 32 characters"
        );
        let mut i = 0;
        while i < b.len() {
            assert!(
                b[i].is_ascii_lowercase() || b[i].is_ascii_digit() || b[i] == b'_',
                "a game id is lowercase letters, digits or '_'"
            );
            i += 1;
        }
        assert!(fee_bps <= 10_000, "a fee is at most 100% (10000 bps)");
        GameSpec {
            id,
            display_name,
            market_game_id,
            fee_bps,
        }
    }

    /// The [`GameInfo`] the host reads.
    pub fn info(&self) -> GameInfo {
        GameInfo {
            // Checked by `new`.
            id: GameId(self.id.to_owned()),
            display_name: self.display_name.to_owned(),
            market_game_id: self.market_game_id.to_owned(),
            price_game: self.market_game_id.to_owned(),
            fee: Bps::new(self.fee_bps).unwrap_or(Bps::MAX),
        }
    }
}

/// What a plugin tells the host about its game. Made by [`GameSpec::info`] or
/// [`GameInfo::new`] (a new field then breaks no plugin).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GameInfo {
    /// Plugin id, also the `[plugins.<id>]` config table (`csgo`).
    pub id: GameId,
    /// Human name for logs and tables (`CS:GO`).
    pub display_name: String,
    /// DMarket's market `gameId` (`a8db`).
    pub market_game_id: String,
    /// The default `filter.game` value of aggregated prices: the market `gameId` (`a8db`), as
    /// DMarket's spec example and every independent client use. Overridable per game with
    /// the `price_game` setting.
    pub price_game: String,
    /// The marketplace fee on a sale, in basis points.
    pub fee: Bps,
}

impl GameInfo {
    /// A game's identity; aggregated prices use the market gameId (`price_game`), which a
    /// plugin may still change afterwards.
    pub fn new(
        id: GameId,
        display_name: impl Into<String>,
        market_game_id: impl Into<String>,
        fee: Bps,
    ) -> Self {
        let market_game_id = market_game_id.into();
        GameInfo {
            id,
            display_name: display_name.into(),
            price_game: market_game_id.clone(),
            market_game_id,
            fee,
        }
    }
}

/// One offer for sale on the market, as parsed from a listings page (v1 market items or v2
/// offers). Build one with [`Listing::new`] and set the optional fields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Listing {
    /// DMarket's item id (v2 answers carry only the offer id, which is used here then).
    pub item_id: String,
    /// The market title (`AK-47 | Redline (Field-Tested)`).
    pub title: String,
    /// The asking price.
    pub price: Money,
    /// DMarket's suggested price, when it has one (v1 only).
    pub suggested_price: Option<Money>,
    /// The offer id a buy needs (v1 `extra.offerId`, v2 `offerId`).
    pub offer_id: Option<String>,
    /// When the offer was listed, in unix seconds (v1 `createdAt`, v2 RFC 3339 `createdAt`).
    pub listed_at: Option<i64>,
    /// Whether the item can be traded at once.
    pub trade_lock: TradeLock,
    /// `extra.tradable` / `attributes.tradable`, when the answer says.
    pub tradable: Option<bool>,
    /// CS:GO wear as a number from 0 to 1 (not money: a float is fine here).
    pub float_value: Option<f64>,
    /// CS:GO exterior as DMarket writes it (`field-tested`).
    pub exterior: Option<String>,
    /// Other game-specific attributes from `extra` (category, quality, ...), as strings.
    pub attributes: BTreeMap<String, String>,
}

impl Listing {
    /// A listing with only its id, title and price known; every optional field empty.
    pub fn new(item_id: impl Into<String>, title: impl Into<String>, price: Money) -> Self {
        Listing {
            item_id: item_id.into(),
            title: title.into(),
            price,
            suggested_price: None,
            offer_id: None,
            listed_at: None,
            trade_lock: TradeLock::Unknown,
            tradable: None,
            float_value: None,
            exterior: None,
            attributes: BTreeMap::new(),
        }
    }

    /// True when the item cannot be resold at once: under a trade lock, or not tradable.
    pub fn is_trade_locked(&self) -> bool {
        self.trade_lock.is_locked() || self.tradable == Some(false)
    }
}

/// Whether an item may be traded now. DMarket's v1 answers give the lock in days
/// (`extra.tradeLock`) and seconds (`extra.tradeLockDuration`); v2 only a `locked` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TradeLock {
    /// The answer did not say.
    #[default]
    Unknown,
    /// Tradable now.
    Unlocked,
    /// Locked; for this many more seconds when the answer said.
    Locked {
        /// Seconds until the lock ends, when known.
        seconds: Option<u64>,
    },
}

impl TradeLock {
    /// True for [`TradeLock::Locked`].
    pub fn is_locked(self) -> bool {
        matches!(self, TradeLock::Locked { .. })
    }

    /// The remaining lock in seconds: `Some(0)` when unlocked, `None` when unknown.
    pub fn seconds(self) -> Option<u64> {
        match self {
            TradeLock::Unknown => None,
            TradeLock::Unlocked => Some(0),
            TradeLock::Locked { seconds } => seconds,
        }
    }
}

impl fmt::Display for TradeLock {
    /// `-` (unknown), `none`, `locked`, `3d`, `5h`, `20m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match *self {
            TradeLock::Unknown => "-".to_owned(),
            TradeLock::Unlocked => "none".to_owned(),
            TradeLock::Locked { seconds: None } => "locked".to_owned(),
            TradeLock::Locked { seconds: Some(s) } if s >= 86_400 => {
                format!("{}d", s.div_ceil(86_400))
            }
            TradeLock::Locked { seconds: Some(s) } if s >= 3_600 => {
                format!("{}h", s.div_ceil(3_600))
            }
            TradeLock::Locked { seconds: Some(s) } => format!("{}m", s.div_ceil(60).max(1)),
        };
        f.pad(&text)
    }
}

/// Where the fee applied to an opportunity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FeeSource {
    /// The plugin's fixed per-game fee (or the `fee_percent` setting): a fallback.
    #[default]
    Fixed,
    /// The account's default fee, read from `customized-fees`.
    Account,
    /// A reduced fee the account has for this title, read from `customized-fees`.
    Reduced,
    /// The seller fee of the market a `cross` opportunity sells on (`[markets.<name>]
    /// fee_percent`).
    Market,
}

impl FeeSource {
    /// `fixed`, `account`, `reduced` or `market`.
    pub fn as_str(self) -> &'static str {
        match self {
            FeeSource::Fixed => "fixed",
            FeeSource::Account => "account",
            FeeSource::Reduced => "reduced",
            FeeSource::Market => "market",
        }
    }
}

impl fmt::Display for FeeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a scan saw of the wire format: entries of an answer that did not parse (counted by
/// endpoint and reason, with one example each), and the forms seen of fields whose shape is
/// uncertain (`aggregated prices` / `price=commonMoney`). Nothing that fails to parse is
/// silent: the host shows these in the game's summary, the JSON report and a warning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WireStats {
    /// Entries dropped, by (endpoint, reason).
    pub dropped: BTreeMap<(String, String), u64>,
    /// The first dropped entry per endpoint, as received (truncated to 300 bytes).
    pub examples: BTreeMap<String, String>,
    /// Forms seen of uncertain fields, by (endpoint, form), e.g. (`last sales`,
    /// `price=decimal dollars`).
    pub forms: BTreeMap<(String, String), u64>,
}

/// The longest example of an unrecognised entry kept, in bytes.
pub const WIRE_EXAMPLE_MAX: usize = 300;

impl WireStats {
    /// Counts one dropped entry of `endpoint` for `reason`; keeps `raw` as the endpoint's
    /// example when it is the first.
    pub fn drop_entry(&mut self, endpoint: &str, reason: &str, raw: &str) {
        *self
            .dropped
            .entry((endpoint.to_owned(), reason.to_owned()))
            .or_insert(0) += 1;
        self.examples
            .entry(endpoint.to_owned())
            .or_insert_with(|| truncate_bytes(raw, WIRE_EXAMPLE_MAX));
    }

    /// Counts one sighting of `form` on `endpoint`.
    pub fn saw(&mut self, endpoint: &str, form: &str) {
        *self
            .forms
            .entry((endpoint.to_owned(), form.to_owned()))
            .or_insert(0) += 1;
    }

    /// Adds `other`'s counts (the first example per endpoint stays).
    pub fn merge(&mut self, other: &WireStats) {
        for (k, n) in &other.dropped {
            *self.dropped.entry(k.clone()).or_insert(0) += n;
        }
        for (k, v) in &other.examples {
            self.examples.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, n) in &other.forms {
            *self.forms.entry(k.clone()).or_insert(0) += n;
        }
    }

    /// Entries dropped in all.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// Entries of `endpoint` dropped for `reason`.
    pub fn dropped_because(&self, endpoint: &str, reason: &str) -> u64 {
        self.dropped
            .get(&(endpoint.to_owned(), reason.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Times `endpoint` was seen answering in `form`.
    pub fn seen(&self, endpoint: &str, form: &str) -> u64 {
        self.forms
            .get(&(endpoint.to_owned(), form.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Entries of `endpoint` dropped.
    pub fn dropped_for(&self, endpoint: &str) -> u64 {
        self.dropped
            .iter()
            .filter(|((e, _), _)| e == endpoint)
            .map(|(_, n)| n)
            .sum()
    }

    /// `market items: no title x2, aggregated prices: bad price x40`, or empty.
    pub fn dropped_summary(&self) -> String {
        self.dropped
            .iter()
            .map(|((endpoint, reason), n)| format!("{endpoint}: {reason} x{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut.
pub fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// What the market pays and asks for one title: the reference a listing is judged against.
/// Build one with [`ReferencePrice::new`] and set the fields (a new field then breaks no
/// plugin).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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

impl ReferencePrice {
    /// A title with no orders, offers or sales known yet.
    pub fn new(title: impl Into<String>) -> Self {
        ReferencePrice {
            title: title.into(),
            best_order: None,
            order_count: 0,
            best_offer: None,
            offer_count: 0,
            recent_sales: Vec::new(),
        }
    }
}

/// How an opportunity would be realised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// Buy the listing and sell at once into the best buy order.
    Instant,
    /// Buy the listing and relist it one cent under the best other offer.
    Relist,
    /// Buy the listing on DMarket and resell it on another market at that market's reference
    /// ([`Opportunity::sell_market`]), judged against the snapshot the host keeps of it.
    Cross,
}

impl Strategy {
    /// `instant`, `relist` or `cross`.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Instant => "instant",
            Strategy::Relist => "relist",
            Strategy::Cross => "cross",
        }
    }
}

/// A market an opportunity sells on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum Market {
    /// DMarket itself (`instant`, `relist`).
    #[default]
    Dmarket,
    /// Skinport (`cross`).
    Skinport,
    /// CSFloat (`cross`).
    Csfloat,
}

impl Market {
    /// Every market, in the order tables list them.
    pub const ALL: [Market; 3] = [Market::Dmarket, Market::Skinport, Market::Csfloat];

    /// `dmarket`, `skinport`, `csfloat`: the name in config tables, JSON and history.
    pub fn as_str(self) -> &'static str {
        match self {
            Market::Dmarket => "dmarket",
            Market::Skinport => "skinport",
            Market::Csfloat => "csfloat",
        }
    }

    /// The market named `name` (as [`Market::as_str`] spells it).
    pub fn parse(name: &str) -> Option<Market> {
        Market::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
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
#[non_exhaustive]
pub struct Opportunity {
    /// The plugin id of the game.
    pub game: GameId,
    /// DMarket's item id of the listing to buy.
    pub item_id: String,
    /// The offer id a buy needs, when the answer carried it.
    pub offer_id: Option<String>,
    /// The title.
    pub title: String,
    /// When the listing was created (unix seconds), when known.
    pub listed_at: Option<i64>,
    /// The listing's trade lock: an `instant` opportunity is never locked unless allowed.
    pub trade_lock: TradeLock,
    /// What buying costs.
    pub buy_price: Money,
    /// What it would be sold for.
    pub sell_price: Money,
    /// The marketplace fee on that sale (rounded up to the cent).
    pub fee: Money,
    /// The fee rate applied.
    pub fee_rate: Bps,
    /// Where that rate came from.
    pub fee_source: FeeSource,
    /// `sell - fee - buy`.
    pub net_profit: Money,
    /// `net_profit / buy_price` in basis points.
    pub roi_bps: i64,
    /// The level the buy price falls in, if any.
    pub level: Option<Level>,
    /// How the profit is realised.
    pub strategy: Strategy,
    /// Where it sells: DMarket for `instant` and `relist`, the other market for `cross`.
    pub sell_market: Market,
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
    /// Only `instant` could profit, and the item is trade locked (cannot be resold at once).
    TradeLocked,
    /// The same listing came back on another page (a repeating or cycling cursor): judged
    /// once, never reported twice.
    Duplicate,
    /// `cross` only: the other market's snapshot is older than its `max_age` (or was never
    /// fetched), so it was not used.
    StaleReference,
    /// `cross` only: the title's price depends on a Doppler phase that is not known on both
    /// sides (the listing's, or the market's pooled price).
    PhaseUnknown,
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
            RejectReason::TradeLocked => "trade_locked",
            RejectReason::Duplicate => "duplicate",
            RejectReason::StaleReference => "stale_reference",
            RejectReason::PhaseUnknown => "phase_unknown",
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

/// What one game's scan produced. Start from `GameReport::default()` and fill it in (a new
/// field then breaks no plugin).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
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
    /// Answer entries that did not parse, and forms seen of uncertain fields.
    pub wire: WireStats,
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
    fn trade_locks_read_and_print() {
        assert!(!TradeLock::Unknown.is_locked());
        assert!(TradeLock::Locked { seconds: None }.is_locked());
        assert_eq!(TradeLock::Unlocked.seconds(), Some(0));
        assert_eq!(
            TradeLock::Locked {
                seconds: Some(3 * 86_400)
            }
            .to_string(),
            "3d"
        );
        assert_eq!(
            TradeLock::Locked {
                seconds: Some(3_601)
            }
            .to_string(),
            "2h"
        );
        assert_eq!(TradeLock::Locked { seconds: Some(5) }.to_string(), "1m");
        assert_eq!(TradeLock::Locked { seconds: None }.to_string(), "locked");
        let mut l = Listing::new("i", "t", Money::usd(1));
        assert!(!l.is_trade_locked());
        l.tradable = Some(false);
        assert!(l.is_trade_locked());
    }

    #[test]
    fn wire_stats_count_by_endpoint_and_reason_and_keep_one_example() {
        let mut w = WireStats::default();
        w.drop_entry("aggregated prices", "bad price", r#"{"title":"A"}"#);
        w.drop_entry("aggregated prices", "bad price", r#"{"title":"B"}"#);
        let mut other = WireStats::default();
        other.drop_entry("market items", "no title", &"x".repeat(1_000));
        other.saw("last sales", "price=decimal dollars");
        w.merge(&other);
        assert_eq!(w.dropped_total(), 3);
        assert_eq!(w.dropped_for("aggregated prices"), 2);
        assert_eq!(w.examples["aggregated prices"], r#"{"title":"A"}"#);
        assert_eq!(
            w.examples["market items"].len(),
            WIRE_EXAMPLE_MAX + "…".len()
        );
        assert_eq!(
            w.dropped_summary(),
            "aggregated prices: bad price x2, market items: no title x1"
        );
        assert_eq!(
            w.forms[&("last sales".into(), "price=decimal dollars".into())],
            1
        );
    }

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
