//! The default scan strategy every built-in game reuses.
//!
//! Pages through the market's listings in the configured band (cheapest first) up to `items`,
//! prices the distinct titles with aggregated prices in batches of up to 100 while paging goes
//! on, evaluates each listing as soon as its title is priced, and reports progress. Memory is
//! bounded by the distinct titles and the opportunities kept, not by the listings scanned: a
//! listing is dropped once it is judged. No tokio: concurrency is `join` and
//! `buffer_unordered` over the host's `send` futures.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use futures::{SinkExt, StreamExt};

use crate::arbitrage::{Blacklist, Filters, evaluate_listing, rank_and_cap};
use crate::context::{ApiRequest, FetchError, ScanContext, ScanError};
use crate::dmarket::{
    self, MAX_PAGE_LIMIT, MAX_TITLES_PER_PRICE_REQUEST, MarketItemsQuery, ParseError,
};
use crate::model::{GameInfo, GameReport, Level, Listing, ReferencePrice, RejectReason, Strategy};
use crate::money::{Bps, Currency};
use crate::scanner::{GameProfile, GameRules};
use crate::settings::PluginSettings;

/// Settings every game using the default strategy understands.
pub const COMMON_SETTINGS: &[&str] = &[
    "items",
    "level",
    "min_price",
    "max_price",
    "min_profit",
    "min_profit_percent",
    "max_profit_percent",
    "min_orders",
    "min_offers",
    "blacklist",
    "use_default_blacklist",
    "strategies",
    "max_results",
    "pricing",
    "max_in_flight",
    "fee_percent",
];

/// Listings that may wait for their titles' prices before a partial batch is sent.
const MAX_WAITING_LISTINGS: usize = 1_000;

/// How listings get their reference price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pricing {
    /// One aggregated-prices request per 100 distinct titles (the default).
    Batch,
    /// One request per listing, as the original bot did (for comparison and benchmarks).
    PerListing,
}

/// The default strategy's validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSettings {
    /// Listings to read at most.
    pub items: u64,
    /// What to keep.
    pub filters: Filters,
    /// How to price.
    pub pricing: Pricing,
    /// Price requests in flight at once for this game.
    pub max_in_flight: usize,
    /// The sale fee.
    pub fee: Bps,
}

