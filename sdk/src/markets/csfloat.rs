//! CSFloat's read endpoints, as `shared/markets.md` §2 gives them: the bulk price list
//! (`GET /api/v1/listings/price-list`: every name's lowest listing, in one call) and the
//! listings of a candidate (`GET /api/v1/listings`: at most 50 per page, an opaque cursor),
//! with tolerant parsers and the error body. CSFloat is CS2 only; money is integer USD
//! cents everywhere (`price`, `min_price`, `item.scm.price`).
//!
//! Uncertain forms are all read and counted: the listings answer as the docs' bare array or
//! as the live `{"data": [...], "cursor": "..."}`; cents as strings or with a zero fraction.
//! `item.scm` is Steam's price and volume: kept as a third, informational reference. The
//! phase of a Doppler comes from `item.paint_index` (a `phase` text is read too).
//! Authentication (`Authorization: <key>`, optional) is the host's: see `skinscan-net`.

use serde_json::value::RawValue;

use crate::context::ApiRequest;
use crate::dmarket::ParseError;
use crate::markets::phase::{Phase, price_depends_on_phase};
use crate::markets::wire;
use crate::model::WireStats;
use crate::money::Money;

/// Where the API lives.
pub const BASE_URL: &str = "https://csfloat.com";
/// Listings, filtered and paged by cursor.
pub const LISTINGS_PATH: &str = "/api/v1/listings";
/// Every name's lowest listing and quantity, one call for the whole market.
pub const PRICE_LIST_PATH: &str = "/api/v1/listings/price-list";
/// The most listings one page may hold (the docs' maximum since PR #6, and the default).
pub const MAX_LISTINGS_LIMIT: u32 = 50;
/// The environment variable the host reads the API key from.
pub const API_KEY_ENV: &str = "CSFLOAT_API_KEY";

/// Endpoint names used in [`WireStats`] and errors.
pub mod endpoint {
    /// `/api/v1/listings/price-list`.
    pub const PRICE_LIST: &str = "csfloat price list";
    /// `/api/v1/listings`.
    pub const LISTINGS: &str = "csfloat listings";
}

/// `GET /api/v1/listings/price-list`: no parameters.
pub fn price_list_request() -> ApiRequest {
    ApiRequest::get(PRICE_LIST_PATH)
}

/// `sort_by` of `/api/v1/listings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SortBy {
    /// `lowest_price`: what a candidate's reference wants.
    LowestPrice,
    /// `highest_price`.
    HighestPrice,
    /// `most_recent`.
    MostRecent,
    /// `best_deal`, the server's default.
    BestDeal,
}

impl SortBy {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::LowestPrice => "lowest_price",
            SortBy::HighestPrice => "highest_price",
            SortBy::MostRecent => "most_recent",
            SortBy::BestDeal => "best_deal",
        }
    }
}

/// A `/api/v1/listings` query for one candidate: its `market_hash_name`, cheapest first,
/// buy-now only, 50 per page; `to_request` makes the [`ApiRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingsQuery {
    market_hash_name: String,
    limit: u32,
    sort_by: SortBy,
    buy_now_only: bool,
    paint_index: Option<u32>,
    min_price: Option<i64>,
    max_price: Option<i64>,
    cursor: Option<String>,
}

impl ListingsQuery {
    /// The first page of `market_hash_name`'s buy-now listings, cheapest first, 50 a page.
    pub fn new(market_hash_name: impl Into<String>) -> Self {
        ListingsQuery {
            market_hash_name: market_hash_name.into(),
            limit: MAX_LISTINGS_LIMIT,
            sort_by: SortBy::LowestPrice,
            buy_now_only: true,
            paint_index: None,
            min_price: None,
            max_price: None,
            cursor: None,
        }
    }

