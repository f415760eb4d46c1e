//! The commands behind the `skinscan` binary: `scan`, `sim`, `plugins`, `config check`.
//!
//! Each takes validated settings and returns an exit status or an [`AppError`] that knows
//! its exit code (2 for bad input, 1 for a runtime failure). `main.rs` only parses
//! arguments, sets up logging and signals, and prints errors.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, Endpoint, OutputFormat, Settings};
use crate::output::JsonlSink;
use crate::plugin::{Plugin, PluginError, builtin_names};
use crate::schedule::{ScheduleOptions, Scheduler};
use crate::sim::{SimConfig, SimServer};
use crate::sinks::{Fanout, JsonSink, JsonlLines, ProgressSink, Sink, SinkFailure, TableSink};
use crate::upstream::Upstream;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: a runtime failure (market unreachable after retries, every game failed).
pub const EXIT_RUNTIME: u8 = 1;
/// Exit status: bad input (config, arguments, environment, plugin refused).
pub const EXIT_INPUT: u8 = 2;
/// Exit status: a second Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;

/// A command's failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad configuration or environment.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A plugin cannot be used.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The JSON Lines file cannot be written.
    #[error(transparent)]
    Output(#[from] SinkFailure),
    /// Arguments that do not make sense.
    #[error("{0}")]
    Usage(String),
    /// The scan could not do its job.
    #[error("{0}")]
    Runtime(String),
}

impl AppError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Runtime(_) => EXIT_RUNTIME,
            AppError::Output(_) => EXIT_RUNTIME,
            _ => EXIT_INPUT,
        }
    }
}

/// `skinscan scan` options beyond the config.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Run this many cycles and exit (`--once` is `Some(1)`); `None` runs until shutdown.
    pub cycles: Option<u64>,
    /// Only these games.
    pub games: Option<Vec<String>>,
    /// Force sequential (true) or parallel (false) mode.
    pub sequential: Option<bool>,
    /// Override the stdout format.
    pub format: Option<OutputFormat>,
    /// Override the JSON Lines path.
    pub jsonl: Option<PathBuf>,
    /// Show progress bars (a terminal, not `--quiet`).
    pub progress: Option<indicatif::MultiProgress>,
}

/// Resolves the plugins the config names and checks their settings.
pub fn plugins_for(settings: &Settings, games: Option<&[String]>) -> Result<Vec<Plugin>, AppError> {
    let mut plugins = crate::plugin::resolve(&settings.plugins)?;
    if let Some(games) = games {
        let known: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
        for g in games {
            if !known.contains(&g.as_str()) {
                return Err(AppError::Usage(format!(
                    "unknown game {g:?} in --games: available games are {}",
                    known.join(", ")
                )));
            }
        }
        for p in &mut plugins {
            p.enabled = games.contains(&p.name);
        }
    }
    for p in plugins.iter().filter(|p| p.enabled) {
        p.scanner
            .check_settings(&p.settings)
            .map_err(|e| AppError::Usage(format!("{e} (in [plugins.{}])", p.name)))?;
    }
    if !plugins.iter().any(|p| p.enabled) {
        return Err(AppError::Usage(
            "no game is enabled: set enabled = true in a [plugins.<game>] table or pass --games"
                .into(),
        ));
    }
    Ok(plugins)
}