impl ScanSettings {
    /// Reads and validates the common settings for `profile`.
    pub fn from_settings<P: GameProfile + ?Sized>(
        profile: &P,
        settings: &PluginSettings,
    ) -> Result<Self, ScanError> {
        let mut known: Vec<&str> = COMMON_SETTINGS.to_vec();
        known.extend_from_slice(profile.own_settings());
        settings.ensure_known(&known)?;

        let info = profile.info();
        let mut filters = Filters::default();
        let (band_lo, band_hi) = profile.default_band_cents();
        filters.price_band = (
            settings.dollars_cents("min_price", band_lo)?,
            settings.dollars_cents("max_price", band_hi)?,
        );
        filters.min_profit_cents = settings.dollars_cents("min_profit", 1)?;
        filters.min_roi_bps = settings.percent_bps("min_profit_percent", 100)?;
        filters.max_roi_bps = match settings.get("max_profit_percent") {
            None => None,
            Some(_) => Some(settings.percent_bps("max_profit_percent", 0)?),
        };
        filters.min_orders = settings.u64_in("min_orders", 1, 0..=1_000_000)? as u32;
        filters.min_offers = settings.u64_in("min_offers", 0, 0..=1_000_000)? as u32;
        filters.max_results = settings.u64_in("max_results", 50, 1..=100_000)? as usize;
        if let Some(name) = settings
            .get("level")
            .map(|_| settings.string("level", ""))
            .transpose()?
        {
            let level = Level::parse(&name).ok_or_else(|| {
                settings.error(
                    "level",
                    format!("must be one of boost, standard, medium, advanced, pro; got {name:?}"),
                )
            })?;
            filters = filters.with_level(level);
        }
        if filters.price_band.0 > filters.price_band.1 || filters.price_band.0 < 0 {
            return Err(settings
                .error(
                    "min_price",
                    format!(
                        "must not exceed max_price (got {} > {})",
                        crate::Money::usd(filters.price_band.0),
                        crate::Money::usd(filters.price_band.1)
                    ),
                )
                .into());
        }
        let mut blacklist: Vec<String> = if settings.bool("use_default_blacklist", true)? {
            profile
                .default_blacklist()
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        } else {
            Vec::new()
        };
        blacklist.extend(settings.string_list("blacklist", &[])?);
        filters.blacklist = Blacklist::new(&blacklist);
        filters.strategies = settings
            .string_list("strategies", &["instant", "relist"])?
            .iter()
            .map(|s| match s.as_str() {
                "instant" => Ok(Strategy::Instant),
                "relist" => Ok(Strategy::Relist),
                other => Err(settings.error(
                    "strategies",
                    format!("may hold only \"instant\" and \"relist\", got {other:?}"),
                )),
            })
            .collect::<Result<_, _>>()?;
        if filters.strategies.is_empty() {
            return Err(settings
                .error("strategies", "must name at least one strategy")
                .into());
        }
        let pricing = match settings.string("pricing", "batch")?.as_str() {
            "batch" => Pricing::Batch,
            "per_listing" => Pricing::PerListing,
            other => {
                return Err(settings
                    .error(
                        "pricing",
                        format!("must be \"batch\" or \"per_listing\", got {other:?}"),
                    )
                    .into());
            }
        };
        let fee_bps = settings.percent_bps("fee_percent", i64::from(info.fee.get()))?;
        let fee = u32::try_from(fee_bps)
            .ok()
            .and_then(|b| Bps::new(b).ok())
            .ok_or_else(|| settings.error("fee_percent", "must be between 0 and 100"))?;
        Ok(ScanSettings {
            items: settings.u64_in("items", 100, 1..=10_000_000)?,
            filters,
            pricing,
            max_in_flight: settings.u64_in("max_in_flight", 4, 1..=64)? as usize,
            fee,
        })
    }
}

/// Runs the default strategy for `profile`.
pub async fn scan_with_profile<P: GameProfile + ?Sized>(
    profile: &P,
    ctx: &dyn ScanContext,
    settings: &PluginSettings,
) -> Result<GameReport, ScanError> {
    let started = Instant::now();
    let info = profile.info();
    let cfg = ScanSettings::from_settings(profile, settings)?;
    let rules = profile.rules(settings)?;
    let scan = Scan {
        ctx,
        info: &info,
        cfg: &cfg,
        rules: &rules,
        state: Mutex::new(State::default()),
    };
    let mut report = scan.run().await?;
    rank_and_cap(&mut report, cfg.filters.max_results);
    report.elapsed = started.elapsed();
    Ok(report)
}

struct Scan<'a> {
    ctx: &'a dyn ScanContext,
    info: &'a GameInfo,
    cfg: &'a ScanSettings,
    rules: &'a GameRules,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    report: GameReport,
    /// Titles priced so far (`None`: asked for, no price returned).
    priced: HashMap<String, Option<ReferencePrice>>,
    /// Listings waiting for their title's price, by title.
    waiting: HashMap<String, Vec<Listing>>,
    /// Titles not yet sent for pricing, in arrival order.
    unsent: Vec<String>,
    /// Listings in `waiting`, all titles together.
    waiting_listings: usize,
    /// Listings judged (kept or rejected) so far.
    judged: u64,
    /// The most listings this scan will read.
    target: u64,
}

