//! The other markets (`[markets.*]`): one [`Upstream`] each (its own connection, limiter,
//! retries, breaker), the snapshot of each game it covers, kept fresh on its own schedule,
//! and the [`ReferenceBook`] a game's judgement reads through its `ScanContext`.
//!
//! A snapshot is fetched whole (Skinport's `/v1/items`, and `/v1/sales/history` when a
//! 7-day gate or median needs it; CSFloat's price list), replaced atomically (a scan keeps
//! the `Arc` it began with), and used only while it is younger than the market's `max_age`:
//! older, every lookup refuses and says so (`stale_reference`). A failed fetch keeps the
//! snapshot in use and says why (a warning, `skinscan_snapshot_refreshes{result="failed"}`).
//! Scan mode fetches what is due before a cycle; watch mode runs [`References::run`], which
//! staggers each market's games over its refresh period (SCMM's distinct offsets), so no
//! market sees a burst and no refresh waits on another market.

pub mod config;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use skinscan_sdk::markets::book::{BookEntry, ReferenceBook, unix_now};
use skinscan_sdk::markets::snapshot::{ReferenceMarket, Snapshot, SnapshotBuilder};
use skinscan_sdk::markets::{csfloat, skinport};
use skinscan_sdk::{ApiRequest, FetchError};
use tokio_util::sync::CancellationToken;

pub use config::{
    CsfloatConfig, MarketEndpoint, MarketOptions, MarketsConfig, Percent, ReferenceOptions,
    SkinportConfig,
};

use crate::http::Target;
use crate::upstream::{StatsSnapshot, Upstream};
use crate::wirelog::{SeenForms, log_wire};

/// The snapshots of every enabled market, and their upstreams.
#[derive(Debug)]
pub struct References {
    sources: Vec<Source>,
    protection: BTreeMap<String, Duration>,
    seen_forms: SeenForms,
}

#[derive(Debug)]
struct Source {
    options: MarketOptions,
    upstream: Arc<Upstream>,
    /// By game: the snapshot in use (an empty one until the first fetch succeeds, so
    /// lookups say `never fetched`), and the last failure.
    slots: Mutex<BTreeMap<String, Slot>>,
}

#[derive(Debug, Clone)]
struct Slot {
    snapshot: Arc<Snapshot>,
    /// When a fetch was last tried, unix seconds.
    tried_at: Option<i64>,
    last_error: Option<String>,
}

/// A CSFloat candidate checked against its live listings ([`References::confirm`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    /// The title.
    pub title: String,
    /// The price list's floor before.
    pub price_list: Option<skinscan_sdk::Money>,
    /// The lowest `buy_now` listing now (the floor used from now on).
    pub listed: Option<skinscan_sdk::Money>,
    /// Steam's price as CSFloat reports it (`item.scm`): informational.
    pub steam: Option<skinscan_sdk::Money>,
}

fn show(m: Option<skinscan_sdk::Money>) -> String {
    m.map_or_else(|| "none".to_owned(), |m| m.to_string())
}

/// One market as `skinscan probe` asks it.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// Which.
    pub market: ReferenceMarket,
    /// Its upstream.
    pub upstream: Arc<Upstream>,
    /// The game asked about, and its Steam `app_id`.
    pub game: String,
    /// Its Steam `app_id`.
    pub app_id: u32,
    /// The currency asked for.
    pub currency: skinscan_sdk::Currency,
    /// Skinport's `tradable` filter.
    pub tradable_only: bool,
    /// Whether scans read the sales history too.
    pub sales_history: bool,
}

/// One market's state, for `skinscan probe`, the cycle's summary and tests.
#[derive(Debug, Clone)]
pub struct MarketStatus {
    /// Which.
    pub market: ReferenceMarket,
    /// Where.
    pub origin: String,
    /// Per game: rows, fetched at (unix seconds), last error.
    pub games: Vec<(String, usize, Option<i64>, Option<String>)>,
    /// Its upstream's counters.
    pub stats: StatsSnapshot,
}

