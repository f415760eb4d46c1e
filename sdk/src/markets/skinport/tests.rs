//! Tests of Skinport's requests and parsers, against fixtures written from the recorded
//! answers quoted in `shared/markets.md` §1 (the Dragon Lore row verbatim; the other rows
//! in the same shape with values from the same section) and hand-made tolerated variants.

use super::*;

const ITEMS: &[u8] = include_bytes!("../../../tests/fixtures/skinport_items.json");
const ITEMS_TOLERATED: &[u8] =
    include_bytes!("../../../tests/fixtures/skinport_items_tolerated.json");
const SALES: &[u8] = include_bytes!("../../../tests/fixtures/skinport_sales_history.json");

fn form(w: &WireStats, endpoint: &str, form: &str) -> u64 {
    w.seen(endpoint, form)
}

fn dropped(w: &WireStats, endpoint: &str, reason: &str) -> u64 {
    w.dropped_because(endpoint, reason)
}

fn usd(c: i64) -> Option<Money> {
    Some(Money::usd(c))
}

#[test]
fn requests_carry_app_id_currency_and_tradable_as_markets_md_gives_them() {
    assert_eq!(
        items_request(DEFAULT_APP_ID, Currency::Usd, false).path_and_query(),
        "/v1/items?app_id=730&currency=USD&tradable=0"
    );
    assert_eq!(
        items_request(570, Currency::Usd, true).path_and_query(),
        "/v1/items?app_id=570&currency=USD&tradable=1"
    );
    assert_eq!(
        sales_history_request(730, Currency::Usd, None).path_and_query(),
        "/v1/sales/history?app_id=730&currency=USD"
    );
    assert_eq!(
        sales_history_request(730, Currency::Usd, Some("AK-47 | Redline (Field-Tested)"))
            .path_and_query(),
        "/v1/sales/history?app_id=730&currency=USD&market_hash_name=AK-47%20%7C%20Redline%20%28Field-Tested%29"
    );
    assert!(items_request(730, Currency::Usd, false).read_only);
}

#[test]
fn recorded_items_become_exact_cents_with_doppler_rows_apart() {
    let p = parse_items(ITEMS, Currency::Usd).unwrap();
    assert_eq!((p.entries, p.items.len()), (5, 5));
    assert_eq!(p.wire.dropped_total(), 0);
    let lore = &p.items[0];
    assert_eq!(lore.market_hash_name, "AWP | Dragon Lore (Field-Tested)");
    assert_eq!(lore.phase, None);
    assert_eq!(lore.min_price, usd(736_479));
    assert_eq!(lore.max_price, usd(809_074));
    assert_eq!(lore.mean_price, usd(772_777));
    assert_eq!(lore.median_price, usd(772_777));
    assert_eq!(lore.suggested_price, usd(821_250));
    assert_eq!(lore.quantity, 2);
    assert_eq!(lore.updated_at, Some(1_776_600_913));
    assert_eq!(p.items[1].min_price, usd(2_882));
    // Nothing on sale: the prices are null, the suggested price is not.
    let sticker = &p.items[2];
    assert_eq!((sticker.min_price, sticker.median_price), (None, None));
    assert_eq!((sticker.suggested_price, sticker.quantity), (usd(21), 0));
    let sapphire = &p.items[3];
    assert_eq!(sapphire.phase, Some(Phase::Sapphire));
    assert_eq!(sapphire.min_price, usd(343_592));
    assert_eq!(sapphire.suggested_price, usd(350_001));
    assert_eq!(p.items[4].phase, Some(Phase::Phase1));
    assert_eq!(p.items[4].min_price, usd(80_703));
    assert_eq!(form(&p.wire, endpoint::ITEMS, "answer=bare array"), 1);
    assert_eq!(form(&p.wire, endpoint::ITEMS, "money=artefact"), 0);
}

#[test]
fn tolerated_item_forms_read_and_every_bad_row_is_counted_by_reason() {
    let ep = endpoint::ITEMS;
    let p = parse_items(ITEMS_TOLERATED, Currency::Usd).unwrap();
    assert_eq!(p.entries, 13);
    let names: Vec<&str> = p
        .items
        .iter()
        .map(|i| i.market_hash_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Artefact Sum",
            "Half Cent",
            "No Currency",
            "★ Karambit | Gamma Doppler (Factory New)"
        ]
    );
    // 0.1 + 0.2 and 0.7 + 0.1 as a float prints them: the cents they stand for.
    let sum = &p.items[0];
    assert_eq!((sum.suggested_price, sum.min_price), (usd(30), usd(80)));
    assert_eq!((sum.max_price, sum.mean_price), (usd(100), usd(50)));
    assert_eq!((sum.median_price, sum.quantity), (None, 4));
    // 12.345 is a real half cent: toward zero. 12.349 too. A zero median is none.
    let half = &p.items[1];
    assert_eq!(
        (half.suggested_price, half.min_price),
        (usd(1_234), usd(1_234))
    );
    assert_eq!((half.max_price, half.mean_price), (usd(1_234), usd(1_234)));
    assert_eq!(half.median_price, None);
    assert_eq!((p.items[2].min_price, p.items[2].quantity), (usd(125), 0));
    assert_eq!(p.items[3].phase, Some(Phase::Emerald));
    assert_eq!(p.items[3].min_price, usd(700_050));
    let w = &p.wire;
    assert_eq!(dropped(w, ep, "other currency"), 1);
    assert_eq!(dropped(w, ep, "bad min_price"), 3);
    assert_eq!(dropped(w, ep, "bad quantity"), 1);
    assert_eq!(dropped(w, ep, "no market_hash_name"), 1);
    assert_eq!(dropped(w, ep, "unrecognised version"), 1);
    assert_eq!(dropped(w, ep, "version does not fit the title"), 1);
    assert_eq!(dropped(w, ep, "not an item object"), 1);
    assert_eq!(w.dropped_total(), 9);
    assert!(w.examples[ep].contains("Euro Row"), "{}", w.examples[ep]);
    assert_eq!(form(w, ep, "money=artefact"), 2);
    assert_eq!(form(w, ep, "money=sub-cent down"), 4);
    assert_eq!(form(w, ep, "money=string"), 2);
    assert_eq!(form(w, ep, "money=zero"), 1);
    assert_eq!(form(w, ep, "count=string"), 1);
    assert_eq!(form(w, ep, "currency missing"), 1);
    assert_eq!(form(w, ep, "quantity missing"), 1);
}

