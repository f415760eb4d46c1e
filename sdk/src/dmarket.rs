//! DMarket's wire format: typed request builders and tolerant response parsers.
//!
//! Written to DMarket's official shapes (shared/dmarket-api.md, with its sources): listings
//! from v1 `/exchange/v1/market/items` and v2 `/marketplace-api/v2/offers`, aggregated prices
//! with money as `commonMoney` objects (`{"Currency": "USD", "Amount": "1250"}`) and counts as
//! strings, last sales in decimal dollars, the account's customized fees, and the three error
//! bodies. Where a fact is uncertain every plausible form is accepted and the form seen is
//! counted ([`WireStats::forms`]). Nothing fails silently: an entry that does not parse is
//! skipped, counted by endpoint and reason, and kept as an example ([`WireStats`]); only a
//! body that is not the endpoint's JSON at all is an error, and that error quotes the body.
//!
//! **Trading** (buying an offer, the balance) is DMarket's too but lives in
//! [`crate::trading`], with its facts and their sources (shared/dmarket-trading.md): the buy is
//! `PATCH /exchange/v1/offers-buy` with the offer's `extra.offerId` (v1) or `offerId` (v2,
//! as parsed here into [`Listing::offer_id`]) and the listing's price as a cent string;
//! there is no idempotency key, so a buy is never retried; the balance is
//! `GET /account/v1/balance` in cents. Uncertain: what `TxPending` settles into, whether the
//! balance excludes target-held funds, the trading endpoints' rate-limit group.
//!
//! Long because it is DMarket's whole wire format in one place: every request builder and
//! tolerant parser beside the variants it accepts (about 1,050 lines), then their tests
//! (about 420). Splitting by endpoint would scatter the shared money and count readers.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::arbitrage::{AccountFee, FeeSchedule, ReducedFee};
use crate::context::{ApiRequest, ScanError};
use crate::model::{Listing, ReferencePrice, TradeLock, WireStats, truncate_bytes};
use crate::money::{Bps, Currency, Money, MoneyError, parse_fraction_bps};

/// Path of the v1 market listings endpoint (exchange service).
pub const MARKET_ITEMS_PATH: &str = "/exchange/v1/market/items";
/// Path of the v2 offers endpoint (the only listing endpoint of the v2.0.0 spec).
pub const OFFERS_V2_PATH: &str = "/marketplace-api/v2/offers";
/// Path of the aggregated prices endpoint.
pub const AGGREGATED_PRICES_PATH: &str = "/marketplace-api/v1/aggregated-prices";
/// Path of the last sales endpoint.
pub const LAST_SALES_PATH: &str = "/trade-aggregator/v1/last-sales";
/// Path of the account's customized fees.
pub const CUSTOMIZED_FEES_PATH: &str = "/exchange/v1/customized-fees";
/// The most listings one page may hold (both listing endpoints).
pub const MAX_PAGE_LIMIT: u32 = 100;
/// The most titles one aggregated-prices request may hold.
pub const MAX_TITLES_PER_PRICE_REQUEST: usize = 100;
/// The most sales one last-sales request may ask for.
pub const MAX_SALES_LIMIT: u32 = 20;
/// Reduced fees asked per customized-fees page.
pub const FEES_PAGE_LIMIT: u32 = 100;

/// Endpoint names used in [`WireStats`] and errors.
pub mod endpoint {
    /// v1 market items.
    pub const MARKET_ITEMS: &str = "market items";
    /// v2 offers.
    pub const OFFERS: &str = "offers";
    /// Aggregated prices.
    pub const AGGREGATED_PRICES: &str = "aggregated prices";
    /// Last sales.
    pub const LAST_SALES: &str = "last sales";
    /// Customized fees.
    pub const CUSTOMIZED_FEES: &str = "customized fees";
}

/// Which listing endpoint a scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListingApi {
    /// `GET /exchange/v1/market/items` (answered in late 2025; absent from the 2026 spec).
    V1,
    /// `GET /marketplace-api/v2/offers` (the v2.0.0 spec's only listing endpoint).
    V2,
}

impl ListingApi {
    /// The endpoint's path.
    pub fn path(self) -> &'static str {
        match self {
            ListingApi::V1 => MARKET_ITEMS_PATH,
            ListingApi::V2 => OFFERS_V2_PATH,
        }
    }

    /// `v1` or `v2`.
    pub fn as_str(self) -> &'static str {
        match self {
            ListingApi::V1 => "v1",
            ListingApi::V2 => "v2",
        }
    }

    /// The other one (what `auto` falls back to on a 404).
    pub fn other(self) -> ListingApi {
        match self {
            ListingApi::V1 => ListingApi::V2,
            ListingApi::V2 => ListingApi::V1,
        }
    }
}

/// True for the path of either listing endpoint.
pub fn is_listings_path(path: &str) -> bool {
    path == MARKET_ITEMS_PATH || path == OFFERS_V2_PATH
}

/// The order listings are asked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingOrder {
    /// Cheapest first (`orderBy=price&orderDir=asc`).
    PriceAsc,
    /// Most expensive first.
    PriceDesc,
    /// Newest first: v1 `orderBy=updated`, v2 `orderBy=createdAt`, `orderDir=desc`.
    NewestFirst,
}

/// A listings query for either endpoint; `to_request` makes the [`ApiRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingsQuery {
    api: ListingApi,
    game_id: String,
    limit: u32,
    currency: Currency,
    order: ListingOrder,
    price_from: Option<i64>,
    price_to: Option<i64>,
    title: Option<String>,
    tree_filters: Option<String>,
    types: Vec<String>,
    cursor: Option<String>,
}

impl ListingsQuery {
    /// The first page of `game_id`'s listings on `api`: 100 per page, cheapest first, USD,
    /// `types=dmarket` (v1).
    pub fn new(api: ListingApi, game_id: impl Into<String>) -> Self {
        ListingsQuery {
            api,
            game_id: game_id.into(),
            limit: MAX_PAGE_LIMIT,
            currency: Currency::Usd,
            order: ListingOrder::PriceAsc,
            price_from: None,
            price_to: None,
            title: None,
            tree_filters: None,
            types: vec!["dmarket".to_owned()],
            cursor: None,
        }
    }

