//! Tests of the reference book: built from the recorded-shape fixtures of both markets
//! (`sdk/tests/fixtures/skinport_*.json`, `csfloat_price_list.json`), fresh and stale,
//! phases matched or refused, duplicates counted.

use super::*;
use crate::markets::{csfloat, skinport};

const NOW: i64 = 1_776_601_000;
const TEN_MIN: Duration = Duration::from_secs(600);
const M9: &str = "★ M9 Bayonet | Doppler (Minimal Wear)";
const REDLINE: &str = "AK-47 | Redline (Field-Tested)";

fn skinport_book(items_at: i64, sales_at: i64) -> Snapshot {
    let items = skinport::parse_items(
        include_bytes!("../../../tests/fixtures/skinport_items.json"),
        Currency::Usd,
    )
    .unwrap();
    let sales = skinport::parse_sales_history(
        include_bytes!("../../../tests/fixtures/skinport_sales_history.json"),
        Currency::Usd,
    )
    .unwrap();
    SnapshotBuilder::new(ReferenceMarket::Skinport, Currency::Usd)
        .skinport_items(items, items_at)
        .skinport_sales(sales, sales_at)
        .build()
}

fn csfloat_book(at: i64) -> Snapshot {
    let list = csfloat::parse_price_list(include_bytes!(
        "../../../tests/fixtures/csfloat_price_list.json"
    ))
    .unwrap();
    SnapshotBuilder::new(ReferenceMarket::Csfloat, Currency::Usd)
        .csfloat_price_list(list, at)
        .build()
}

#[test]
fn items_and_sales_merge_into_one_quote_per_name_and_phase() {
    let book = skinport_book(NOW - 60, NOW - 120);
    // 5 item rows (two phases of the M9) + 1 sales-only name; the 2 sales rows dropped
    // at parsing are not there.
    assert_eq!(book.len(), 6);
    assert_eq!(book.fetched_at(), Some(NOW - 120));
    let q = book.lookup(NOW, TEN_MIN, REDLINE, None).unwrap();
    assert_eq!(q.lowest, Some(Money::usd(2_882)));
    assert_eq!(q.suggested, Some(Money::usd(3_313)));
    assert_eq!(
        (q.median_7d, q.volume_7d),
        (Some(Money::usd(3_313)), Some(66))
    );
    assert_eq!(q.quantity, 214);
    // A phase asked of a plain title is ignored.
    assert_eq!(book.lookup(NOW, TEN_MIN, REDLINE, Some(Phase::Ruby)), Ok(q));
    let sapphire = book
        .lookup(NOW, TEN_MIN, M9, Some(Phase::Sapphire))
        .unwrap();
    assert_eq!(sapphire.lowest, Some(Money::usd(343_592)));
    assert_eq!(sapphire.median_7d, Some(Money::usd(343_592)));
    let p1 = book.lookup(NOW, TEN_MIN, M9, Some(Phase::Phase1)).unwrap();
    assert_eq!(
        (p1.lowest, p1.volume_7d),
        (Some(Money::usd(80_703)), Some(1))
    );
    let sales_only = book.lookup(NOW, TEN_MIN, "Window Missing", None).unwrap();
    assert_eq!((sales_only.lowest, sales_only.volume_7d), (None, Some(3)));
    assert_eq!(
        book.wire().dropped_for(skinport::endpoint::SALES_HISTORY),
        2
    );
    assert_eq!(book.age_secs(NOW), Some(120));
    let keys: Vec<(&str, Option<Phase>)> = book.iter().map(|(n, p, _)| (n, p)).collect();
    assert_eq!(
        keys,
        [
            ("AK-47 | Redline (Field-Tested)", None),
            ("AWP | Dragon Lore (Field-Tested)", None),
            ("Sticker | Unsold (Foil)", None),
            ("Window Missing", None),
            (M9, Some(Phase::Phase1)),
            (M9, Some(Phase::Sapphire)),
        ]
    );
}