/// Starts the embedded market when the config asks for it; returns it and the endpoint.
pub async fn market(
    settings: &mut Settings,
) -> Result<(Option<SimServer>, crate::http::Target), AppError> {
    match &settings.endpoint {
        Endpoint::Remote(target) => Ok((None, target.clone())),
        Endpoint::Embedded(sim) => {
            let server = crate::sim::start((**sim).clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .map_err(|e| {
                    AppError::Runtime(format!(
                        "cannot start the embedded simulated market on 127.0.0.1: {e}"
                    ))
                })?;
            tracing::warn!(
                endpoint = %server.url(),
                seed = sim.seed,
                "Using the embedded SIMULATED market: prices are not real. Set market.endpoint = \"https://api.dmarket.com\" to scan the live market."
            );
            let target = crate::http::Target::parse(&server.url())
                .map_err(|e| AppError::Runtime(e.to_string()))?;
            // A TLS simulator's CA is trusted by this host alone, for this run.
            if let Some(pem) = server.ca_pem() {
                use rustls::pki_types::pem::PemObject;
                let ca = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
                    .map_err(|e| AppError::Runtime(format!("the simulator's CA: {e:?}")))?;
                settings.upstream.http.tls.extra_roots.push(ca.clone());
                for m in &mut settings.references.markets {
                    if m.endpoint == crate::references::MarketEndpoint::Embedded {
                        m.policy.http.tls.extra_roots.push(ca.clone());
                    }
                }
            }
            Ok((Some(server), target))
        }
    }
}

/// The other markets of `[markets.*]`, each with its upstream (`embedded`: the simulator
/// at `target`), and a line each saying what it is judged with. `None` when none is on.
pub fn references(
    settings: &Settings,
    target: &crate::http::Target,
) -> Result<Option<Arc<crate::references::References>>, AppError> {
    if settings.references.markets.is_empty() {
        return Ok(None);
    }
    let embedded = matches!(settings.endpoint, Endpoint::Embedded(_)).then_some(target);
    let refs = crate::references::References::new(&settings.references, embedded)
        .map_err(AppError::Runtime)?;
    for m in &settings.references.markets {
        let origin = refs
            .upstreams()
            .find(|(market, _)| *market == m.market)
            .map(|(_, u)| u.target().origin())
            .unwrap_or_default();
        tracing::info!(
            market = m.market.as_str(),
            endpoint = %origin,
            rate = %m.policy.rate,
            "cross: judging listings against {} ({origin}, {}, seller fee {}{}, \
             refresh every {}, never older than {}; games: {})",
            m.market,
            m.policy.rate,
            skinscan_sdk::money::format_bps_percent(i64::from(m.rules.fee.get())),
            if m.fee_is_default {
                " [the unverified default: set fee_percent]"
            } else {
                " [configured]"
            },
            humantime::format_duration(m.refresh),
            humantime::format_duration(m.rules.max_age),
            m.games.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(Some(Arc::new(refs)))
}

/// `skinscan scan`: cycles until shutdown (or `--cycles N`, `--once`). Exits non-zero when
/// every game failed in the last cycle of a bounded run.
pub async fn scan(
    mut settings: Settings,
    options: ScanOptions,
    shutdown: CancellationToken,
) -> Result<u8, AppError> {
    if let Some(sequential) = options.sequential {
        settings.parallel = !sequential;
    }
    let format = options.format.unwrap_or(settings.output_format);
    let plugins = plugins_for(&settings, options.games.as_deref())?;
    let jsonl = open_jsonl(options.jsonl.as_ref(), &settings)?;
    let (_market, target) = market(&mut settings).await?;
    serve_metrics(&settings, &shutdown).await?;
    let upstream = Arc::new(Upstream::new(settings.upstream.for_target(target.clone())));
    let refs = references(&settings, &target)?;
    tracing::info!(
        endpoint = %upstream.target().origin(),
        rate = %upstream.limiter().rate(),
        signed = settings.upstream.signer.is_some(),
        "skinscan {} ready",
        env!("CARGO_PKG_VERSION")
    );
    let scheduler = Scheduler::new(
        upstream,
        plugins,
        ScheduleOptions {
            parallel: settings.parallel,
            concurrent_scans: settings.concurrent_scans,
            game_timeout: settings.game_timeout,
            grace_period: settings.grace_period,
        },
    )
    .with_references(refs);
    let store = open_history(&settings, &shutdown)?;
    let outputs = Arc::new(Fanout::new(output_sinks(
        options.progress.clone(),
        jsonl,
        format,
        settings.top,
        keeping_sinks(&settings, store)?,
    )));
    let last_cycle = options.cycles;
    let mut cycle = 0;
    loop {
        cycle += 1;
        let started = Instant::now();
        let report = scheduler.run_cycle(cycle, &shutdown, outputs.clone()).await;
        outputs.cycle_finished(report.clone());
        // Every output has shown and made durable this cycle; a failed one fails the run.
        outputs.flush().await?;
        if report.all_failed() && !report.interrupted {
            let first = report
                .games
                .iter()
                .find_map(|g| g.failure.as_ref().map(|f| format!("{}: {f}", g.game)))
                .unwrap_or_default();
            let message = format!("every game failed in cycle {cycle} (first: {first})");
            if last_cycle == Some(cycle) {
                outputs.finish().await?;
                return Err(AppError::Runtime(message));
            }
            tracing::error!("{message}; retrying next cycle");
        }
        if last_cycle == Some(cycle) || shutdown.is_cancelled() {
            break;
        }
        let next = started + settings.scan_interval;
        tracing::info!(
            "Next cycle in {:.0}s",
            next.saturating_duration_since(Instant::now()).as_secs_f64()
        );
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep_until(next) => {}
        }
    }
    // Alerts still queued get their bounded time to go out.
    outputs.finish().await?;
    if shutdown.is_cancelled() {
        tracing::info!("Shut down cleanly: results written");
    }
    Ok(EXIT_OK)
}

/// The JSON Lines file from `--jsonl` or `output.jsonl`, opened now: a path that cannot be
/// opened is bad input (exit 2); a write failing later is not.
fn open_jsonl(flag: Option<&PathBuf>, settings: &Settings) -> Result<Option<JsonlSink>, AppError> {
    flag.or(settings.jsonl.as_ref())
        .map(|p| JsonlSink::open(p))
        .transpose()
        .map_err(|e| AppError::Usage(e.to_string()))
}

/// Opens the history database when it is kept, prunes it past its retention now and every
/// hour until `shutdown`.
fn open_history(
    settings: &Settings,
    shutdown: &CancellationToken,
) -> Result<Option<Arc<crate::history::Store>>, AppError> {
    let Some(h) = &settings.history else {
        return Ok(None);
    };
    let store =
        Arc::new(crate::history::Store::open(&h.path).map_err(|e| {
            AppError::Usage(format!("{e} (history.path; or history.enabled = false)"))
        })?);
    let (keep, s, stop) = (h.retention.0, store.clone(), shutdown.clone());
    tokio::spawn(async move {
        loop {
            let s2 = s.clone();
            match tokio::task::spawn_blocking(move || s2.prune(keep)).await {
                Ok(Ok(n)) if n > 0 => {
                    tracing::info!(rows = n, "history: deleted rows past the retention")
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "history: pruning failed"),
                _ => {}
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(3_600)) => {}
            }
        }
    });
    tracing::info!(path = %store.path().display(), "history kept");
    Ok(Some(store))
}

/// The history and alert sinks configured.
fn keeping_sinks(
    settings: &Settings,
    store: Option<Arc<crate::history::Store>>,
) -> Result<Vec<Box<dyn Sink>>, AppError> {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(store) = &store {
        sinks.push(Box::new(crate::history::HistorySink::new(store.clone())));
    }
    if !settings.alerts.is_empty() {
        let client = alerts_client(settings)?;
        for options in &settings.alerts {
            tracing::info!(sink = options.service.name(), "alerts on");
            sinks.push(Box::new(crate::alerts::AlertSink::new(
                options.clone(),
                client.clone(),
                store.clone(),
            )));
        }
    }
    Ok(sinks)
}

/// The HTTP client of the alert sinks.
fn alerts_client(settings: &Settings) -> Result<reqwest::Client, AppError> {
    // Only an explicit market.proxy is passed on; otherwise the client reads
    // HTTPS_PROXY / HTTP_PROXY / NO_PROXY itself for each service's address.
    let proxy = settings
        .upstream
        .http
        .proxy
        .as_ref()
        .filter(|p| p.source == "market.proxy");
    crate::alerts::client(&settings.upstream.http.tls, proxy)
        .map_err(|e| AppError::Usage(format!("alerts: cannot build the HTTP client: {e}")))
}

/// Serves `metrics.listen` when it is set.
async fn serve_metrics(settings: &Settings, shutdown: &CancellationToken) -> Result<(), AppError> {
    if let Some(listen) = settings.metrics_listen {
        let addr = crate::events::serve_metrics(listen, shutdown.clone())
            .await
            .map_err(|e| {
                AppError::Usage(format!("cannot listen on {listen} (metrics.listen): {e}"))
            })?;
        tracing::info!("metrics at http://{addr}/metrics (and /healthz)");
    }
    Ok(())
}

/// The outputs, each a sink with its own queue: a new output is one line here.
fn output_sinks(
    progress: Option<indicatif::MultiProgress>,
    jsonl: Option<JsonlSink>,
    format: OutputFormat,
    top: usize,
    keeping: Vec<Box<dyn Sink>>,
) -> Vec<Box<dyn Sink>> {
    let mut sinks: Vec<Box<dyn Sink>> = keeping;
    if let Some(bars) = progress {
        sinks.push(Box::new(ProgressSink::new(bars)));
    }
    if let Some(file) = jsonl {
        sinks.push(Box::new(JsonlLines { file }));
    }
    sinks.push(match format {
        OutputFormat::Table => Box::new(TableSink::new(top)),
        OutputFormat::Json => Box::new(JsonSink),
    });
    sinks
}

/// `skinscan watch`'s options.
#[derive(Debug, Clone, Default)]
pub struct WatchCommand {
    /// Only these games.
    pub games: Option<Vec<String>>,
    /// Override the stdout format.
    pub format: Option<OutputFormat>,
    /// Override the JSON Lines path.
    pub jsonl: Option<PathBuf>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// `skinscan watch`: events until shutdown (or `--for`); exit 0, 1 when an output failed.
pub async fn watch(
    mut settings: Settings,
    options: WatchCommand,
    shutdown: CancellationToken,
) -> Result<u8, AppError> {
    let format = options.format.unwrap_or(settings.output_format);
    let plugins = plugins_for(&settings, options.games.as_deref())?;
    let jsonl = open_jsonl(options.jsonl.as_ref(), &settings)?;
    let (_market, target) = market(&mut settings).await?;
    serve_metrics(&settings, &shutdown).await?;
    let upstream = Arc::new(Upstream::new(settings.upstream.for_target(target.clone())));
    let store = open_history(&settings, &shutdown)?;
    let outputs = Arc::new(Fanout::new(output_sinks(
        None,
        jsonl,
        format,
        settings.top,
        keeping_sinks(&settings, store)?,
    )));
    let stop = shutdown.child_token();
    if let Some(d) = options.duration {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            stop.cancel();
        });
    }
    let started = Instant::now();
    let refs = references(&settings, &target)?;
    if let Some(refs) = &refs {
        // The first snapshots before the first poll, so the first listings are judged
        // against them; then each market keeps its own staggered schedule.
        let games: Vec<String> = plugins
            .iter()
            .filter(|p| p.enabled && crate::schedule::judges_cross(p))
            .map(|p| p.name.clone())
            .collect();
        refs.refresh_due(&games, &stop).await;
        tokio::spawn(refs.clone().run(games, stop.clone()));
    }
    let stats = crate::watch::run(
        upstream.clone(),
        plugins,
        outputs.clone(),
        settings.watch.clone(),
        refs,
        stop,
    )
    .await;
    outputs.finish().await?;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let s = upstream.stats(false);
    tracing::info!(
        polls = load(&stats.polls),
        new_listings = load(&stats.new_listings),
        opportunities = load(&stats.opportunities),
        changed = load(&stats.changed),
        gone = load(&stats.gone),
        sweep_pages = load(&stats.sweep_pages),
        dropped = load(&stats.dropped),
        errors = load(&stats.errors),
        cache_hits = load(&stats.cache_hits),
        cache_misses = load(&stats.cache_misses),
        requests = s.requests,
        rate_limited = s.rate_limited,
        "Watched for {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(EXIT_OK)
}

/// `skinscan probe`: one request of each kind a scan makes, reported, and each alert sink
/// checked without sending a message; exit 0 when all answered, parsed and checked out, 1
/// when not.
pub async fn probe(mut settings: Settings, format: OutputFormat) -> Result<u8, AppError> {
    let plugins = plugins_for(&settings, None)?;
    let (_market, target) = market(&mut settings).await?;
    let upstream = Upstream::new(settings.upstream.for_target(target.clone()));
    let games: Vec<crate::probe::ProbeGame> = plugins
        .iter()
        .filter(|p| p.enabled)
        .map(|p| {
            let api = match p.settings.string("listings_api", "auto").as_deref() {
                Ok("v1") => Some(skinscan_sdk::dmarket::ListingApi::V1),
                Ok("v2") => Some(skinscan_sdk::dmarket::ListingApi::V2),
                _ => None,
            };
            crate::probe::ProbeGame {
                name: p.name.clone(),
                game_id: p.info.market_game_id.clone(),
                price_game: p
                    .settings
                    .string("price_game", &p.info.price_game)
                    .unwrap_or_else(|_| p.info.price_game.clone()),
                api,
            }
        })
        .collect();
    let client = if settings.alerts.is_empty() {
        None
    } else {
        Some(alerts_client(&settings)?)
    };
    let alerts = &settings.alerts;
    let markets = references(&settings, &target)?
        .map(|r| r.probe_targets())
        .unwrap_or_default();
    let report = tokio::time::timeout(crate::probe::PROBE_TIMEOUT, async {
        let mut report = crate::probe::run(&upstream, &games).await;
        report
            .requests
            .extend(crate::probe::run_markets(&markets).await);
        if let Some(client) = &client {
            for options in alerts {
                report
                    .alerts
                    .extend(crate::alerts::check(options, client).await);
            }
        }
        report
    })
    .await
    .map_err(|_| {
        AppError::Runtime(format!(
            "the probe took more than {}s: the market is not answering",
            crate::probe::PROBE_TIMEOUT.as_secs()
        ))
    })?;
    let mut stdout = std::io::stdout().lock();
    let _ = match format {
        OutputFormat::Table => stdout.write_all(crate::probe::render(&report).as_bytes()),
        OutputFormat::Json => writeln!(
            stdout,
            "{}",
            serde_json::json!({"ok": report.ok(), "report": report})
        ),
    };
    let _ = stdout.flush();
    Ok(if report.ok() { EXIT_OK } else { EXIT_RUNTIME })
}

/// `skinscan sim`: serves until shutdown; prints `listening on http://ADDR` when ready.
pub async fn sim(
    config: SimConfig,
    listen: SocketAddr,
    ca_out: Option<PathBuf>,
    shutdown: CancellationToken,
) -> Result<u8, AppError> {
    let server = crate::sim::start(config.clone(), listen)
        .await
        .map_err(|e| AppError::Usage(format!("cannot listen on {listen}: {e}")))?;
    if let (Some(path), Some(pem)) = (&ca_out, server.ca_pem()) {
        std::fs::write(path, pem).map_err(|e| {
            AppError::Usage(format!(
                "cannot write the CA to {} (--ca-out): {e}",
                path.display()
            ))
        })?;
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", server.url());
        let _ = out.flush();
    }
    tracing::info!(
        seed = config.seed,
        items_per_game = config.items_per_game,
        rate = ?config.rate,
        latency_ms = config.latency.as_millis() as u64,
        faults = %config.faults,
        signed = config.public_key.is_some(),
        "simulated DMarket market ready"
    );
    shutdown.cancelled().await;
    let stats = server.stats();
    tokio::time::timeout(Duration::from_secs(2), server.stop())
        .await
        .ok();
    tracing::info!(
        requests = stats.requests,
        connections = stats.connections,
        "simulator stopped"
    );
    Ok(EXIT_OK)
}

/// `skinscan plugins`: one row per plugin.
pub fn plugins_table(settings: &Settings) -> Result<String, AppError> {
    let plugins = crate::plugin::resolve(&settings.plugins)?;
    let rows: Vec<[String; 6]> = plugins
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.info.display_name.clone(),
                p.source.to_string(),
                p.sdk_version.clone(),
                if p.enabled { "yes".into() } else { "no".into() },
                format!(
                    "{} / {} / fee {}",
                    p.info.market_game_id, p.info.price_game, p.info.fee
                ),
            ]
        })
        .collect();
    let header = [
        "NAME",
        "GAME",
        "SOURCE",
        "SDK",
        "ENABLED",
        "MARKET ID / PRICE GAME / FEE",
    ];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.iter().map(|s| (*s).to_owned()).collect());
    for r in rows {
        line(r.to_vec());
    }
    out.push_str(&format!("built-in: {}\n", builtin_names().join(", ")));
    Ok(out)
}

