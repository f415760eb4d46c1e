//! The scan scheduler: cycles, per-game isolation, timeouts, graceful shutdown.
//!
//! A cycle scans every enabled game, up to `concurrent_scans` at once (or one after another
//! in sequential mode), each in its own `game{game=...}` span with its own [`HostContext`]
//! over the ONE shared upstream. A game's error, timeout or panic is that game's outcome; the
//! others finish. Cycles never overlap. On shutdown the contexts stop sending, in-flight
//! requests get the grace period, and every game's partial report is still delivered.

mod config;
pub use config::{ScanOptions, ScannerConfig};

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::FutureExt;
use skinscan_sdk::plugin::panic_message;
use skinscan_sdk::{ApiRequest, ApiResponse, Currency, FetchError, ScanContext};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::plugin::Plugin;
use crate::references::References;
use crate::upstream::{Transport, Upstream};
use crate::wirelog::{SeenForms, log_wire};

/// How cycles run.
#[derive(Debug, Clone)]
pub struct ScheduleOptions {
    /// Parallel (true) or one game after another.
    pub parallel: bool,
    /// Games at once in parallel mode.
    pub concurrent_scans: usize,
    /// Per-game limit.
    pub game_timeout: Duration,
    /// After cancellation, how long a game may take to hand back its partial report.
    pub grace_period: Duration,
}

pub use crate::report::{CycleReport, GameFailure, GameOutcome};

/// Receives progress and results as they happen (progress bars, JSON Lines).
pub trait CycleObserver: Send + Sync {
    /// A game started scanning.
    fn game_started(&self, _game: &str, _items: u64) {}
    /// Progress of a game.
    fn progress(&self, _game: &str, _done: u64, _total: u64) {}
    /// A game finished (with whatever it found): called as soon as it does.
    fn game_finished(&self, _cycle: u64, _outcome: &GameOutcome) {}
    /// Whether it wants the reference prices the games read ([`Self::prices_observed`]).
    fn wants_prices(&self) -> bool {
        false
    }
    /// Reference prices a game read (aggregated prices, seen on the request path).
    fn prices_observed(&self, _game: &str, _prices: Vec<skinscan_sdk::ReferencePrice>) {}
}

/// An observer that does nothing.
#[derive(Debug, Default)]
pub struct NoObserver;

impl CycleObserver for NoObserver {}

/// The host's [`ScanContext`]: the shared upstream, this game's cancellation, its progress.
struct HostContext {
    game: String,
    upstream: Arc<dyn Transport>,
    cancel: CancellationToken,
    observer: Arc<dyn CycleObserver>,
    /// The other markets' snapshots of this game, as they were when the game started.
    book: Option<Arc<skinscan_sdk::markets::book::ReferenceBook>>,
}

#[async_trait]
impl ScanContext for HostContext {
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, FetchError> {
        skinscan_sdk::trading::refuse_from_plugin(&request)?;
        // A host panic must be caught on the host's side of the boundary, never unwind into
        // a plugin's frames.
        let answer = AssertUnwindSafe(self.upstream.send(&request, &self.cancel))
            .catch_unwind()
            .await
            .unwrap_or_else(|p| {
                Err(FetchError::Host {
                    message: panic_message(&*p),
                })
            });
        // The request path sees every answer: the reference prices a game reads go to the
        // outputs that keep them (the history), whatever the plugin does with them.
        if let Ok(response) = &answer
            && request.path == skinscan_sdk::dmarket::AGGREGATED_PRICES_PATH
            && self.observer.wants_prices()
            && let Ok(page) =
                skinscan_sdk::dmarket::parse_aggregated_prices(&response.body, Currency::Usd)
        {
            self.observer.prices_observed(&self.game, page.prices);
        }
        answer
    }

    fn progress(&self, done: u64, total: u64) {
        self.observer.progress(&self.game, done, total);
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    fn authenticated(&self) -> bool {
        self.upstream.signed()
    }

    fn references(&self) -> Option<Arc<skinscan_sdk::markets::book::ReferenceBook>> {
        self.book.clone()
    }
}

/// Runs cycles over a fixed set of plugins and one upstream.
#[derive(Debug)]
pub struct Scheduler {
    upstream: Arc<Upstream>,
    transport: Arc<dyn Transport>,
    plugins: Vec<Plugin>,
    options: ScheduleOptions,
    seen_forms: SeenForms,
    references: Option<Arc<References>>,
}

impl Scheduler {
    /// A scheduler for the enabled `plugins`.
    pub fn new(
        upstream: Arc<Upstream>,
        plugins: Vec<Plugin>,
        options: ScheduleOptions,
    ) -> Scheduler {
        let plugins = plugins.into_iter().filter(|p| p.enabled).collect();
        Scheduler {
            transport: upstream.clone(),
            upstream,
            plugins,
            options,
            seen_forms: SeenForms::default(),
            references: None,
        }
    }

