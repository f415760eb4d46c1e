//! `skinscan watch`: the continuous mode. Per game, poll the newest listings within the
//! game's band (paging deeper only while a page holds nothing but unseen listings, so an
//! outage is caught up), price only the titles not in a short-lived reference cache, judge
//! each new listing with the game's own settings and rules ([`Judge`]), and report each
//! opportunity once, as an event: `new` when first seen (with the delay from its listing
//! time), `gone` when its listing leaves the market (checked per title, every
//! `gone_every`). The rate budget is the host's: every poll waits on the same per-group
//! limiters as a cycle scan, shared fairly by the games.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use skinscan_sdk::arbitrage::Fees;
use skinscan_sdk::dmarket::{self, ListingApi, ListingOrder, ListingsQuery};
use skinscan_sdk::strategy::{Judge, ListingsApiChoice};
use skinscan_sdk::{
    ApiRequest, ApiResponse, Currency, FetchError, Listing, Opportunity, ReferencePrice,
    ScanContext,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::plugin::Plugin;
use crate::report::{WatchEvent, WatchKind};
use crate::sinks::Fanout;
use crate::upstream::Upstream;

/// How watch mode runs.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Pages read per poll at most (catching up after a gap).
    pub max_pages: usize,
    /// How long a title's reference price is reused.
    pub price_ttl: Duration,
    /// How often live opportunities are checked for having left the market.
    pub gone_every: Duration,
    /// Titles checked per gone round at most: each check is a listings request, taken from
    /// the same budget as the polls, so it is kept small (freshness first).
    pub gone_titles: usize,
    /// Listing ids remembered per game (the oldest are forgotten first).
    pub seen_capacity: usize,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            max_pages: 5,
            price_ttl: Duration::from_secs(300),
            gone_every: Duration::from_secs(15),
            gone_titles: 2,
            seen_capacity: 50_000,
        }
    }
}

/// What a watch run did.
#[derive(Debug, Default)]
pub struct WatchStats {
    /// Listing pages read.
    pub polls: AtomicU64,
    /// Listings seen for the first time.
    pub new_listings: AtomicU64,
    /// `new` events.
    pub opportunities: AtomicU64,
    /// `gone` events.
    pub gone: AtomicU64,
    /// Reference prices served from the cache.
    pub cache_hits: AtomicU64,
    /// Titles that had to be priced.
    pub cache_misses: AtomicU64,
    /// Requests that failed (the poll goes on).
    pub errors: AtomicU64,
}

