//! Fee-aware arbitrage evaluation shared by every game: strategies, filters, levels, ranking.
//!
//! Given a listing and the reference price of its title, decide whether buying it makes money
//! and how much. All arithmetic is in integer cents and basis points; the fee is rounded up.
//! This module does no I/O and knows nothing about a particular game.
//!
//! Long because its unit tests (about 410 lines) sit beside the evaluation they pin down cent
//! by cent; the code itself is about 430 lines.

use std::collections::BTreeMap;

use crate::model::{
    FeeSource, GameId, GameReport, Level, Listing, Market, Opportunity, ReferencePrice,
    RejectReason, Strategy,
};
use crate::money::{Bps, Money};

/// A title blacklist: plain entries match as case-insensitive substrings, entries with `*` or
/// `?` as case-insensitive globs over the whole title.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blacklist {
    substrings: Vec<String>,
    globs: Vec<Vec<char>>,
}

impl Blacklist {
    /// A blacklist of `patterns`.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Self {
        let mut b = Blacklist::default();
        for p in patterns {
            let p = p.as_ref().trim().to_lowercase();
            if p.is_empty() {
                continue;
            }
            if p.contains(['*', '?']) {
                b.globs.push(p.chars().collect());
            } else {
                b.substrings.push(p);
            }
        }
        b
    }

    /// True when `title` is blacklisted.
    pub fn matches(&self, title: &str) -> bool {
        if self.substrings.is_empty() && self.globs.is_empty() {
            return false;
        }
        let lower = title.to_lowercase();
        self.substrings.iter().any(|s| lower.contains(s.as_str()))
            || (!self.globs.is_empty() && {
                let t: Vec<char> = lower.chars().collect();
                self.globs.iter().any(|g| glob_match(g, &t))
            })
    }
}

/// Iterative glob match with `*` (any run) and `?` (one char), linear in practice.
fn glob_match(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Which listings are worth reporting. Every amount is in cents, every rate in basis points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filters {
    /// Buy price band `[min, max]` in cents.
    pub price_band: (i64, i64),
    /// Minimum net profit in cents.
    pub min_profit_cents: i64,
    /// Minimum ROI in basis points.
    pub min_roi_bps: i64,
    /// Maximum ROI in basis points (a level's upper bound); `None` for no limit.
    pub max_roi_bps: Option<i64>,
    /// Minimum standing buy orders (for `instant`) on the title.
    pub min_orders: u32,
    /// Minimum standing offers on the title (market depth).
    pub min_offers: u32,
    /// Titles never bought.
    pub blacklist: Blacklist,
    /// Strategies tried; each listing keeps its most profitable one.
    pub strategies: Vec<Strategy>,
    /// Most opportunities kept per game, after ranking.
    pub max_results: usize,
    /// Let `instant` count a trade-locked (or untradable) item as an instant resale. Off by
    /// default: a locked item cannot be resold at once.
    pub allow_locked_instant: bool,
}

impl Default for Filters {
    /// $0.50 to $1000, at least 1 cent and 1% ROI, every strategy (`cross` judges only when
    /// the host holds other markets' snapshots), 50 results.
    fn default() -> Self {
        Filters {
            price_band: (50, 100_000),
            min_profit_cents: 1,
            min_roi_bps: 100,
            max_roi_bps: None,
            min_orders: 1,
            min_offers: 0,
            blacklist: Blacklist::default(),
            strategies: vec![Strategy::Instant, Strategy::Relist, Strategy::Cross],
            max_results: 50,
            allow_locked_instant: false,
        }
    }
}

impl Filters {
    /// Narrows the band and ROI range to `level`'s.
    pub fn with_level(mut self, level: Level) -> Self {
        self.price_band = {
            let (lo, hi) = level.band_cents();
            (lo, hi - 1)
        };
        let (roi_lo, roi_hi) = level.roi_bps();
        self.min_roi_bps = self.min_roi_bps.max(roi_lo);
        self.max_roi_bps = Some(roi_hi);
        self
    }

    /// The checks that need no reference price: blacklist and band. Cheap, done first.
    pub fn admit(&self, listing: &Listing) -> Result<(), RejectReason> {
        if self.blacklist.matches(&listing.title) {
            return Err(RejectReason::Blacklisted);
        }
        let p = listing.price.cents();
        if p < self.price_band.0 || p > self.price_band.1 {
            return Err(RejectReason::PriceBand);
        }
        Ok(())
    }
}

/// The numbers of selling at `sell` what was bought at `buy`, with `fee` on the sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deal {
    /// The fee in cents, rounded up.
    pub fee_cents: i64,
    /// `sell - fee - buy` in cents.
    pub net_cents: i64,
    /// `net / buy` in basis points (0 when buy is 0).
    pub roi_bps: i64,
}