impl References {
    /// The enabled markets of `options`, each with its upstream; `embedded` is the embedded
    /// simulator's address, for markets whose endpoint is `"embedded"`.
    pub fn new(
        options: &ReferenceOptions,
        embedded: Option<&Target>,
    ) -> Result<References, String> {
        let mut sources = Vec::new();
        for m in &options.markets {
            let target = match (&m.endpoint, embedded) {
                (MarketEndpoint::Remote(t), _) => t.clone(),
                (MarketEndpoint::Embedded, Some(t)) => t.clone(),
                (MarketEndpoint::Embedded, None) => {
                    return Err(format!(
                        "markets.{}.endpoint is \"embedded\" but no simulated market runs",
                        m.market
                    ));
                }
            };
            let upstream = Arc::new(Upstream::with_api(
                m.policy.for_target(target),
                m.api.clone(),
            ));
            let slots = m
                .games
                .keys()
                .map(|g| {
                    (
                        g.clone(),
                        Slot {
                            snapshot: Arc::new(SnapshotBuilder::new(m.market, m.currency).build()),
                            tried_at: None,
                            last_error: None,
                        },
                    )
                })
                .collect();
            sources.push(Source {
                options: m.clone(),
                upstream,
                slots: Mutex::new(slots),
            });
        }
        Ok(References {
            sources,
            protection: options.protection.clone(),
            seen_forms: SeenForms::default(),
        })
    }

    /// True when no other market is enabled.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Each market and its upstream.
    pub fn upstreams(&self) -> impl Iterator<Item = (ReferenceMarket, &Arc<Upstream>)> {
        self.sources.iter().map(|s| (s.options.market, &s.upstream))
    }

    /// The book `game` is judged against now: every enabled market that covers it, with its
    /// snapshot in use. `None` when none covers it.
    pub fn book(&self, game: &str) -> Option<Arc<ReferenceBook>> {
        let entries: Vec<BookEntry> = self
            .sources
            .iter()
            .filter_map(|s| {
                let slots = s.slots.lock().unwrap_or_else(|p| p.into_inner());
                slots.get(game).map(|slot| BookEntry {
                    snapshot: slot.snapshot.clone(),
                    rules: s.options.rules,
                })
            })
            .collect();
        if entries.is_empty() {
            return None;
        }
        let protection = self.protection.get(game).copied().unwrap_or_default();
        Some(Arc::new(ReferenceBook::new(entries, protection)))
    }

    /// A line for each snapshot of `games` that cannot be used now (never fetched, or older
    /// than its market's `max_age`), with the last failure: said before each cycle, so a
    /// market that stopped answering is not silent while `cross` judges nothing there.
    pub fn unusable(&self, games: &[String]) -> Vec<String> {
        let now = unix_now();
        let mut out = Vec::new();
        for s in &self.sources {
            let slots = s.slots.lock().unwrap_or_else(|p| p.into_inner());
            for game in games {
                let Some(slot) = slots.get(game) else {
                    continue;
                };
                if let Err(e) = slot.snapshot.freshness(now, s.options.rules.max_age) {
                    let cause = slot
                        .last_error
                        .as_deref()
                        .map(|c| format!(" (last fetch: {c})"))
                        .unwrap_or_default();
                    out.push(format!(
                        "{e}{cause}: cross judges no {game} listing against {} until it is",
                        s.options.market
                    ));
                }
            }
        }
        out
    }

    /// Confirms the best `cross` opportunities that sell on CSFloat (at most its
    /// `confirm_top` titles, best net first) with `/api/v1/listings` for each title: the
    /// lowest `buy_now` price listed now and Steam's price (`item.scm`, informational) go
    /// into the snapshot in use, ahead of the price list's floor, so later judgements use
    /// the live floor. Each check is logged with both floors. The candidates' own figures
    /// are not changed: they were judged on the snapshot they were found with.
    pub async fn confirm(
        &self,
        game: &str,
        found: &[skinscan_sdk::Opportunity],
        cancel: &CancellationToken,
    ) -> Vec<Confirmed> {
        let Some(source) = self
            .sources
            .iter()
            .find(|s| s.options.market == ReferenceMarket::Csfloat && s.options.confirm_top > 0)
        else {
            return Vec::new();
        };
        let mut candidates: Vec<&skinscan_sdk::Opportunity> = found
            .iter()
            .filter(|o| o.sell_market == skinscan_sdk::Market::Csfloat)
            .collect();
        candidates.sort_by_key(|o| std::cmp::Reverse(o.net_profit.cents()));
        let mut titles: Vec<&str> = Vec::new();
        for o in candidates {
            if !titles.contains(&o.title.as_str()) {
                titles.push(&o.title);
            }
        }
        titles.truncate(source.options.confirm_top);
        let mut out = Vec::new();
        for title in titles {
            let request = csfloat::ListingsQuery::new(title)
                .sort_by(csfloat::SortBy::LowestPrice)
                .buy_now_only(true)
                .limit(csfloat::MAX_LISTINGS_LIMIT)
                .to_request();
            let answer = source.send(request, cancel).await.and_then(|body| {
                csfloat::parse_listings(&body).map_err(|e| FetchError::Http {
                    status: 200,
                    message: format!("the csfloat listings answer is not what skinscan reads: {e}"),
                })
            });
            let page = match answer {
                Ok(page) => page,
                Err(FetchError::Cancelled) => break,
                Err(e) => {
                    tracing::warn!(game, title, "csfloat listings of a candidate: {e}");
                    continue;
                }
            };
            log_wire(&format!("csfloat {game}"), &page.wire, &self.seen_forms);
            let now = unix_now();
            let refined = SnapshotBuilder::new(ReferenceMarket::Csfloat, source.options.currency)
                .csfloat_listings(&page, now);
            let mut slots = source.slots.lock().unwrap_or_else(|p| p.into_inner());
            let Some(slot) = slots.get_mut(game) else {
                continue;
            };
            let before = slot
                .snapshot
                .lookup(now, source.options.rules.max_age, title, None)
                .ok()
                .and_then(|q| q.lowest);
            let snapshot = refined.rows_of(&slot.snapshot).build();
            let after = snapshot
                .lookup(now, source.options.rules.max_age, title, None)
                .ok()
                .copied();
            slot.snapshot = Arc::new(snapshot);
            let c = Confirmed {
                title: title.to_owned(),
                price_list: before,
                listed: after.and_then(|q| q.lowest),
                steam: after.and_then(|q| q.steam),
            };
            tracing::info!(
                game,
                title,
                "csfloat candidate checked: lowest listed now {}, price list said {}, Steam {}",
                show(c.listed),
                show(c.price_list),
                show(c.steam)
            );
            out.push(c);
        }
        out
    }

