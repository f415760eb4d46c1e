//! The reference-price cache of watch mode: a layer in front of aggregated-price requests.
//! A title's price is reused for `ttl`; titles missing or stale are fetched together in as
//! few batches as the API allows (100 titles each). Hits and misses are counted, and a title
//! whose price moved since it was last fetched is named, so the opportunities resting on it
//! can be judged again. Titles asked for within the last hour are refreshed ahead of their
//! expiry ([`PriceCache::due`], [`PriceCache::refresh`]), a hundred to a request, so a listing
//! of a title seen before is judged without waiting for a price: a long-lived watch stays
//! warm at a small cost (20,000 titles every 5 minutes is 0.7 requests a second).

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
    /// Fetched then.
    at: Instant,
    /// Last asked for then (by a listing).
    used: Instant,
}

/// A title is refreshed once this share of the TTL has passed since it was fetched.
const REFRESH_AT: f64 = 0.8;

/// Titles no listing asked for this long are no longer refreshed, and are forgotten once
/// stale.
const KEEP_WARM: Duration = Duration::from_secs(3_600);

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
            let mut entries = self.lock();
            let now = Instant::now();
            for title in titles {
                if out.prices.contains_key(title) || need.contains(title) {
                    continue;
                }
                match entries.get_mut(title) {
                    Some(e) if e.at.elapsed() < self.ttl => {
                        hits += 1;
                        e.used = now;
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
        self.fetch(ctx, need, &before, out, true).await
    }

    /// Up to `max` titles to refresh now: fetched `REFRESH_AT` of the TTL ago or more, and
    /// asked for within [`KEEP_WARM`]; the oldest first.
    pub fn due(&self, max: usize) -> Vec<String> {
        let entries = self.lock();
        let refresh_at = self.ttl.mul_f64(REFRESH_AT);
        let mut due: Vec<(Instant, &String)> = entries
            .iter()
            .filter(|(_, e)| e.at.elapsed() >= refresh_at && e.used.elapsed() < KEEP_WARM)
            .map(|(title, e)| (e.at, title))
            .collect();
        due.sort();
        due.into_iter()
            .take(max)
            .map(|(_, title)| title.clone())
            .collect()
    }

    /// `title`'s cached reference if it was read from the market within `within` (a fetch
    /// that recent is as fresh as a new one); `None` otherwise.
    pub fn fresh_within(&self, title: &str, within: Duration) -> Option<Option<ReferencePrice>> {
        self.lock()
            .get(title)
            .filter(|e| e.at.elapsed() <= within)
            .map(|e| e.price.clone())
    }

    /// Fetches `titles` again (not a lookup: neither a hit nor a miss, and not a use); the
    /// titles whose best order or offer moved are named.
    pub async fn refresh(
        &self,
        ctx: &dyn ScanContext,
        titles: &[String],
    ) -> Result<Priced, ScanError> {
        let before: HashMap<String, Option<ReferencePrice>> = {
            let entries = self.lock();
            titles
                .iter()
                .filter_map(|t| entries.get(t).map(|e| (t.clone(), e.price.clone())))
                .collect()
        };
        self.fetch(ctx, titles.to_vec(), &before, Priced::default(), false)
            .await
    }

    /// Fetches `need` into the cache and `out`; `before`: what was cached (to name moves);
    /// `used`: a listing asked for them now.
    async fn fetch(
        &self,
        ctx: &dyn ScanContext,
        need: Vec<String>,
        before: &HashMap<String, Option<ReferencePrice>>,
        mut out: Priced,
        used: bool,
    ) -> Result<Priced, ScanError> {
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
            let last_use = entries.get(&title).map(|e| e.used);
            entries.insert(
                title.clone(),
                Entry {
                    price: price.clone(),
                    at: now,
                    used: if used { now } else { last_use.unwrap_or(now) },
                },
            );
            out.prices.insert(title, price);
        }
        // Bounded by what is fresh or asked for within the hour.
        let ttl = self.ttl;
        entries.retain(|_, e| e.at.elapsed() < ttl || e.used.elapsed() < KEEP_WARM);
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
        // M4, stale, is kept while asked for within the hour (to be refreshed), then dropped.
        assert_eq!(cache.len(), 2);
        tokio::time::advance(KEEP_WARM).await;
        cache.prices(&ctx, &titles[..1]).await.unwrap();
        assert_eq!(
            cache.len(),
            1,
            "M4, stale and unused for an hour, was forgotten"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn titles_asked_for_are_refreshed_before_they_expire_and_stay_hits() {
        let order = Arc::new(AtomicI64::new(1_000));
        let ctx = market(order.clone());
        let ttl = Duration::from_secs(300);
        let cache = PriceCache::new("csgo", "a8db", ttl);
        let ak = vec!["AK".to_owned()];
        cache.prices(&ctx, &ak).await.unwrap();
        assert!(cache.due(100).is_empty(), "fresh");
        tokio::time::advance(ttl.mul_f64(0.85)).await;
        assert_eq!(cache.due(100), ak);
        order.store(950, Ordering::SeqCst);
        let refreshed = cache.refresh(&ctx, &ak).await.unwrap();
        assert_eq!(ctx.requests().len(), 2);
        assert_eq!(refreshed.moved, ak, "the refresh names the move");
        assert!(cache.due(100).is_empty(), "refreshed now");
        // Past the first fetch's TTL: still a hit, nothing sent, the refreshed price.
        tokio::time::advance(ttl.mul_f64(0.5)).await;
        let hit = cache.prices(&ctx, &ak).await.unwrap();
        assert_eq!(ctx.requests().len(), 2);
        assert_eq!(cache.hits.load(Ordering::Relaxed), 1);
        let order_cents = hit.prices["AK"]
            .as_ref()
            .unwrap()
            .best_order
            .unwrap()
            .cents();
        assert_eq!(order_cents, 950);
        // A refresh is not a use: a title no listing asked for within the hour is not
        // refreshed any more.
        for _ in 0..15 {
            tokio::time::advance(ttl).await;
            let due = cache.due(100);
            if due.is_empty() {
                break;
            }
            cache.refresh(&ctx, &due).await.unwrap();
        }
        tokio::time::advance(ttl).await;
        assert!(cache.due(100).is_empty(), "unused for an hour");
    }
}
