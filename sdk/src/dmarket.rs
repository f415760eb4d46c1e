//! DMarket's wire format: typed request builders and tolerant response parsers.
//!
//! Builders produce [`ApiRequest`]s for the three endpoints a scan uses (market items,
//! aggregated prices, last sales). Parsers survive bad data: one malformed listing is skipped
//! and counted, never the page; only a body that is not the expected JSON at all is an error.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::context::ApiRequest;
use crate::model::{Listing, ReferencePrice};
use crate::money::{Currency, Money, MoneyError};

/// Path of the market listings endpoint.
pub const MARKET_ITEMS_PATH: &str = "/exchange/v1/market/items";
/// Path of the aggregated prices endpoint.
pub const AGGREGATED_PRICES_PATH: &str = "/marketplace-api/v1/aggregated-prices";
/// Path of the last sales endpoint.
pub const LAST_SALES_PATH: &str = "/trade-aggregator/v1/last-sales";
/// The most listings one market page may hold.
pub const MAX_PAGE_LIMIT: u32 = 100;
/// The most titles one aggregated-prices request may hold.
pub const MAX_TITLES_PER_PRICE_REQUEST: usize = 100;

/// Sort direction of market listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderDir {
    /// Cheapest first.
    Asc,
    /// Most expensive first.
    Desc,
}

/// A market-items query; `to_request` makes the [`ApiRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketItemsQuery {
    game_id: String,
    limit: u32,
    currency: Currency,
    order_dir: OrderDir,
    price_from: Option<i64>,
    price_to: Option<i64>,
    title: Option<String>,
    cursor: Option<String>,
}

impl MarketItemsQuery {
    /// The first page of `game_id`'s listings, 100 per page, cheapest first, in USD.
    pub fn new(game_id: impl Into<String>) -> Self {
        MarketItemsQuery {
            game_id: game_id.into(),
            limit: MAX_PAGE_LIMIT,
            currency: Currency::Usd,
            order_dir: OrderDir::Asc,
            price_from: None,
            price_to: None,
            title: None,
            cursor: None,
        }
    }

    /// Listings per page, clamped to 1..=100 (the API refuses more than 100).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit.clamp(1, MAX_PAGE_LIMIT);
        self
    }

    /// Sort direction by price.
    pub fn order(mut self, dir: OrderDir) -> Self {
        self.order_dir = dir;
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

    /// Continue after the page that answered with this cursor.
    pub fn cursor(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor.filter(|c| !c.is_empty());
        self
    }

    /// The page size that will be requested.
    pub fn page_limit(&self) -> u32 {
        self.limit
    }

    /// The request.
    pub fn to_request(&self) -> ApiRequest {
        let mut r = ApiRequest::get(MARKET_ITEMS_PATH)
            .param("gameId", &self.game_id)
            .param("limit", self.limit)
            .param("currency", self.currency.code())
            .param("orderBy", "price")
            .param(
                "orderDir",
                match self.order_dir {
                    OrderDir::Asc => "asc",
                    OrderDir::Desc => "desc",
                },
            );
        if let Some(from) = self.price_from {
            r = r.param("priceFrom", from);
        }
        if let Some(to) = self.price_to {
            r = r.param("priceTo", to);
        }
        if let Some(title) = &self.title {
            r = r.param("title", title);
        }
        if let Some(cursor) = &self.cursor {
            r = r.param("cursor", cursor);
        }
        r
    }
}

/// Aggregated-prices requests for `titles`, at most 100 titles each: 250 titles make 3.
pub fn aggregated_prices_requests(price_game: &str, titles: &[String]) -> Vec<ApiRequest> {
    titles
        .chunks(MAX_TITLES_PER_PRICE_REQUEST)
        .map(|chunk| aggregated_prices_request(price_game, chunk))
        .collect()
}

/// One aggregated-prices request; `titles` must hold at most 100 (debug-asserted).
pub fn aggregated_prices_request(price_game: &str, titles: &[String]) -> ApiRequest {
    debug_assert!(titles.len() <= MAX_TITLES_PER_PRICE_REQUEST);
    let body = serde_json::json!({
        "filter": {"game": price_game, "titles": titles},
        "limit": MAX_TITLES_PER_PRICE_REQUEST.to_string(),
        "cursor": "",
    });
    ApiRequest::post_json(AGGREGATED_PRICES_PATH, body.to_string().into_bytes(), true)
}

/// The last `limit` sales of `title`.
pub fn last_sales_request(game_id: &str, title: &str, limit: u32) -> ApiRequest {
    ApiRequest::get(LAST_SALES_PATH)
        .param("gameId", game_id)
        .param("title", title)
        .param("limit", limit.clamp(1, 100))
}