#[test]
fn a_stale_snapshot_refuses_every_lookup_and_names_its_oldest_part() {
    let book = skinport_book(NOW - 60, NOW - 601);
    assert!(!book.is_fresh(NOW, TEN_MIN));
    let err = book.lookup(NOW, TEN_MIN, REDLINE, None).unwrap_err();
    assert_eq!(
        err,
        LookupError::Stale {
            market: ReferenceMarket::Skinport,
            part: "skinport sales history",
            age_secs: 601,
            max_age_secs: 600
        }
    );
    assert_eq!(err.reason(), "stale_reference");
    assert!(err.to_string().contains("fetched 601s ago"), "{err}");
    // Exactly max_age old is still fresh.
    assert!(skinport_book(NOW - 600, NOW - 600).is_fresh(NOW, TEN_MIN));
    // A clock that went back by more than max_age: stale, not fresh for ever.
    let future = skinport_book(NOW + 601, NOW + 10);
    let err = future.lookup(NOW, TEN_MIN, REDLINE, None).unwrap_err();
    assert!(
        matches!(err, LookupError::Stale { age_secs: -601, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("601s in the future"), "{err}");
    let empty = SnapshotBuilder::new(ReferenceMarket::Csfloat, Currency::Usd).build();
    assert_eq!(
        empty.lookup(NOW, TEN_MIN, REDLINE, None),
        Err(LookupError::NeverFetched {
            market: ReferenceMarket::Csfloat
        })
    );
    assert_eq!(empty.fetched_at(), None);
}

#[test]
fn phases_are_matched_only_when_known_on_both_sides() {
    let book = skinport_book(NOW, NOW);
    let unknown = book.lookup(NOW, TEN_MIN, M9, None).unwrap_err();
    assert_eq!(unknown.reason(), "phase_unknown");
    let ruby = book
        .lookup(NOW, TEN_MIN, M9, Some(Phase::Ruby))
        .unwrap_err();
    assert_eq!(
        ruby,
        LookupError::NotListed {
            market: ReferenceMarket::Skinport,
            title: M9.into(),
            phase: Some(Phase::Ruby)
        }
    );
    assert!(ruby.to_string().ends_with("(Ruby)"), "{ruby}");
    // CSFloat's price list pools a Doppler's phases: refused for any phase.
    let cs = csfloat_book(NOW);
    let pooled = cs
        .lookup(NOW, TEN_MIN, M9, Some(Phase::Sapphire))
        .unwrap_err();
    assert_eq!(pooled.reason(), "phase_pooled");
    assert_eq!(
        cs.lookup(NOW, TEN_MIN, M9, None).unwrap_err().reason(),
        "phase_unknown"
    );
    let redline = cs.lookup(NOW, TEN_MIN, REDLINE, None).unwrap();
    assert_eq!(
        (redline.lowest, redline.quantity),
        (Some(Money::usd(2_790)), 340)
    );
    let missing = cs.lookup(NOW, TEN_MIN, "AWP | Dragon Lore (Field-Tested)", None);
    assert_eq!(missing.unwrap_err().reason(), "not_listed");
    // Names match exactly.
    assert!(
        cs.lookup(NOW, TEN_MIN, "ak-47 | redline (field-tested)", None)
            .is_err()
    );
}

#[test]
fn a_row_given_twice_by_one_part_is_counted_and_the_lower_price_kept() {
    let quote = |cents| Quote {
        lowest: Some(Money::usd(cents)),
        ..Quote::default()
    };
    let book = SnapshotBuilder::new(ReferenceMarket::Csfloat, Currency::Usd)
        .quotes(
            "csfloat listings",
            NOW,
            [
                ("Twice".to_owned(), None, quote(500)),
                ("Twice".to_owned(), None, quote(450)),
                ("Plain".to_owned(), Some(Phase::Phase2), quote(100)),
            ],
        )
        .build();
    assert_eq!(book.len(), 2);
    let twice = book.lookup(NOW, TEN_MIN, "Twice", None).unwrap();
    assert_eq!(twice.lowest, Some(Money::usd(450)));
    assert_eq!(book.wire().dropped_for("snapshot"), 1);
    // A phase on a title without phases is dropped from the key, and counted.
    assert!(book.lookup(NOW, TEN_MIN, "Plain", None).is_ok());
    assert_eq!(
        book.wire().forms[&("snapshot".to_owned(), "phase on a plain title".to_owned())],
        1
    );
    assert_eq!(book.parts()[0].rows, 3);
}

#[test]
fn a_row_is_small_and_holds_its_name_once() {
    // 20,000 rows per game: keep a row within 128 bytes besides its name.
    assert!(
        std::mem::size_of::<Row>() <= 128,
        "{}",
        std::mem::size_of::<Row>()
    );
    assert_eq!(std::mem::size_of::<Option<Money>>(), 16);
}