    /// What `skinscan probe` asks of each market: its upstream and its first game.
    pub fn probe_targets(&self) -> Vec<ProbeTarget> {
        self.sources
            .iter()
            .filter_map(|s| {
                let (game, app_id) = s.options.games.iter().next()?;
                Some(ProbeTarget {
                    market: s.options.market,
                    upstream: s.upstream.clone(),
                    game: game.clone(),
                    app_id: *app_id,
                    currency: s.options.currency,
                    tradable_only: s.options.tradable_only,
                    sales_history: s.options.sales_history,
                })
            })
            .collect()
    }

    /// Each market's state.
    pub fn status(&self) -> Vec<MarketStatus> {
        self.sources
            .iter()
            .map(|s| {
                let slots = s.slots.lock().unwrap_or_else(|p| p.into_inner());
                MarketStatus {
                    market: s.options.market,
                    origin: s.upstream.target().origin(),
                    games: slots
                        .iter()
                        .map(|(g, slot)| {
                            (
                                g.clone(),
                                slot.snapshot.len(),
                                slot.snapshot.fetched_at(),
                                slot.last_error.clone(),
                            )
                        })
                        .collect(),
                    stats: s.upstream.stats(false),
                }
            })
            .collect()
    }

    /// Fetches every snapshot of `games` that is due (never fetched, or older than its
    /// market's refresh), markets at once, each market's games one after another. Failures
    /// are logged and kept in [`References::status`]; the snapshots in use stay.
    pub async fn refresh_due(&self, games: &[String], cancel: &CancellationToken) {
        let now = unix_now();
        let work = self.sources.iter().map(|s| async move {
            for game in games {
                if s.due(game, now) {
                    self.refresh_one(s, game, cancel).await;
                }
            }
        });
        futures::future::join_all(work).await;
    }