/// A page body that is not the JSON the endpoint promises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{endpoint}: {message}")]
pub struct ParseError {
    /// Which endpoint's answer (`market items`).
    pub endpoint: &'static str,
    /// What was wrong with it.
    pub message: String,
}

/// One parsed market page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MarketPage {
    /// The listings that parsed.
    pub listings: Vec<Listing>,
    /// Objects skipped because they were malformed.
    pub malformed: u64,
    /// The first malformed object's problem, for one warning per page.
    pub first_problem: Option<String>,
    /// The total the server reports, when it does.
    pub total: Option<u64>,
    /// The next page's cursor; `None` when this was the last page.
    pub cursor: Option<String>,
}

#[derive(Deserialize)]
struct RawMarketPage<'a> {
    #[serde(borrow)]
    objects: Vec<&'a RawValue>,
    #[serde(default)]
    total: Option<serde_json::Value>,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawListing {
    item_id: Option<String>,
    title: Option<String>,
    price: Option<BTreeMap<String, serde_json::Value>>,
    suggested_price: Option<BTreeMap<String, serde_json::Value>>,
    extra: Option<BTreeMap<String, serde_json::Value>>,
}

/// Parses a market-items page in `currency`, skipping (and counting) malformed listings.
pub fn parse_market_page(body: &[u8], currency: Currency) -> Result<MarketPage, ParseError> {
    let raw: RawMarketPage<'_> = serde_json::from_slice(body).map_err(|e| ParseError {
        endpoint: "market items",
        message: format!("not a market page ({e})"),
    })?;
    let mut page = MarketPage {
        listings: Vec::with_capacity(raw.objects.len()),
        total: raw.total.as_ref().and_then(parse_total),
        cursor: raw.cursor.filter(|c| !c.is_empty()),
        ..MarketPage::default()
    };
    for object in raw.objects {
        match parse_listing(object.get(), currency) {
            Ok(listing) => page.listings.push(listing),
            Err(problem) => {
                page.malformed += 1;
                page.first_problem.get_or_insert(problem);
            }
        }
    }
    Ok(page)
}

/// `total` is seen both as `1500` and as `{"items": 1500}`.
fn parse_total(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Object(o) => o.get("items").and_then(parse_total),
        _ => None,
    }
}

fn parse_listing(json: &str, currency: Currency) -> Result<Listing, String> {
    let raw: RawListing = serde_json::from_str(json).map_err(|e| format!("listing: {e}"))?;
    let item_id = raw
        .item_id
        .filter(|s| !s.is_empty())
        .ok_or("listing without itemId")?;
    let title = raw
        .title
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| format!("listing {item_id} without title"))?;
    let price = price_in(raw.price.as_ref(), currency)
        .map_err(|e| format!("listing {item_id} ({title}): {e}"))?;
    let suggested_price = price_in(raw.suggested_price.as_ref(), currency).ok();
    let attributes = raw
        .extra
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Bool(_) | serde_json::Value::Number(_) => Some((k, v.to_string())),
            _ => None,
        })
        .collect();
    Ok(Listing {
        item_id,
        title,
        price,
        suggested_price,
        attributes,
    })
}

/// Reads `{"USD": "1250"}`. A JSON number of cents is tolerated; anything else is an error.
fn price_in(
    prices: Option<&BTreeMap<String, serde_json::Value>>,
    currency: Currency,
) -> Result<Money, MoneyError> {
    match prices.and_then(|p| p.get(currency.code())) {
        None | Some(serde_json::Value::Null) => Err(MoneyError::Missing(currency)),
        Some(serde_json::Value::String(s)) => Money::parse_cents(s, currency),
        Some(serde_json::Value::Number(n)) => Money::parse_cents(&n.to_string(), currency),
        Some(other) => Err(MoneyError::NotNumeric(other.to_string())),
    }
}

/// One parsed aggregated-prices answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AggregatedPrices {
    /// Reference prices by title.
    pub prices: Vec<ReferencePrice>,
    /// Entries skipped because they were malformed.
    pub malformed: u64,
    /// The cursor of a further page, if any.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAggregated<'a> {
    #[serde(borrow)]
    aggregated_prices: Vec<&'a RawValue>,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAggregatedEntry {
    title: Option<String>,
    order_best_price: Option<serde_json::Value>,
    #[serde(default)]
    order_count: Option<serde_json::Value>,
    offer_best_price: Option<serde_json::Value>,
    #[serde(default)]
    offer_count: Option<serde_json::Value>,
}

