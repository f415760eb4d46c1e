//! The reference book: what the host hands a game's judgement through
//! [`ScanContext::references`](crate::ScanContext::references). One [`Snapshot`] per enabled
//! market with the [`CrossRules`] it is judged under, and the trade protection a resale
//! elsewhere waits out. Plugins never build or fetch one: the host keeps the snapshots fresh
//! and the sdk's default strategy (and watch mode's [`Judge`](crate::strategy::Judge)) asks
//! the book for the best resale of each listing.

use std::sync::Arc;
use std::time::Duration;

use crate::arbitrage::Filters;
use crate::markets::cross::{CrossDeal, CrossReject, CrossRules, judge};
use crate::markets::snapshot::{LookupError, Snapshot};
use crate::model::{
    FeeSource, GameId, Level, Listing, Opportunity, RejectReason, Strategy, TradeLock,
};
use crate::money::Bps;

/// Unix seconds now: the time a snapshot's age is judged at (a judgement made minutes into a
/// scan, or hours into a watch, uses the clock then, never the scan's start).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// One market's snapshot and the rules its resales are judged under.
#[derive(Debug, Clone)]
pub struct BookEntry {
    /// The snapshot (shared: refreshing replaces the `Arc`, a scan keeps the one it began with).
    pub snapshot: Arc<Snapshot>,
    /// Fee, reference, liquidity gates, `max_age`.
    pub rules: CrossRules,
}

/// The snapshots one game is judged against, and the trade protection on resale.
#[derive(Debug, Clone, Default)]
pub struct ReferenceBook {
    entries: Vec<BookEntry>,
    protection: Duration,
}

impl ReferenceBook {
    /// A book of `entries`; a resale elsewhere waits `protection` (Steam's 7-day trade
    /// protection of CS2 items since 2025-07; zero for a game without one).
    pub fn new(entries: Vec<BookEntry>, protection: Duration) -> Self {
        ReferenceBook {
            entries,
            protection,
        }
    }

    /// The entries, in the order they were given.
    pub fn entries(&self) -> &[BookEntry] {
        &self.entries
    }

    /// True when no market is in the book.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How long an item bought here is held before it can be resold elsewhere.
    pub fn protection(&self) -> Duration {
        self.protection
    }

    /// The best resale of `listing` across the book's markets at `now` (unix seconds): the
    /// largest net, ties to the earlier market. With none, the refusal that says most: one
    /// that nets too little, else a thin market, else a missing price, else why the
    /// snapshot could not be used (stale, phase unknown). An empty book refuses with
    /// [`LookupError::NeverFetched`] of no market: callers check [`ReferenceBook::is_empty`].
    pub fn judge(&self, listing: &Listing, now: i64) -> Result<CrossDeal, CrossReject> {
        let mut best: Option<CrossDeal> = None;
        let mut refusal: Option<CrossReject> = None;
        for entry in &self.entries {
            match judge(listing, &entry.snapshot, &entry.rules, now) {
                Ok(deal) => {
                    if best.is_none_or(|b| deal.net.cents() > b.net.cents()) {
                        best = Some(deal);
                    }
                }
                Err(e) => {
                    if refusal.as_ref().is_none_or(|r| rank(&e) > rank(r)) {
                        refusal = Some(e);
                    }
                }
            }
        }
        match (best, refusal) {
            (Some(deal), _) => Ok(deal),
            (None, Some(e)) => Err(e),
            (None, None) => Err(CrossReject::Lookup(LookupError::NotListed {
                market: crate::markets::snapshot::ReferenceMarket::Skinport,
                title: listing.title.clone(),
                phase: None,
            })),
        }
    }
}

