//! The cross judgement: a DMarket listing bought at its price and resold on another market
//! at that market's reference, net of that market's seller fee (rounded up to the cent, as
//! every fee here is). Pure: the host keeps the [`Snapshot`]s and hands them in; nothing here
//! fetches.
//!
//! The reference a seller prices at: Skinport's lowest listing less one cent (or its 7-day
//! median sale with [`CrossReference::Median7d`]); CSFloat's lowest listing. A title whose
//! price depends on a phase is matched only when the phase is known on both sides; a stale
//! snapshot is never used; a thin market (too few listings, too few sales in 7 days) is
//! refused before any profit is computed. Each refusal has its own reason.

use std::time::Duration;

use crate::arbitrage::{FeeRule, deal_with};
use crate::markets::phase::Phase;
use crate::markets::snapshot::{LookupError, ReferenceMarket, Snapshot};
use crate::model::Listing;
use crate::money::{Bps, Money};

/// Which of a market's prices the resale is judged at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CrossReference {
    /// The lowest listing (less one cent on Skinport, to undercut it).
    #[default]
    Lowest,
    /// The median sale of the last 7 days (Skinport's sales history).
    Median7d,
}

/// How one market's resale is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrossRules {
    /// The market's seller fee (Skinport 12%, CSFloat 2% by default: unverified).
    pub fee: Bps,
    /// Which price the resale is judged at.
    pub reference: CrossReference,
    /// Sales in the last 7 days at least (0: no gate). A quote that does not say how many
    /// sold fails a gate that is set.
    pub min_volume_7d: u32,
    /// Listings on sale at least.
    pub min_quantity: u32,
    /// The oldest snapshot used.
    pub max_age: Duration,
}

/// A resale that pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrossDeal {
    /// Where it sells.
    pub market: ReferenceMarket,
    /// The price it sells at.
    pub sell: Money,
    /// The seller fee on it, rounded up.
    pub fee: Money,
    /// `sell - fee - buy`.
    pub net: Money,
    /// `net / buy`, in basis points.
    pub roi_bps: i64,
}

/// Why a listing has no cross resale on a market.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrossReject {
    /// The snapshot could not be used for this title (stale, never fetched, phase unknown or
    /// pooled, not listed): its own reason.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The market has no price of the kind asked for (no 7-day median, say).
    #[error("{market} has no {what} for {title:?}")]
    NoReference {
        /// The market.
        market: &'static str,
        /// The title.
        title: String,
        /// The price missing.
        what: &'static str,
    },
    /// Too few listings or sales on the market to count on reselling there.
    #[error("{market}: {title:?} is too thin to resell ({why})")]
    Illiquid {
        /// The market.
        market: &'static str,
        /// The title.
        title: String,
        /// Which gate it failed.
        why: String,
    },
    /// The resale nets nothing after the fee.
    #[error("{market}: reselling {title:?} nets {net} after the fee")]
    Unprofitable {
        /// The market.
        market: &'static str,
        /// The title.
        title: String,
        /// What it would net.
        net: Money,
    },
}

impl CrossReject {
    /// The reason's snake_case name, for counts and JSON.
    pub fn reason(&self) -> &'static str {
        match self {
            CrossReject::Lookup(e) => e.reason(),
            CrossReject::NoReference { .. } => "no_reference",
            CrossReject::Illiquid { .. } => "illiquid",
            CrossReject::Unprofitable { .. } => "low_profit",
        }
    }
}