/// The account's default fee from `customized-fees`: a rate and a minimum amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountFee {
    /// The rate.
    pub rate: Bps,
    /// The least fee charged on a sale, in cents.
    pub min_cents: i64,
}

/// A reduced fee the account has on one title, within a price range, until it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReducedFee {
    /// The rate.
    pub rate: Bps,
    /// Applies from this sale price, in cents.
    pub min_price_cents: Option<i64>,
    /// Applies up to this sale price, in cents.
    pub max_price_cents: Option<i64>,
    /// Unix seconds after which it no longer applies.
    pub expires_at: Option<i64>,
}

/// The account's fees as read from `customized-fees`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeeSchedule {
    /// The default fee, when the answer had one.
    pub default: Option<AccountFee>,
    /// Reduced fees by exact title.
    pub reduced: BTreeMap<String, Vec<ReducedFee>>,
}

impl FeeSchedule {
    /// The fee on selling `title` at `sell_cents` at unix time `now`: the lowest reduced
    /// fee in force for the title, else the account's default; `Fixed` at 0% when the
    /// schedule has neither (callers use [`Fees`], which falls back to the game's fee).
    pub fn rule_for(&self, title: &str, sell_cents: i64, now: i64) -> FeeRule {
        let reduced = self
            .reduced
            .get(title)
            .into_iter()
            .flatten()
            .filter(|r| {
                r.min_price_cents.is_none_or(|m| sell_cents >= m)
                    && r.max_price_cents.is_none_or(|m| sell_cents <= m)
                    && r.expires_at.is_none_or(|t| t > now)
            })
            .min_by_key(|r| r.rate);
        let min_cents = self.default.map_or(0, |d| d.min_cents);
        match (reduced, self.default) {
            (Some(r), _) => FeeRule {
                rate: r.rate,
                min_cents,
                source: FeeSource::Reduced,
            },
            (None, Some(d)) => FeeRule {
                rate: d.rate,
                min_cents,
                source: FeeSource::Account,
            },
            (None, None) => FeeRule::fixed(Bps::new(0).unwrap_or(Bps::MAX)),
        }
    }
}

/// The fee applied to one sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeRule {
    /// The rate.
    pub rate: Bps,
    /// The least fee, in cents.
    pub min_cents: i64,
    /// Where it came from.
    pub source: FeeSource,
}

impl FeeRule {
    /// A fixed rate with no minimum (the game's fallback fee).
    pub const fn fixed(rate: Bps) -> FeeRule {
        FeeRule {
            rate,
            min_cents: 0,
            source: FeeSource::Fixed,
        }
    }

    /// The fee on a sale at `sell_cents`, rounded up, at least the minimum.
    pub fn fee_on(&self, sell_cents: i64) -> i64 {
        if sell_cents <= 0 {
            return 0;
        }
        self.rate.fee_on(sell_cents).max(self.min_cents)
    }
}

/// The fees a scan evaluates with: the game's fixed fee, and the account's schedule when it
/// was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fees {
    /// The game's fee (or `fee_percent`), used when no schedule is known.
    pub fallback: Bps,
    /// The account's schedule.
    pub schedule: Option<FeeSchedule>,
    /// Unix seconds at which reduced fees' expiry is judged.
    pub now: i64,
}