    /// Listings per page, clamped to 1..=100 (the API refuses more than 100).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit.clamp(1, MAX_PAGE_LIMIT);
        self
    }

    /// The order.
    pub fn order(mut self, order: ListingOrder) -> Self {
        self.order = order;
        self
    }

    /// Only listings priced within `[from, to]` cents.
    pub fn price_band(mut self, from_cents: i64, to_cents: i64) -> Self {
        self.price_from = Some(from_cents);
        self.price_to = Some(to_cents);
        self
    }

    /// Only listings with this exact title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// DMarket's `treeFilters` (`categoryPath[]=knife,exterior[]=factory new`).
    pub fn tree_filters(mut self, filters: impl Into<String>) -> Self {
        self.tree_filters = Some(filters.into()).filter(|f| !f.is_empty());
        self
    }

    /// v1 `types` (`dmarket`, `p2p`), sent comma-separated; empty sends none. v2 has none.
    pub fn types<S: AsRef<str>>(mut self, types: &[S]) -> Self {
        self.types = types.iter().map(|t| t.as_ref().to_owned()).collect();
        self
    }

    /// Continue after the page that answered with this cursor.
    pub fn cursor(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor.filter(|c| !c.is_empty());
        self
    }

    /// The page size that will be requested.
    pub fn page_limit(&self) -> u32 {
        self.limit
    }

    /// The request. The cursor (base64 with `=` padding) is percent-encoded like every value.
    pub fn to_request(&self) -> ApiRequest {
        let (order_by, dir) = match (self.order, self.api) {
            (ListingOrder::PriceAsc, _) => ("price", "asc"),
            (ListingOrder::PriceDesc, _) => ("price", "desc"),
            (ListingOrder::NewestFirst, ListingApi::V1) => ("updated", "desc"),
            (ListingOrder::NewestFirst, ListingApi::V2) => ("createdAt", "desc"),
        };
        let mut r = ApiRequest::get(self.api.path())
            .param("gameId", &self.game_id)
            .param("limit", self.limit);
        if self.api == ListingApi::V1 {
            r = r.param("currency", self.currency.code());
        }
        r = r.param("orderBy", order_by).param("orderDir", dir);
        if let Some(from) = self.price_from {
            r = r.param("priceFrom", from);
        }
        if let Some(to) = self.price_to {
            r = r.param("priceTo", to);
        }
        if self.api == ListingApi::V1 && !self.types.is_empty() {
            r = r.param("types", self.types.join(","));
        }
        if let Some(title) = &self.title {
            r = r.param("title", title);
        }
        if let Some(filters) = &self.tree_filters {
            r = r.param("treeFilters", filters);
        }
        if let Some(cursor) = &self.cursor {
            r = r.param("cursor", cursor);
        }
        r
    }
}

/// Aggregated-prices requests for `titles`, at most 100 titles each: 250 titles make 3.
/// `price_game` is `filter.game`: the market `gameId` by default.
pub fn aggregated_prices_requests(price_game: &str, titles: &[String]) -> Vec<ApiRequest> {
    titles
        .chunks(MAX_TITLES_PER_PRICE_REQUEST)
        .map(|chunk| aggregated_prices_request(price_game, chunk, None))
        .collect()
}

/// One aggregated-prices request; `titles` must hold at most 100 (debug-asserted). `cursor`
/// continues an answer whose `nextCursor` was not empty.
pub fn aggregated_prices_request(
    price_game: &str,
    titles: &[String],
    cursor: Option<&str>,
) -> ApiRequest {
    debug_assert!(titles.len() <= MAX_TITLES_PER_PRICE_REQUEST);
    let body = serde_json::json!({
        "filter": {"game": price_game, "titles": titles},
        "limit": MAX_TITLES_PER_PRICE_REQUEST.to_string(),
        "cursor": cursor.unwrap_or(""),
    });
    ApiRequest::post_json(AGGREGATED_PRICES_PATH, body.to_string().into_bytes(), true)
}

/// The last `limit` sales of `title` (`limit` clamped to 1..=20, the API's range).
pub fn last_sales_request(game_id: &str, title: &str, limit: u32) -> ApiRequest {
    ApiRequest::get(LAST_SALES_PATH)
        .param("gameId", game_id)
        .param("title", title)
        .param("limit", limit.clamp(1, MAX_SALES_LIMIT))
}

/// One page of the account's customized fees for `game_id` (signed requests only).
pub fn customized_fees_request(game_id: &str, offset: u32) -> ApiRequest {
    ApiRequest::get(CUSTOMIZED_FEES_PATH)
        .param("gameId", game_id)
        .param("offset", offset)
        .param("limit", FEES_PAGE_LIMIT)
}

/// A body that is not the JSON the endpoint promises. The message quotes its start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{endpoint}: {message}")]
pub struct ParseError {
    /// Which endpoint's answer (`market items`).
    pub endpoint: &'static str,
    /// What was wrong with it, and how the body began.
    pub message: String,
}

pub(crate) fn not_the_shape(
    endpoint: &'static str,
    expected: &str,
    why: &str,
    body: &[u8],
) -> ParseError {
    ParseError {
        endpoint,
        message: format!(
            "not {expected} ({why}); the body began: {}",
            truncate_bytes(&String::from_utf8_lossy(body), 200)
        ),
    }
}

/// One parsed listings page, from either endpoint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListingsPage {
    /// The listings that parsed.
    pub listings: Vec<Listing>,
    /// Entries the page held, parsed or not.
    pub entries: u64,
    /// The total the server reports, when it does.
    pub total: Option<u64>,
    /// The next page's cursor; `None` when this was the last page.
    pub cursor: Option<String>,
    /// Entries dropped (with reasons and an example) and forms seen.
    pub wire: WireStats,
}

impl ListingsPage {
    /// Entries that did not parse.
    pub fn malformed(&self) -> u64 {
        self.entries.saturating_sub(self.listings.len() as u64)
    }
}

#[derive(Deserialize)]
struct RawListingsPage<'a> {
    #[serde(borrow, default)]
    objects: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    total: Option<Value>,
    #[serde(default)]
    cursor: Option<String>,
}

/// Parses a listings page of either endpoint (v1 `objects`, v2 `items`) in `currency`,
/// skipping and counting entries that do not parse.
pub fn parse_listings_page(body: &[u8], currency: Currency) -> Result<ListingsPage, ParseError> {
    let expected = "a listings page (\"objects\" or \"items\")";
    let raw: RawListingsPage<'_> = serde_json::from_slice(body)
        .map_err(|e| not_the_shape(endpoint::MARKET_ITEMS, expected, &e.to_string(), body))?;
    let (name, objects, v2) = match (raw.objects, raw.items) {
        (Some(objects), _) => (endpoint::MARKET_ITEMS, objects, false),
        (None, Some(items)) => (endpoint::OFFERS, items, true),
        (None, None) => {
            return Err(not_the_shape(
                endpoint::MARKET_ITEMS,
                expected,
                "neither field is there",
                body,
            ));
        }
    };
    let mut page = ListingsPage {
        listings: Vec::with_capacity(objects.len()),
        entries: objects.len() as u64,
        total: raw.total.as_ref().and_then(parse_total),
        cursor: raw.cursor.filter(|c| !c.is_empty()),
        wire: WireStats::default(),
    };
    for object in objects {
        let parsed = if v2 {
            parse_v2_offer(object.get(), currency, &mut page.wire)
        } else {
            parse_v1_object(object.get(), currency, &mut page.wire)
        };
        match parsed {
            Ok(listing) => page.listings.push(listing),
            Err(reason) => page.wire.drop_entry(name, reason, object.get()),
        }
    }
    Ok(page)
}

