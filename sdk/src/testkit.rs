//! Testing a plugin without a host: a scriptable [`MockContext`], a small in-memory
//! [`MockMarket`] that answers DMarket requests, and [`check_compliance`], which every game
//! plugin's tests call.
//!
//! No runtime needed: drive futures with `futures::executor::block_on`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;

use crate::context::{ApiRequest, ApiResponse, FetchError, ScanContext};
use crate::dmarket::{
    AGGREGATED_PRICES_PATH, CUSTOMIZED_FEES_PATH, LAST_SALES_PATH, MARKET_ITEMS_PATH,
    OFFERS_V2_PATH,
};
use crate::model::{GameReport, Listing, ReferencePrice, RejectReason, TradeLock};
use crate::scanner::GameScanner;
use crate::settings::{PluginSettings, SettingValue};

type Handler = Box<dyn Fn(&ApiRequest) -> Result<ApiResponse, FetchError> + Send + Sync>;

/// A [`ScanContext`] that answers with a handler and records what the plugin did.
pub struct MockContext {
    handler: Handler,
    requests: Mutex<Vec<ApiRequest>>,
    progress: Mutex<Vec<(u64, u64)>>,
    cancelled: AtomicBool,
    cancel_after: AtomicU64,
    authenticated: bool,
    references: Option<std::sync::Arc<crate::markets::book::ReferenceBook>>,
}

impl std::fmt::Debug for MockContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockContext")
            .field("requests", &self.requests().len())
            .finish_non_exhaustive()
    }
}

impl MockContext {
    /// A context answering every request with `handler`.
    pub fn new(
        handler: impl Fn(&ApiRequest) -> Result<ApiResponse, FetchError> + Send + Sync + 'static,
    ) -> Self {
        MockContext {
            handler: Box::new(handler),
            requests: Mutex::new(Vec::new()),
            progress: Mutex::new(Vec::new()),
            cancelled: AtomicBool::new(false),
            cancel_after: AtomicU64::new(u64::MAX),
            authenticated: false,
            references: None,
        }
    }

    /// Claims that requests are signed (as a host with API keys does), so plugins read the
    /// account's fees.
    pub fn signed(mut self) -> Self {
        self.authenticated = true;
        self
    }

    /// Hands `book` to the scan as the host's other markets ([`ScanContext::references`]).
    pub fn with_references(mut self, book: crate::markets::book::ReferenceBook) -> Self {
        self.references = Some(std::sync::Arc::new(book));
        self
    }

    /// A context serving `market`.
    pub fn market(market: MockMarket) -> Self {
        MockContext::new(move |r| market.answer(r))
    }

    /// Turns cancellation on once `n` requests have been sent.
    pub fn cancel_after(self, n: u64) -> Self {
        self.cancel_after.store(n, Ordering::SeqCst);
        if n == 0 {
            self.cancelled.store(true, Ordering::SeqCst);
        }
        self
    }

    /// Every request sent, in order.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every progress report, in order.
    pub fn progress_reports(&self) -> Vec<(u64, u64)> {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait]
impl ScanContext for MockContext {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, FetchError> {
        if self.is_cancelled() {
            return Err(FetchError::Cancelled);
        }
        let sent = {
            let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            r.push(request.clone());
            r.len() as u64
        };
        if sent >= self.cancel_after.load(Ordering::SeqCst) {
            self.cancelled.store(true, Ordering::SeqCst);
        }
        (self.handler)(&request)
    }

    fn progress(&self, done: u64, total: u64) {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((done, total));
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn authenticated(&self) -> bool {
        self.authenticated
    }

    fn references(&self) -> Option<std::sync::Arc<crate::markets::book::ReferenceBook>> {
        self.references.clone()
    }
}

/// A tiny market speaking DMarket's real shapes (see `../shared/dmarket-api.md`): v1 market
/// items (`objects`, `extra.offerId`, trade locks in days and seconds), v2 offers (`items`,
/// `priceCents`, `locked`), aggregated prices in `commonMoney` with string counts, last sales
/// in decimal dollars and, when given, customized fees. Listings are served cheapest first
/// with cursor paging.
#[derive(Debug, Clone, Default)]
pub struct MockMarket {
    listings: Vec<Listing>,
    prices: BTreeMap<String, ReferencePrice>,
    missing: Vec<String>,
    fees: Option<String>,
}

impl MockMarket {
    /// A market holding `listings` (served cheapest first) and `prices`.
    pub fn new(mut listings: Vec<Listing>, prices: Vec<ReferencePrice>) -> Self {
        listings.sort_by(|a, b| {
            a.price
                .cmp(&b.price)
                .then_with(|| a.item_id.cmp(&b.item_id))
        });
        MockMarket {
            listings,
            prices: prices.into_iter().map(|p| (p.title.clone(), p)).collect(),
            missing: Vec::new(),
            fees: None,
        }
    }