impl Fees {
    /// Only the fixed fee.
    pub fn fixed(fallback: Bps) -> Fees {
        Fees {
            fallback,
            schedule: None,
            now: 0,
        }
    }

    /// The rule for selling `title` at `sell_cents`.
    pub fn rule_for(&self, title: &str, sell_cents: i64) -> FeeRule {
        match &self.schedule {
            Some(s) if s.default.is_some() || s.reduced.contains_key(title) => {
                let rule = s.rule_for(title, sell_cents, self.now);
                if rule.source == FeeSource::Fixed {
                    FeeRule::fixed(self.fallback)
                } else {
                    rule
                }
            }
            _ => FeeRule::fixed(self.fallback),
        }
    }
}

/// `net = sell × (1 − fee) − buy`, with the fee rounded up to the cent.
pub fn deal(buy_cents: i64, sell_cents: i64, fee: Bps) -> Deal {
    deal_with(buy_cents, sell_cents, &FeeRule::fixed(fee))
}

/// [`deal`] under a full fee rule (rate, minimum).
pub fn deal_with(buy_cents: i64, sell_cents: i64, fee: &FeeRule) -> Deal {
    let fee_cents = fee.fee_on(sell_cents);
    let net_cents = sell_cents - fee_cents - buy_cents;
    Deal {
        fee_cents,
        net_cents,
        roi_bps: Bps::ratio(net_cents, buy_cents).unwrap_or(0),
    }
}

/// The sale price for `strategy`, or `None` when the reference gives none.
///
/// - `instant`: the best buy order.
/// - `relist`: one cent under the best other offer, i.e. the best offer when it is above this
///   listing's own price (if the listing is itself the best offer, the next one is unknown);
///   otherwise the listing's suggested price.
pub fn sell_price(
    strategy: Strategy,
    listing: &Listing,
    reference: &ReferencePrice,
) -> Option<i64> {
    match strategy {
        Strategy::Instant => reference.best_order.map(Money::cents),
        Strategy::Relist => match reference.best_offer {
            Some(offer) if offer.cents() > listing.price.cents() => Some(offer.cents() - 1),
            _ => listing.suggested_price.map(Money::cents),
        },
        // Judged against another market's snapshot ([`evaluate_cross`]), not DMarket's.
        Strategy::Cross => None,
    }
}

/// Evaluates one admitted listing against its title's reference price: the most profitable of
/// the enabled strategies, or the reason it is not an opportunity. `instant` is skipped for a
/// trade-locked or untradable item unless `filters.allow_locked_instant`.
pub fn evaluate_listing(
    game: &GameId,
    listing: &Listing,
    reference: &ReferencePrice,
    fees: &Fees,
    filters: &Filters,
) -> Result<Opportunity, RejectReason> {
    if reference.offer_count < filters.min_offers {
        return Err(RejectReason::Illiquid);
    }
    let buy = listing.price.cents();
    let mut best: Option<(Strategy, i64, Deal, FeeRule)> = None;
    let mut too_few_orders = false;
    let mut locked_out = false;
    for &strategy in &filters.strategies {
        if strategy == Strategy::Instant {
            if listing.is_trade_locked() && !filters.allow_locked_instant {
                locked_out = true;
                continue;
            }
            if reference.order_count < filters.min_orders {
                too_few_orders = true;
                continue;
            }
        }
        let Some(sell) = sell_price(strategy, listing, reference) else {
            continue;
        };
        let rule = fees.rule_for(&listing.title, sell);
        let d = deal_with(buy, sell, &rule);
        if best.is_none_or(|(_, _, b, _)| d.net_cents > b.net_cents) {
            best = Some((strategy, sell, d, rule));
        }
    }
    let Some((strategy, sell, d, rule)) = best else {
        return Err(if locked_out {
            RejectReason::TradeLocked
        } else if too_few_orders {
            RejectReason::Illiquid
        } else {
            RejectReason::NoReference
        });
    };
    if d.net_cents < filters.min_profit_cents.max(1) {
        return Err(RejectReason::LowProfit);
    }
    if d.roi_bps < filters.min_roi_bps {
        return Err(RejectReason::LowRoi);
    }
    if filters.max_roi_bps.is_some_and(|max| d.roi_bps > max) {
        return Err(RejectReason::HighRoi);
    }
    Ok(opportunity(game, listing, strategy, sell, &rule))
}