/// Evaluates one admitted listing for `cross`: bought here, resold on the book's best market
/// at `now` (unix seconds), under the same profit and ROI filters as any strategy. `None`
/// when `cross` is not among `filters.strategies` or the book is empty. Its trade lock is
/// the listing's plus the book's protection (withdrawn to Steam, the item waits out the
/// protection before it can be traded to the other market).
pub fn evaluate_cross(
    game: &GameId,
    listing: &Listing,
    book: &ReferenceBook,
    filters: &Filters,
    now: i64,
) -> Option<Result<Opportunity, RejectReason>> {
    if book.is_empty() || !filters.strategies.contains(&Strategy::Cross) {
        return None;
    }
    let deal = match book.judge(listing, now) {
        Ok(deal) => deal,
        Err(e) => return Some(Err(cross_reason(&e))),
    };
    if deal.net.cents() < filters.min_profit_cents.max(1) {
        return Some(Err(RejectReason::LowProfit));
    }
    if deal.roi_bps < filters.min_roi_bps {
        return Some(Err(RejectReason::LowRoi));
    }
    if filters.max_roi_bps.is_some_and(|max| deal.roi_bps > max) {
        return Some(Err(RejectReason::HighRoi));
    }
    let rate = book
        .entries()
        .iter()
        .find(|e| e.snapshot.market() == deal.market)
        .map_or(Bps::ZERO, |e| e.rules.fee);
    let protection = book.protection().as_secs();
    // A lock of unknown length stays unknown (at least the protection, maybe more): never
    // shown as a known 7 days.
    let trade_lock = match (listing.trade_lock, protection) {
        (lock, 0) => lock,
        (TradeLock::Locked { seconds: Some(s) }, p) => TradeLock::Locked {
            seconds: Some(s.saturating_add(p)),
        },
        (TradeLock::Locked { seconds: None }, _) => TradeLock::Locked { seconds: None },
        (_, p) => TradeLock::Locked { seconds: Some(p) },
    };
    Some(Ok(Opportunity {
        game: game.clone(),
        item_id: listing.item_id.clone(),
        offer_id: listing.offer_id.clone(),
        title: listing.title.clone(),
        listed_at: listing.listed_at,
        trade_lock,
        buy_price: listing.price,
        sell_price: deal.sell,
        fee: deal.fee,
        fee_rate: rate,
        fee_source: FeeSource::Market,
        net_profit: deal.net,
        roi_bps: deal.roi_bps,
        level: Level::for_price(listing.price.cents()),
        strategy: Strategy::Cross,
        sell_market: deal.market.into(),
    }))
}

/// The reason a `cross` refusal counts under.
pub fn cross_reason(e: &CrossReject) -> RejectReason {
    match e {
        CrossReject::Lookup(LookupError::Stale { .. } | LookupError::NeverFetched { .. }) => {
            RejectReason::StaleReference
        }
        CrossReject::Lookup(LookupError::PhaseUnknown { .. } | LookupError::PhasePooled { .. }) => {
            RejectReason::PhaseUnknown
        }
        CrossReject::Illiquid { .. } => RejectReason::Illiquid,
        CrossReject::Unprofitable { .. } => RejectReason::LowProfit,
        _ => RejectReason::NoReference,
    }
}

/// One listing's verdict from DMarket's own reference (`dmarket`, when its title was priced)
/// and from the other markets (`cross`, when judged): the opportunity that nets more; with
/// none, a `cross` refusal that says its snapshot could not be used (stale, phase unknown)
/// wins, so those are counted, else DMarket's reason, else the cross one.
pub fn best_verdict(
    dmarket: Option<Result<Opportunity, RejectReason>>,
    cross: Option<Result<Opportunity, RejectReason>>,
) -> Result<Opportunity, RejectReason> {
    match (dmarket, cross) {
        (Some(Ok(a)), Some(Ok(b))) => Ok(if b.net_profit.cents() > a.net_profit.cents() {
            b
        } else {
            a
        }),
        (Some(Ok(a)), _) => Ok(a),
        (_, Some(Ok(b))) => Ok(b),
        (_, Some(Err(r @ (RejectReason::StaleReference | RejectReason::PhaseUnknown)))) => Err(r),
        (Some(Err(r)), _) => Err(r),
        (None, Some(Err(r))) => Err(r),
        (None, None) => Err(RejectReason::NoReference),
    }
}