/// `total` is seen as `1500`, `"1500"` and `{"offers": 1500, "items": 1500, ...}` (v1, where
/// `items` is capped at 10,000: the larger count wins).
fn parse_total(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(o) => ["offers", "items"]
            .iter()
            .filter_map(|k| o.get(*k).and_then(parse_total))
            .max(),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawV1Object<'a> {
    #[serde(default)]
    item_id: Option<Value>,
    #[serde(default)]
    title: Option<Value>,
    #[serde(borrow, default)]
    price: Option<BTreeMap<Cow<'a, str>, &'a RawValue>>,
    #[serde(borrow, default)]
    suggested_price: Option<BTreeMap<Cow<'a, str>, &'a RawValue>>,
    #[serde(borrow, default)]
    created_at: Option<&'a RawValue>,
    #[serde(default)]
    lock_status: Option<Value>,
    #[serde(borrow, default)]
    extra: Option<BTreeMap<Cow<'a, str>, &'a RawValue>>,
}

/// A field's raw JSON as a string value, if it is one.
pub(crate) fn raw_str(v: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(v.get()).ok()
}

/// A scalar's text: a string's content, or a number's or bool's JSON.
fn raw_scalar(v: &RawValue) -> Option<String> {
    let t = v.get();
    match t.as_bytes().first()? {
        b'"' => raw_str(v),
        b'{' | b'[' | b'n' => None,
        _ => Some(t.to_owned()),
    }
}

/// A whole number given as a JSON number or a string of digits.
pub(crate) fn whole_number(text: &str) -> Option<i64> {
    let t = text.trim().trim_matches('"').trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// Cents in `{"USD": "1250"}` (a string of cents; a JSON number tolerated and counted).
fn price_in(
    prices: Option<&BTreeMap<Cow<'_, str>, &RawValue>>,
    currency: Currency,
    endpoint: &str,
    wire: &mut WireStats,
) -> Result<Money, MoneyError> {
    let Some(v) = prices.and_then(|p| p.get(currency.code())) else {
        return Err(MoneyError::Missing(currency));
    };
    let text = v.get();
    if text.starts_with('"') {
        Money::parse_cents(&raw_str(v).unwrap_or_default(), currency)
    } else if text == "null" {
        Err(MoneyError::Missing(currency))
    } else {
        wire.saw(endpoint, "price=number");
        Money::parse_cents(text, currency)
    }
}

fn money_reason(e: &MoneyError) -> &'static str {
    match e {
        MoneyError::Missing(_) => "no USD price",
        _ => "bad price",
    }
}

/// Unix seconds from a number, a string of digits (milliseconds when it is that large) or
/// an RFC 3339 time.
fn unix_seconds(v: &RawValue, endpoint: &str, wire: &mut WireStats) -> Option<i64> {
    let text = v.get();
    let (n, form) = if let Some(n) = whole_number(text) {
        let quoted = text.starts_with('"');
        (
            Some(n),
            if quoted {
                "createdAt=string"
            } else {
                "createdAt=number"
            },
        )
    } else if let Some(s) = raw_str(v) {
        (parse_rfc3339(&s), "createdAt=rfc3339")
    } else {
        (None, "createdAt=unreadable")
    };
    wire.saw(endpoint, form);
    n.map(|n| if n > 100_000_000_000 { n / 1_000 } else { n })
}

fn parse_v1_object(
    json: &str,
    currency: Currency,
    wire: &mut WireStats,
) -> Result<Listing, &'static str> {
    let ep = endpoint::MARKET_ITEMS;
    let raw: RawV1Object<'_> = serde_json::from_str(json).map_err(|_| "not a listing object")?;
    let item_id = match raw.item_id {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return Err("no itemId"),
    };
    let title = match raw.title {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        _ => return Err("no title"),
    };
    let price = price_in(raw.price.as_ref(), currency, ep, wire).map_err(|e| money_reason(&e))?;
    let mut listing = Listing::new(item_id, title, price);
    listing.suggested_price = price_in(raw.suggested_price.as_ref(), currency, ep, wire)
        .ok()
        .filter(|m| m.cents() > 0);
    listing.listed_at = raw.created_at.and_then(|v| unix_seconds(v, ep, wire));
    let mut lock_days = None;
    let mut lock_secs = None;
    for (key, value) in raw.extra.iter().flatten() {
        match key.as_ref() {
            "offerId" => listing.offer_id = raw_str(value).filter(|s| !s.is_empty()),
            "tradable" => listing.tradable = serde_json::from_str(value.get()).ok(),
            "tradeLock" => lock_days = whole_number(value.get()),
            "tradeLockDuration" => lock_secs = whole_number(value.get()),
            "exterior" => listing.exterior = raw_str(value).filter(|s| !s.is_empty()),
            "floatValue" => listing.float_value = float_value(value),
            _ => {}
        }
        if let Some(text) = raw_scalar(value) {
            listing.attributes.insert(key.clone().into_owned(), text);
        }
    }
    if listing.offer_id.is_none() {
        wire.saw(ep, "extra.offerId missing");
    }
    let locked_flag = matches!(raw.lock_status, Some(Value::Bool(true)));
    listing.trade_lock = match (lock_secs, lock_days) {
        (Some(s), _) if s > 0 => TradeLock::Locked {
            seconds: Some(s as u64),
        },
        (_, Some(d)) if d > 0 => TradeLock::Locked {
            seconds: Some(d as u64 * 86_400),
        },
        _ if locked_flag => TradeLock::Locked { seconds: None },
        (Some(_), _) | (_, Some(_)) => TradeLock::Unlocked,
        (None, None) => match raw.lock_status {
            Some(Value::Bool(false)) => TradeLock::Unlocked,
            _ => TradeLock::Unknown,
        },
    };
    Ok(listing)
}

fn float_value(v: &RawValue) -> Option<f64> {
    let text = raw_scalar(v)?;
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| (0.0..=1.0).contains(f))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawV2Offer<'a> {
    #[serde(default)]
    offer_id: Option<Value>,
    #[serde(borrow, default)]
    price_cents: Option<&'a RawValue>,
    #[serde(borrow, default)]
    created_at: Option<&'a RawValue>,
    #[serde(default)]
    locked: Option<Value>,
    #[serde(borrow, default)]
    attributes: Option<BTreeMap<Cow<'a, str>, &'a RawValue>>,
}