    /// Keeps every snapshot of `games` fresh until `cancel`: each market's games are spread
    /// over its refresh period (game i of n first at i/n of it), then each is fetched once
    /// per period. A game fetched before (by [`References::refresh_due`]) keeps its slot.
    pub async fn run(self: Arc<Self>, games: Vec<String>, cancel: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        for index in 0..self.sources.len() {
            let this = self.clone();
            let games: Vec<String> = games
                .iter()
                .filter(|g| self.sources[index].options.games.contains_key(*g))
                .cloned()
                .collect();
            let cancel = cancel.clone();
            tasks.spawn(async move { this.run_market(index, games, cancel).await });
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn run_market(&self, index: usize, games: Vec<String>, cancel: CancellationToken) {
        let source = &self.sources[index];
        if games.is_empty() {
            return;
        }
        let period = source.options.refresh;
        let step = period / games.len() as u32;
        let start = tokio::time::Instant::now();
        let mut round: u32 = 0;
        loop {
            for (i, game) in games.iter().enumerate() {
                let at = start + period * round + step * i as u32;
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep_until(at) => {}
                }
                if source.due(game, unix_now()) || round > 0 {
                    self.refresh_one(source, game, &cancel).await;
                }
            }
            round = round.saturating_add(1);
        }
    }

    async fn refresh_one(&self, source: &Source, game: &str, cancel: &CancellationToken) {
        let market = source.options.market;
        let tried_at = unix_now();
        let result = source.fetch(game, cancel).await;
        let mut slots = source.slots.lock().unwrap_or_else(|p| p.into_inner());
        let Some(slot) = slots.get_mut(game) else {
            return;
        };
        slot.tried_at = Some(tried_at);
        match result {
            Ok(snapshot) => {
                let name = format!("{market} {game}");
                log_wire(&name, snapshot.wire(), &self.seen_forms);
                skinscan_events::SnapshotRefreshed {
                    market: market.as_str(),
                    game,
                    fresh: Some((snapshot.len(), snapshot.fetched_at().unwrap_or(tried_at))),
                }
                .emit();
                tracing::info!(
                    market = market.as_str(),
                    game,
                    rows = snapshot.len(),
                    "{market} snapshot of {game} fetched: {} names",
                    snapshot.len()
                );
                slot.snapshot = Arc::new(snapshot);
                slot.last_error = None;
            }
            Err(FetchError::Cancelled) => {}
            Err(e) => {
                skinscan_events::SnapshotRefreshed {
                    market: market.as_str(),
                    game,
                    fresh: None,
                }
                .emit();
                let kept = match slot.snapshot.fetched_at() {
                    Some(at) => format!(
                        "the snapshot fetched {}s ago stays in use until it is older than max_age",
                        tried_at - at
                    ),
                    None => {
                        "no snapshot yet: cross judges nothing for this game until one is fetched"
                            .to_owned()
                    }
                };
                tracing::warn!(
                    market = market.as_str(),
                    game,
                    "{market} snapshot of {game} could not be fetched: {e}; {kept}"
                );
                slot.last_error = Some(e.to_string());
            }
        }
    }
}

impl Source {
    /// Whether `game`'s snapshot should be fetched at `now`: never tried, or last tried a
    /// refresh period ago or more.
    fn due(&self, game: &str, now: i64) -> bool {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.get(game).is_some_and(|s| {
            s.tried_at
                .is_none_or(|t| now - t >= self.options.refresh.as_secs() as i64)
        })
    }

    async fn send(
        &self,
        request: ApiRequest,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, FetchError> {
        self.upstream.send(&request, cancel).await.map(|r| r.body)
    }

    /// `game`'s snapshot, fetched now.
    async fn fetch(&self, game: &str, cancel: &CancellationToken) -> Result<Snapshot, FetchError> {
        let o = &self.options;
        let app_id = o.games.get(game).copied().unwrap_or(730);
        let parse_error = |endpoint: &str, e: skinscan_sdk::dmarket::ParseError| FetchError::Http {
            status: 200,
            message: format!("the {endpoint} answer is not what skinscan reads: {e}"),
        };
        match o.market {
            ReferenceMarket::Skinport => {
                let body = self
                    .send(
                        skinport::items_request(app_id, o.currency, o.tradable_only),
                        cancel,
                    )
                    .await?;
                let fetched_at = unix_now();
                let items = skinport::parse_items(&body, o.currency)
                    .map_err(|e| parse_error(skinport::endpoint::ITEMS, e))?;
                let mut builder =
                    SnapshotBuilder::new(o.market, o.currency).skinport_items(items, fetched_at);
                if o.sales_history {
                    let body = self
                        .send(
                            skinport::sales_history_request(app_id, o.currency, None),
                            cancel,
                        )
                        .await?;
                    let fetched_at = unix_now();
                    let sales = skinport::parse_sales_history(&body, o.currency)
                        .map_err(|e| parse_error(skinport::endpoint::SALES_HISTORY, e))?;
                    builder = builder.skinport_sales(sales, fetched_at);
                }
                Ok(builder.build())
            }
            ReferenceMarket::Csfloat => {
                let body = self.send(csfloat::price_list_request(), cancel).await?;
                let fetched_at = unix_now();
                let list = csfloat::parse_price_list(&body)
                    .map_err(|e| parse_error(csfloat::endpoint::PRICE_LIST, e))?;
                Ok(SnapshotBuilder::new(o.market, o.currency)
                    .csfloat_price_list(list, fetched_at)
                    .build())
            }
            _ => Err(FetchError::Host {
                message: format!("{} has no snapshot fetcher", o.market),
            }),
        }
    }
}
