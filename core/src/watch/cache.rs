//! The reference-price cache of watch mode: a layer in front of aggregated-price requests.
//! A title's price is reused for `ttl`; titles missing or stale are fetched together in as
//! few batches as the API allows (100 titles each). Hits and misses are counted, and a title
//! whose price moved since it was last fetched is named, so the opportunities resting on it
//! can be judged again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skinscan_sdk::{ReferencePrice, ScanContext, ScanError, WireStats};
use tokio::time::Instant;

/// Titles' reference prices for one game.
#[derive(Debug)]
pub struct PriceCache {
    /// The plugin, for metrics.
    game: String,
    ttl: Duration,
    price_game: String,
    entries: Mutex<HashMap<String, Entry>>,
    /// Lookups answered from the cache (shared with whoever counts them: see
    /// [`PriceCache::counting_into`]).
    pub hits: Arc<AtomicU64>,
    /// Titles that had to be fetched.
    pub misses: Arc<AtomicU64>,
}

#[derive(Debug, Clone)]
struct Entry {
    /// `None`: the market had no entry for the title.
    price: Option<ReferencePrice>,
    at: Instant,
}

/// What a lookup gave.
#[derive(Debug, Default)]
pub struct Priced {
    /// By title: its price, or `None` when the market has none for it.
    pub prices: HashMap<String, Option<ReferencePrice>>,
    /// Titles fetched again whose best order or offer moved since the last fetch.
    pub moved: Vec<String>,
    /// Entries of the answers that did not parse, and forms seen.
    pub wire: WireStats,
    /// The prices fetched now (not from the cache).
    pub fetched: Vec<ReferencePrice>,
}

impl PriceCache {
    /// An empty cache of `game` (the plugin, for metrics) for the market game `price_game`
    /// (`filter.game`).
    pub fn new(game: &str, price_game: impl Into<String>, ttl: Duration) -> PriceCache {
        PriceCache {
            game: game.to_owned(),
            ttl,
            price_game: price_game.into(),
            entries: Mutex::new(HashMap::new()),
            hits: Arc::default(),
            misses: Arc::default(),
        }
    }

    /// Counts hits and misses into `hits` and `misses` as they happen (a run's totals stay
    /// right even if the watch of this game ends early).
    pub fn counting_into(mut self, hits: Arc<AtomicU64>, misses: Arc<AtomicU64>) -> PriceCache {
        self.hits = hits;
        self.misses = misses;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The prices of `titles`: fresh entries from the cache, the rest fetched through `ctx`.
    /// On a failed fetch the error; what was cached stays.
    pub async fn prices(
        &self,
        ctx: &dyn ScanContext,
        titles: &[String],
    ) -> Result<Priced, ScanError> {
        let mut out = Priced::default();
        let mut need: Vec<String> = Vec::new();
        let mut hits = 0;
        let mut before: HashMap<String, Option<ReferencePrice>> = HashMap::new();
        {
            let entries = self.lock();
            for title in titles {
                if out.prices.contains_key(title) || need.contains(title) {
                    continue;
                }
                match entries.get(title) {
                    Some(e) if e.at.elapsed() < self.ttl => {
                        hits += 1;
                        out.prices.insert(title.clone(), e.price.clone());
                    }
                    stale => {
                        if let Some(e) = stale {
                            before.insert(title.clone(), e.price.clone());
                        }
                        need.push(title.clone());
                    }
                }
            }
        }
        self.hits.fetch_add(hits, Ordering::Relaxed);
        self.misses.fetch_add(need.len() as u64, Ordering::Relaxed);
        crate::events::PriceCacheLookup {
            game: &self.game,
            hits,
            misses: need.len() as u64,
        }
        .emit();
        if need.is_empty() {
            return Ok(out);
        }
        let mut fetched = skinscan_sdk::blocks::price_titles(ctx, &self.price_game, &need).await?;
        out.wire = fetched.wire;
        let now = Instant::now();
        let mut entries = self.lock();
        for title in need {
            let price = fetched.prices.remove(&title);
            if let Some(p) = &price {
                out.fetched.push(p.clone());
            }
            if let Some(old) = before.get(&title)
                && !same_levels(old.as_ref(), price.as_ref())
            {
                out.moved.push(title.clone());
            }
            entries.insert(
                title.clone(),
                Entry {
                    price: price.clone(),
                    at: now,
                },
            );
            out.prices.insert(title, price);
        }
        // Bounded by what is still fresh.
        let ttl = self.ttl;
        entries.retain(|_, e| e.at.elapsed() < ttl);
        Ok(out)
    }

    /// Titles cached now (fresh or not yet swept out).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

fn same_levels(a: Option<&ReferencePrice>, b: Option<&ReferencePrice>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.best_order == b.best_order && a.best_offer == b.best_offer,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skinscan_sdk::ApiResponse;
    use skinscan_sdk::testkit::MockContext;
    use std::sync::Arc;
    use std::sync::atomic::AtomicI64;

    /// A market pricing only "AK", at a best order `order` cents.
    fn market(order: Arc<AtomicI64>) -> MockContext {
        MockContext::new(move |_| {
            let body = format!(
                r#"{{"aggregatedPrices":[{{"title":"AK","orderBestPrice":{{"Currency":"USD","Amount":"{}"}},"orderCount":"3","offerBestPrice":{{"Currency":"USD","Amount":"1100"}},"offerCount":"4"}}],"nextCursor":""}}"#,
                order.load(Ordering::SeqCst)
            );
            Ok(ApiResponse {
                status: 200,
                body: body.into_bytes(),
            })
        })
    }

    #[tokio::test(start_paused = true)]
    async fn repeated_titles_are_served_from_the_cache_until_the_ttl_and_moves_are_named() {
        let order = Arc::new(AtomicI64::new(1_000));
        let ctx = market(order.clone());
        let cache = PriceCache::new("csgo", "a8db", Duration::from_secs(300));
        let titles = vec!["AK".to_owned(), "AK".to_owned(), "M4".to_owned()];
        let first = cache.prices(&ctx, &titles).await.unwrap();
        assert_eq!(ctx.requests().len(), 1);
        let body = String::from_utf8(ctx.requests()[0].body.clone().unwrap()).unwrap();
        assert!(body.contains(r#""titles":["AK","M4"]"#), "{body}");
        assert_eq!(first.prices.len(), 2);
        assert!(first.prices["M4"].is_none(), "the market has no M4");
        assert_eq!(
            first.prices["AK"]
                .as_ref()
                .unwrap()
                .best_order
                .unwrap()
                .cents(),
            1_000
        );
        assert_eq!(cache.misses.load(Ordering::Relaxed), 2);
        let again = cache.prices(&ctx, &titles[..1]).await.unwrap();
        assert_eq!(ctx.requests().len(), 1, "a hit sends nothing");
        assert_eq!(cache.hits.load(Ordering::Relaxed), 1);
        assert!(again.moved.is_empty());
        // Past the TTL the title is fetched again; its best order moved.
        tokio::time::advance(Duration::from_secs(301)).await;
        order.store(900, Ordering::SeqCst);
        let later = cache.prices(&ctx, &titles[..1]).await.unwrap();
        assert_eq!(ctx.requests().len(), 2);
        assert_eq!(later.moved, vec!["AK".to_owned()]);
        assert_eq!(cache.len(), 1, "M4 expired and was swept out");
    }
}