/// Ids seen, bounded: the oldest are forgotten first.
#[derive(Debug)]
struct SeenSet {
    set: HashSet<String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl SeenSet {
    fn new(capacity: usize) -> SeenSet {
        SeenSet {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// True when `id` was not seen before.
    fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        self.set.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// The host's context for watch-mode requests (the sdk's blocks take a `ScanContext`).
struct WatchContext<'a> {
    upstream: &'a Upstream,
    cancel: &'a CancellationToken,
}

#[async_trait]
impl ScanContext for WatchContext<'_> {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, FetchError> {
        self.upstream.send(&request, self.cancel).await
    }

    fn progress(&self, _done: u64, _total: u64) {}

    fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    fn authenticated(&self) -> bool {
        self.upstream.signed()
    }
}

fn id_of(l: &Listing) -> &str {
    l.offer_id.as_deref().unwrap_or(&l.item_id)
}

fn unix_now() -> SystemTime {
    SystemTime::now()
}

/// Watches `plugins` until `stop` fires; events go to `outputs`.
pub async fn run(
    upstream: Arc<Upstream>,
    plugins: Vec<Plugin>,
    outputs: Arc<Fanout>,
    options: WatchOptions,
    stop: CancellationToken,
) -> Arc<WatchStats> {
    let stats = Arc::new(WatchStats::default());
    let mut tasks = tokio::task::JoinSet::new();
    for plugin in plugins.into_iter().filter(|p| p.enabled) {
        let judge = match plugin.scanner.watch_judge(&plugin.settings) {
            None => {
                tracing::warn!(
                    "[{}] does not support watch mode (its scanner is not the default strategy's): not watched",
                    plugin.info.display_name
                );
                continue;
            }
            Some(Err(e)) => {
                tracing::error!("[{}] cannot be watched: {e}", plugin.info.display_name);
                continue;
            }
            Some(Ok(judge)) => judge,
        };
        let game = GameWatch {
            judge,
            upstream: upstream.clone(),
            outputs: outputs.clone(),
            options: options.clone(),
            stats: stats.clone(),
            stop: stop.clone(),
        };
        let span = tracing::info_span!("watch", game = %plugin.name);
        tasks.spawn(tracing::Instrument::instrument(game.run(), span));
    }
    while tasks.join_next().await.is_some() {}
    stats
}

struct GameWatch {
    judge: Judge,
    upstream: Arc<Upstream>,
    outputs: Arc<Fanout>,
    options: WatchOptions,
    stats: Arc<WatchStats>,
    stop: CancellationToken,
}

impl GameWatch {
    async fn run(self) {
        let api = match self.judge.cfg.listings_api {
            ListingsApiChoice::Only(api) => api,
            ListingsApiChoice::Auto => ListingApi::V2,
        };
        tracing::info!(
            "[{}] watching the newest listings",
            self.judge.info.display_name
        );
        // Polling and judging run side by side: the next poll goes out while the last
        // one's new titles are priced, so pricing never delays seeing what is new.
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Listing>>(16);
        let poller = async {
            let mut seen = SeenSet::new(self.options.seen_capacity);
            while !self.stop.is_cancelled() {
                if let Some(fresh) = self.poll(api, &mut seen).await
                    && !fresh.is_empty()
                    && tx.send(fresh).await.is_err()
                {
                    break;
                }
            }
            drop(tx);
        };
        let live: std::sync::Mutex<HashMap<String, Opportunity>> =
            std::sync::Mutex::new(HashMap::new());
        // Gone checks run beside both: they wait on the listing limiter, and must hold up
        // neither polling nor judging.
        let gone = async {
            loop {
                tokio::select! {
                    _ = self.stop.cancelled() => break,
                    _ = tokio::time::sleep(self.options.gone_every) => {}
                }
                self.check_gone(api, &live).await;
            }
        };
        tokio::join!(poller, self.judge_loop(rx, &live), gone);
    }

    /// Prices and judges what the poller found; reports `new` and records it in `live` for
    /// the gone checks.
    async fn judge_loop(
        &self,
        mut rx: tokio::sync::mpsc::Receiver<Vec<Listing>>,
        live: &std::sync::Mutex<HashMap<String, Opportunity>>,
    ) {
        let fees = Fees::fixed(self.judge.cfg.fee);
        let mut cache: HashMap<String, (Option<ReferencePrice>, Instant)> = HashMap::new();
        while let Some(fresh) = rx.recv().await {
            self.price(&fresh, &mut cache).await;
            // Detected when it is known to be an opportunity: after its price came.
            let detected_at = unix_now();
            for listing in &fresh {
                let Some((Some(reference), _)) = cache.get(&listing.title) else {
                    continue;
                };
                if let Ok(o) = self.judge.judge(listing, reference, &fees) {
                    let delay = listing.listed_at.and_then(|t| {
                        let listed = UNIX_EPOCH + Duration::from_secs(t.max(0) as u64);
                        detected_at.duration_since(listed).ok()
                    });
                    live.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(id_of(listing).to_owned(), o.clone());
                    self.stats.opportunities.fetch_add(1, Ordering::Relaxed);
                    self.outputs.watch(WatchEvent {
                        kind: WatchKind::New,
                        opportunity: o,
                        detected_at,
                        delay,
                    });
                }
            }
        }
    }

