//! Tests of CSFloat's requests and parsers, against fixtures written from the official
//! example listing quoted in `shared/markets.md` §2 (the first listing verbatim, in both the
//! docs' bare array and the live `{data, cursor}` envelope) and the price list's documented
//! row shape, plus hand-made tolerated variants.

use super::*;

const PRICE_LIST: &[u8] = include_bytes!("../../../tests/fixtures/csfloat_price_list.json");
const LISTINGS: &[u8] = include_bytes!("../../../tests/fixtures/csfloat_listings.json");
const LISTINGS_BARE: &[u8] = include_bytes!("../../../tests/fixtures/csfloat_listings_bare.json");

fn form(w: &WireStats, endpoint: &str, form: &str) -> u64 {
    w.seen(endpoint, form)
}

fn dropped(w: &WireStats, endpoint: &str, reason: &str) -> u64 {
    w.dropped_because(endpoint, reason)
}

#[test]
fn listings_requests_cap_the_limit_at_fifty_and_carry_the_cursor() {
    let r = ListingsQuery::new("★ M9 Bayonet | Doppler (Minimal Wear)")
        .limit(500)
        .paint_index(Some(416))
        .price_band(50_000, 400_000)
        .cursor(Some("eyJwYWdlIjoyfQ==".into()))
        .to_request();
    assert_eq!(r.path, LISTINGS_PATH);
    assert_eq!(
        r.encoded_query(),
        "market_hash_name=%E2%98%85%20M9%20Bayonet%20%7C%20Doppler%20%28Minimal%20Wear%29\
         &limit=50&sort_by=lowest_price&type=buy_now&paint_index=416&min_price=50000\
         &max_price=400000&cursor=eyJwYWdlIjoyfQ%3D%3D"
    );
    let plain = ListingsQuery::new("AK-47 | Redline (Field-Tested)")
        .limit(0)
        .buy_now_only(false)
        .sort_by(SortBy::MostRecent)
        .cursor(Some(String::new()))
        .to_request();
    assert_eq!(plain.query_value("limit"), Some("1"));
    assert_eq!(plain.query_value("type"), None);
    assert_eq!(plain.query_value("cursor"), None);
    assert_eq!(plain.query_value("sort_by"), Some("most_recent"));
    assert_eq!(
        price_list_request().path_and_query(),
        "/api/v1/listings/price-list"
    );
}

#[test]
fn the_price_list_is_integer_cents_and_bad_rows_are_counted() {
    let ep = endpoint::PRICE_LIST;
    let p = parse_price_list(PRICE_LIST).unwrap();
    assert_eq!(p.rows, 9);
    let got: Vec<(&str, i64, u32)> = p
        .entries
        .iter()
        .map(|e| (e.market_hash_name.as_str(), e.min_price.cents(), e.quantity))
        .collect();
    assert_eq!(
        got,
        [
            ("M4A4 | Poseidon (Factory New)", 260_000, 12),
            ("AK-47 | Redline (Field-Tested)", 2_790, 340),
            ("★ M9 Bayonet | Doppler (Minimal Wear)", 79_500, 41),
            ("String Cents", 1_234, 3),
            ("Decimal Cents", 1_500, 1),
        ]
    );
    let w = &p.wire;
    assert_eq!(dropped(w, ep, "bad min_price"), 1);
    assert_eq!(dropped(w, ep, "no min_price"), 2);
    assert_eq!(dropped(w, ep, "no market_hash_name"), 1);
    assert_eq!(form(w, ep, "cents=string"), 1);
    assert_eq!(form(w, ep, "cents=decimal"), 1);
    assert_eq!(form(w, ep, "cents=zero"), 1);
    assert_eq!(form(w, ep, "answer=bare array"), 1);
    assert!(parse_price_list(br#"{"prices":[]}"#).is_err());
}

#[test]
fn listings_read_price_steam_reference_and_phase_from_the_envelope() {
    let ep = endpoint::LISTINGS;
    let p = parse_listings(LISTINGS).unwrap();
    assert_eq!((p.entries, p.listings.len()), (8, 5));
    assert_eq!(p.cursor.as_deref(), Some("eyJwYWdlIjoyfQ=="));
    let poseidon = &p.listings[0];
    assert_eq!(poseidon.id, "324288155723370196");
    assert_eq!(poseidon.market_hash_name, "M4A4 | Poseidon (Factory New)");
    assert_eq!(poseidon.price, Money::usd(260_000));
    assert_eq!(poseidon.kind, ListingKind::BuyNow);
    assert_eq!(poseidon.state.as_deref(), Some("listed"));
    assert_eq!((poseidon.paint_index, poseidon.phase), (Some(449), None));
    assert_eq!(poseidon.float_value, Some(0.0279));
    assert_eq!(
        poseidon.steam,
        Some(SteamReference {
            price: Money::usd(175_076),
            volume: 0
        })
    );
    assert_eq!(poseidon.predicted_price, Some(Money::usd(265_000)));
    let sapphire = &p.listings[1];
    assert_eq!(sapphire.phase, Some(Phase::Sapphire));
    assert_eq!(sapphire.steam.unwrap().price, Money::usd(301_000));
    assert_eq!(sapphire.steam.unwrap().volume, 2);
    // A numeric id, an auction, a phase from paint_index alone.
    let auction = &p.listings[2];
    assert_eq!(auction.id, "324288155723370198");
    assert_eq!(auction.kind, ListingKind::Auction);
    assert_eq!((auction.phase, auction.steam), (Some(Phase::Phase3), None));
    // An index outside the table, and an index contradicting the phase text: unknown.
    assert_eq!(p.listings[3].phase, None);
    assert_eq!(p.listings[4].phase, None);
    let w = &p.wire;
    assert_eq!(form(w, ep, "answer={data}"), 1);
    assert_eq!(form(w, ep, "Doppler phase unknown"), 2);
    assert_eq!(form(w, ep, "phase conflicts with paint_index"), 1);
    assert_eq!(dropped(w, ep, "bad price"), 1);
    assert_eq!(dropped(w, ep, "no item"), 1);
    assert_eq!(dropped(w, ep, "no id"), 1);
}

#[test]
fn the_docs_bare_array_reads_too_and_has_no_cursor() {
    let p = parse_listings(LISTINGS_BARE).unwrap();
    assert_eq!(p.listings.len(), 1);
    assert_eq!(p.listings[0].price, Money::usd(260_000));
    assert_eq!(p.listings[0].steam.unwrap().price, Money::usd(175_076));
    assert_eq!(p.cursor, None);
    assert_eq!(form(&p.wire, endpoint::LISTINGS, "answer=bare array"), 1);
    let err = parse_listings(b"<html>").unwrap_err();
    assert_eq!(err.endpoint, endpoint::LISTINGS);
}

#[test]
fn error_bodies_read_in_every_common_shape() {
    assert_eq!(
        parse_error_body(br#"{"message":"invalid key"}"#).as_deref(),
        Some("invalid key")
    );
    assert_eq!(
        parse_error_body(br#"{"code":4,"message":"too many"}"#).as_deref(),
        Some("too many")
    );
    assert_eq!(
        parse_error_body(br#"{"error":"forbidden"}"#).as_deref(),
        Some("forbidden")
    );
    assert_eq!(
        parse_error_body(br#"{"errors":[{"message":"slow down"}]}"#).as_deref(),
        Some("slow down")
    );
    assert_eq!(parse_error_body(br#"{"message":""}"#), None);
    assert_eq!(parse_error_body(b"[1]"), None);
}