/// Parses an aggregated-prices answer (prices in cents of `currency`).
pub fn parse_aggregated_prices(
    body: &[u8],
    currency: Currency,
) -> Result<AggregatedPrices, ParseError> {
    let raw: RawAggregated<'_> = serde_json::from_slice(body).map_err(|e| ParseError {
        endpoint: "aggregated prices",
        message: format!("not an aggregated-prices answer ({e})"),
    })?;
    let mut out = AggregatedPrices {
        prices: Vec::with_capacity(raw.aggregated_prices.len()),
        next_cursor: raw.next_cursor.filter(|c| !c.is_empty()),
        ..AggregatedPrices::default()
    };
    for entry in raw.aggregated_prices {
        match parse_aggregated_entry(entry.get(), currency) {
            Some(p) => out.prices.push(p),
            None => out.malformed += 1,
        }
    }
    Ok(out)
}

fn parse_aggregated_entry(json: &str, currency: Currency) -> Option<ReferencePrice> {
    let raw: RawAggregatedEntry = serde_json::from_str(json).ok()?;
    let title = raw.title.filter(|t| !t.is_empty())?;
    // A missing or zero best price means "none"; a garbled one makes the entry unusable.
    let best = |v: Option<&serde_json::Value>| -> Result<Option<Money>, ()> {
        match v {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
            Some(serde_json::Value::String(s)) => Money::parse_cents(s, currency)
                .map(|m| (m.cents() > 0).then_some(m))
                .map_err(|_| ()),
            Some(serde_json::Value::Number(n)) => Money::parse_cents(&n.to_string(), currency)
                .map(|m| (m.cents() > 0).then_some(m))
                .map_err(|_| ()),
            Some(_) => Err(()),
        }
    };
    let count = |v: Option<&serde_json::Value>| -> u32 {
        match v {
            Some(serde_json::Value::Number(n)) => {
                n.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
            }
            Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
            _ => 0,
        }
    };
    Some(ReferencePrice {
        title,
        best_order: best(raw.order_best_price.as_ref()).ok()?,
        order_count: count(raw.order_count.as_ref()),
        best_offer: best(raw.offer_best_price.as_ref()).ok()?,
        offer_count: count(raw.offer_count.as_ref()),
        recent_sales: Vec::new(),
    })
}

#[derive(Deserialize)]
struct RawSales<'a> {
    #[serde(borrow)]
    sales: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawSale {
    price: Option<serde_json::Value>,
}

/// Parses a last-sales answer (`{"sales": [{"price": "1200", "date": "…"}]}`), newest first;
/// unparsable sales are skipped.
pub fn parse_last_sales(body: &[u8], currency: Currency) -> Result<Vec<Money>, ParseError> {
    let raw: RawSales<'_> = serde_json::from_slice(body).map_err(|e| ParseError {
        endpoint: "last sales",
        message: format!("not a last-sales answer ({e})"),
    })?;
    Ok(raw
        .sales
        .iter()
        .filter_map(|s| serde_json::from_str::<RawSale>(s.get()).ok())
        .filter_map(|s| match s.price {
            Some(serde_json::Value::String(p)) => Money::parse_cents(&p, currency).ok(),
            Some(serde_json::Value::Number(n)) => Money::parse_cents(&n.to_string(), currency).ok(),
            _ => None,
        })
        .collect())
}

/// DMarket's error body: `{"code": "…", "message": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiErrorBody {
    /// The error code.
    #[serde(default)]
    pub code: String,
    /// The human message.
    #[serde(default)]
    pub message: String,
}