fn parse_v2_offer(
    json: &str,
    currency: Currency,
    wire: &mut WireStats,
) -> Result<Listing, &'static str> {
    let ep = endpoint::OFFERS;
    let raw: RawV2Offer<'_> = serde_json::from_str(json).map_err(|_| "not an offer object")?;
    let offer_id = match raw.offer_id {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return Err("no offerId"),
    };
    let price_text = raw.price_cents.ok_or("no priceCents")?.get();
    wire.saw(
        ep,
        if price_text.starts_with('"') {
            "priceCents=string"
        } else {
            "priceCents=number"
        },
    );
    let price =
        Money::parse_cents(price_text.trim_matches('"'), currency).map_err(|_| "bad price")?;
    let attributes = raw.attributes.unwrap_or_default();
    let title = attributes
        .get("title")
        .and_then(|v| raw_str(v))
        .filter(|t| !t.trim().is_empty())
        .ok_or("no title")?;
    let item_id = ["itemId", "assetId"]
        .iter()
        .find_map(|k| attributes.get(*k).and_then(|v| raw_str(v)))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| offer_id.clone());
    let mut listing = Listing::new(item_id, title, price);
    listing.offer_id = Some(offer_id);
    listing.listed_at = raw.created_at.and_then(|v| unix_seconds(v, ep, wire));
    listing.trade_lock = match raw.locked {
        Some(Value::Bool(true)) => TradeLock::Locked { seconds: None },
        Some(Value::Bool(false)) => TradeLock::Unlocked,
        _ => TradeLock::Unknown,
    };
    for (key, value) in &attributes {
        match key.as_ref() {
            "tradable" => listing.tradable = serde_json::from_str(value.get()).ok(),
            "cs2Attributes" => {
                let cs2: BTreeMap<Cow<'_, str>, &RawValue> =
                    serde_json::from_str(value.get()).unwrap_or_default();
                for (k, v) in &cs2 {
                    match k.as_ref() {
                        "exterior" => listing.exterior = raw_str(v).filter(|s| !s.is_empty()),
                        "floatValue" => listing.float_value = float_value(v),
                        _ => {}
                    }
                    if let Some(text) = raw_scalar(v) {
                        listing.attributes.insert(k.clone().into_owned(), text);
                    }
                }
            }
            _ => {}
        }
        if let Some(text) = raw_scalar(value) {
            listing.attributes.insert(key.clone().into_owned(), text);
        }
    }
    Ok(listing)
}

/// One parsed aggregated-prices answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AggregatedPrices {
    /// Reference prices by title.
    pub prices: Vec<ReferencePrice>,
    /// Entries the answer held, parsed or not.
    pub entries: u64,
    /// The cursor of a further page, if any.
    pub next_cursor: Option<String>,
    /// Entries dropped and forms seen.
    pub wire: WireStats,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAggregated<'a> {
    #[serde(borrow)]
    aggregated_prices: Vec<&'a RawValue>,
    #[serde(default)]
    next_cursor: Option<String>,
}

/// Parses an aggregated-prices answer (prices in cents of `currency`).
pub fn parse_aggregated_prices(
    body: &[u8],
    currency: Currency,
) -> Result<AggregatedPrices, ParseError> {
    let raw: RawAggregated<'_> = serde_json::from_slice(body).map_err(|e| {
        not_the_shape(
            endpoint::AGGREGATED_PRICES,
            "an aggregated-prices answer (\"aggregatedPrices\")",
            &e.to_string(),
            body,
        )
    })?;
    let mut out = AggregatedPrices {
        prices: Vec::with_capacity(raw.aggregated_prices.len()),
        entries: raw.aggregated_prices.len() as u64,
        next_cursor: raw.next_cursor.filter(|c| !c.is_empty()),
        wire: WireStats::default(),
    };
    for entry in raw.aggregated_prices {
        match parse_aggregated_entry(entry.get(), currency, &mut out.wire) {
            Ok(p) => out.prices.push(p),
            Err(reason) => out
                .wire
                .drop_entry(endpoint::AGGREGATED_PRICES, reason, entry.get()),
        }
    }
    Ok(out)
}

/// An amount of cents in any form DMarket is seen to use, with the form's name:
/// `commonMoney` (`{"Currency": "USD", "Amount": "1250"}`), a currency-keyed object
/// (`{"USD": "1250"}`), a flat string of cents, or a JSON number of cents.
fn amount_cents(v: &Value, currency: Currency) -> Result<(i64, &'static str), &'static str> {
    let digits = |v: &Value| -> Result<i64, &'static str> {
        let text = match v {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            _ => return Err("bad price"),
        };
        Money::parse_cents(&text, currency)
            .map(Money::cents)
            .map_err(|_| "bad price")
    };
    match v {
        Value::Object(o) => {
            let field = |a: &str, b: &str| o.get(a).or_else(|| o.get(b));
            if let Some(amount) = field("Amount", "amount") {
                if let Some(c) = field("Currency", "currency") {
                    match c.as_str() {
                        Some(code) if code.eq_ignore_ascii_case(currency.code()) => {}
                        Some(_) => return Err("other currency"),
                        None => return Err("bad currency"),
                    }
                }
                return digits(amount).map(|c| (c, "commonMoney"));
            }
            match o.get(currency.code()) {
                Some(amount) => digits(amount).map(|c| (c, "currency object")),
                None => Err("no USD price"),
            }
        }
        Value::String(_) => digits(v).map(|c| (c, "flat string")),
        Value::Number(_) => digits(v).map(|c| (c, "number")),
        _ => Err("bad price"),
    }
}

/// A count given as a string of digits (the official form) or a number; missing is 0.
fn count(v: Option<&Value>, name: &str, wire: &mut WireStats) -> Result<u32, &'static str> {
    let (n, form) = match v {
        None | Some(Value::Null) => (Some(0), "missing"),
        Some(Value::String(s)) => (whole_number(s), "string"),
        Some(Value::Number(n)) => (n.as_u64().map(|n| n as i64), "number"),
        Some(_) => (None, "other"),
    };
    wire.saw(endpoint::AGGREGATED_PRICES, &format!("{name}={form}"));
    n.map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        .ok_or("bad count")
}

fn parse_aggregated_entry(
    json: &str,
    currency: Currency,
    wire: &mut WireStats,
) -> Result<ReferencePrice, &'static str> {
    let ep = endpoint::AGGREGATED_PRICES;
    let raw: Value = serde_json::from_str(json).map_err(|_| "not an object")?;
    let obj = raw.as_object().ok_or("not an object")?;
    let title = obj
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or("no title")?
        .to_owned();
    // A missing best price, or an Amount of "0", means "none".
    let best = |key: &str, wire: &mut WireStats| -> Result<Option<Money>, &'static str> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                wire.saw(ep, &format!("{key} missing"));
                Ok(None)
            }
            Some(v) => {
                let (cents, form) = amount_cents(v, currency)?;
                wire.saw(ep, &format!("price={form}"));
                Ok((cents > 0).then(|| Money::from_cents(cents, currency)))
            }
        }
    };
    let best_order = best("orderBestPrice", wire)?;
    let best_offer = best("offerBestPrice", wire)?;
    Ok(ReferencePrice {
        title,
        best_order,
        order_count: count(obj.get("orderCount"), "orderCount", wire)?,
        best_offer,
        offer_count: count(obj.get("offerCount"), "offerCount", wire)?,
        recent_sales: Vec::new(),
    })
}

