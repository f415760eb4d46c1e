//! Building blocks for a hand-written scan: the pieces the default strategy is made of, so a
//! custom scanner does not re-implement paging, batch pricing or the sales check.
//!
//! - [`ListingPager`]: a game's listings page by page (cursor, limit, repeated-cursor and
//!   cancellation guards, requests and dropped entries counted).
//! - [`price_titles`]: reference prices for any number of titles, 100 per request,
//!   following `nextCursor`.
//! - [`last_sales`]: a title's recent sales, for a liquidity or price check.
//! - [`crate::strategy::ScanSettings::for_game`]: the common settings (band, filters, fees,
//!   endpoint) without a [`GameProfile`](crate::scanner::GameProfile).
//!
//! Every block counts what it sends; add its counts to the [`GameReport`](crate::GameReport)
//! (`requests`, `pages`, `listings_seen`, `wire`). The crate docs' "Writing a custom scan"
//! puts them together.

use std::collections::{HashMap, HashSet};

use crate::context::{FetchError, ScanContext, ScanError};
use crate::dmarket::{
    self, LastSales, ListingsQuery, MAX_PAGE_LIMIT, MAX_TITLES_PER_PRICE_REQUEST,
};
use crate::model::{Listing, ReferencePrice, WireStats};
use crate::money::Currency;

/// Pages through listings: `next_page` until it answers `None`.
pub struct ListingPager<'a> {
    ctx: &'a dyn ScanContext,
    query: ListingsQuery,
    max: u64,
    read: u64,
    cursor: Option<String>,
    cursors: HashSet<String>,
    done: bool,
    /// Requests sent.
    pub requests: u64,
    /// Pages read.
    pub pages: u64,
    /// Entries that did not parse, by reason, with an example.
    pub wire: WireStats,
    /// The total the server reported on its last page.
    pub total: Option<u64>,
}

impl std::fmt::Debug for ListingPager<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListingPager")
            .field("query", &self.query)
            .field("read", &self.read)
            .field("pages", &self.pages)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'a> ListingPager<'a> {
    /// Pages `query` (its first page) until `max` entries are read or the listing ends.
    pub fn new(ctx: &'a dyn ScanContext, query: ListingsQuery, max: u64) -> Self {
        ListingPager {
            ctx,
            query,
            max,
            read: 0,
            cursor: None,
            cursors: HashSet::new(),
            done: max == 0,
            requests: 0,
            pages: 0,
            wire: WireStats::default(),
            total: None,
        }
    }

    /// Entries read so far (listings and malformed ones).
    pub fn read(&self) -> u64 {
        self.read
    }

    /// The next page's listings; `None` when the listing ended, `max` was reached, the
    /// server repeated a cursor, or the scan is cancelled (check `ctx.is_cancelled()`).
    pub async fn next_page(&mut self) -> Result<Option<Vec<Listing>>, ScanError> {
        if self.done || self.ctx.is_cancelled() {
            return Ok(None);
        }
        let limit = (self.max - self.read).min(u64::from(MAX_PAGE_LIMIT)) as u32;
        let request = self
            .query
            .clone()
            .limit(limit)
            .cursor(self.cursor.take())
            .to_request();
        self.requests += 1;
        let response = self.ctx.send(request).await?;
        let page = dmarket::parse_listings_page(&response.body, Currency::Usd)?;
        self.pages += 1;
        self.read += page.entries;
        self.total = page.total.or(self.total);
        self.wire.merge(&page.wire);
        self.cursor = page.cursor.clone();
        let repeated = page
            .cursor
            .as_ref()
            .is_some_and(|c| !self.cursors.insert(c.clone()));
        if page.cursor.is_none() || page.entries == 0 || self.read >= self.max || repeated {
            self.done = true;
        }
        Ok(Some(page.listings))
    }
}

/// Reference prices for some titles.
#[derive(Debug, Default)]
pub struct PricedTitles {
    /// By title; a title the market had no entry for is absent.
    pub prices: HashMap<String, ReferencePrice>,
    /// Requests sent.
    pub requests: u64,
    /// Entries that did not parse, and forms seen.
    pub wire: WireStats,
}

/// Prices `titles` (any number, duplicates ignored) with aggregated prices, 100 per request,
/// following each answer's `nextCursor`. `price_game` is `filter.game`: the market gameId.
pub async fn price_titles(
    ctx: &dyn ScanContext,
    price_game: &str,
    titles: &[String],
) -> Result<PricedTitles, ScanError> {
    let mut unique: Vec<String> = titles.to_vec();
    unique.sort();
    unique.dedup();
    let mut out = PricedTitles::default();
    for batch in unique.chunks(MAX_TITLES_PER_PRICE_REQUEST) {
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            if ctx.is_cancelled() {
                return Err(ScanError::Fetch(FetchError::Cancelled));
            }
            out.requests += 1;
            let request = dmarket::aggregated_prices_request(price_game, batch, cursor.as_deref());
            let response = ctx.send(request).await?;
            let page = dmarket::parse_aggregated_prices(&response.body, Currency::Usd)?;
            out.wire.merge(&page.wire);
            out.prices
                .extend(page.prices.into_iter().map(|p| (p.title.clone(), p)));
            match page.next_cursor {
                Some(next) if !next.is_empty() && cursor.as_deref() != Some(next.as_str()) => {
                    cursor = Some(next);
                }
                _ => break,
            }
        }
    }
    Ok(out)
}

/// The last `limit` (at most 20) sales of `title` in `game_id`: one request.
pub async fn last_sales(
    ctx: &dyn ScanContext,
    game_id: &str,
    title: &str,
    limit: u32,
) -> Result<LastSales, ScanError> {
    let response = ctx
        .send(dmarket::last_sales_request(game_id, title, limit))
        .await?;
    Ok(dmarket::parse_last_sales(&response.body, Currency::Usd)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dmarket::ListingApi;
    use crate::testkit::{MockContext, MockMarket};
    use futures::executor::block_on;

    #[test]
    fn the_pager_reads_up_to_max_and_the_pricer_batches_by_one_hundred() {
        let titles: Vec<String> = (0..250).map(|i| format!("T{i:03}")).collect();
        let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
        let ctx = MockContext::market(MockMarket::sample(&refs, 500));
        let mut pager = ListingPager::new(&ctx, ListingsQuery::new(ListingApi::V2, "g"), 250);
        let mut seen = Vec::new();
        while let Some(page) = block_on(pager.next_page()).unwrap() {
            seen.extend(page);
        }
        assert_eq!((seen.len(), pager.pages, pager.requests), (250, 3, 3));
        let names: Vec<String> = seen.iter().map(|l| l.title.clone()).collect();
        let priced = block_on(price_titles(&ctx, "g", &names)).unwrap();
        // 250 listings over 250 titles: the distinct ones, 100 per request.
        let distinct = names.iter().collect::<HashSet<_>>().len();
        assert_eq!(priced.requests, distinct.div_ceil(100) as u64);
        assert!(!priced.prices.is_empty());
        let sales = block_on(last_sales(&ctx, "g", &names[0], 20)).unwrap();
        assert!(sales.sales.is_empty(), "the sample market records no sales");
    }
}