#[test]
fn recorded_sales_history_reads_every_window_and_phase() {
    let ep = endpoint::SALES_HISTORY;
    let p = parse_sales_history(SALES, Currency::Usd).unwrap();
    assert_eq!((p.entries, p.sales.len()), (6, 4));
    let redline = &p.sales[0];
    assert_eq!(
        redline.last_24_hours,
        Some(SalesWindow {
            min: usd(2_882),
            max: usd(8_194),
            avg: usd(4_266),
            median: usd(3_055),
            volume: 5
        })
    );
    let week = redline.last_7_days.unwrap();
    assert_eq!((week.median, week.volume), (usd(3_313), 66));
    assert_eq!(redline.last_30_days.unwrap().volume, 302);
    assert_eq!(
        redline.last_90_days,
        Some(SalesWindow {
            min: usd(2_159),
            max: usd(94_947),
            avg: usd(4_730),
            median: usd(3_282),
            volume: 1_107
        })
    );
    let sapphire = &p.sales[1];
    assert_eq!(sapphire.phase, Some(Phase::Sapphire));
    // A window without sales: all-null statistics, volume 0.
    assert_eq!(sapphire.last_24_hours, Some(SalesWindow::default()));
    assert_eq!(sapphire.last_7_days.unwrap().median, usd(343_592));
    assert_eq!(p.sales[2].phase, Some(Phase::Phase1));
    assert_eq!(p.sales[2].last_7_days.unwrap().median, usd(80_703));
    let missing = &p.sales[3];
    assert_eq!(missing.last_24_hours, None);
    assert_eq!(missing.last_7_days.unwrap().volume, 3);
    assert_eq!((missing.last_30_days, missing.last_90_days), (None, None));
    assert_eq!(dropped(&p.wire, ep, "bad last_7_days"), 1);
    assert_eq!(dropped(&p.wire, ep, "last_7_days: bad median"), 1);
    assert_eq!(form(&p.wire, ep, "last_30_days missing"), 1);
    assert_eq!(form(&p.wire, ep, "last_24_hours missing"), 1);
    assert_eq!(form(&p.wire, ep, "count=string"), 1);
}

#[test]
fn a_body_that_is_no_array_of_rows_is_an_error_quoting_it() {
    let err = parse_items(b"<html>406 Not Acceptable</html>", Currency::Usd).unwrap_err();
    assert_eq!(err.endpoint, endpoint::ITEMS);
    assert!(err.message.contains("the body began: <html>406"), "{err}");
    let err = parse_items(
        br#"{"errors":[{"id":"rate_limit_exceeded"}]}"#,
        Currency::Usd,
    );
    assert!(err.unwrap_err().message.contains("neither an array"));
    assert!(parse_sales_history(b"[{", Currency::Usd).is_err());
    // An envelope is read and its form counted.
    let p = parse_items(br#"{"data":[]}"#, Currency::Usd).unwrap();
    assert_eq!(form(&p.wire, endpoint::ITEMS, "answer={data}"), 1);
}

#[test]
fn error_bodies_read_in_each_shape() {
    let list = parse_error_body(br#"[{"id":"not_acceptable","message":"Accept-Encoding br"}]"#);
    assert_eq!(
        list,
        Some(SkinportError {
            id: "not_acceptable".into(),
            message: "Accept-Encoding br".into()
        })
    );
    let errors = parse_error_body(br#"{"errors":[{"id":"rate_limit_exceeded"}]}"#).unwrap();
    assert_eq!(
        (errors.id.as_str(), errors.message.as_str()),
        ("rate_limit_exceeded", "")
    );
    let flat = parse_error_body(br#"{"message":"Internal error"}"#).unwrap();
    assert_eq!(flat.message, "Internal error");
    assert_eq!(parse_error_body(b"[]"), None);
    assert_eq!(parse_error_body(b"{}"), None);
    assert_eq!(parse_error_body(b"<html>"), None);
}