/// The opportunity of buying `listing` and selling it at `sell_cents` with `strategy` under
/// `rule`, whatever the filters say (for tests and tools; scans use [`evaluate_listing`]).
pub fn opportunity(
    game: &GameId,
    listing: &Listing,
    strategy: Strategy,
    sell_cents: i64,
    rule: &FeeRule,
) -> Opportunity {
    let buy = listing.price.cents();
    let d = deal_with(buy, sell_cents, rule);
    let currency = listing.price.currency();
    Opportunity {
        game: game.clone(),
        item_id: listing.item_id.clone(),
        offer_id: listing.offer_id.clone(),
        title: listing.title.clone(),
        listed_at: listing.listed_at,
        trade_lock: listing.trade_lock,
        buy_price: listing.price,
        sell_price: Money::from_cents(sell_cents, currency),
        fee: Money::from_cents(d.fee_cents, currency),
        fee_rate: rule.rate,
        fee_source: rule.source,
        net_profit: Money::from_cents(d.net_cents, currency),
        roi_bps: d.roi_bps,
        level: Level::for_price(buy),
        strategy,
        sell_market: Market::Dmarket,
    }
}

/// Best first: net profit, then ROI, then item id (so equal deals order deterministically).
pub fn rank(opportunities: &mut [Opportunity]) {
    opportunities.sort_by(|a, b| {
        b.net_profit
            .cents()
            .cmp(&a.net_profit.cents())
            .then(b.roi_bps.cmp(&a.roi_bps))
            .then_with(|| a.item_id.cmp(&b.item_id))
    });
}