    /// One poll: the newest page, and deeper pages while every listing on the last one was
    /// new (a gap to catch up); the listings not seen before. `None` after a failure (after a
    /// short pause, so a failing market is not hammered beyond the limiter and retries).
    async fn poll(&self, api: ListingApi, seen: &mut SeenSet) -> Option<Vec<Listing>> {
        let (lo, hi) = self.judge.cfg.filters.price_band;
        let mut fresh = Vec::new();
        let mut cursor = None;
        for _ in 0..self.options.max_pages {
            let request = ListingsQuery::new(api, &self.judge.info.market_game_id)
                .order(ListingOrder::NewestFirst)
                .price_band(lo, hi)
                .types(&self.judge.cfg.types)
                .cursor(cursor.take())
                .to_request();
            let page = match self.upstream.send(&request, &self.stop).await {
                Ok(r) => dmarket::parse_listings_page(&r.body, Currency::Usd).map_err(|e| {
                    FetchError::Transport {
                        message: e.to_string(),
                    }
                }),
                Err(e) => Err(e),
            };
            let page = match page {
                Ok(p) => p,
                Err(FetchError::Cancelled) => return None,
                Err(e) => {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("[{}] poll failed: {e}", self.judge.info.display_name);
                    tokio::select! {
                        _ = self.stop.cancelled() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    return None;
                }
            };
            self.stats.polls.fetch_add(1, Ordering::Relaxed);
            let mut all_new = !page.listings.is_empty();
            for l in page.listings {
                if seen.insert(id_of(&l)) {
                    fresh.push(l);
                } else {
                    all_new = false;
                }
            }
            match page.cursor {
                Some(c) if all_new => cursor = Some(c),
                _ => break,
            }
        }
        self.stats
            .new_listings
            .fetch_add(fresh.len() as u64, Ordering::Relaxed);
        Some(fresh)
    }

    /// Prices the admitted fresh listings' titles that the cache lacks or holds too long.
    async fn price(
        &self,
        fresh: &[Listing],
        cache: &mut HashMap<String, (Option<ReferencePrice>, Instant)>,
    ) {
        let ttl = self.options.price_ttl;
        let mut need: Vec<String> = Vec::new();
        for l in fresh.iter().filter(|l| self.judge.admit(l).is_ok()) {
            match cache.get(&l.title) {
                Some((_, at)) if at.elapsed() < ttl => {
                    self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                }
                _ => need.push(l.title.clone()),
            }
        }
        need.sort();
        need.dedup();
        if need.is_empty() {
            return;
        }
        self.stats
            .cache_misses
            .fetch_add(need.len() as u64, Ordering::Relaxed);
        let ctx = WatchContext {
            upstream: &self.upstream,
            cancel: &self.stop,
        };
        match skinscan_sdk::blocks::price_titles(&ctx, &self.judge.cfg.price_game, &need).await {
            Ok(mut priced) => {
                let now = Instant::now();
                for title in need {
                    let reference = priced.prices.remove(&title);
                    cache.insert(title, (reference, now));
                }
            }
            // Shutting down: nothing to report.
            Err(skinscan_sdk::ScanError::Fetch(FetchError::Cancelled)) => {}
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("[{}] pricing failed: {e}", self.judge.info.display_name);
            }
        }
        // The cache stays bounded by what is still fresh.
        cache.retain(|_, (_, at)| at.elapsed() < ttl);
    }

    /// Checks the titles of live opportunities: one whose listing is no longer offered is
    /// `gone`.
    async fn check_gone(
        &self,
        api: ListingApi,
        live: &std::sync::Mutex<HashMap<String, Opportunity>>,
    ) {
        let mut titles: Vec<String> = live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|o| o.title.clone())
            .collect();
        titles.sort();
        titles.dedup();
        titles.truncate(self.options.gone_titles);
        for title in titles {
            if self.stop.is_cancelled() {
                return;
            }
            let request = ListingsQuery::new(api, &self.judge.info.market_game_id)
                .title(&title)
                .to_request();
            let Ok(answer) = self.upstream.send(&request, &self.stop).await else {
                return;
            };
            let Ok(page) = dmarket::parse_listings_page(&answer.body, Currency::Usd) else {
                continue;
            };
            let present: HashSet<&str> = page.listings.iter().map(id_of).collect();
            let gone: Vec<Opportunity> = {
                let mut live = live.lock().unwrap_or_else(|p| p.into_inner());
                let ids: Vec<String> = live
                    .iter()
                    .filter(|(id, o)| o.title == title && !present.contains(id.as_str()))
                    .map(|(id, _)| id.clone())
                    .collect();
                ids.iter().filter_map(|id| live.remove(id)).collect()
            };
            for o in gone {
                self.stats.gone.fetch_add(1, Ordering::Relaxed);
                self.outputs.watch(WatchEvent {
                    kind: WatchKind::Gone,
                    opportunity: o,
                    detected_at: unix_now(),
                    delay: None,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seen_set_forgets_the_oldest_first() {
        let mut s = SeenSet::new(2);
        assert!(s.insert("a") && s.insert("b"));
        assert!(!s.insert("a"));
        assert!(s.insert("c"));
        // "a" was the oldest: forgotten.
        assert!(s.insert("a"));
        assert!(!s.insert("c"));
    }
}