/// Parses an error body, if it is one.
pub fn parse_error_body(body: &[u8]) -> Option<ApiErrorBody> {
    serde_json::from_slice::<ApiErrorBody>(body)
        .ok()
        .filter(|e| !e.code.is_empty() || !e.message.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &[u8] = include_bytes!("../tests/fixtures/market_items_page.json");
    const PAGE_BAD: &[u8] = include_bytes!("../tests/fixtures/market_items_bad_listings.json");
    const PRICES: &[u8] = include_bytes!("../tests/fixtures/aggregated_prices.json");
    const SALES: &[u8] = include_bytes!("../tests/fixtures/last_sales.json");

    #[test]
    fn market_request_carries_every_parameter_encoded_as_sent() {
        let r = MarketItemsQuery::new("a8db")
            .limit(500)
            .price_band(100, 5000)
            .title("AK-47 | Redline (Field-Tested)")
            .cursor(Some("abc=".into()))
            .to_request();
        assert_eq!(r.path, MARKET_ITEMS_PATH);
        assert_eq!(r.query_value("limit"), Some("100"));
        assert_eq!(
            r.encoded_query(),
            "gameId=a8db&limit=100&currency=USD&orderBy=price&orderDir=asc&priceFrom=100\
             &priceTo=5000&title=AK-47%20%7C%20Redline%20%28Field-Tested%29&cursor=abc%3D"
        );
        let first = MarketItemsQuery::new("9a92")
            .cursor(Some(String::new()))
            .to_request();
        assert_eq!(first.query_value("cursor"), None);
        assert_eq!(MarketItemsQuery::new("x").limit(0).page_limit(), 1);
    }

    #[test]
    fn titles_are_priced_in_batches_of_one_hundred() {
        let titles: Vec<String> = (0..250).map(|i| format!("Item {i}")).collect();
        let reqs = aggregated_prices_requests("csgo", &titles);
        assert_eq!(reqs.len(), 3);
        let sizes: Vec<usize> = reqs
            .iter()
            .map(|r| {
                let v: serde_json::Value =
                    serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                assert_eq!(v["filter"]["game"], "csgo");
                assert_eq!(v["limit"], "100");
                v["filter"]["titles"].as_array().unwrap().len()
            })
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        assert!(
            reqs.iter()
                .all(|r| r.read_only && r.path == AGGREGATED_PRICES_PATH)
        );
        assert!(aggregated_prices_requests("csgo", &[]).is_empty());
    }

    #[test]
    fn parses_a_realistic_market_page() {
        let page = parse_market_page(PAGE, Currency::Usd).unwrap();
        assert_eq!(page.listings.len(), 3);
        assert_eq!(page.malformed, 0);
        assert_eq!(page.total, Some(1500));
        assert_eq!(page.cursor.as_deref(), Some("eyJvZmZzZXQiOjN9"));
        let first = &page.listings[0];
        assert_eq!(first.item_id, "a1b2c3d4-0001");
        assert_eq!(first.title, "AK-47 | Redline (Field-Tested)");
        assert_eq!(first.price, Money::usd(1250));
        assert_eq!(first.suggested_price, Some(Money::usd(1300)));
        assert_eq!(
            first.attributes.get("exterior").map(String::as_str),
            Some("Field-Tested")
        );
        assert_eq!(page.listings[2].suggested_price, None);
    }

    #[test]
    fn bad_listings_are_skipped_and_counted_while_the_page_survives() {
        let page = parse_market_page(PAGE_BAD, Currency::Usd).unwrap();
        let ids: Vec<&str> = page.listings.iter().map(|l| l.item_id.as_str()).collect();
        assert_eq!(ids, vec!["good-1", "good-2"]);
        // empty, negative, non-numeric and missing prices, no title, no itemId, wrong type.
        assert_eq!(page.malformed, 7);
        assert!(page.first_problem.unwrap().contains("price is empty"));
        // total as a plain number; empty cursor ends paging.
        assert_eq!(page.total, Some(9));
        assert_eq!(page.cursor, None);
    }

    #[test]
    fn a_body_that_is_not_a_page_is_an_error() {
        let err = parse_market_page(b"{\"objects\": [", Currency::Usd).unwrap_err();
        assert_eq!(err.endpoint, "market items");
        assert!(parse_market_page(b"<html>502</html>", Currency::Usd).is_err());
        assert!(parse_market_page(b"{\"code\":\"x\"}", Currency::Usd).is_err());
    }

    #[test]
    fn parses_aggregated_prices_and_skips_garbled_entries() {
        let p = parse_aggregated_prices(PRICES, Currency::Usd).unwrap();
        assert_eq!(p.malformed, 1);
        assert_eq!(p.next_cursor, None);
        assert_eq!(p.prices.len(), 3);
        let redline = &p.prices[0];
        assert_eq!(redline.title, "AK-47 | Redline (Field-Tested)");
        assert_eq!(redline.best_order, Some(Money::usd(1200)));
        assert_eq!(redline.order_count, 15);
        assert_eq!(redline.best_offer, Some(Money::usd(1250)));
        assert_eq!(redline.offer_count, 23);
        // No buy orders: "0" and absent both mean none.
        assert_eq!(p.prices[1].best_order, None);
        assert_eq!(p.prices[2].best_order, None);
        assert_eq!(p.prices[2].offer_count, 4);
    }

    #[test]
    fn parses_last_sales_newest_first() {
        let sales = parse_last_sales(SALES, Currency::Usd).unwrap();
        assert_eq!(
            sales,
            vec![Money::usd(1210), Money::usd(1195), Money::usd(1230)]
        );
        assert!(parse_last_sales(b"[]", Currency::Usd).is_err());
    }

    #[test]
    fn error_bodies_are_recognised() {
        let e = parse_error_body(br#"{"code":"TooManyRequests","message":"slow down"}"#).unwrap();
        assert_eq!(e.code, "TooManyRequests");
        assert_eq!(e.message, "slow down");
        assert_eq!(parse_error_body(b"{}"), None);
        assert_eq!(parse_error_body(b"oops"), None);
    }
}