/// `skinscan config check`: the effective configuration, or what is wrong with it.
pub fn config_check(settings: &Settings) -> Result<String, AppError> {
    plugins_for(settings, None)?;
    let source = settings
        .source
        .as_ref()
        .map_or("built-in defaults".to_owned(), |p| p.display().to_string());
    Ok(format!(
        "# Configuration OK ({source}; environment overrides applied; secrets shown as ***)\n# market: {}\n{}",
        settings.endpoint,
        settings.effective_toml()
    ))
}

/// What `skinscan history` asks.
#[derive(Debug, Clone)]
pub enum HistoryQuery {
    /// The best opportunities first seen within `since`, per game.
    Best {
        /// How far back.
        since: Duration,
        /// Only this game.
        game: Option<String>,
        /// Rows per game.
        limit: usize,
    },
    /// The titles most often underpriced.
    Titles {
        /// How far back.
        since: Duration,
        /// Only this game.
        game: Option<String>,
        /// Rows.
        limit: usize,
    },
    /// One title's record and prices.
    Title {
        /// The exact title.
        title: String,
        /// How far back.
        since: Duration,
    },
}

/// `skinscan history`: answers `query` from the database at `db` (else `history.path`) on
/// stdout; exit 0, 2 when there is no database to ask.
pub fn history(
    settings: &Settings,
    db: Option<&std::path::Path>,
    query: &HistoryQuery,
    format: OutputFormat,
) -> Result<u8, AppError> {
    let path = db
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| settings.raw.history.path.clone());
    if !path.is_file() {
        return Err(AppError::Usage(format!(
            "no history database at {}: run `skinscan scan` or `skinscan watch` with history.enabled = true first (or give --db)",
            path.display()
        )));
    }
    let store = crate::history::Store::open(&path).map_err(|e| AppError::Usage(e.to_string()))?;
    let fail = |e: crate::history::StoreError| AppError::Runtime(e.to_string());
    let text = match query {
        HistoryQuery::Best { since, game, limit } => {
            let rows = store.best(*since, game.as_deref(), *limit).map_err(fail)?;
            match format {
                OutputFormat::Json => json_text(&rows),
                OutputFormat::Table => crate::output::render_history_best(&rows, *since),
            }
        }
        HistoryQuery::Titles { since, game, limit } => {
            let rows = store
                .frequent(*since, game.as_deref(), *limit)
                .map_err(fail)?;
            match format {
                OutputFormat::Json => json_text(&rows),
                OutputFormat::Table => crate::output::render_history_titles(&rows, *since),
            }
        }
        HistoryQuery::Title { title, since } => {
            let stats = store.title(title, *since).map_err(fail)?;
            match format {
                OutputFormat::Json => json_text(&stats),
                OutputFormat::Table => crate::output::render_history_title(&stats, *since),
            }
        }
    };
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    Ok(EXIT_OK)
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned());
    text.push('\n');
    text
}