/// One sale from a last-sales answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sale {
    /// The price (read from decimal dollars).
    pub price: Money,
    /// When, in unix seconds, when it parsed.
    pub date: Option<i64>,
    /// `Offer` or `Order` (`txOperationType`).
    pub operation: Option<String>,
}

/// One parsed last-sales answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LastSales {
    /// The sales that parsed, newest first as served.
    pub sales: Vec<Sale>,
    /// Entries the answer held, parsed or not.
    pub entries: u64,
    /// Entries dropped and forms seen (the price unit is uncertain: its form is counted).
    pub wire: WireStats,
}

impl LastSales {
    /// The prices, newest first.
    pub fn prices(&self) -> Vec<Money> {
        self.sales.iter().map(|s| s.price).collect()
    }
}

#[derive(Deserialize)]
struct RawSales<'a> {
    #[serde(borrow)]
    sales: Vec<&'a RawValue>,
}

/// Parses a last-sales answer. Prices are decimal dollars (`"12.1"` is 1210 cents), as the
/// real clients read them; the unit is uncertain, so the form of each price is counted
/// (`price=decimal dollars` / `price=whole dollars`) for the first live run to confirm.
pub fn parse_last_sales(body: &[u8], currency: Currency) -> Result<LastSales, ParseError> {
    let ep = endpoint::LAST_SALES;
    let raw: RawSales<'_> = serde_json::from_slice(body)
        .map_err(|e| not_the_shape(ep, "a last-sales answer (\"sales\")", &e.to_string(), body))?;
    let mut out = LastSales {
        sales: Vec::with_capacity(raw.sales.len()),
        entries: raw.sales.len() as u64,
        wire: WireStats::default(),
    };
    for entry in raw.sales {
        let parsed = (|| {
            let v: Value = serde_json::from_str(entry.get()).map_err(|_| "not an object")?;
            let text = match v.get("price") {
                Some(Value::String(s)) => s.trim().to_owned(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err("no price"),
            };
            let price = Money::parse_dollars(&text, currency).map_err(|_| "bad price")?;
            out.wire.saw(
                ep,
                if text.contains('.') {
                    "price=decimal dollars"
                } else {
                    "price=whole dollars"
                },
            );
            let date = match v.get("date") {
                Some(Value::String(s)) => whole_number(s).or_else(|| parse_rfc3339(s)),
                Some(Value::Number(n)) => n.as_i64(),
                _ => None,
            };
            let operation = v
                .get("txOperationType")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok(Sale {
                price,
                date,
                operation,
            })
        })();
        match parsed {
            Ok(sale) => out.sales.push(sale),
            Err(reason) => out.wire.drop_entry(ep, reason, entry.get()),
        }
    }
    Ok(out)
}

/// One parsed page of customized fees.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomizedFees {
    /// The account's default fee, when the answer carried a readable one.
    pub default: Option<AccountFee>,
    /// Reduced fees by title.
    pub reduced: Vec<(String, ReducedFee)>,
    /// Reduced-fee entries the answer held, parsed or not.
    pub entries: u64,
    /// Entries dropped and forms seen.
    pub wire: WireStats,
}

impl CustomizedFees {
    /// Adds this page to `schedule`.
    pub fn add_to(self, schedule: &mut FeeSchedule) {
        if let Some(d) = self.default {
            schedule.default = Some(d);
        }
        for (title, fee) in self.reduced {
            schedule.reduced.entry(title).or_default().push(fee);
        }
    }
}

/// Parses a customized-fees answer: `{"defaultFee": {"fraction": "0.05", "minAmount": …},
/// "reducedFees": [{"title", "fraction", "minPrice", "maxPrice", "expiresAt"}]}`.
/// Fractions are decimal strings (numbers tolerated); amounts in any money form.
pub fn parse_customized_fees(
    body: &[u8],
    currency: Currency,
) -> Result<CustomizedFees, ParseError> {
    let ep = endpoint::CUSTOMIZED_FEES;
    let expected = "a customized-fees answer (\"defaultFee\", \"reducedFees\")";
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| not_the_shape(ep, expected, &e.to_string(), body))?;
    let Some(obj) = v
        .as_object()
        .filter(|o| o.contains_key("defaultFee") || o.contains_key("reducedFees"))
    else {
        return Err(not_the_shape(ep, expected, "neither field is there", body));
    };
    let mut out = CustomizedFees::default();
    let fraction = |v: Option<&Value>, wire: &mut WireStats| -> Option<Bps> {
        let (text, form) = match v? {
            Value::String(s) => (s.clone(), "fraction=string"),
            Value::Number(n) => (n.to_string(), "fraction=number"),
            _ => return None,
        };
        wire.saw(ep, form);
        parse_fraction_bps(&text).and_then(|b| Bps::new(b).ok())
    };
    let amount = |v: Option<&Value>| -> Option<i64> {
        v.filter(|v| !v.is_null())
            .and_then(|v| amount_cents(v, currency).ok())
            .map(|(c, _)| c)
    };
    if let Some(d) = obj.get("defaultFee") {
        match fraction(d.get("fraction"), &mut out.wire) {
            Some(rate) => {
                out.default = Some(AccountFee {
                    rate,
                    min_cents: amount(d.get("minAmount")).unwrap_or(0),
                })
            }
            None => out.wire.drop_entry(ep, "bad defaultFee", &d.to_string()),
        }
    }
    let reduced = obj
        .get("reducedFees")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    out.entries = reduced.len() as u64;
    for entry in reduced {
        let title = entry
            .get("title")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty());
        let rate = fraction(entry.get("fraction"), &mut out.wire);
        match (title, rate) {
            (Some(title), Some(rate)) => {
                let expires_at = match entry.get("expiresAt") {
                    Some(Value::Number(n)) => n.as_i64(),
                    Some(Value::String(s)) => whole_number(s).or_else(|| parse_rfc3339(s)),
                    _ => None,
                };
                out.reduced.push((
                    title.to_owned(),
                    ReducedFee {
                        rate,
                        min_price_cents: amount(entry.get("minPrice")),
                        max_price_cents: amount(entry.get("maxPrice")),
                        expires_at,
                    },
                ));
            }
            (None, _) => out.wire.drop_entry(ep, "no title", &entry.to_string()),
            (Some(_), None) => out.wire.drop_entry(ep, "bad fraction", &entry.to_string()),
        }
    }
    Ok(out)
}

/// An error body, in any of DMarket's three shapes: the exchange service's
/// `{"code", "message"}`, marketplace-api's `{"Code", "Message"}`, and the gRPC gateway's
/// `{"error", "code": 16, "message", "details"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErrorBody {
    /// The error code (`BadRequest`, `Unauthorized`, or a gRPC number as text).
    pub code: String,
    /// The human message.
    pub message: String,
}