    /// This market answers 404 on `path` (a listing endpoint the API no longer has).
    pub fn without(mut self, path: &str) -> Self {
        self.missing.push(path.to_owned());
        self
    }

    /// This market answers customized-fees requests with `body` (signed requests only in the
    /// real API; the mock does not check).
    pub fn with_fees(mut self, body: impl Into<String>) -> Self {
        self.fees = Some(body.into());
        self
    }

    /// Answers listings (v1 and v2), aggregated prices, last sales and customized fees;
    /// anything else, or a path given to [`MockMarket::without`], is a 404.
    pub fn answer(&self, request: &ApiRequest) -> Result<ApiResponse, FetchError> {
        let not_found = |path: &str| FetchError::Http {
            status: 404,
            message: format!("no route {path}"),
        };
        if self.missing.contains(&request.path) {
            return Err(not_found(&request.path));
        }
        let body = match request.path.as_str() {
            MARKET_ITEMS_PATH => self.page(request, false),
            OFFERS_V2_PATH => self.page(request, true),
            AGGREGATED_PRICES_PATH => self.aggregated(request)?,
            LAST_SALES_PATH => self.last_sales(request),
            CUSTOMIZED_FEES_PATH => match &self.fees {
                Some(body) => body.clone(),
                None => return Err(not_found(&request.path)),
            },
            other => return Err(not_found(other)),
        };
        Ok(ApiResponse {
            status: 200,
            body: body.into_bytes(),
        })
    }