/// How close a refusal came to a deal: the one reported when every market refuses.
fn rank(e: &CrossReject) -> u8 {
    match e {
        CrossReject::Unprofitable { .. } => 5,
        CrossReject::Illiquid { .. } => 4,
        CrossReject::NoReference { .. } => 3,
        CrossReject::Lookup(LookupError::NotListed { .. }) => 2,
        CrossReject::Lookup(LookupError::PhaseUnknown { .. } | LookupError::PhasePooled { .. }) => {
            1
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrage::Filters;
    use crate::markets::cross::CrossReference;
    use crate::markets::phase::Phase;
    use crate::markets::snapshot::{Quote, ReferenceMarket, SnapshotBuilder};
    use crate::model::Market;
    use crate::money::{Currency, Money};

    const NOW: i64 = 1_800_000_000;
    const WEEK: Duration = Duration::from_secs(7 * 86_400);

    fn entry(
        market: ReferenceMarket,
        fee_bps: u32,
        rows: &[(&str, Option<Phase>, i64)],
        at: i64,
    ) -> BookEntry {
        let snapshot = SnapshotBuilder::new(market, Currency::Usd)
            .quotes(
                "test",
                at,
                rows.iter().map(|(n, p, c)| {
                    (
                        (*n).to_owned(),
                        *p,
                        Quote {
                            lowest: Some(Money::usd(*c)),
                            quantity: 5,
                            ..Quote::default()
                        },
                    )
                }),
            )
            .build();
        BookEntry {
            snapshot: Arc::new(snapshot),
            rules: CrossRules {
                fee: Bps::new(fee_bps).unwrap(),
                reference: CrossReference::Lowest,
                min_volume_7d: 0,
                min_quantity: 1,
                max_age: Duration::from_secs(600),
            },
        }
    }

    fn game() -> GameId {
        GameId::new("csgo").unwrap()
    }

    const AK: &str = "AK-47 | Redline (Field-Tested)";

    #[test]
    fn the_market_that_nets_more_wins_and_the_opportunity_says_where_and_how_long_it_is_held() {
        // Skinport: sell 9.99, fee 12% = 120 (rounded up), net 999-120-700 = 179.
        // CSFloat: sell 9.50, fee 2% = 19, net 950-19-700 = 231: CSFloat wins.
        let book = ReferenceBook::new(
            vec![
                entry(ReferenceMarket::Skinport, 1_200, &[(AK, None, 1_000)], NOW),
                entry(ReferenceMarket::Csfloat, 200, &[(AK, None, 950)], NOW),
            ],
            WEEK,
        );
        let mut l = Listing::new("i-1", AK, Money::usd(700));
        l.trade_lock = TradeLock::Locked {
            seconds: Some(86_400),
        };
        let o = evaluate_cross(&game(), &l, &book, &Filters::default(), NOW)
            .unwrap()
            .unwrap();
        assert_eq!(o.strategy, Strategy::Cross);
        assert_eq!(o.sell_market, Market::Csfloat);
        assert_eq!(
            (o.sell_price, o.fee, o.net_profit),
            (Money::usd(950), Money::usd(19), Money::usd(231))
        );
        assert_eq!((o.fee_rate.get(), o.fee_source), (200, FeeSource::Market));
        assert_eq!(
            o.trade_lock,
            TradeLock::Locked {
                seconds: Some(8 * 86_400)
            },
            "a day on DMarket, then the week of trade protection"
        );
        // An unlocked listing still waits out the protection; a game without one does not.
        let free = Listing::new("i-2", AK, Money::usd(700));
        let o = evaluate_cross(&game(), &free, &book, &Filters::default(), NOW)
            .unwrap()
            .unwrap();
        assert_eq!(
            o.trade_lock,
            TradeLock::Locked {
                seconds: Some(604_800)
            }
        );
        let mut unknown = free.clone();
        unknown.trade_lock = TradeLock::Locked { seconds: None };
        let o = evaluate_cross(&game(), &unknown, &book, &Filters::default(), NOW)
            .unwrap()
            .unwrap();
        assert_eq!(
            o.trade_lock,
            TradeLock::Locked { seconds: None },
            "locked for an unknown time: not shown as a known week"
        );
        let unprotected = ReferenceBook::new(book.entries().to_vec(), Duration::ZERO);
        let o = evaluate_cross(&game(), &free, &unprotected, &Filters::default(), NOW)
            .unwrap()
            .unwrap();
        assert_eq!(o.trade_lock, free.trade_lock);
    }

    #[test]
    fn filters_apply_and_cross_off_or_an_empty_book_judges_nothing() {
        let book = ReferenceBook::new(
            vec![entry(
                ReferenceMarket::Skinport,
                1_200,
                &[(AK, None, 1_000)],
                NOW,
            )],
            WEEK,
        );
        let l = Listing::new("i-1", AK, Money::usd(700));
        let strict = Filters {
            min_profit_cents: 180,
            ..Filters::default()
        };
        assert_eq!(
            evaluate_cross(&game(), &l, &book, &strict, NOW),
            Some(Err(RejectReason::LowProfit)),
            "nets 179 < 180"
        );
        let ceiling = Filters {
            max_roi_bps: Some(2_000),
            ..Filters::default()
        };
        assert_eq!(
            evaluate_cross(&game(), &l, &book, &ceiling, NOW),
            Some(Err(RejectReason::HighRoi))
        );
        let dmarket_only = Filters {
            strategies: vec![Strategy::Instant, Strategy::Relist],
            ..Filters::default()
        };
        assert_eq!(evaluate_cross(&game(), &l, &book, &dmarket_only, NOW), None);
        assert_eq!(
            evaluate_cross(
                &game(),
                &l,
                &ReferenceBook::default(),
                &Filters::default(),
                NOW
            ),
            None
        );
    }

    #[test]
    fn stale_snapshots_and_unknown_phases_are_refused_with_their_own_reasons() {
        let doppler = "★ Karambit | Doppler (Factory New)";
        let book = ReferenceBook::new(
            vec![entry(
                ReferenceMarket::Skinport,
                1_200,
                &[(AK, None, 1_000), (doppler, Some(Phase::Ruby), 200_000)],
                NOW - 601,
            )],
            WEEK,
        );
        let l = Listing::new("i-1", AK, Money::usd(700));
        assert_eq!(
            evaluate_cross(&game(), &l, &book, &Filters::default(), NOW),
            Some(Err(RejectReason::StaleReference)),
            "601 s old, max_age 600 s"
        );
        let fresh = ReferenceBook::new(
            vec![entry(
                ReferenceMarket::Skinport,
                1_200,
                &[(doppler, Some(Phase::Ruby), 200_000)],
                NOW,
            )],
            WEEK,
        );
        let k = Listing::new("i-2", doppler, Money::usd(100_000));
        assert_eq!(
            evaluate_cross(&game(), &k, &fresh, &Filters::default(), NOW),
            Some(Err(RejectReason::PhaseUnknown)),
            "the listing does not say its phase"
        );
        // A stale or phase refusal is what is counted even when DMarket's own judgement
        // refused for another reason; an opportunity from either side wins over any refusal.
        assert_eq!(
            best_verdict(
                Some(Err(RejectReason::LowProfit)),
                Some(Err(RejectReason::StaleReference))
            ),
            Err(RejectReason::StaleReference)
        );
        assert_eq!(
            best_verdict(
                Some(Err(RejectReason::LowRoi)),
                Some(Err(RejectReason::Illiquid))
            ),
            Err(RejectReason::LowRoi)
        );
        assert_eq!(
            best_verdict(None, Some(Err(RejectReason::Illiquid))),
            Err(RejectReason::Illiquid)
        );
        assert_eq!(best_verdict(None, None), Err(RejectReason::NoReference));
    }

    #[test]
    fn the_opportunity_that_nets_more_is_kept_whichever_market_it_sells_on() {
        let book = ReferenceBook::new(
            vec![entry(
                ReferenceMarket::Skinport,
                1_200,
                &[(AK, None, 1_000)],
                NOW,
            )],
            WEEK,
        );
        let l = Listing::new("i-1", AK, Money::usd(700));
        let cross = evaluate_cross(&game(), &l, &book, &Filters::default(), NOW).unwrap();
        let mut dmarket = cross.clone().unwrap();
        dmarket.strategy = Strategy::Instant;
        dmarket.sell_market = Market::Dmarket;
        dmarket.net_profit = Money::usd(180);
        let kept = best_verdict(Some(Ok(dmarket.clone())), Some(cross.clone())).unwrap();
        assert_eq!(kept.sell_market, Market::Dmarket, "180 > 179");
        dmarket.net_profit = Money::usd(179);
        let kept = best_verdict(Some(Ok(dmarket)), Some(cross)).unwrap();
        assert_eq!(kept.sell_market, Market::Dmarket, "a tie stays on DMarket");
        let kept = best_verdict(
            Some(Err(RejectReason::NoReference)),
            evaluate_cross(&game(), &l, &book, &Filters::default(), NOW),
        )
        .unwrap();
        assert_eq!(kept.sell_market, Market::Skinport);
    }
}