    /// Listings per page, clamped to 1..=50 (the API's maximum).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit.clamp(1, MAX_LISTINGS_LIMIT);
        self
    }

    /// The order.
    pub fn sort_by(mut self, sort_by: SortBy) -> Self {
        self.sort_by = sort_by;
        self
    }

    /// Auctions too (`type` is not sent) when false; `type=buy_now` when true (the default).
    pub fn buy_now_only(mut self, yes: bool) -> Self {
        self.buy_now_only = yes;
        self
    }

    /// Only this paint index: a Doppler phase's listings (Sapphire is 416).
    pub fn paint_index(mut self, index: Option<u32>) -> Self {
        self.paint_index = index;
        self
    }

    /// Only listings priced within `[min, max]` cents.
    pub fn price_band(mut self, min_cents: i64, max_cents: i64) -> Self {
        self.min_price = Some(min_cents);
        self.max_price = Some(max_cents);
        self
    }

    /// Continue after the page that answered with this cursor (empty is none).
    pub fn cursor(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor.filter(|c| !c.is_empty());
        self
    }

    /// The request.
    pub fn to_request(&self) -> ApiRequest {
        let mut r = ApiRequest::get(LISTINGS_PATH)
            .param("market_hash_name", &self.market_hash_name)
            .param("limit", self.limit)
            .param("sort_by", self.sort_by.as_str());
        if self.buy_now_only {
            r = r.param("type", "buy_now");
        }
        if let Some(i) = self.paint_index {
            r = r.param("paint_index", i);
        }
        if let Some(p) = self.min_price {
            r = r.param("min_price", p);
        }
        if let Some(p) = self.max_price {
            r = r.param("max_price", p);
        }
        if let Some(c) = &self.cursor {
            r = r.param("cursor", c);
        }
        r
    }
}

/// One price-list row: a name's lowest listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceListEntry {
    /// Steam's `market_hash_name`. CSFloat's price list has no phase: a Doppler's row pools
    /// its phases, and a judgement refuses it.
    pub market_hash_name: String,
    /// Listings of the name.
    pub quantity: u32,
    /// The lowest listing, in cents.
    pub min_price: Money,
}

/// One parsed price list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PriceList {
    /// The rows that parsed.
    pub entries: Vec<PriceListEntry>,
    /// Rows the answer held, parsed or not.
    pub rows: u64,
    /// Rows dropped and forms seen.
    pub wire: WireStats,
}

/// Parses a price list: `[{"market_hash_name", "quantity", "min_price"}]` (an envelope
/// `{"data": [...]}` is read and counted too). A row without a positive `min_price` is
/// dropped (`no min_price`).
pub fn parse_price_list(body: &[u8]) -> Result<PriceList, ParseError> {
    let ep = endpoint::PRICE_LIST;
    let mut wire = WireStats::default();
    let list = wire::entries(body, ep, "an array of CSFloat prices", &mut wire)?;
    let mut out = PriceList {
        entries: Vec::with_capacity(list.entries.len()),
        rows: list.entries.len() as u64,
        wire,
    };
    for entry in list.entries {
        let parsed = (|| -> Result<PriceListEntry, String> {
            let f = wire::fields(entry).ok_or("not a price object")?;
            let market_hash_name =
                wire::text(&f, "market_hash_name").ok_or("no market_hash_name")?;
            let min_price =
                wire::cents_money(&f, "min_price", ep, &mut out.wire)?.ok_or("no min_price")?;
            Ok(PriceListEntry {
                quantity: wire::count(&f, "quantity", ep, &mut out.wire)?,
                market_hash_name,
                min_price,
            })
        })();
        match parsed {
            Ok(e) => out.entries.push(e),
            Err(reason) => out.wire.drop_entry(ep, &reason, entry.get()),
        }
    }
    Ok(out)
}

/// `type` of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingKind {
    /// `buy_now`: `price` buys it now.
    BuyNow,
    /// `auction`: `price` is a bid, not a sale price.
    Auction,
    /// Another or no `type` (counted as a form).
    Other,
}

/// Steam's price of the item as CSFloat reports it (`item.scm`): informational only, since
/// Steam pays wallet funds that cannot be withdrawn (markets.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SteamReference {
    /// `scm.price`, cents.
    pub price: Money,
    /// `scm.volume`.
    pub volume: u32,
}