    /// Judges games' listings against the other markets' snapshots too (`cross`), fetching
    /// what is due before each cycle.
    pub fn with_references(mut self, references: Option<Arc<References>>) -> Scheduler {
        self.references = references.filter(|r| !r.is_empty());
        self
    }

    /// The other markets, when enabled.
    pub fn references(&self) -> Option<&Arc<References>> {
        self.references.as_ref()
    }

    /// The games it scans.
    pub fn games(&self) -> Vec<&str> {
        self.plugins.iter().map(|p| p.name.as_str()).collect()
    }

    /// The shared upstream.
    pub fn upstream(&self) -> &Arc<Upstream> {
        &self.upstream
    }

    /// Sends games' requests through `layer` (which wraps this scheduler's upstream, e.g. a
    /// cache or a recorder) instead of the upstream directly.
    pub fn with_transport(mut self, layer: Arc<dyn Transport>) -> Scheduler {
        self.transport = layer;
        self
    }

    /// Runs one cycle. `shutdown` cancels it (partial reports are still returned).
    pub async fn run_cycle(
        &self,
        id: u64,
        shutdown: &CancellationToken,
        observer: Arc<dyn CycleObserver>,
    ) -> CycleReport {
        let started = SystemTime::now();
        let clock = Instant::now();
        let mode = if self.options.parallel {
            "parallel"
        } else {
            "sequential"
        };
        tracing::info!(
            cycle = id,
            "Starting {mode} scan for {} games",
            self.plugins.len()
        );
        if let Some(references) = &self.references {
            // Only games that judge `cross` spend the other markets' budgets.
            let games: Vec<String> = self
                .plugins
                .iter()
                .filter(|p| judges_cross(p))
                .map(|p| p.name.clone())
                .collect();
            references.refresh_due(&games, shutdown).await;
            for line in references.unusable(&games) {
                tracing::warn!("{line}");
            }
        }
        let concurrency = if self.options.parallel {
            self.options.concurrent_scans.max(1)
        } else {
            1
        };
        // Games start in their listed order, at most `concurrency` at a time: the next one
        // when one finishes (so sequential mode is deterministic), none after a shutdown.
        let mut queue = self.plugins.iter().cloned().enumerate();
        let mut set = JoinSet::new();
        let start_next =
            |set: &mut JoinSet<(usize, GameOutcome)>,
             queue: &mut dyn Iterator<Item = (usize, Plugin)>| {
                if shutdown.is_cancelled() {
                    return;
                }
                if let Some((index, plugin)) = queue.next() {
                    let span = tracing::info_span!("game", game = %plugin.name);
                    let book = self
                        .references
                        .as_ref()
                        .filter(|_| judges_cross(&plugin))
                        .and_then(|r| r.book(&plugin.name));
                    let game = scan_game(
                        plugin,
                        book,
                        self.transport.clone(),
                        self.options.clone(),
                        shutdown.clone(),
                        observer.clone(),
                        id,
                        self.seen_forms.clone(),
                    );
                    set.spawn(async move { (index, game.await) }.instrument(span));
                }
            };
        for _ in 0..concurrency {
            start_next(&mut set, &mut queue);
        }
        let mut games: Vec<Option<GameOutcome>> = vec![None; self.plugins.len()];
        let grace_deadline = async {
            shutdown.cancelled().await;
            tokio::time::sleep(self.options.grace_period + Duration::from_millis(250)).await;
        };
        tokio::pin!(grace_deadline);
        loop {
            tokio::select! {
                joined = set.join_next() => {
                    match joined {
                        None => break,
                        Some(Ok((index, outcome))) => games[index] = Some(outcome),
                        Some(Err(e)) => tracing::error!(error = %e, "a game task failed outside its guard"),
                    }
                    start_next(&mut set, &mut queue);
                }
                _ = &mut grace_deadline => {
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    break;
                }
            }
        }
        let games: Vec<GameOutcome> = games
            .into_iter()
            .zip(&self.plugins)
            .map(|(outcome, plugin)| {
                outcome.unwrap_or_else(|| GameOutcome {
                    game: plugin.name.clone(),
                    display_name: plugin.info.display_name.clone(),
                    report: None,
                    failure: Some(GameFailure::Interrupted),
                    elapsed: clock.elapsed(),
                })
            })
            .collect();
        if let Some(references) = &self.references
            && !shutdown.is_cancelled()
        {
            for outcome in games.iter() {
                if let Some(r) = &outcome.report {
                    references
                        .confirm(&outcome.game, &r.opportunities, shutdown)
                        .await;
                }
            }
        }
        let report = CycleReport {
            id,
            started,
            elapsed: clock.elapsed(),
            games,
            stats: self.upstream.stats(true),
            markets: self
                .references
                .iter()
                .flat_map(|r| r.upstreams())
                .map(|(m, u)| (m.as_str().to_owned(), u.stats(false)))
                .collect(),
            interrupted: shutdown.is_cancelled(),
        };
        crate::events::CycleEnded.emit();
        let s = &report.stats;
        tracing::info!(
            cycle = id,
            requests = s.requests,
            retries = s.retries,
            rate_limited = s.rate_limited,
            bad_bodies = s.bad_bodies,
            p50_ms = format_args!("{:.1}", s.p50.as_secs_f64() * 1e3),
            p99_ms = format_args!("{:.1}", s.p99.as_secs_f64() * 1e3),
            connections = s.connections,
            "Scan completed in {:.1}s",
            report.elapsed.as_secs_f64()
        );
        report
    }
}

/// Whether `plugin`'s `strategies` (the sdk's default list holds it) include `cross`.
pub fn judges_cross(plugin: &Plugin) -> bool {
    plugin
        .settings
        .string_list("strategies", skinscan_sdk::strategy::DEFAULT_STRATEGIES)
        .map_or(true, |s| s.iter().any(|s| s == "cross"))
}

#[allow(clippy::too_many_arguments)]
async fn scan_game(
    plugin: Plugin,
    book: Option<Arc<skinscan_sdk::markets::book::ReferenceBook>>,
    upstream: Arc<dyn Transport>,
    options: ScheduleOptions,
    shutdown: CancellationToken,
    observer: Arc<dyn CycleObserver>,
    cycle: u64,
    seen_forms: SeenForms,
) -> GameOutcome {
    let started = Instant::now();
    let items = plugin
        .settings
        .u64_in("items", 100, 0..=u64::MAX)
        .unwrap_or(100);
    tracing::info!("Scanning {} ({items} items)", plugin.name);
    observer.game_started(&plugin.name, items);
    let cancel = shutdown.child_token();
    let ctx = HostContext {
        game: plugin.name.clone(),
        upstream,
        cancel: cancel.clone(),
        observer: observer.clone(),
        book,
    };
    let scan = plugin.scanner.scan(&ctx, &plugin.settings);
    tokio::pin!(scan);
    let mut failure = None;
    let result = tokio::select! {
        r = &mut scan => Some(r),
        _ = tokio::time::sleep(options.game_timeout) => {
            failure = Some(GameFailure::TimedOut(options.game_timeout));
            None
        }
    };
    let result = match result {
        Some(r) => Some(r),
        None => {
            // Out of time: ask the plugin to stop and give it the grace period to hand back
            // what it has.
            cancel.cancel();
            tokio::time::timeout(options.grace_period, &mut scan)
                .await
                .ok()
        }
    };
    let report = match result {
        Some(Ok(report)) => Some(report),
        Some(Err(e)) => {
            failure.get_or_insert(GameFailure::Scan(e));
            None
        }
        None => None,
    };
    let outcome = GameOutcome {
        game: plugin.name.clone(),
        display_name: plugin.info.display_name.clone(),
        report,
        failure,
        elapsed: started.elapsed(),
    };
    if let Some(r) = &outcome.report {
        report_wire(&outcome.display_name, r, &seen_forms);
        crate::events::GameScanned {
            game: &plugin.name,
            report: r,
        }
        .emit();
    }
    match (&outcome.report, &outcome.failure) {
        (Some(r), None) => tracing::info!(
            listings = r.listings_seen,
            requests = r.requests,
            dropped = r.wire.dropped_total(),
            errors = r.errors.len(),
            "[{}] Found {} opportunities",
            outcome.display_name,
            r.opportunities.len()
        ),
        (Some(r), Some(f)) => tracing::warn!(
            "[{}] {f}; kept {} opportunities found before",
            outcome.display_name,
            r.opportunities.len()
        ),
        (None, Some(f)) => tracing::error!("[{}] scan failed: {f}", outcome.display_name),
        (None, None) => {}
    }
    observer.game_finished(cycle, &outcome);
    outcome
}

/// Nothing the wire did is silent: one warning per game and cycle when entries were dropped
/// (counts by endpoint and reason, and the first unrecognised entry, truncated), each error
/// of the game, and each wire form the first time it is seen (so a first live run shows
/// which of the uncertain forms DMarket sent).
fn report_wire(name: &str, r: &skinscan_sdk::GameReport, seen: &SeenForms) {
    for e in &r.errors {
        tracing::warn!("[{name}] {}", crate::output::printable(e));
    }
    log_wire(name, &r.wire, seen);
}