    fn page(&self, request: &ApiRequest, v2: bool) -> String {
        let offset: usize = request
            .query_value("cursor")
            .and_then(|c| c.strip_prefix("mock-"))
            .and_then(|c| c.trim_end_matches('=').parse().ok())
            .unwrap_or(0);
        let limit: usize = request
            .query_value("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(100);
        let from: i64 = request
            .query_value("priceFrom")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let to: i64 = request
            .query_value("priceTo")
            .and_then(|v| v.parse().ok())
            .unwrap_or(i64::MAX);
        let in_band: Vec<&Listing> = self
            .listings
            .iter()
            .filter(|l| (from..=to).contains(&l.price.cents()))
            .collect();
        let end = (offset + limit).min(in_band.len());
        let page = &in_band[offset.min(end)..end];
        // The real cursor is base64 with `=` padding; the mock's carries `=` too, so a
        // client that does not percent-encode it is caught.
        let cursor = if end < in_band.len() {
            format!("mock-{end}==")
        } else {
            String::new()
        };
        if v2 {
            let items: Vec<serde_json::Value> = page.iter().map(|l| v2_offer(l)).collect();
            serde_json::json!({"items": items, "total": in_band.len(), "cursor": cursor})
                .to_string()
        } else {
            let objects: Vec<serde_json::Value> = page.iter().map(|l| v1_object(l)).collect();
            let n = in_band.len().min(10_000);
            serde_json::json!({
                "objects": objects,
                "total": {"offers": n, "targets": 0, "items": n, "completedOffers": 0, "closedTargets": 0},
                "cursor": cursor,
            })
            .to_string()
        }
    }

    fn last_sales(&self, request: &ApiRequest) -> String {
        let title = request.query_value("title").unwrap_or("");
        let sales: Vec<serde_json::Value> = self
            .prices
            .get(title)
            .map(|p| p.recent_sales.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|m| {
                serde_json::json!({
                    "price": format!("{}.{:02}", m.cents() / 100, m.cents() % 100),
                    "date": "1705000000",
                    "txOperationType": "Offer",
                })
            })
            .collect();
        serde_json::json!({"sales": sales}).to_string()
    }

    fn aggregated(&self, request: &ApiRequest) -> Result<String, FetchError> {
        let body: serde_json::Value = request
            .body
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .ok_or(FetchError::Http {
                status: 400,
                message: "body is not JSON".into(),
            })?;
        let titles = body["filter"]["titles"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if titles.len() > 100 {
            return Err(FetchError::Http {
                status: 400,
                message: "at most 100 titles".into(),
            });
        }
        let entries: Vec<serde_json::Value> = titles
            .iter()
            .filter_map(|t| self.prices.get(t.as_str()?))
            .map(|p| {
                let money = |m: Option<crate::Money>| {
                    let amount = m.map_or("0".to_owned(), |m| m.cents().to_string());
                    serde_json::json!({"Currency": "USD", "Amount": amount})
                };
                serde_json::json!({
                    "title": p.title,
                    "orderBestPrice": money(p.best_order),
                    "orderCount": p.order_count.to_string(),
                    "offerBestPrice": money(p.best_offer),
                    "offerCount": p.offer_count.to_string(),
                })
            })
            .collect();
        Ok(serde_json::json!({"aggregatedPrices": entries, "nextCursor": ""}).to_string())
    }
}

/// A listing as a v1 market-items object (the fields a scanner reads, in the real shape).
fn v1_object(l: &Listing) -> serde_json::Value {
    let mut extra = serde_json::Map::new();
    for (k, v) in &l.attributes {
        extra.insert(k.clone(), serde_json::Value::String(v.clone()));
    }
    if let Some(id) = &l.offer_id {
        extra.insert("offerId".into(), id.clone().into());
    }
    if let Some(t) = l.tradable {
        extra.insert("tradable".into(), t.into());
    }
    if let TradeLock::Locked { seconds } = l.trade_lock {
        let secs = seconds.unwrap_or(86_400);
        extra.insert("tradeLock".into(), secs.div_ceil(86_400).into());
        extra.insert("tradeLockDuration".into(), secs.into());
    } else if l.trade_lock == TradeLock::Unlocked {
        extra.insert("tradeLock".into(), 0.into());
    }
    if let Some(f) = l.float_value {
        extra.insert("floatValue".into(), f.into());
    }
    if let Some(e) = &l.exterior {
        extra.insert("exterior".into(), e.clone().into());
    }
    let mut o = serde_json::json!({
        "itemId": l.item_id,
        "type": "offer",
        "title": l.title,
        "price": {"DMC": "", "USD": l.price.cents().to_string()},
        "createdAt": l.listed_at.unwrap_or(1_700_000_000),
        "extra": extra,
    });
    if let Some(s) = l.suggested_price {
        o["suggestedPrice"] = serde_json::json!({"DMC": "", "USD": s.cents().to_string()});
    }
    o
}

/// A listing as a v2 offer.
fn v2_offer(l: &Listing) -> serde_json::Value {
    let mut attributes = serde_json::json!({"title": l.title});
    if let Some(t) = l.tradable {
        attributes["tradable"] = t.into();
    }
    if l.float_value.is_some() || l.exterior.is_some() {
        attributes["cs2Attributes"] =
            serde_json::json!({"floatValue": l.float_value, "exterior": l.exterior});
    }
    let created = l.listed_at.unwrap_or(1_700_000_000);
    serde_json::json!({
        "offerId": l.offer_id.as_deref().unwrap_or(&l.item_id),
        "priceCents": l.price.cents(),
        "createdAt": crate::dmarket::format_rfc3339(created),
        "locked": l.is_trade_locked(),
        "attributes": attributes,
    })
}

/// Asserts what every plugin must do, against `market` (which must hold more than 150
/// listings in the plugin's default band, at least one of them an opportunity, and some
/// unpriced titles):
/// - reads listings and prices them in batches (never one request per listing),
/// - reports progress that ends at the number of listings judged,
/// - applies its filters (a `min_profit` above every deal leaves no opportunity),
/// - stops when cancelled and says so, keeping what it found.
///
/// Panics with a description of the first violation. Returns the full scan's report.
pub fn check_compliance(scanner: &dyn GameScanner, market: &MockMarket) -> GameReport {
    use futures::executor::block_on;
    let id = scanner.info().id.to_string();
    let settings = |pairs: &[(&str, SettingValue)]| {
        PluginSettings::new(
            id.clone(),
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    };

    let ctx = MockContext::market(market.clone());
    let full = block_on(scanner.scan(&ctx, &settings(&[("items", SettingValue::Integer(1000))])))
        .unwrap_or_else(|e| panic!("{id}: a scan of a healthy market failed: {e}"));
    assert!(
        full.listings_seen > 100,
        "{id}: read only {} listings",
        full.listings_seen
    );
    assert!(
        !full.opportunities.is_empty(),
        "{id}: found no opportunity in a market that has one (the scan's errors: {:?}; rejections: {:?})",
        full.errors,
        full.rejected
    );
    assert!(
        !full.cancelled,
        "{id}: an uncancelled scan reported cancelled"
    );
    let sent = ctx.requests();
    assert_eq!(
        full.requests,
        sent.len() as u64,
        "{id}: report.requests differs from requests sent"
    );
    let price_requests = sent
        .iter()
        .filter(|r| r.path == AGGREGATED_PRICES_PATH)
        .count() as u64;
    assert!(
        price_requests * 2 <= full.listings_seen,
        "{id}: {price_requests} price requests for {} listings: titles are not batched",
        full.listings_seen
    );
    let last = ctx.progress_reports().last().copied();
    let judged = full.opportunities.len() as u64 + full.rejected_total();
    assert_eq!(
        last.map(|(done, _)| done),
        Some(judged),
        "{id}: final progress does not match the listings judged"
    );
    assert_eq!(
        judged, full.listings_seen,
        "{id}: some listings were neither kept nor rejected"
    );

    let ctx = MockContext::market(market.clone());
    let strict = block_on(scanner.scan(
        &ctx,
        &settings(&[
            ("items", SettingValue::Integer(1000)),
            ("min_profit", SettingValue::Integer(1_000_000)),
        ]),
    ))
    .unwrap_or_else(|e| panic!("{id}: strict scan failed: {e}"));
    assert!(
        strict.opportunities.is_empty(),
        "{id}: min_profit was not applied"
    );
    assert!(
        strict
            .rejected
            .get(&RejectReason::LowProfit)
            .copied()
            .unwrap_or(0)
            > 0
    );

    let ctx = MockContext::market(market.clone()).cancel_after(1);
    let cancelled =
        block_on(scanner.scan(&ctx, &settings(&[("items", SettingValue::Integer(1000))])))
            .unwrap_or_else(|e| panic!("{id}: a cancelled scan must return what it has, got: {e}"));
    assert!(cancelled.cancelled, "{id}: did not report the cancellation");
    assert_eq!(
        ctx.requests().len(),
        1,
        "{id}: kept sending after cancellation"
    );
    full
}

impl MockMarket {
    /// A deterministic market of `listings` listings over `titles` for plugin tests: prices
    /// between $5 and $55, every tenth listing 30% under its title's value (an opportunity),
    /// buy orders at 95% of value, and no reference price for the last title.
    pub fn sample(titles: &[&str], listings: usize) -> MockMarket {
        Self::sample_priced(titles, listings, (500, 5_500))
    }

    /// As [`MockMarket::sample`], with title values spread over `[min, max)` cents (a game
    /// whose default band is not $5-55: keys, knives, pro-level items).
    pub fn sample_priced(titles: &[&str], listings: usize, values: (i64, i64)) -> MockMarket {
        assert!(
            titles.len() >= 2,
            "a sample market needs at least two titles"
        );
        let (lo, hi) = values;
        assert!(0 < lo && lo < hi, "values must be a band of positive cents");
        let value = |t: &str| -> i64 {
            let h = t.bytes().fold(1469598103934665603u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(1099511628211)
            });
            lo + (h % (hi - lo) as u64) as i64
        };
        let mut out = Vec::with_capacity(listings);
        for i in 0..listings {
            let title = titles[i % titles.len()];
            let v = value(title);
            let price = if i % 10 == 3 {
                v * 70 / 100
            } else {
                v * (100 + (i as i64 * 7) % 20) / 100
            };
            let mut listing =
                Listing::new(format!("sample-{i:05}"), title, crate::Money::usd(price));
            listing.offer_id = Some(format!("offer-{i:05}"));
            listing.suggested_price = Some(crate::Money::usd(v));
            listing.listed_at = Some(1_700_000_000 + i as i64);
            listing.trade_lock = TradeLock::Unlocked;
            listing.tradable = Some(true);
            out.push(listing);
        }
        let prices = titles[..titles.len() - 1]
            .iter()
            .map(|t| {
                let best_offer = out.iter().filter(|l| l.title == *t).map(|l| l.price).min();
                ReferencePrice {
                    title: (*t).to_owned(),
                    best_order: Some(crate::Money::usd(value(t) * 95 / 100)),
                    order_count: 5,
                    best_offer,
                    offer_count: out.iter().filter(|l| l.title == *t).count() as u32,
                    recent_sales: Vec::new(),
                }
            })
            .collect();
        MockMarket::new(out, prices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_market_can_be_priced_for_any_band() {
        let m = MockMarket::sample_priced(&["Knife", "Gloves", "Unpriced"], 30, (50_000, 90_000));
        assert!(
            m.listings
                .iter()
                .all(|l| l.price.cents() >= 35_000 && l.price.cents() < 120_000)
        );
        assert!(m.prices.values().all(|p| p.best_order.is_some()));
    }
}