/// One CSFloat listing.
#[derive(Debug, Clone, PartialEq)]
pub struct CsfloatListing {
    /// The listing id (a string of digits; a number is read too).
    pub id: String,
    /// `item.market_hash_name`.
    pub market_hash_name: String,
    /// The price, cents.
    pub price: Money,
    /// Buy now, auction, or other.
    pub kind: ListingKind,
    /// `state` (`listed`), when given.
    pub state: Option<String>,
    /// `item.paint_index`.
    pub paint_index: Option<u32>,
    /// The phase, when the title depends on one and `item.paint_index` (or `item.phase`)
    /// names one that fits it.
    pub phase: Option<Phase>,
    /// `item.float_value`.
    pub float_value: Option<f64>,
    /// `item.scm`: Steam's price and volume.
    pub steam: Option<SteamReference>,
    /// `reference.predicted_price` (cents), when given.
    pub predicted_price: Option<Money>,
}

/// One parsed listings page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListingsPage {
    /// The listings that parsed.
    pub listings: Vec<CsfloatListing>,
    /// Entries the page held, parsed or not.
    pub entries: u64,
    /// The next page's cursor; `None` when this was the last (or a bare array, which has
    /// none).
    pub cursor: Option<String>,
    /// Entries dropped and forms seen.
    pub wire: WireStats,
}

/// Parses a listings page: the docs' bare array, or `{"data": [...], "cursor": "..."}`.
pub fn parse_listings(body: &[u8]) -> Result<ListingsPage, ParseError> {
    let ep = endpoint::LISTINGS;
    let mut wire = WireStats::default();
    let list = wire::entries(body, ep, "CSFloat listings", &mut wire)?;
    let mut out = ListingsPage {
        listings: Vec::with_capacity(list.entries.len()),
        entries: list.entries.len() as u64,
        cursor: list.cursor,
        wire,
    };
    for entry in list.entries {
        match parse_listing(entry, &mut out.wire) {
            Ok(l) => out.listings.push(l),
            Err(reason) => out.wire.drop_entry(ep, &reason, entry.get()),
        }
    }
    Ok(out)
}

fn parse_listing(entry: &RawValue, wire: &mut WireStats) -> Result<CsfloatListing, String> {
    let ep = endpoint::LISTINGS;
    let f = wire::fields(entry).ok_or("not a listing object")?;
    let id = wire::id_text(&f, "id").ok_or("no id")?;
    let price = wire::cents_money(&f, "price", ep, wire)?.ok_or("no price")?;
    let item = f
        .get("item")
        .and_then(|v| wire::fields(v))
        .ok_or("no item")?;
    let market_hash_name = wire::text(&item, "market_hash_name").ok_or("no market_hash_name")?;
    let kind = match wire::text(&f, "type").as_deref() {
        Some("buy_now") => ListingKind::BuyNow,
        Some("auction") => ListingKind::Auction,
        _ => {
            wire.saw(ep, "type=other");
            ListingKind::Other
        }
    };
    let paint_index = item
        .get("paint_index")
        .and_then(|v| crate::dmarket::whole_number(v.get()))
        .and_then(|n| u32::try_from(n).ok());
    let phase = if price_depends_on_phase(&market_hash_name) {
        let by_index = paint_index.and_then(Phase::from_paint_index);
        let by_text = wire::text(&item, "phase").and_then(|t| Phase::parse(&t));
        let phase = match (by_index, by_text) {
            (Some(a), Some(b)) if a != b => {
                wire.saw(ep, "phase conflicts with paint_index");
                None
            }
            (a, b) => a.or(b),
        };
        let phase = phase.filter(|p| p.fits(&market_hash_name));
        if phase.is_none() {
            wire.saw(ep, "Doppler phase unknown");
        }
        phase
    } else {
        None
    };
    let steam = match item.get("scm").and_then(|v| wire::fields(v)) {
        Some(scm) => wire::cents_money(&scm, "price", ep, wire)
            .map_err(|e| format!("scm: {e}"))?
            .map(|price| -> Result<SteamReference, String> {
                Ok(SteamReference {
                    price,
                    volume: wire::count(&scm, "volume", ep, wire)?,
                })
            })
            .transpose()?,
        None => None,
    };
    let predicted_price = match f.get("reference").and_then(|v| wire::fields(v)) {
        Some(r) => wire::cents_money(&r, "predicted_price", ep, wire).unwrap_or_else(|_| {
            wire.saw(ep, "reference.predicted_price unreadable");
            None
        }),
        None => None,
    };
    Ok(CsfloatListing {
        id,
        market_hash_name,
        price,
        kind,
        state: wire::text(&f, "state"),
        paint_index,
        phase,
        float_value: item
            .get("float_value")
            .and_then(|v| v.get().parse::<f64>().ok())
            .filter(|v| (0.0..=1.0).contains(v)),
        steam,
        predicted_price,
    })
}

