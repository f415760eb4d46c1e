//! One opportunity as the record every output writes (JSON Lines, JSON, alerts' templates),
//! and the ROI as people read it. One shape, so the outputs cannot drift apart.

use serde::Serialize;
use skinscan_sdk::Opportunity;

/// One opportunity as a JSON Lines record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpportunityRecord<'a> {
    /// The cycle that found it.
    pub cycle: u64,
    /// When (RFC 3339, UTC).
    pub time: String,
    /// Plugin id.
    pub game: &'a str,
    /// The listing to buy.
    pub item_id: &'a str,
    /// The offer id a buy needs.
    pub offer_id: Option<&'a str>,
    /// Title.
    pub title: &'a str,
    /// When it was listed (unix seconds).
    pub listed_at: Option<i64>,
    /// `none`, `locked`, or the lock left (`3d`, `5h`); `-` when the answer did not say.
    pub trade_lock: String,
    /// Buy price in cents.
    pub buy_cents: i64,
    /// Sell price in cents.
    pub sell_cents: i64,
    /// Fee in cents.
    pub fee_cents: i64,
    /// The fee rate used, in basis points.
    pub fee_bps: u32,
    /// Where the fee came from: `fixed` (the game's), `account`, `reduced` or `market` (the
    /// other market's seller fee, `cross`).
    pub fee_source: &'static str,
    /// Net profit in cents.
    pub net_profit_cents: i64,
    /// ROI in basis points.
    pub roi_bps: i64,
    /// Level, if the price falls in one.
    pub level: Option<&'static str>,
    /// `instant`, `relist` or `cross`.
    pub strategy: &'static str,
    /// Where it sells: `dmarket` (`instant`, `relist`), `skinport` or `csfloat` (`cross`).
    pub sell_market: &'static str,
    /// Currency of every amount.
    pub currency: &'static str,
}

impl<'a> OpportunityRecord<'a> {
    /// The record of `o` found in `cycle` at `time`.
    pub fn new(cycle: u64, time: &str, o: &'a Opportunity) -> Self {
        OpportunityRecord {
            cycle,
            time: time.to_owned(),
            game: o.game.as_str(),
            item_id: &o.item_id,
            offer_id: o.offer_id.as_deref(),
            title: &o.title,
            listed_at: o.listed_at,
            trade_lock: o.trade_lock.to_string(),
            buy_cents: o.buy_price.cents(),
            sell_cents: o.sell_price.cents(),
            fee_cents: o.fee.cents(),
            fee_bps: o.fee_rate.get(),
            fee_source: o.fee_source.as_str(),
            net_profit_cents: o.net_profit.cents(),
            roi_bps: o.roi_bps,
            level: o.level.map(|l| l.as_str()),
            strategy: o.strategy.as_str(),
            sell_market: o.sell_market.as_str(),
            currency: o.buy_price.currency().code(),
        }
    }
}

/// ROI with one decimal (`1160` bps -> `11.6%`), rounded toward zero: a column reads evenly.
pub fn format_roi(bps: i64) -> String {
    let sign = if bps < 0 { "-" } else { "" };
    let abs = bps.unsigned_abs();
    format!("{sign}{}.{}%", abs / 100, (abs % 100) / 10)
}

#[cfg(test)]
mod tests {
    use skinscan_sdk::arbitrage::FeeRule;
    use skinscan_sdk::{Bps, GameId, Listing, Money, Strategy, TradeLock};

    use super::*;

    #[test]
    fn roi_reads_with_one_decimal_rounded_toward_zero() {
        assert_eq!(format_roi(3634), "36.3%");
        assert_eq!(format_roi(3000), "30.0%");
        assert_eq!(format_roi(-55), "-0.5%");
        assert_eq!(format_roi(9), "0.0%");
    }

    #[test]
    fn a_record_carries_every_amount_in_cents_and_the_listing_it_came_from() {
        let mut listing = Listing::new("i-1", "AK-47 | Redline", Money::usd(1_000));
        listing.offer_id = Some("o-1".into());
        listing.listed_at = Some(1_705_000_000);
        listing.trade_lock = TradeLock::Unlocked;
        let o = skinscan_sdk::arbitrage::opportunity(
            &GameId::new("csgo").unwrap(),
            &listing,
            Strategy::Instant,
            1_500,
            &FeeRule::fixed(Bps::new(700).unwrap()),
        );
        let r = OpportunityRecord::new(7, "2026-12-02T13:00:00Z", &o);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["cycle"], 7);
        assert_eq!(v["item_id"], "i-1");
        assert_eq!(v["offer_id"], "o-1");
        assert_eq!(v["buy_cents"], 1_000);
        assert_eq!(v["sell_cents"], 1_500);
        // 7% of $15.00 is $1.05: net 1500 - 105 - 1000.
        assert_eq!(v["fee_cents"], 105);
        assert_eq!(v["net_profit_cents"], 395);
        assert_eq!(v["fee_bps"], 700);
        assert_eq!(v["strategy"], "instant");
        assert_eq!(v["sell_market"], "dmarket");
        assert_eq!(v["currency"], "USD");
        assert_eq!(v["trade_lock"], "none");
    }
}
