//! `skinscan watch`: the continuous mode. Per game, poll the newest listings within the
//! game's band (paging deeper only while a page holds nothing but unseen listings, so an
//! outage is caught up), price only the titles not in the reference cache ([`PriceCache`]),
//! judge each new listing with the game's own settings and rules ([`Judge`]), and report each
//! opportunity once, as an event: `new` when first seen (with the delay from its listing
//! time), `changed` when its price or its title's reference moves and it still pays, `gone`
//! when its listing leaves the market (checked per title, the least recently checked first)
//! or it no longer pays.
//!
//! The rate budget is the host's: every request waits on the same per-group limiters as a
//! cycle scan. Within the listing budget each game keeps a floor of polls and the rest goes
//! where listings arrive fastest ([`PollPlan`]); a small share pays for a slow background
//! sweep of older listings (cheapest first), which finds what the newest-first poll cannot
//! (listings older than the first poll, opportunities made by a reference price that rose)
//! and keeps the price cache warm for titles not yet seen new.
//!
//! Long because watch mode's tasks (poller, judge loop, gone checks, sweep, refresher) share
//! one per-game state and are read best together; the budget plan, the price cache and the
//! section are files of their own.

mod config;
pub use config::{WatchConfig, WatchOptions};

mod cache;
mod plan;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::StreamExt;
use skinscan_sdk::arbitrage::Fees;
use skinscan_sdk::dmarket::{self, ListingApi, ListingOrder, ListingsQuery};
use skinscan_sdk::strategy::{Judge, ListingsApiChoice, ScanMemo};
use skinscan_sdk::{
    ApiRequest, ApiResponse, Currency, FetchError, Listing, Opportunity, ReferencePrice,
    ScanContext, ScanError, WireStats,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use cache::{PriceCache, Priced};
pub use plan::PollPlan;

use crate::plugin::Plugin;
use crate::references::References;
use crate::report::{GoneReason, WatchEvent, WatchKind};
use crate::sinks::Fanout;
use crate::upstream::Upstream;

/// What a watch run did.
#[derive(Debug, Default)]
pub struct WatchStats {
    /// Newest-first listing pages read.
    pub polls: AtomicU64,
    /// Background sweep pages read.
    pub sweep_pages: AtomicU64,
    /// Listings seen for the first time.
    pub new_listings: AtomicU64,
    /// `new` events.
    pub opportunities: AtomicU64,
    /// `changed` events.
    pub changed: AtomicU64,
    /// `gone` events.
    pub gone: AtomicU64,
    /// Reference prices served from the cache.
    pub cache_hits: Arc<AtomicU64>,
    /// Titles priced again before their cached price expired.
    pub refreshed: AtomicU64,
    /// Titles that had to be priced.
    pub cache_misses: Arc<AtomicU64>,
    /// Answer entries that did not parse.
    pub dropped: AtomicU64,
    /// Requests that failed (the poll goes on).
    pub errors: AtomicU64,
    /// By plugin: when its first poll was answered. Listings listed before are the backlog
    /// (reported without a detection delay); those listed since are arrivals.
    pub began: Mutex<BTreeMap<String, SystemTime>>,
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

    fn is_empty(&self) -> bool {
        self.set.is_empty()
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sleeps `d`, or less when `stop` fires; false when it fired.
async fn pause(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// How often the account's fees are read again: just past the hour the sdk's memo keeps them.
const FEES_EVERY: Duration = Duration::from_secs(3_660);

/// How often each game looks for titles to price again before they expire, at most (one
/// request of up to 100 titles each time: 50 titles a second per game at most, from the
/// group of everything but listings); a tenth of the TTL when that is shorter.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// Share of the listing group's rate the plan hands out (the rest absorbs timing jitter and
/// the group's window guard): planned below the limiter's capacity, each game gets the rate
/// the plan gives it, instead of all games queueing first come, first served.
const POLL_HEADROOM: f64 = 0.97;

/// Watches `plugins` until `stop` fires; events go to `outputs`.
pub async fn run(
    upstream: Arc<Upstream>,
    plugins: Vec<Plugin>,
    outputs: Arc<Fanout>,
    options: WatchOptions,
    references: Option<Arc<References>>,
    stop: CancellationToken,
) -> Arc<WatchStats> {
    let references = references.filter(|r| !r.is_empty());
    let stats = Arc::new(WatchStats::default());
    let mut judges = Vec::new();
    for plugin in plugins.into_iter().filter(|p| p.enabled) {
        match plugin.scanner.watch_judge(&plugin.settings) {
            None => tracing::warn!(
                "[{}] does not support watch mode (its scanner is not the default strategy's): not watched",
                plugin.info.display_name
            ),
            Some(Err(e)) => {
                tracing::error!("[{}] cannot be watched: {e}", plugin.info.display_name)
            }
            Some(Ok(judge)) => judges.push((plugin.name, judge)),
        }
    }
    let games = judges.len().max(1);
    let listing_rate = upstream.rate_for(dmarket::OFFERS_V2_PATH);
    let sweep_share = options.sweep_share.clamp(0.0, 0.5);
    // The polls' budget: the group's rate, less the sweep's share and the gone checks'
    // requests.
    let gone_rate =
        (games * options.gone_titles) as f64 / options.gone_every.as_secs_f64().max(0.001);
    let poll_budget =
        (listing_rate * POLL_HEADROOM * (1.0 - sweep_share) - gone_rate).max(listing_rate * 0.25);
    let plan = Arc::new(PollPlan::new(games, poll_budget, options.floor_share));
    // Each game sweeps one page per `sweep_every`: together, the sweep's share of the rate.
    let sweep_every = (sweep_share > 0.0).then(|| {
        Duration::from_secs_f64((games as f64 / (listing_rate * sweep_share)).min(3_600.0))
    });
    tracing::info!(
        games = judges.len(),
        listing_rate = format_args!("{listing_rate:.1}/s"),
        polls = format_args!("{poll_budget:.1}/s"),
        sweep_every = ?sweep_every,
        "watching: polls share the listing budget by where listings arrive, each game keeping a floor"
    );
    let mut tasks = tokio::task::JoinSet::new();
    for (index, (name, judge)) in judges.into_iter().enumerate() {
        let game = GameWatch {
            index,
            cache: PriceCache::new(
                judge.info.id.as_str(),
                judge.cfg.price_game.clone(),
                options.price_ttl,
            )
            .counting_into(stats.cache_hits.clone(), stats.cache_misses.clone()),
            fees: Mutex::new(Fees::fixed(judge.cfg.fee)),
            memo: ScanMemo::default(),
            game: name.clone(),
            judge,
            references: references.clone(),
            upstream: upstream.clone(),
            outputs: outputs.clone(),
            options: options.clone(),
            stats: stats.clone(),
            stop: stop.clone(),
            plan: plan.clone(),
            sweep_every,
            live: Mutex::new(HashMap::new()),
            reported: Mutex::new(SeenSet::new(options.seen_capacity)),
            warned_wire: AtomicBool::new(false),
            polls: AtomicU64::new(0),
            began: OnceLock::new(),
        };
        let span = tracing::info_span!("watch", game = %name);
        tasks.spawn(tracing::Instrument::instrument(game.run(), span));
    }
    while let Some(ended) = tasks.join_next().await {
        // A game's watch that panicked ends alone: the others go on, and it is said.
        if let Err(e) = ended
            && e.is_panic()
        {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            let message = skinscan_sdk::plugin::panic_message(&*e.into_panic());
            tracing::error!(
                "a game's watch panicked and ended (a bug in skinscan, please report it): {message}; the other games go on"
            );
        }
    }
    stats
}

/// An opportunity reported and not gone.
#[derive(Debug, Clone)]
struct Live {
    listing: Listing,
    opportunity: Opportunity,
    /// Its title was last checked for gone listings then.
    checked: Instant,
}

struct GameWatch {
    index: usize,
    /// The plugin name.
    game: String,
    judge: Judge,
    /// The other markets' snapshots (`cross`), when enabled.
    references: Option<Arc<References>>,
    /// The account's fees when signed (re-read hourly), else the game's fixed fee.
    fees: Mutex<Fees>,
    memo: ScanMemo,
    cache: PriceCache,
    upstream: Arc<Upstream>,
    outputs: Arc<Fanout>,
    options: WatchOptions,
    stats: Arc<WatchStats>,
    stop: CancellationToken,
    plan: Arc<PollPlan>,
    sweep_every: Option<Duration>,
    live: Mutex<HashMap<String, Live>>,
    /// Ids reported `new`: never again.
    reported: Mutex<SeenSet>,
    warned_wire: AtomicBool,
    polls: AtomicU64,
    /// When the first poll was answered: listings listed before are the backlog.
    began: OnceLock<SystemTime>,
}

impl GameWatch {
    fn api(&self) -> ListingApi {
        match self.judge.cfg.listings_api {
            ListingsApiChoice::Only(api) => api,
            ListingsApiChoice::Auto => ListingApi::V2,
        }
    }

    fn ctx(&self) -> WatchContext<'_> {
        WatchContext {
            upstream: &self.upstream,
            cancel: &self.stop,
        }
    }

    async fn run(self) {
        let started = Instant::now();
        let name = self.judge.info.display_name.clone();
        // The account's fees first (signed): judging starts with the right ones.
        self.load_fees().await;
        tracing::info!("[{name}] watching the newest listings");
        // Polling and judging run side by side: the next poll goes out while the last
        // ones' new titles are priced, so pricing never delays seeing what is new.
        // (new listings, whether they are the backlog: the first poll's).
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<Listing>, bool)>(16);
        // The sweep starts once the backlog (the first poll's finds) is judged: at start the
        // backlog has the budget to itself, and is never reported by the sweep first.
        let backlog_done = CancellationToken::new();
        let poller = async {
            let mut seen = SeenSet::new(self.options.seen_capacity);
            while !self.stop.is_cancelled() {
                // The plan is read at each poll: it follows where listings arrive.
                let next = Instant::now() + self.plan.interval(self.index);
                let first = seen.is_empty();
                let answered = self.poll(&mut seen).await;
                if first && let Some(fresh) = &answered {
                    let now = SystemTime::now();
                    let _ = self.began.set(now);
                    lock(&self.stats.began).insert(self.judge.info.id.as_str().to_owned(), now);
                    tracing::info!(
                        backlog = fresh.len(),
                        "[{name}] first poll answered: what it holds is the backlog, what is listed from now on counts as an arrival"
                    );
                }
                match answered {
                    Some(fresh) if !fresh.is_empty() => {
                        if !first {
                            self.plan.record(self.index, fresh.len(), 0);
                        }
                        // The judge says when the backlog is done.
                        if tx.send((fresh, first)).await.is_err() {
                            break;
                        }
                    }
                    // An empty market: no backlog, the sweep need not wait. (Without an
                    // answer the next poll is the first again.)
                    Some(_) if first => backlog_done.cancel(),
                    _ => {}
                }
                tokio::select! {
                    _ = self.stop.cancelled() => break,
                    _ = tokio::time::sleep_until(next) => {}
                }
            }
            drop(tx);
        };
        let judging = async {
            let limit = self.options.judge_concurrency.max(1);
            let mut running = futures::stream::FuturesUnordered::new();
            let mut open = true;
            while open || !running.is_empty() {
                tokio::select! {
                    batch = rx.recv(), if open && running.len() < limit => match batch {
                        Some((fresh, backlog)) => {
                            running.push(self.handle_batch(fresh, backlog, &backlog_done))
                        }
                        None => open = false,
                    },
                    Some(()) = running.next(), if !running.is_empty() => {}
                }
            }
        };
        // Gone checks and the sweep run beside both: they wait on the listing limiter, and
        // must hold up neither polling nor judging.
        let gone = async {
            while pause(&self.stop, self.options.gone_every).await {
                self.check_gone().await;
            }
        };
        let sweep = async {
            if let Some(every) = self.sweep_every {
                tokio::select! {
                    _ = self.stop.cancelled() => return,
                    _ = backlog_done.cancelled() => {}
                }
                self.sweep(every).await;
            }
        };
        // The account's fees are read again hourly (the memo says when they are stale).
        // Titles asked for are priced again before they expire: a new listing of a title seen
        // before is judged without waiting for a price.
        let refresh = async {
            if !self.options.refresh_ahead {
                return;
            }
            let every =
                (self.options.price_ttl / 10).clamp(Duration::from_millis(10), REFRESH_EVERY);
            while pause(&self.stop, every).await {
                if !self.refresh_prices().await {
                    break;
                }
            }
        };
        let fees = async {
            if self.upstream.signed() && self.judge.cfg.account_fees {
                while pause(&self.stop, FEES_EVERY).await {
                    self.load_fees().await;
                }
            }
        };
        tokio::join!(poller, judging, gone, sweep, refresh, fees);
        let polls = self.polls.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        tracing::info!(
            polls,
            every = format_args!("{:.2}s", if polls > 0 { secs / polls as f64 } else { 0.0 }),
            arrivals = format_args!(
                "{:.1}/s",
                self.plan
                    .arrival_rates()
                    .get(self.index)
                    .copied()
                    .unwrap_or(0.0)
            ),
            cached_titles = self.cache.len(),
            live = lock(&self.live).len(),
            "[{name}] watch ended"
        );
    }

    /// Reads the fees to judge with (the account's when signed); a failure is logged and the
    /// fees in force are kept.
    async fn load_fees(&self) {
        let mut report = skinscan_sdk::GameReport::default();
        let fees = self.judge.fees(&self.ctx(), &self.memo, &mut report).await;
        self.note_wire(&report.wire);
        for e in &report.errors {
            tracing::warn!("[{}] {e}", self.judge.info.display_name);
        }
        if let Some(schedule) = &fees.schedule {
            tracing::info!(
                default = ?schedule.default,
                reduced_titles = schedule.reduced.len(),
                "[{}] judging with the account's fees",
                self.judge.info.display_name
            );
        }
        *lock(&self.fees) = fees;
    }

    /// Counts what an answer held that did not parse; warns once per game, quoting it.
    fn note_wire(&self, wire: &WireStats) {
        let n = wire.dropped_total();
        if n == 0 {
            return;
        }
        self.stats.dropped.fetch_add(n, Ordering::Relaxed);
        crate::events::WireDropped {
            game: self.judge.info.id.as_str(),
            wire,
        }
        .emit(!self.warned_wire.swap(true, Ordering::Relaxed));
    }

    /// Reports one event.
    fn report(&self, kind: WatchKind, live: &Live, reason: Option<GoneReason>, backlog: bool) {
        let detected_at = SystemTime::now();
        let delay = (kind == WatchKind::New && !backlog)
            .then(|| {
                live.listing.listed_at.and_then(|t| {
                    let listed = UNIX_EPOCH + Duration::from_secs(t.max(0) as u64);
                    detected_at.duration_since(listed).ok()
                })
            })
            .flatten();
        let counter = match kind {
            WatchKind::New => &self.stats.opportunities,
            WatchKind::Changed => &self.stats.changed,
            WatchKind::Gone => &self.stats.gone,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        crate::events::WatchReported {
            game: self.judge.info.id.as_str(),
            kind: kind.as_str(),
            delay,
        }
        .emit();
        self.outputs.watch(WatchEvent {
            kind,
            opportunity: live.opportunity.clone(),
            detected_at,
            delay,
            reason,
            backlog,
        });
    }

    /// Whether `listing` was certainly listed before the first poll was answered (`createdAt`
    /// has whole seconds): part of the backlog. Without either time, it is.
    fn predates_watch(&self, listing: &Listing) -> bool {
        match (self.began.get(), listing.listed_at) {
            (Some(began), Some(t)) => {
                UNIX_EPOCH + Duration::from_secs(t.max(0) as u64 + 1) <= *began
            }
            _ => true,
        }
    }

    /// A poll's new listings: handled, and for the backlog, `backlog_done` said.
    async fn handle_batch(
        &self,
        fresh: Vec<Listing>,
        backlog: bool,
        backlog_done: &CancellationToken,
    ) {
        self.handle(&fresh, |_| backlog).await;
        if backlog {
            backlog_done.cancel();
        }
    }

    /// Prices and judges `listings` (new ones from a poll, or a sweep's page): a new
    /// opportunity is reported `new` (once ever), a live one whose price moved `changed`, or
    /// `gone` when it no longer pays. Titles whose reference moved have their other live
    /// opportunities judged again.
    ///
    /// `backlog` says of a listing whether it is part of the backlog: listed before the watch
    /// began, reported without a detection delay and not counted as an arrival.
    async fn handle(&self, listings: &[Listing], backlog: impl Fn(&Listing) -> bool + Sync) {
        let admitted: Vec<&Listing> = listings
            .iter()
            .filter(|l| self.judge.admit(l).is_ok())
            .collect();
        if admitted.is_empty() {
            return;
        }
        let titles: Vec<String> = admitted.iter().map(|l| l.title.clone()).collect();
        let priced = match self.cache.prices(&self.ctx(), &titles).await {
            Ok(p) => p,
            // Shutting down: nothing to report.
            Err(ScanError::Fetch(FetchError::Cancelled)) => return,
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("[{}] pricing failed: {e}", self.judge.info.display_name);
                return;
            }
        };
        self.note_wire(&priced.wire);
        if !priced.fetched.is_empty() {
            self.outputs
                .prices_observed(self.judge.info.id.as_str(), priced.fetched.clone());
        }
        let mut found = 0;
        let mut judged: HashSet<&str> = HashSet::new();
        for listing in admitted {
            let reference = priced.prices.get(&listing.title).and_then(Option::as_ref);
            if reference.is_none() && self.references.is_none() {
                continue;
            }
            judged.insert(id_of(listing));
            let backlog = backlog(listing);
            if self.judge_one(listing, reference, backlog) && !backlog {
                found += 1;
            }
        }
        self.judge_moved(&priced, &judged, &backlog);
        if found > 0 {
            self.plan.record(self.index, 0, found);
        }
    }

    /// Judges again the live opportunities (but those in `judged`) of the titles whose
    /// reference moved.
    fn judge_moved(
        &self,
        priced: &Priced,
        judged: &HashSet<&str>,
        backlog: &(impl Fn(&Listing) -> bool + Sync),
    ) {
        for title in &priced.moved {
            let Some(Some(reference)) = priced.prices.get(title) else {
                continue;
            };
            let others: Vec<Listing> = lock(&self.live)
                .iter()
                .filter(|(id, l)| l.listing.title == *title && !judged.contains(id.as_str()))
                .map(|(_, l)| l.listing.clone())
                .collect();
            for listing in others {
                self.judge_one(&listing, Some(reference), backlog(&listing));
            }
        }
    }

    /// Prices again the titles due for it (a full batch at most) and judges again the live
    /// opportunities of those that moved; false when the watch is stopping.
    async fn refresh_prices(&self) -> bool {
        let titles = self.cache.due(dmarket::MAX_TITLES_PER_PRICE_REQUEST);
        if titles.is_empty() {
            return true;
        }
        match self.cache.refresh(&self.ctx(), &titles).await {
            Ok(priced) => {
                self.stats
                    .refreshed
                    .fetch_add(titles.len() as u64, Ordering::Relaxed);
                self.note_wire(&priced.wire);
                if !priced.fetched.is_empty() {
                    self.outputs
                        .prices_observed(self.judge.info.id.as_str(), priced.fetched.clone());
                }
                self.judge_moved(&priced, &HashSet::new(), &|_| false);
                true
            }
            Err(ScanError::Fetch(FetchError::Cancelled)) => false,
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "[{}] refreshing prices failed: {e}",
                    self.judge.info.display_name
                );
                true
            }
        }
    }

    /// Judges one listing against `reference` and reports what changed; true for a `new`.
    fn judge_one(
        &self,
        listing: &Listing,
        reference: Option<&ReferencePrice>,
        backlog: bool,
    ) -> bool {
        let id = id_of(listing).to_owned();
        // The other markets' snapshots as they are now: refreshed in the background, read
        // here without a request.
        let book = self.references.as_ref().and_then(|r| r.book(&self.game));
        let verdict = self
            .judge
            .judge_with(listing, reference, &lock(&self.fees), book.as_deref());
        let mut live = lock(&self.live);
        match (verdict, live.get_mut(&id)) {
            (Ok(o), Some(known)) => {
                let moved = known.opportunity.buy_price != o.buy_price
                    || known.opportunity.sell_price != o.sell_price;
                if moved {
                    known.listing = listing.clone();
                    known.opportunity = o;
                    let now = known.clone();
                    drop(live);
                    self.report(WatchKind::Changed, &now, None, backlog);
                }
                false
            }
            (Ok(o), None) => {
                if !lock(&self.reported).insert(&id) {
                    return false;
                }
                let entry = Live {
                    listing: listing.clone(),
                    opportunity: o,
                    checked: Instant::now(),
                };
                live.insert(id, entry.clone());
                drop(live);
                self.report(WatchKind::New, &entry, None, backlog);
                true
            }
            (Err(_), Some(_)) => {
                let Some(mut was) = live.remove(&id) else {
                    return false;
                };
                drop(live);
                was.listing = listing.clone();
                self.report(
                    WatchKind::Gone,
                    &was,
                    Some(GoneReason::Unprofitable),
                    backlog,
                );
                false
            }
            (Err(_), None) => false,
        }
    }

    fn listings_query(&self) -> ListingsQuery {
        ListingsQuery::new(self.api(), &self.judge.info.market_game_id)
    }

    /// Sends a listings request and parses the page; failures are counted and logged.
    async fn page(&self, request: ApiRequest, what: &str) -> Option<dmarket::ListingsPage> {
        let page = match self.upstream.send(&request, &self.stop).await {
            Ok(r) => dmarket::parse_listings_page(&r.body, Currency::Usd).map_err(|e| {
                FetchError::Transport {
                    message: e.to_string(),
                }
            }),
            Err(e) => Err(e),
        };
        match page {
            Ok(p) => {
                self.note_wire(&p.wire);
                Some(p)
            }
            Err(FetchError::Cancelled) => None,
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("[{}] {what} failed: {e}", self.judge.info.display_name);
                None
            }
        }
    }

    /// One poll: the newest page, and deeper pages while every listing on the last one was
    /// new (a gap to catch up; not on the first poll, when everything is new and older
    /// listings are the sweep's); the listings not seen before. `None` when the first page
    /// failed (after a short pause, so a failing market is not hammered beyond the limiter
    /// and retries); a deeper page failing keeps what the pages before it found.
    async fn poll(&self, seen: &mut SeenSet) -> Option<Vec<Listing>> {
        let (lo, hi) = self.judge.cfg.filters.price_band;
        let mut fresh = Vec::new();
        let mut cursor = None;
        let pages = if seen.is_empty() {
            1
        } else {
            self.options.max_pages
        };
        for page_no in 0..pages {
            let request = self
                .listings_query()
                .order(ListingOrder::NewestFirst)
                .price_band(lo, hi)
                .types(&self.judge.cfg.types)
                .cursor(cursor.take())
                .to_request();
            let Some(page) = self.page(request, "poll").await else {
                if page_no > 0 {
                    break;
                }
                if !self.stop.is_cancelled() {
                    pause(&self.stop, Duration::from_secs(1)).await;
                }
                return None;
            };
            self.stats.polls.fetch_add(1, Ordering::Relaxed);
            self.polls.fetch_add(1, Ordering::Relaxed);
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

    /// The background sweep: the game's listings in its band, cheapest first, one page every
    /// `every`, from the top again after the last; each page judged like new listings.
    async fn sweep(&self, every: Duration) {
        let (lo, hi) = self.judge.cfg.filters.price_band;
        let mut cursor: Option<String> = None;
        while pause(&self.stop, every).await {
            let request = self
                .listings_query()
                .order(ListingOrder::PriceAsc)
                .price_band(lo, hi)
                .types(&self.judge.cfg.types)
                .cursor(cursor.take())
                .to_request();
            let Some(page) = self.page(request, "sweep").await else {
                continue;
            };
            self.stats.sweep_pages.fetch_add(1, Ordering::Relaxed);
            // Listed before the watch began: backlog. Listed since, and missed by the
            // polls: a detection like theirs, with its delay.
            self.handle(&page.listings, |l| self.predates_watch(l))
                .await;
            cursor = page.cursor;
        }
    }

    /// Checks the titles of live opportunities, least recently checked first: a listing no
    /// longer offered is `gone`; one offered at another price is judged again.
    async fn check_gone(&self) {
        let titles: Vec<String> = {
            let live = lock(&self.live);
            let mut by_title: HashMap<&str, Instant> = HashMap::new();
            for l in live.values() {
                let at = by_title.entry(&l.listing.title).or_insert(l.checked);
                *at = (*at).min(l.checked);
            }
            let mut titles: Vec<(&str, Instant)> = by_title.into_iter().collect();
            titles.sort_by_key(|(t, at)| (*at, *t));
            titles
                .into_iter()
                .take(self.options.gone_titles)
                .map(|(t, _)| t.to_owned())
                .collect()
        };
        for title in titles {
            if self.stop.is_cancelled() {
                return;
            }
            let request = self.listings_query().title(&title).to_request();
            let Some(page) = self.page(request, "gone check").await else {
                return;
            };
            let present: HashMap<&str, &Listing> =
                page.listings.iter().map(|l| (id_of(l), l)).collect();
            let (gone, moved) = {
                let mut live = lock(&self.live);
                let now = Instant::now();
                let mut gone = Vec::new();
                let mut moved = Vec::new();
                live.retain(|id, l| {
                    if l.listing.title != title {
                        return true;
                    }
                    l.checked = now;
                    match present.get(id.as_str()) {
                        None => {
                            gone.push(l.clone());
                            false
                        }
                        Some(seen) => {
                            if seen.price != l.listing.price {
                                moved.push((*seen).clone());
                            }
                            true
                        }
                    }
                });
                (gone, moved)
            };
            for l in gone {
                self.report(WatchKind::Gone, &l, Some(GoneReason::Delisted), false);
            }
            if !moved.is_empty() {
                self.handle(&moved, |_| false).await;
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