/// Judges buying `listing` on DMarket and reselling it on `snapshot`'s market at `now`
/// (unix seconds) under `rules`.
pub fn judge(
    listing: &Listing,
    snapshot: &Snapshot,
    rules: &CrossRules,
    now: i64,
) -> Result<CrossDeal, CrossReject> {
    let market = snapshot.market();
    let name = market.as_str();
    let phase: Option<Phase> = Phase::of_listing(listing);
    let quote = snapshot.lookup(now, rules.max_age, &listing.title, phase)?;
    let thin = |why: String| CrossReject::Illiquid {
        market: name,
        title: listing.title.clone(),
        why,
    };
    if quote.quantity < rules.min_quantity {
        return Err(thin(format!(
            "{} listed, min_quantity {}",
            quote.quantity, rules.min_quantity
        )));
    }
    if rules.min_volume_7d > 0 {
        match quote.volume_7d {
            Some(v) if v >= rules.min_volume_7d => {}
            Some(v) => {
                return Err(thin(format!(
                    "{v} sold in 7 days, min_volume_7d {}",
                    rules.min_volume_7d
                )));
            }
            None => return Err(thin("no 7-day sales volume known".to_owned())),
        }
    }
    let missing = |what| CrossReject::NoReference {
        market: name,
        title: listing.title.clone(),
        what,
    };
    let sell = match (market, rules.reference) {
        (ReferenceMarket::Skinport, CrossReference::Lowest) => {
            quote.lowest.ok_or(missing("lowest listing"))?.cents() - 1
        }
        (_, CrossReference::Median7d) => quote.median_7d.ok_or(missing("7-day median"))?.cents(),
        (_, CrossReference::Lowest) => quote.lowest.ok_or(missing("lowest listing"))?.cents(),
    };
    let currency = listing.price.currency();
    let deal = deal_with(listing.price.cents(), sell, &FeeRule::fixed(rules.fee));
    if deal.net_cents <= 0 {
        return Err(CrossReject::Unprofitable {
            market: name,
            title: listing.title.clone(),
            net: Money::from_cents(deal.net_cents, currency),
        });
    }
    Ok(CrossDeal {
        market,
        sell: Money::from_cents(sell, currency),
        fee: Money::from_cents(deal.fee_cents, currency),
        net: Money::from_cents(deal.net_cents, currency),
        roi_bps: deal.roi_bps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markets::snapshot::{Quote, SnapshotBuilder};
    use crate::money::Currency;

    const NOW: i64 = 1_800_000_000;

    fn rules(fee_bps: u32) -> CrossRules {
        CrossRules {
            fee: Bps::new(fee_bps).unwrap(),
            reference: CrossReference::Lowest,
            min_volume_7d: 0,
            min_quantity: 1,
            max_age: Duration::from_secs(600),
        }
    }

    fn quote(lowest: i64, quantity: u32, median: Option<i64>, volume: Option<u32>) -> Quote {
        Quote {
            lowest: Some(Money::usd(lowest)),
            quantity,
            median_7d: median.map(Money::usd),
            volume_7d: volume,
            ..Quote::default()
        }
    }

    fn book(market: ReferenceMarket, rows: Vec<(&str, Option<Phase>, Quote)>, at: i64) -> Snapshot {
        SnapshotBuilder::new(market, Currency::Usd)
            .quotes(
                "test",
                at,
                rows.into_iter().map(|(n, p, q)| (n.to_owned(), p, q)),
            )
            .build()
    }

    fn listing(title: &str, cents: i64) -> Listing {
        Listing::new("i-1", title, Money::usd(cents))
    }

    #[test]
    fn skinport_resale_is_one_cent_under_its_floor_less_the_fee_rounded_up() {
        let s = book(
            ReferenceMarket::Skinport,
            vec![(
                "AK-47 | Redline (Field-Tested)",
                None,
                quote(1_000, 3, None, None),
            )],
            NOW,
        );
        let deal = judge(
            &listing("AK-47 | Redline (Field-Tested)", 700),
            &s,
            &rules(1_200),
            NOW,
        )
        .unwrap();
        // Sell at $9.99; 12% of 999 is 119.88, rounded up to 120; 999 - 120 - 700 = 179.
        assert_eq!(deal.sell, Money::usd(999));
        assert_eq!(deal.fee, Money::usd(120));
        assert_eq!(deal.net, Money::usd(179));
        assert_eq!(deal.roi_bps, 2_557);
        assert_eq!(deal.market, ReferenceMarket::Skinport);
    }

    #[test]
    fn csfloat_resale_is_at_its_floor_and_a_fee_that_eats_the_margin_refuses() {
        let s = book(
            ReferenceMarket::Csfloat,
            vec![(
                "M4A4 | Poseidon (Factory New)",
                None,
                quote(2_600, 1, None, None),
            )],
            NOW,
        );
        let l = listing("M4A4 | Poseidon (Factory New)", 2_500);
        let deal = judge(&l, &s, &rules(200), NOW).unwrap();
        // 2% of 2600 = 52; 2600 - 52 - 2500 = 48.
        assert_eq!(
            (deal.sell, deal.fee, deal.net),
            (Money::usd(2_600), Money::usd(52), Money::usd(48))
        );
        let refused = judge(&l, &s, &rules(400), NOW).unwrap_err();
        assert_eq!(refused.reason(), "low_profit");
        assert!(refused.to_string().contains("nets -$0.04"), "{refused}");
    }

    #[test]
    fn the_median_reference_and_the_liquidity_gates_refuse_with_their_own_reasons() {
        let s = book(
            ReferenceMarket::Skinport,
            vec![
                ("A", None, quote(1_000, 5, Some(1_200), Some(3))),
                ("B", None, quote(1_000, 0, Some(1_200), Some(30))),
                ("C", None, quote(1_000, 5, None, None)),
            ],
            NOW,
        );
        let median = CrossRules {
            reference: CrossReference::Median7d,
            ..rules(1_200)
        };
        // Sell at the $12.00 median: fee 144, net 1200 - 144 - 700 = 356.
        assert_eq!(
            judge(&listing("A", 700), &s, &median, NOW).unwrap().net,
            Money::usd(356)
        );
        assert_eq!(
            judge(&listing("C", 700), &s, &median, NOW)
                .unwrap_err()
                .reason(),
            "no_reference"
        );
        assert_eq!(
            judge(&listing("B", 700), &s, &median, NOW)
                .unwrap_err()
                .reason(),
            "illiquid"
        );
        let gated = CrossRules {
            min_volume_7d: 10,
            ..median
        };
        let thin = judge(&listing("A", 700), &s, &gated, NOW).unwrap_err();
        assert!(
            thin.to_string()
                .contains("3 sold in 7 days, min_volume_7d 10"),
            "{thin}"
        );
        let unknown = judge(&listing("C", 700), &s, &gated, NOW).unwrap_err();
        assert!(
            unknown.to_string().contains("no 7-day sales volume known"),
            "{unknown}"
        );
    }

    #[test]
    fn a_stale_snapshot_and_an_unknown_phase_are_refused_before_any_price() {
        let title = "★ Karambit | Doppler (Factory New)";
        let s = book(
            ReferenceMarket::Skinport,
            vec![(title, Some(Phase::Sapphire), quote(500_000, 1, None, None))],
            NOW - 3_600,
        );
        let fresh = CrossRules {
            max_age: Duration::from_secs(7_200),
            ..rules(1_200)
        };
        // DMarket's listing says no phase: never matched against the Sapphire's price.
        let err = judge(&listing(title, 100_000), &s, &fresh, NOW).unwrap_err();
        assert_eq!(err.reason(), "phase_unknown");
        let stale = judge(&listing("AK", 100), &s, &rules(1_200), NOW).unwrap_err();
        assert_eq!(stale.reason(), "stale_reference");
    }
}