/// Ranks the report's opportunities and keeps the best `max_results`, counting the rest as
/// [`RejectReason::Capped`].
pub fn rank_and_cap(report: &mut GameReport, max_results: usize) {
    rank(&mut report.opportunities);
    let extra = report.opportunities.len().saturating_sub(max_results);
    report.opportunities.truncate(max_results);
    report.reject_n(RejectReason::Capped, extra as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(id: &str, title: &str, cents: i64, suggested: Option<i64>) -> Listing {
        let mut l = Listing::new(id, title, Money::usd(cents));
        l.suggested_price = suggested.map(Money::usd);
        l
    }

    fn fees() -> Fees {
        Fees::fixed(FEE)
    }

    fn reference(
        order: Option<i64>,
        orders: u32,
        offer: Option<i64>,
        offers: u32,
    ) -> ReferencePrice {
        ReferencePrice {
            title: "T".into(),
            best_order: order.map(Money::usd),
            order_count: orders,
            best_offer: offer.map(Money::usd),
            offer_count: offers,
            recent_sales: vec![],
        }
    }

    fn game() -> GameId {
        GameId::new("csgo").unwrap()
    }

    const FEE: Bps = match Bps::new(700) {
        Ok(b) => b,
        Err(_) => panic!("700 bps is valid"),
    };

    #[test]
    fn instant_profit_is_order_minus_rounded_up_fee_minus_buy() {
        // Buy $10.00, best order $12.00: fee 7% of 1200 = 84, net = 1200 - 84 - 1000 = 116.
        let f = Filters {
            strategies: vec![Strategy::Instant],
            ..Filters::default()
        };
        let o = evaluate_listing(
            &game(),
            &listing("1", "T", 1000, None),
            &reference(Some(1200), 3, Some(1000), 5),
            &fees(),
            &f,
        )
        .unwrap();
        assert_eq!(o.strategy, Strategy::Instant);
        assert_eq!(o.sell_price, Money::usd(1200));
        assert_eq!(o.fee, Money::usd(84));
        assert_eq!(o.net_profit, Money::usd(116));
        assert_eq!(o.roi_bps, 1160);
        assert_eq!(o.level, Some(Level::Medium));
    }

    #[test]
    fn instant_never_counts_a_trade_locked_item_unless_allowed() {
        use crate::model::TradeLock;
        let reference = reference(Some(1500), 3, Some(1000), 5);
        let mut locked = listing("1", "T", 1000, None);
        locked.trade_lock = TradeLock::Locked {
            seconds: Some(86_400),
        };
        let instant_only = Filters {
            strategies: vec![Strategy::Instant],
            ..Filters::default()
        };
        assert_eq!(
            evaluate_listing(&game(), &locked, &reference, &fees(), &instant_only),
            Err(RejectReason::TradeLocked)
        );
        let mut untradable = listing("2", "T", 1000, None);
        untradable.tradable = Some(false);
        assert_eq!(
            evaluate_listing(&game(), &untradable, &reference, &fees(), &instant_only),
            Err(RejectReason::TradeLocked)
        );
        // Relisting is not an instant resale: a locked item may still be relisted.
        let both = Filters {
            min_orders: 0,
            ..Filters::default()
        };
        let reference = ReferencePrice {
            best_offer: Some(Money::usd(1400)),
            ..reference
        };
        let o = evaluate_listing(&game(), &locked, &reference, &fees(), &both).unwrap();
        assert_eq!(o.strategy, Strategy::Relist);
        assert_eq!(o.trade_lock, locked.trade_lock);
        let allowed = Filters {
            allow_locked_instant: true,
            ..instant_only
        };
        let o = evaluate_listing(&game(), &locked, &reference, &fees(), &allowed).unwrap();
        assert_eq!(o.strategy, Strategy::Instant);
    }

    #[test]
    fn reduced_and_account_fees_apply_per_title_with_their_minimum() {
        let mut schedule = FeeSchedule {
            default: Some(AccountFee {
                rate: Bps::new(500).unwrap(),
                min_cents: 30,
            }),
            ..FeeSchedule::default()
        };
        schedule.reduced.insert(
            "Cheap Fee".into(),
            vec![ReducedFee {
                rate: Bps::new(200).unwrap(),
                min_price_cents: Some(100),
                max_price_cents: Some(5_000),
                expires_at: Some(2_000),
            }],
        );
        let fees = Fees {
            fallback: FEE,
            schedule: Some(schedule),
            now: 1_000,
        };
        let instant = Filters {
            strategies: vec![Strategy::Instant],
            ..Filters::default()
        };
        let reference = reference(Some(1200), 3, Some(1300), 5);
        // Reduced: 2% of 1200 = 24, under the 30-cent minimum -> 30; net 1200 - 30 - 1000.
        let o = evaluate_listing(
            &game(),
            &listing("1", "Cheap Fee", 1000, None),
            &reference,
            &fees,
            &instant,
        )
        .unwrap();
        assert_eq!(
            (o.fee, o.fee_source, o.fee_rate.get()),
            (Money::usd(30), FeeSource::Reduced, 200)
        );
        assert_eq!(o.net_profit, Money::usd(170));
        // Another title: the account's 5% = 60.
        let o = evaluate_listing(
            &game(),
            &listing("2", "Other", 1000, None),
            &reference,
            &fees,
            &instant,
        )
        .unwrap();
        assert_eq!((o.fee, o.fee_source), (Money::usd(60), FeeSource::Account));
        // Expired, or out of its price range: the account fee.
        let later = Fees {
            now: 2_000,
            ..fees.clone()
        };
        assert_eq!(
            later.rule_for("Cheap Fee", 1_200).source,
            FeeSource::Account
        );
        assert_eq!(fees.rule_for("Cheap Fee", 6_000).source, FeeSource::Account);
        // No schedule: the game's fixed fee.
        let o = evaluate_listing(
            &game(),
            &listing("3", "Other", 1000, None),
            &reference,
            &Fees::fixed(FEE),
            &instant,
        )
        .unwrap();
        assert_eq!((o.fee, o.fee_source), (Money::usd(84), FeeSource::Fixed));
    }

    #[test]
    fn fee_rounding_is_conservative() {
        // Sell $12.51: 7% = 87.57 -> 88 cents, net = 1251 - 88 - 1000 = 163.
        assert_eq!(
            deal(1000, 1251, FEE),
            Deal {
                fee_cents: 88,
                net_cents: 163,
                roi_bps: 1630
            }
        );
        // 7.35% of $3.33 = 24.4755 -> 25; net = 333 - 25 - 300 = 8; ROI = 8/300 = 266 bps.
        assert_eq!(
            deal(300, 333, Bps::new(735).unwrap()),
            Deal {
                fee_cents: 25,
                net_cents: 8,
                roi_bps: 266
            }
        );
    }

    #[test]
    fn relist_sells_one_cent_under_the_best_other_offer() {
        // Buy $8.00, best other offer $10.00 -> sell 999, fee 70 (69.93 up), net 129.
        let f = Filters {
            strategies: vec![Strategy::Relist],
            min_orders: 0,
            ..Filters::default()
        };
        let o = evaluate_listing(
            &game(),
            &listing("1", "T", 800, Some(950)),
            &reference(None, 0, Some(1000), 4),
            &fees(),
            &f,
        )
        .unwrap();
        assert_eq!(
            (o.sell_price, o.fee, o.net_profit),
            (Money::usd(999), Money::usd(70), Money::usd(129))
        );
        assert_eq!(o.roi_bps, 1612);
    }

    #[test]
    fn relist_falls_back_to_the_suggested_price_when_the_listing_is_the_best_offer() {
        let f = Filters {
            strategies: vec![Strategy::Relist],
            min_orders: 0,
            ..Filters::default()
        };
        // The listing is the best offer ($8.00): sell at the suggested $9.50, fee 67 (66.5 up).
        let o = evaluate_listing(
            &game(),
            &listing("1", "T", 800, Some(950)),
            &reference(None, 0, Some(800), 1),
            &fees(),
            &f,
        )
        .unwrap();
        assert_eq!(
            (o.sell_price.cents(), o.fee.cents(), o.net_profit.cents()),
            (950, 67, 83)
        );
        // Neither another offer nor a suggested price: nothing to sell at.
        assert_eq!(
            evaluate_listing(
                &game(),
                &listing("1", "T", 800, None),
                &reference(None, 0, Some(800), 1),
                &fees(),
                &f
            ),
            Err(RejectReason::NoReference)
        );
    }

    #[test]
    fn the_more_profitable_strategy_wins() {
        let f = Filters::default();
        // instant: 1100 - 77 - 1000 = 23; relist: 1299 - 91 - 1000 = 208.
        let o = evaluate_listing(
            &game(),
            &listing("1", "T", 1000, None),
            &reference(Some(1100), 2, Some(1300), 9),
            &fees(),
            &f,
        )
        .unwrap();
        assert_eq!(o.strategy, Strategy::Relist);
        assert_eq!(o.net_profit.cents(), 208);
    }

    #[test]
    fn filters_reject_with_the_right_reason() {
        let base = Filters {
            strategies: vec![Strategy::Instant],
            ..Filters::default()
        };
        let l = listing("1", "T", 1000, None);
        // A loss.
        assert_eq!(
            evaluate_listing(
                &game(),
                &l,
                &reference(Some(1050), 5, None, 0),
                &fees(),
                &base
            ),
            Err(RejectReason::LowProfit)
        );
        // 116 cents of profit, below a $2 minimum.
        let f = Filters {
            min_profit_cents: 200,
            ..base.clone()
        };
        assert_eq!(
            evaluate_listing(&game(), &l, &reference(Some(1200), 5, None, 0), &fees(), &f),
            Err(RejectReason::LowProfit)
        );
        // 11.6% ROI, below a 12% minimum.
        let f = Filters {
            min_roi_bps: 1200,
            ..base.clone()
        };
        assert_eq!(
            evaluate_listing(&game(), &l, &reference(Some(1200), 5, None, 0), &fees(), &f),
            Err(RejectReason::LowRoi)
        );
        // Above the level's ROI ceiling.
        let f = Filters {
            max_roi_bps: Some(1000),
            ..base.clone()
        };
        assert_eq!(
            evaluate_listing(&game(), &l, &reference(Some(1200), 5, None, 0), &fees(), &f),
            Err(RejectReason::HighRoi)
        );
        // Liquidity: 2 orders where 3 are required, or 1 offer where 5 are.
        let f = Filters {
            min_orders: 3,
            ..base.clone()
        };
        assert_eq!(
            evaluate_listing(&game(), &l, &reference(Some(1200), 2, None, 0), &fees(), &f),
            Err(RejectReason::Illiquid)
        );
        let f = Filters {
            min_offers: 5,
            ..base.clone()
        };
        assert_eq!(
            evaluate_listing(
                &game(),
                &l,
                &reference(Some(1200), 9, Some(1300), 1),
                &fees(),
                &f
            ),
            Err(RejectReason::Illiquid)
        );
        // Band and blacklist are checked before any price.
        let f = Filters {
            price_band: (50, 999),
            ..base.clone()
        };
        assert_eq!(f.admit(&l), Err(RejectReason::PriceBand));
        let f = Filters {
            blacklist: Blacklist::new(&["t"]),
            ..base
        };
        assert_eq!(f.admit(&l), Err(RejectReason::Blacklisted));
    }

    #[test]
    fn blacklist_matches_substrings_and_globs_case_insensitively() {
        let b = Blacklist::new(&["souvenir", "sticker | * (foil)", "case?key", " "]);
        assert!(b.matches("Souvenir AWP | Safari Mesh (Field-Tested)"));
        assert!(b.matches("Sticker | Crown (Foil)"));
        assert!(!b.matches("Sticker | Crown (Holo)"));
        assert!(b.matches("Case Key"));
        assert!(!b.matches("AK-47 | Redline (Field-Tested)"));
        assert!(!Blacklist::default().matches("anything"));
        assert!(glob_match(&['*'], &[]));
        assert!(!glob_match(&['a', '*', 'c'], &['a', 'b']));
    }

    #[test]
    fn a_level_selects_its_band_and_roi_range() {
        let f = Filters::default().with_level(Level::Standard);
        assert_eq!(f.price_band, (300, 999));
        assert_eq!(f.min_roi_bps, 500);
        assert_eq!(f.max_roi_bps, Some(1000));
    }

    #[test]
    fn ranking_is_by_profit_then_roi_and_capped() {
        let make = |id: &str, buy: i64, net: i64| Opportunity {
            game: game(),
            item_id: id.into(),
            offer_id: None,
            title: id.into(),
            listed_at: None,
            trade_lock: crate::model::TradeLock::Unknown,
            buy_price: Money::usd(buy),
            sell_price: Money::usd(buy + net),
            fee: Money::usd(0),
            fee_rate: Bps::new(0).unwrap(),
            fee_source: FeeSource::Fixed,
            net_profit: Money::usd(net),
            roi_bps: Bps::ratio(net, buy).unwrap(),
            level: None,
            strategy: Strategy::Instant,
            sell_market: Market::Dmarket,
        };
        let mut report = GameReport {
            opportunities: vec![
                make("a", 1000, 100),
                make("b", 500, 100),
                make("c", 100, 300),
                make("d", 100, 5),
            ],
            ..GameReport::default()
        };
        rank_and_cap(&mut report, 3);
        let ids: Vec<&str> = report
            .opportunities
            .iter()
            .map(|o| o.item_id.as_str())
            .collect();
        // c earns most; a and b earn the same, b on less money (higher ROI) first.
        assert_eq!(ids, vec!["c", "b", "a"]);
        assert_eq!(report.rejected.get(&RejectReason::Capped), Some(&1));
    }
}