impl Scan<'_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock means a panic mid-update in this very scan: the guard around the
        // plugin reports that panic; the state is never observed afterwards.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn run(self) -> Result<GameReport, ScanError> {
        self.lock().target = self.cfg.items;
        let (tx, rx) = futures::channel::mpsc::channel::<Vec<String>>(self.cfg.max_in_flight);
        let pager = self.page_all(tx);
        let pricer = rx
            .map(|titles| self.fetch_prices(titles))
            .buffer_unordered(self.cfg.max_in_flight)
            .for_each(|(titles, result)| {
                self.apply_prices(titles, result);
                futures::future::ready(())
            });
        let (paged, ()) = futures::join!(pager, pricer);
        paged?;
        let mut state = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        // Whatever still waits was never priced (cancelled before its batch went out).
        let unpriced: u64 = state.waiting.values().map(|v| v.len() as u64).sum();
        if unpriced > 0 {
            state.report.cancelled = true;
        }
        Ok(state.report)
    }

    /// Reads pages until `items`, the last page, or cancellation; queues titles for pricing.
    async fn page_all(
        &self,
        mut tx: futures::channel::mpsc::Sender<Vec<String>>,
    ) -> Result<(), ScanError> {
        let (lo, hi) = self.cfg.filters.price_band;
        let mut cursor: Option<String> = None;
        let mut seen = 0u64;
        loop {
            if self.ctx.is_cancelled() {
                self.lock().report.cancelled = true;
                break;
            }
            let limit = (self.cfg.items - seen).min(u64::from(MAX_PAGE_LIMIT)) as u32;
            let request = MarketItemsQuery::new(&self.info.market_game_id)
                .limit(limit)
                .price_band(lo, hi)
                .cursor(cursor.take())
                .to_request();
            let page = match self
                .send_parsed(request, |b| dmarket::parse_market_page(b, Currency::Usd))
                .await
            {
                Ok(page) => page,
                Err(e) if seen == 0 && !matches!(e, PageError::Fetch(FetchError::Cancelled)) => {
                    return Err(e.into_scan_error());
                }
                Err(PageError::Fetch(FetchError::Cancelled)) => {
                    self.lock().report.cancelled = true;
                    break;
                }
                Err(e) => {
                    let mut s = self.lock();
                    s.report
                        .errors
                        .push(format!("market page after {seen} listings: {e}"));
                    tracing::warn!(game = %self.info.id, error = %e, "paging stopped early");
                    break;
                }
            };
            seen += page.listings.len() as u64 + page.malformed;
            cursor = page.cursor.clone();
            let batches = self.accept_page(page, seen);
            for batch in batches {
                if tx.send(batch).await.is_err() {
                    break;
                }
            }
            if cursor.is_none() || seen >= self.cfg.items {
                break;
            }
        }
        let rest = std::mem::take(&mut self.lock().unsent);
        for batch in rest.chunks(MAX_TITLES_PER_PRICE_REQUEST) {
            if tx.send(batch.to_vec()).await.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Files a page's listings: judged now when their title is priced, else queued; returns
    /// the full title batches ready to price.
    fn accept_page(&self, page: dmarket::MarketPage, seen: u64) -> Vec<Vec<String>> {
        let mut s = self.lock();
        let s = &mut *s;
        s.report.pages += 1;
        s.report.listings_seen += page.listings.len() as u64 + page.malformed;
        if page.malformed > 0 {
            s.report.reject_n(RejectReason::Malformed, page.malformed);
            s.judged += page.malformed;
            tracing::warn!(
                game = %self.info.id,
                skipped = page.malformed,
                first = page.first_problem.as_deref().unwrap_or(""),
                "malformed listings skipped"
            );
        }
        if let Some(total) = page.total {
            s.target = s.target.min(total.max(seen));
        }
        let per_listing = self.cfg.pricing == Pricing::PerListing;
        let mut ready = Vec::new();
        for listing in page.listings {
            if let Err(reason) = self.cfg.filters.admit(&listing) {
                s.report.reject(reason);
                s.judged += 1;
                continue;
            }
            if self.rules.excludes(&listing) {
                s.report.reject(RejectReason::GameRule);
                s.judged += 1;
                continue;
            }
            if !per_listing && let Some(reference) = s.priced.get(&listing.title) {
                self.judge(&mut s.report, &mut s.judged, &listing, reference.as_ref());
                continue;
            }
            let title = listing.title.clone();
            let queue = s.waiting.entry(title.clone()).or_default();
            queue.push(listing);
            s.waiting_listings += 1;
            if queue.len() == 1 || per_listing {
                s.unsent.push(title);
            }
            let batch = if per_listing {
                1
            } else {
                MAX_TITLES_PER_PRICE_REQUEST
            };
            if s.unsent.len() >= batch {
                ready.push(std::mem::take(&mut s.unsent));
            }
        }
        // Memory stays flat: when many listings wait for titles that do not yet fill a
        // batch (a game with few titles), price those titles now rather than at the end.
        if s.waiting_listings >= MAX_WAITING_LISTINGS && !s.unsent.is_empty() {
            ready.push(std::mem::take(&mut s.unsent));
        }
        self.ctx.progress(s.judged, s.target);
        ready
    }

    fn judge(
        &self,
        report: &mut GameReport,
        judged: &mut u64,
        listing: &Listing,
        reference: Option<&ReferencePrice>,
    ) {
        *judged += 1;
        let Some(reference) = reference else {
            report.reject(RejectReason::NoReference);
            return;
        };
        match evaluate_listing(
            &self.info.id,
            listing,
            reference,
            self.cfg.fee,
            &self.cfg.filters,
        ) {
            Ok(opportunity) => {
                report.opportunities.push(opportunity);
                // Memory stays flat on big scans: only the best `max_results` survive the
                // final cut, and ranking is a total order, so cutting early changes nothing.
                let keep = self.cfg.filters.max_results;
                if report.opportunities.len() >= keep.saturating_mul(2).max(64) {
                    rank_and_cap(report, keep);
                }
            }
            Err(reason) => report.reject(reason),
        }
    }

    async fn fetch_prices(
        &self,
        titles: Vec<String>,
    ) -> (Vec<String>, Result<Vec<ReferencePrice>, PageError>) {
        if self.ctx.is_cancelled() {
            return (titles, Err(PageError::Fetch(FetchError::Cancelled)));
        }
        let request = dmarket::aggregated_prices_request(&self.info.price_game, &titles);
        let result = self
            .send_parsed(request, |b| {
                dmarket::parse_aggregated_prices(b, Currency::Usd).map(|p| p.prices)
            })
            .await;
        (titles, result)
    }

    fn apply_prices(&self, titles: Vec<String>, result: Result<Vec<ReferencePrice>, PageError>) {
        let mut s = self.lock();
        let s = &mut *s;
        match result {
            Ok(prices) => {
                let mut by_title: HashMap<String, ReferencePrice> =
                    prices.into_iter().map(|p| (p.title.clone(), p)).collect();
                for title in titles {
                    let reference = by_title.remove(&title);
                    let listings = s.waiting.remove(&title).unwrap_or_default();
                    s.waiting_listings -= listings.len();
                    for listing in listings {
                        self.judge(&mut s.report, &mut s.judged, &listing, reference.as_ref());
                    }
                    s.priced.insert(title, reference);
                }
            }
            Err(PageError::Fetch(FetchError::Cancelled)) => {
                s.report.cancelled = true;
            }
            Err(e) => {
                let mut lost = 0;
                for title in &titles {
                    let listings = s.waiting.remove(title).unwrap_or_default();
                    s.waiting_listings -= listings.len();
                    lost += listings.len() as u64;
                }
                s.report.reject_n(RejectReason::NoReference, lost);
                s.judged += lost;
                s.report.errors.push(format!(
                    "prices for {} titles ({lost} listings): {e}",
                    titles.len()
                ));
                tracing::warn!(game = %self.info.id, titles = titles.len(), error = %e, "price batch failed");
            }
        }
        self.ctx.progress(s.judged, s.target);
    }

    /// Sends `request` and parses the answer, re-asking up to twice when the body does not
    /// parse (a truncated or garbled answer is usually transient).
    async fn send_parsed<T>(
        &self,
        request: ApiRequest,
        parse: impl Fn(&[u8]) -> Result<T, ParseError>,
    ) -> Result<T, PageError> {
        const PARSE_ATTEMPTS: u32 = 3;
        let mut last = None;
        for _ in 0..PARSE_ATTEMPTS {
            self.lock().report.requests += 1;
            let response = self
                .ctx
                .send(request.clone())
                .await
                .map_err(PageError::Fetch)?;
            match parse(&response.body) {
                Ok(value) => return Ok(value),
                Err(e) => {
                    tracing::debug!(game = %self.info.id, error = %e, "unparsable answer, asking again");
                    last = Some(e);
                }
            }
        }
        Err(PageError::Parse(
            last.expect("PARSE_ATTEMPTS is at least 1"),
        ))
    }
}

/// Why a page or batch could not be had.
#[derive(Debug, thiserror::Error)]
enum PageError {
    #[error(transparent)]
    Fetch(FetchError),
    #[error("unparsable after 3 attempts: {0}")]
    Parse(ParseError),
}

impl PageError {
    fn into_scan_error(self) -> ScanError {
        match self {
            PageError::Fetch(e) => ScanError::Fetch(e),
            PageError::Parse(e) => ScanError::Parse(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ApiResponse;
    use crate::dmarket::{AGGREGATED_PRICES_PATH, MARKET_ITEMS_PATH};
    use crate::model::GameId;
    use crate::settings::SettingValue;
    use crate::testkit::{MockContext, MockMarket};
    use futures::executor::block_on;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Test;
    impl GameProfile for Test {
        fn info(&self) -> GameInfo {
            GameInfo {
                id: GameId::new("test").unwrap(),
                display_name: "Test".into(),
                market_game_id: "tst".into(),
                price_game: "test".into(),
                fee: Bps::new(700).unwrap(),
            }
        }
    }

    fn titles(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("Title {i:03}")).collect()
    }

    fn settings(pairs: &[(&str, SettingValue)]) -> PluginSettings {
        PluginSettings::new(
            "test",
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn a_game_with_few_titles_is_judged_while_paging_not_held_to_the_end() {
        // Three titles never fill a price batch: their listings must not pile up until the
        // last page (memory grew with the catalogue before this was bounded).
        let m = MockMarket::sample(&["A", "B", "C", "Unpriced"], 5_000);
        let ctx = MockContext::market(m);
        let s = settings(&[("items", SettingValue::Integer(5_000))]);
        let report = block_on(scan_with_profile(&Test, &ctx, &s)).unwrap();
        assert_eq!(report.listings_seen, 5_000);
        let midway = ctx
            .progress_reports()
            .iter()
            .filter(|(done, _)| *done >= 1_000 && *done < 4_000)
            .count();
        assert!(
            midway > 0,
            "nothing was judged until paging ended: {:?}",
            ctx.progress_reports()
        );
        let pages = ctx
            .requests()
            .iter()
            .filter(|r| r.path == MARKET_ITEMS_PATH)
            .count();
        let batches = ctx.requests().len() - pages;
        assert!(batches <= 6, "{batches} price requests for 4 titles");
    }

    #[test]
    fn cutting_opportunities_during_the_scan_keeps_the_same_best_ones() {
        let m = MockMarket::sample(&["A", "B", "C", "D", "E", "F", "Unpriced"], 7_000);
        let scan = |max: i64| {
            let ctx = MockContext::market(m.clone());
            let s = settings(&[
                ("items", SettingValue::Integer(7_000)),
                ("max_results", SettingValue::Integer(max)),
            ]);
            block_on(scan_with_profile(&Test, &ctx, &s)).unwrap()
        };
        let mut all = scan(100_000);
        assert!(all.opportunities.len() > 200, "{}", all.opportunities.len());
        let few = scan(5);
        rank_and_cap(&mut all, 5);
        assert_eq!(few.opportunities, all.opportunities);
        assert_eq!(few.rejected, all.rejected);
        assert_eq!(few.listings_seen, 7_000);
    }

    fn market(n_titles: usize, n: usize) -> MockMarket {
        let t = titles(n_titles);
        let refs: Vec<&str> = t.iter().map(String::as_str).collect();
        MockMarket::sample(&refs, n)
    }

    #[test]
    fn pages_until_items_and_batches_distinct_titles_by_one_hundred() {
        // 250 titles over 500 listings, items = 450: 5 pages (100 x 4 + 50), 250 distinct
        // titles seen -> 3 price requests (100, 100, 50).
        let ctx = MockContext::market(market(250, 500));
        let r = block_on(scan_with_profile(
            &Test,
            &ctx,
            &settings(&[("items", SettingValue::Integer(450))]),
        ))
        .unwrap();
        let reqs = ctx.requests();
        let pages: Vec<&str> = reqs
            .iter()
            .filter(|r| r.path == MARKET_ITEMS_PATH)
            .map(|r| r.query_value("limit").unwrap())
            .collect();
        assert_eq!(pages, vec!["100", "100", "100", "100", "50"]);
        let price_sizes: Vec<usize> = reqs
            .iter()
            .filter(|r| r.path == AGGREGATED_PRICES_PATH)
            .map(|r| {
                let v: serde_json::Value =
                    serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                v["filter"]["titles"].as_array().unwrap().len()
            })
            .collect();
        // Each batch is full but the last; every distinct title among those read went once.
        assert!(price_sizes.iter().all(|&n| n <= 100));
        assert!(
            price_sizes[..price_sizes.len() - 1]
                .iter()
                .all(|&n| n == 100)
        );
        assert_eq!(r.listings_seen, 450);
        assert_eq!(r.pages, 5);
        assert_eq!(r.requests, 5 + price_sizes.len() as u64);
        assert_eq!(r.opportunities.len() as u64 + r.rejected_total(), 450);

        // Reading all 500 covers all 250 titles: exactly 3 batches of 100, 100 and 50.
        let ctx2 = MockContext::market(market(250, 500));
        block_on(scan_with_profile(
            &Test,
            &ctx2,
            &settings(&[("items", SettingValue::Integer(500))]),
        ))
        .unwrap();
        let mut sizes: Vec<usize> = ctx2
            .requests()
            .iter()
            .filter(|r| r.path == AGGREGATED_PRICES_PATH)
            .map(|r| {
                let v: serde_json::Value =
                    serde_json::from_slice(r.body.as_ref().unwrap()).unwrap();
                v["filter"]["titles"].as_array().unwrap().len()
            })
            .collect();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![50, 100, 100]);
        // The band went on every page request.
        assert!(
            reqs.iter()
                .filter(|r| r.path == MARKET_ITEMS_PATH)
                .all(|r| r.query_value("priceFrom") == Some("50"))
        );
    }

    #[test]
    fn per_listing_pricing_sends_one_request_per_listing() {
        let ctx = MockContext::market(market(10, 100));
        let r = block_on(scan_with_profile(
            &Test,
            &ctx,
            &settings(&[("pricing", SettingValue::String("per_listing".into()))]),
        ))
        .unwrap();
        let priced = ctx
            .requests()
            .iter()
            .filter(|r| r.path == AGGREGATED_PRICES_PATH)
            .count();
        assert_eq!(priced, 100);
        assert_eq!(r.requests, 101);
        assert_eq!(r.opportunities.len() as u64 + r.rejected_total(), 100);
    }

    #[test]
    fn a_first_page_failure_fails_the_scan_and_a_later_one_keeps_results() {
        let ctx = MockContext::new(|_| {
            Err(FetchError::Http {
                status: 503,
                message: "down".into(),
            })
        });
        let err = block_on(scan_with_profile(&Test, &ctx, &settings(&[]))).unwrap_err();
        assert_eq!(
            err,
            ScanError::Fetch(FetchError::Http {
                status: 503,
                message: "down".into()
            })
        );

        let m = market(20, 300);
        let pages = AtomicU32::new(0);
        let ctx = MockContext::new(move |r| {
            if r.path == MARKET_ITEMS_PATH && pages.fetch_add(1, Ordering::SeqCst) == 1 {
                return Err(FetchError::Timeout {
                    after: std::time::Duration::from_secs(1),
                });
            }
            m.answer(r)
        });
        let r = block_on(scan_with_profile(
            &Test,
            &ctx,
            &settings(&[("items", SettingValue::Integer(300))]),
        ))
        .unwrap();
        assert_eq!(r.listings_seen, 100);
        assert_eq!(r.errors.len(), 1);
        assert!(
            r.errors[0].starts_with("market page after 100 listings: no answer within 1000ms"),
            "{}",
            r.errors[0]
        );
        assert!(!r.opportunities.is_empty());
    }

    #[test]
    fn an_unparsable_answer_is_asked_for_again() {
        let m = market(5, 50);
        let garbled = AtomicU32::new(0);
        let ctx = MockContext::new(move |r| {
            if r.path == AGGREGATED_PRICES_PATH && garbled.fetch_add(1, Ordering::SeqCst) < 2 {
                return Ok(ApiResponse {
                    status: 200,
                    body: b"{\"aggregatedPr".to_vec(),
                });
            }
            m.answer(r)
        });
        let r = block_on(scan_with_profile(&Test, &ctx, &settings(&[]))).unwrap();
        // 1 page + 3 attempts at the one price batch.
        assert_eq!(r.requests, 4);
        assert!(r.errors.is_empty());
        assert_eq!(r.rejected.get(&RejectReason::NoReference), Some(&10));
    }

    #[test]
    fn a_failed_price_batch_is_reported_and_its_listings_counted() {
        let m = market(5, 50);
        let ctx = MockContext::new(move |r| {
            if r.path == AGGREGATED_PRICES_PATH {
                return Err(FetchError::Http {
                    status: 500,
                    message: "oops".into(),
                });
            }
            m.answer(r)
        });
        let r = block_on(scan_with_profile(&Test, &ctx, &settings(&[]))).unwrap();
        assert_eq!(r.rejected.get(&RejectReason::NoReference), Some(&50));
        assert_eq!(
            r.errors,
            vec!["prices for 5 titles (50 listings): HTTP 500: oops".to_owned()]
        );
    }

    #[test]
    fn bad_settings_are_refused_before_any_request() {
        let ctx = MockContext::market(market(5, 10));
        for (key, value, expected) in [
            (
                "level",
                SettingValue::String("gold".into()),
                "plugins.test.level must be one of",
            ),
            (
                "pricing",
                SettingValue::String("fast".into()),
                "plugins.test.pricing must be \"batch\"",
            ),
            (
                "strategies",
                SettingValue::List(vec![]),
                "plugins.test.strategies must name at least one",
            ),
            (
                "min_price",
                SettingValue::Integer(50),
                "plugins.test.min_price must not exceed max_price",
            ),
            (
                "fee_percent",
                SettingValue::Integer(101),
                "plugins.test.fee_percent must be between 0 and 100",
            ),
            (
                "itmes",
                SettingValue::Integer(1),
                "plugins.test.itmes is not a setting",
            ),
        ] {
            let mut s = settings(&[(key, value)]);
            if key == "min_price" {
                s.set("max_price", SettingValue::Integer(10));
            }
            let err = block_on(scan_with_profile(&Test, &ctx, &s))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(expected), "{key}: {err}");
        }
        assert!(ctx.requests().is_empty());
    }

    #[test]
    fn a_level_narrows_the_requested_band() {
        let ctx = MockContext::market(market(5, 10));
        block_on(scan_with_profile(
            &Test,
            &ctx,
            &settings(&[("level", SettingValue::String("standard".into()))]),
        ))
        .unwrap();
        let first = &ctx.requests()[0];
        assert_eq!(
            (first.query_value("priceFrom"), first.query_value("priceTo")),
            (Some("300"), Some("999"))
        );
    }
}