/// Parses an error body, if it is one.
pub fn parse_error_body(body: &[u8]) -> Option<ApiErrorBody> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let o = v.as_object()?;
    let text = |keys: &[&str]| {
        keys.iter().find_map(|k| match o.get(*k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    };
    let code = text(&["code", "Code"]).unwrap_or_default();
    let message = text(&["message", "Message", "error", "Error"]).unwrap_or_default();
    (!code.is_empty() || !message.is_empty()).then_some(ApiErrorBody { code, message })
}

/// Unix seconds of an RFC 3339 time (`2026-11-24T21:47:00Z`, `…47:00.123+01:00`).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t = text.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = std::str::from_utf8(t.get(r)?).ok()?;
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if t.len() < 20 || t[4] != b'-' || t[7] != b'-' || !matches!(t[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = 19;
    if t.get(i) == Some(&b'.') {
        i += 1;
        while t.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let offset = match t.get(i)? {
        b'Z' | b'z' if i + 1 == t.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == t.len() && t[i + 3] == b':' => {
            let o = num(i + 1..i + 3)? * 3_600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3_600 + mi * 60 + s - offset)
}

/// `unix` seconds as RFC 3339 in UTC (`2026-11-24T21:47:00Z`), the form v2 answers use.
pub fn format_rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days (Howard Hinnant's algorithm), the inverse of `parse_rfc3339`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

impl From<ParseError> for ScanError {
    /// A body that is not the promised JSON fails the scan as a parse error (`?` in a
    /// hand-written scan).
    fn from(e: ParseError) -> Self {
        ScanError::Parse(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FeeSource;

    #[test]
    fn rfc3339_round_trips() {
        for t in [0, 951_782_400, 1_705_000_000, 1_795_556_820, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t), "{t}");
        }
        assert_eq!(format_rfc3339(1_705_000_000), "2024-01-11T19:06:40Z");
    }

    const V1: &[u8] = include_bytes!("../tests/fixtures/market_items_v1.json");
    const V1_BAD: &[u8] = include_bytes!("../tests/fixtures/market_items_bad_listings.json");
    const V2: &[u8] = include_bytes!("../tests/fixtures/offers_v2.json");
    const PRICES: &[u8] = include_bytes!("../tests/fixtures/aggregated_prices.json");
    const PRICES_TOLERATED: &[u8] =
        include_bytes!("../tests/fixtures/aggregated_prices_tolerated.json");
    const SALES: &[u8] = include_bytes!("../tests/fixtures/last_sales.json");
    const FEES: &[u8] = include_bytes!("../tests/fixtures/customized_fees.json");

    fn form(w: &WireStats, endpoint: &str, form: &str) -> u64 {
        w.seen(endpoint, form)
    }

    fn dropped(w: &WireStats, endpoint: &str, reason: &str) -> u64 {
        w.dropped_because(endpoint, reason)
    }

    #[test]
    fn v1_request_carries_every_parameter_encoded_as_sent() {
        let r = ListingsQuery::new(ListingApi::V1, "a8db")
            .limit(500)
            .price_band(100, 5000)
            .title("AK-47 | Redline (Field-Tested)")
            .tree_filters("exterior[]=factory new")
            .cursor(Some("WyIxMDAiXQ+/=".into()))
            .to_request();
        assert_eq!(r.path, MARKET_ITEMS_PATH);
        assert_eq!(r.query_value("limit"), Some("100"));
        assert_eq!(
            r.encoded_query(),
            "gameId=a8db&limit=100&currency=USD&orderBy=price&orderDir=asc&priceFrom=100\
             &priceTo=5000&types=dmarket&title=AK-47%20%7C%20Redline%20%28Field-Tested%29\
             &treeFilters=exterior%5B%5D%3Dfactory%20new&cursor=WyIxMDAiXQ%2B%2F%3D"
        );
        let first = ListingsQuery::new(ListingApi::V1, "9a92")
            .cursor(Some(String::new()))
            .types(&["dmarket", "p2p"])
            .to_request();
        assert_eq!(first.query_value("cursor"), None);
        assert_eq!(first.query_value("types"), Some("dmarket,p2p"));
        let none: [&str; 0] = [];
        assert_eq!(
            ListingsQuery::new(ListingApi::V1, "x")
                .types(&none)
                .to_request()
                .query_value("types"),
            None
        );
        assert_eq!(
            ListingsQuery::new(ListingApi::V1, "x")
                .limit(0)
                .page_limit(),
            1
        );
    }

    #[test]
    fn v2_request_uses_the_offers_path_and_its_own_order_names() {
        let r = ListingsQuery::new(ListingApi::V2, "a8db")
            .order(ListingOrder::NewestFirst)
            .price_band(50, 900)
            .to_request();
        assert_eq!(r.path, OFFERS_V2_PATH);
        assert_eq!(
            r.encoded_query(),
            "gameId=a8db&limit=100&orderBy=createdAt&orderDir=desc&priceFrom=50&priceTo=900"
        );
        let v1 = ListingsQuery::new(ListingApi::V1, "a8db")
            .order(ListingOrder::NewestFirst)
            .to_request();
        assert_eq!(
            (v1.query_value("orderBy"), v1.query_value("orderDir")),
            (Some("updated"), Some("desc"))
        );
        assert!(is_listings_path(OFFERS_V2_PATH) && is_listings_path(MARKET_ITEMS_PATH));
        assert!(!is_listings_path(AGGREGATED_PRICES_PATH));
    }

    #[test]
    fn titles_are_priced_in_batches_of_one_hundred_keyed_by_game_id() {
        let titles: Vec<String> = (0..250).map(|i| format!("Item {i}")).collect();
        let reqs = aggregated_prices_requests("a8db", &titles);
        assert_eq!(reqs.len(), 3);
        let sizes: Vec<usize> = reqs
            .iter()
            .map(|r| {
                let v: Value = serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                assert_eq!(v["filter"]["game"], "a8db");
                assert_eq!(v["limit"], "100");
                assert_eq!(v["cursor"], "");
                v["filter"]["titles"].as_array().unwrap().len()
            })
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        assert!(
            reqs.iter()
                .all(|r| r.read_only && r.path == AGGREGATED_PRICES_PATH)
        );
        assert!(aggregated_prices_requests("a8db", &[]).is_empty());
        let next = aggregated_prices_request("a8db", &titles[..1], Some("eyJ9"));
        let v: Value = serde_json::from_slice(next.body.as_ref().unwrap()).unwrap();
        assert_eq!(v["cursor"], "eyJ9");
    }

    #[test]
    fn last_sales_limit_is_at_most_twenty_and_fees_page_by_offset() {
        let r = last_sales_request("a8db", "AK-47 | Redline (Field-Tested)", 100);
        assert_eq!(r.query_value("limit"), Some("20"));
        assert_eq!(
            r.path_and_query(),
            "/trade-aggregator/v1/last-sales?gameId=a8db&title=AK-47%20%7C%20Redline%20%28Field-Tested%29&limit=20"
        );
        assert_eq!(
            customized_fees_request("a8db", 100).path_and_query(),
            "/exchange/v1/customized-fees?gameId=a8db&offset=100&limit=100"
        );
    }

    #[test]
    fn parses_a_real_v1_page_into_typed_fields() {
        let page = parse_listings_page(V1, Currency::Usd).unwrap();
        assert_eq!(page.listings.len(), 3);
        assert_eq!(page.malformed(), 0);
        // total.items is capped at 10,000; offers is the real count.
        assert_eq!(page.total, Some(12_345));
        assert_eq!(
            page.cursor.as_deref(),
            Some("WyI0NTUiLCI3ZThjMWJkNCJd+/x==")
        );
        let first = &page.listings[0];
        assert_eq!(first.item_id, "7e8c1bd4-1c1f-5a3e-9f0e-2b6a7f0c1a01");
        assert_eq!(first.title, "AK-47 | Redline (Field-Tested)");
        assert_eq!(first.price, Money::usd(1250));
        assert_eq!(first.suggested_price, Some(Money::usd(1300)));
        assert_eq!(
            first.offer_id.as_deref(),
            Some("b1a5e7c2-5f0e-4b7a-8d39-7f1d7e3a9c01")
        );
        assert_eq!(first.listed_at, Some(1_732_400_000));
        assert_eq!(first.trade_lock, TradeLock::Unlocked);
        assert_eq!(first.tradable, Some(true));
        assert_eq!(first.float_value, Some(0.2531046));
        assert_eq!(first.exterior.as_deref(), Some("field-tested"));
        assert_eq!(
            first.attributes.get("category").map(String::as_str),
            Some("normal")
        );
        assert_eq!(
            first.attributes.get("paintSeed").map(String::as_str),
            Some("512")
        );
        // Arrays and objects stay out of the string attributes.
        assert!(!first.attributes.contains_key("stickers"));
        let locked = &page.listings[1];
        assert_eq!(
            locked.trade_lock,
            TradeLock::Locked {
                seconds: Some(250_000)
            }
        );
        assert_eq!(locked.tradable, Some(false));
        assert!(locked.is_trade_locked());
        // Days only: 2 days in seconds. An empty suggested price is none.
        let case = &page.listings[2];
        assert_eq!(
            case.trade_lock,
            TradeLock::Locked {
                seconds: Some(2 * 86_400)
            }
        );
        assert_eq!(case.suggested_price, None);
        assert_eq!(form(&page.wire, "market items", "createdAt=number"), 3);
        assert_eq!(page.wire.dropped_total(), 0);
    }

    #[test]
    fn bad_v1_listings_are_skipped_and_counted_by_reason_while_the_page_survives() {
        let page = parse_listings_page(V1_BAD, Currency::Usd).unwrap();
        let ids: Vec<&str> = page.listings.iter().map(|l| l.item_id.as_str()).collect();
        assert_eq!(ids, vec!["good-1", "good-2"]);
        assert_eq!(page.entries, 10);
        assert_eq!(page.malformed(), 8);
        let w = &page.wire;
        assert_eq!(dropped(w, "market items", "bad price"), 3);
        assert_eq!(dropped(w, "market items", "no USD price"), 1);
        assert_eq!(dropped(w, "market items", "no title"), 1);
        assert_eq!(dropped(w, "market items", "no itemId"), 2);
        assert_eq!(dropped(w, "market items", "not a listing object"), 1);
        assert!(w.examples["market items"].contains("bad-empty"));
        // A price as a JSON number is tolerated and counted; a bad suggested price is none.
        assert_eq!(page.listings[1].price, Money::usd(6320));
        assert_eq!(page.listings[1].suggested_price, None);
        assert_eq!(form(w, "market items", "price=number"), 1);
        assert_eq!(page.listings[0].trade_lock, TradeLock::Unknown);
        assert_eq!(page.total, Some(10));
        assert_eq!(page.cursor, None);
    }

    #[test]
    fn parses_v2_offers_with_rfc3339_times_and_locked_flags() {
        let page = parse_listings_page(V2, Currency::Usd).unwrap();
        assert_eq!(page.listings.len(), 2);
        let first = &page.listings[0];
        assert_eq!(first.item_id, "c0ffee00-0000-4000-8000-000000000001");
        assert_eq!(first.offer_id.as_deref(), Some(first.item_id.as_str()));
        assert_eq!(first.price, Money::usd(1250));
        assert_eq!(first.listed_at, Some(1_795_556_820));
        assert_eq!(first.trade_lock, TradeLock::Unlocked);
        assert_eq!(first.float_value, Some(0.2531));
        assert_eq!(first.exterior.as_deref(), Some("field-tested"));
        assert_eq!(
            first.attributes.get("paintSeed").map(String::as_str),
            Some("512")
        );
        let second = &page.listings[1];
        assert_eq!(second.price, Money::usd(4599));
        // 22:47 at +01:00 is 21:47 UTC.
        assert_eq!(second.listed_at, Some(1_795_556_820));
        assert_eq!(second.trade_lock, TradeLock::Locked { seconds: None });
        assert_eq!(second.float_value, Some(0.31));
        let w = &page.wire;
        assert_eq!(form(w, "offers", "priceCents=number"), 2);
        assert_eq!(form(w, "offers", "priceCents=string"), 2);
        assert_eq!(dropped(w, "offers", "bad price"), 1);
        assert_eq!(dropped(w, "offers", "no title"), 1);
        assert_eq!(dropped(w, "offers", "no offerId"), 1);
        assert_eq!(page.total, Some(5));
    }

    #[test]
    fn a_body_that_is_not_a_page_is_an_error_quoting_it() {
        let err = parse_listings_page(b"{\"objects\": [", Currency::Usd).unwrap_err();
        assert_eq!(err.endpoint, "market items");
        let html = parse_listings_page(b"<html>502 Bad Gateway</html>", Currency::Usd).unwrap_err();
        assert!(html.message.contains("the body began: <html>502"), "{html}");
        let other = parse_listings_page(br#"{"code":"x"}"#, Currency::Usd).unwrap_err();
        assert!(other.message.contains("neither field"), "{other}");
    }

    #[test]
    fn parses_official_aggregated_prices_in_common_money_with_string_counts() {
        let p = parse_aggregated_prices(PRICES, Currency::Usd).unwrap();
        assert_eq!(p.entries, 2);
        assert_eq!(p.wire.dropped_total(), 0);
        assert_eq!(p.next_cursor, None);
        let redline = &p.prices[0];
        assert_eq!(redline.title, "AK-47 | Redline (Field-Tested)");
        assert_eq!(redline.best_order, Some(Money::usd(1200)));
        assert_eq!(redline.order_count, 15);
        assert_eq!(redline.best_offer, Some(Money::usd(1250)));
        assert_eq!(redline.offer_count, 23);
        // No buy orders: Amount "0".
        assert_eq!(p.prices[1].best_order, None);
        assert_eq!(p.prices[1].order_count, 0);
        assert_eq!(p.prices[1].best_offer, Some(Money::usd(310)));
        assert_eq!(p.prices[1].offer_count, 402);
        assert_eq!(form(&p.wire, "aggregated prices", "price=commonMoney"), 4);
        assert_eq!(form(&p.wire, "aggregated prices", "orderCount=string"), 2);
    }

    #[test]
    fn tolerated_aggregated_forms_parse_and_garbled_entries_are_counted() {
        let p = parse_aggregated_prices(PRICES_TOLERATED, Currency::Usd).unwrap();
        assert_eq!(p.entries, 9);
        assert_eq!(p.next_cursor.as_deref(), Some("eyJwYWdlIjoyfQ=="));
        let by: BTreeMap<&str, &ReferencePrice> =
            p.prices.iter().map(|r| (r.title.as_str(), r)).collect();
        assert_eq!(by.len(), 4);
        let flat = by["Flat Strings"];
        assert_eq!(
            (flat.best_order, flat.order_count),
            (Some(Money::usd(1200)), 15)
        );
        assert_eq!(
            (flat.best_offer, flat.offer_count),
            (Some(Money::usd(1250)), 23)
        );
        let n = by["Numbers"];
        assert_eq!(
            (n.best_order, n.best_offer),
            (Some(Money::usd(990)), Some(Money::usd(1010)))
        );
        let c = by["Currency Object"];
        assert_eq!(
            (c.best_order, c.best_offer),
            (Some(Money::usd(500)), Some(Money::usd(520)))
        );
        assert_eq!(c.order_count, 0);
        let none = by["No Orders Field"];
        assert_eq!(
            (none.best_order, none.best_offer),
            (None, Some(Money::usd(98_000)))
        );
        let w = &p.wire;
        assert_eq!(dropped(w, "aggregated prices", "bad price"), 2);
        assert_eq!(dropped(w, "aggregated prices", "other currency"), 1);
        assert_eq!(dropped(w, "aggregated prices", "bad count"), 1);
        assert_eq!(dropped(w, "aggregated prices", "no title"), 1);
        assert_eq!(form(w, "aggregated prices", "price=flat string"), 2);
        assert_eq!(form(w, "aggregated prices", "price=number"), 2);
        assert_eq!(form(w, "aggregated prices", "orderBestPrice missing"), 1);
        assert!(w.examples["aggregated prices"].contains("Garbled"));
    }

    #[test]
    fn the_old_flat_shape_alone_still_prices_and_an_unknown_answer_is_an_error() {
        let flat = br#"{"aggregatedPrices":[{"title":"A","orderBestPrice":"100","orderCount":"2","offerBestPrice":"120","offerCount":"3"}],"nextCursor":""}"#;
        let p = parse_aggregated_prices(flat, Currency::Usd).unwrap();
        assert_eq!(p.prices[0].best_order, Some(Money::usd(100)));
        assert!(parse_aggregated_prices(br#"{"prices":[]}"#, Currency::Usd).is_err());
    }

    #[test]
    fn last_sales_are_decimal_dollars_and_their_form_is_counted() {
        let s = parse_last_sales(SALES, Currency::Usd).unwrap();
        assert_eq!(
            s.prices(),
            vec![Money::usd(1210), Money::usd(1210), Money::usd(1200)]
        );
        assert_eq!(s.sales[0].date, Some(1_732_400_000));
        assert_eq!(s.sales[1].operation.as_deref(), Some("Order"));
        assert_eq!(s.entries, 6);
        assert_eq!(dropped(&s.wire, "last sales", "bad price"), 2);
        assert_eq!(dropped(&s.wire, "last sales", "no price"), 1);
        assert_eq!(form(&s.wire, "last sales", "price=decimal dollars"), 2);
        assert_eq!(form(&s.wire, "last sales", "price=whole dollars"), 1);
        assert!(parse_last_sales(b"[]", Currency::Usd).is_err());
    }

    #[test]
    fn customized_fees_parse_default_and_reduced_fees() {
        let f = parse_customized_fees(FEES, Currency::Usd).unwrap();
        assert_eq!(
            f.default,
            Some(AccountFee {
                rate: Bps::new(500).unwrap(),
                min_cents: 1
            })
        );
        assert_eq!(f.entries, 4);
        assert_eq!(f.reduced.len(), 2);
        assert_eq!(
            f.reduced[0],
            (
                "AK-47 | Redline (Field-Tested)".to_owned(),
                ReducedFee {
                    rate: Bps::new(200).unwrap(),
                    min_price_cents: Some(100),
                    max_price_cents: Some(100_000),
                    expires_at: Some(1_900_000_000),
                }
            )
        );
        assert_eq!(f.reduced[1].1.rate, Bps::new(350).unwrap());
        assert_eq!(f.reduced[1].1.min_price_cents, Some(50));
        assert_eq!(f.reduced[1].1.expires_at, Some(1_893_456_000));
        assert_eq!(dropped(&f.wire, "customized fees", "bad fraction"), 1);
        assert_eq!(dropped(&f.wire, "customized fees", "no title"), 1);
        let mut schedule = FeeSchedule::default();
        f.add_to(&mut schedule);
        let rule = schedule.rule_for("AK-47 | Redline (Field-Tested)", 1_000, 1_800_000_000);
        assert_eq!((rule.rate.get(), rule.source), (200, FeeSource::Reduced));
        assert!(parse_customized_fees(br#"{"fees": 1}"#, Currency::Usd).is_err());
    }

    #[test]
    fn all_three_error_shapes_are_read() {
        let exchange = parse_error_body(
            br#"{"code":"BadRequest","message":"limit: must be no greater than 100."}"#,
        )
        .unwrap();
        assert_eq!(exchange.code, "BadRequest");
        assert_eq!(exchange.message, "limit: must be no greater than 100.");
        let marketplace =
            parse_error_body(br#"{"Code":"Unauthorized","Message":"Unauthorized"}"#).unwrap();
        assert_eq!(
            (marketplace.code.as_str(), marketplace.message.as_str()),
            ("Unauthorized", "Unauthorized")
        );
        let grpc = parse_error_body(
            br#"{"error":"token expired","code":16,"message":"invalid signature","details":[]}"#,
        )
        .unwrap();
        assert_eq!(
            (grpc.code.as_str(), grpc.message.as_str()),
            ("16", "invalid signature")
        );
        let only_error = parse_error_body(br#"{"error":"boom","code":2,"details":[]}"#).unwrap();
        assert_eq!(only_error.message, "boom");
        assert_eq!(parse_error_body(b"{}"), None);
        assert_eq!(parse_error_body(b"oops"), None);
    }

    #[test]
    fn rfc3339_times_become_unix_seconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        assert_eq!(
            parse_rfc3339("2026-11-24T21:47:00.5-02:30"),
            Some(1_795_565_820)
        );
        assert_eq!(parse_rfc3339("2026-11-24"), None);
        assert_eq!(parse_rfc3339("2026-13-24T21:47:00Z"), None);
        assert_eq!(parse_rfc3339("2026-11-24T21:47:00"), None);
    }
}