/// The message of a CSFloat error body. markets.md records no error shape for CSFloat, so
/// every common one is read: `{"message"}`, `{"error"}`, `{"code", "message"}` and
/// `{"errors": [{"message"}]}`. `None` when the body is none of them.
pub fn parse_error_body(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let o = match &v {
        serde_json::Value::Object(o) => match o.get("errors").and_then(|e| e.as_array()) {
            Some(list) => list.first()?.as_object()?,
            None => o,
        },
        _ => return None,
    };
    ["message", "error", "detail"]
        .iter()
        .find_map(|k| o.get(*k).and_then(serde_json::Value::as_str))
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
}

/// A snapshot row's key: name and phase.
type Key = (String, Option<Phase>);

/// The snapshot parts this market's answers make.
impl crate::markets::snapshot::SnapshotBuilder {
    /// Adds a candidate's `/api/v1/listings` page (fetched at `fetched_at`): per name and
    /// phase, the lowest `buy_now` price listed now (an auction's bid is not a price) and
    /// Steam's price (`item.scm`, informational). Give it before the snapshot it refines
    /// ([`rows_of`](crate::markets::snapshot::SnapshotBuilder::rows_of)): the earlier part's
    /// price wins.
    pub fn csfloat_listings(mut self, page: &ListingsPage, fetched_at: i64) -> Self {
        self.wire_mut().merge(&page.wire);
        // Per name and phase: the lowest price, how many listed, Steam's price.
        let mut best: std::collections::BTreeMap<Key, (Money, u32, Option<Money>)> =
            std::collections::BTreeMap::new();
        for l in page
            .listings
            .iter()
            .filter(|l| l.kind == ListingKind::BuyNow)
        {
            let e = best
                .entry((l.market_hash_name.clone(), l.phase))
                .or_insert((l.price, 0, None));
            if l.price.cents() < e.0.cents() {
                e.0 = l.price;
            }
            e.1 += 1;
            if e.2.is_none() {
                e.2 = l.steam.map(|s| s.price);
            }
        }
        let n = best.len();
        for ((name, phase), (lowest, quantity, steam)) in best {
            self.push(name, phase, |q| {
                q.lowest = Some(lowest);
                q.quantity = quantity;
                q.steam = steam;
            });
        }
        self.part(endpoint::LISTINGS, fetched_at, n);
        self
    }
    /// Adds CSFloat's price list: lowest and quantity, phases pooled.
    pub fn csfloat_price_list(mut self, list: PriceList, fetched_at: i64) -> Self {
        self.wire_mut().merge(&list.wire);
        let n = list.entries.len();
        for e in list.entries {
            self.push(e.market_hash_name, None, |q| {
                q.lowest = Some(e.min_price);
                q.quantity = e.quantity;
            });
        }
        self.part(endpoint::PRICE_LIST, fetched_at, n);
        self
    }
}

#[cfg(test)]
mod tests;
