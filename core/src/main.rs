//! The `skinscan` binary: parses arguments, sets up logging and signals, calls the library,
//! prints the error chain and picks the exit code (0 ok, 1 runtime failure, 2 bad input,
//! 130 second Ctrl-C). Nothing a test would want to reach lives here.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use skinscan_core::app::{self, AppError, EXIT_INTERRUPTED, ScanOptions};
use skinscan_core::config::{self, LogFormat, OutputFormat, ProcessEnv};
use skinscan_core::sim::{FaultSpec, SimConfig};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Scan skin marketplaces (DMarket) for arbitrage: listings that can be bought and resold
/// at a profit after fees.
#[derive(Debug, Parser)]
#[command(
    name = "skinscan",
    version,
    about,
    after_help = "Examples:
  skinscan scan --once                       one cycle against the configured market
  skinscan scan --games csgo,tf2 --jsonl out.jsonl
  skinscan scan --once --format json | jq .
  skinscan sim --listen 127.0.0.1:8080 --rate 30 --latency-ms 100
  skinscan plugins
  skinscan config check --config my.toml

Exit codes: 0 success; 1 runtime failure (market unreachable after retries, every game
failed); 2 bad input (config, arguments, environment, plugin refused); 130 second Ctrl-C."
)]
struct Cli {
    /// Config file [default: config/config.toml if it exists, else built-in defaults].
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Log format on stderr (overrides log.format).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    /// No progress bars and only warnings in the log.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process and matched at once: the size of its largest variant (`sim`'s
// flags) costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Scan the market: cycles every scanner.scan_interval until Ctrl-C.
    Scan {
        /// Run one cycle and exit (non-zero only when every game failed).
        #[arg(long)]
        once: bool,
        /// Run N cycles, scanner.scan_interval apart, and exit (non-zero only when every
        /// game failed in the last one).
        #[arg(long, value_name = "N", conflicts_with = "once", value_parser = clap::value_parser!(u64).range(1..))]
        cycles: Option<u64>,
        /// Only these games (comma-separated plugin names).
        #[arg(long, value_delimiter = ',', value_name = "GAMES")]
        games: Option<Vec<String>>,
        /// Scan games one after another (PARALLEL_SCANNER_ENABLED=false).
        #[arg(long, conflicts_with = "parallel")]
        sequential: bool,
        /// Scan games in parallel (the default).
        #[arg(long)]
        parallel: bool,
        /// Output on stdout: a table per cycle, or one JSON document per cycle.
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// Append every opportunity to this JSON Lines file.
        #[arg(long, value_name = "PATH")]
        jsonl: Option<PathBuf>,
    },
    /// Watch the market continuously: poll each game's newest listings, report each
    /// opportunity once as an event (`new`, then `gone` when it leaves the market), until
    /// Ctrl-C (or --for).
    Watch {
        /// Only these games (comma-separated plugin names).
        #[arg(long, value_delimiter = ',', value_name = "GAMES")]
        games: Option<Vec<String>>,
        /// Output on stdout: a line per event, or one JSON object per event.
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// Append every event to this JSON Lines file.
        #[arg(long, value_name = "PATH")]
        jsonl: Option<PathBuf>,
        /// Stop after this long ("90s", "10m") instead of at Ctrl-C.
        #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
    },
    /// Run the simulated DMarket market (HTTP/2 h2c and HTTP/1.1 on one port).
    Sim {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// An extra server-side limit on all requests, per second (429 + Retry-After beyond
        /// it), on top of DMarket's published per-group limits.
        #[arg(long)]
        rate: Option<f64>,
        /// Do not enforce DMarket's published per-group limits (10/6/110/20 per second
        /// signed, 2/-/2/6 unsigned; fixed windows with RateLimit-* headers).
        #[arg(long)]
        no_published_limits: bool,
        /// Rate-limit bucket size [default: the rate].
        #[arg(long)]
        burst: Option<u32>,
        /// Latency added to every answer, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Random extra latency up to this, in milliseconds.
        #[arg(long, default_value_t = 0)]
        jitter_ms: u64,
        /// Catalogue and fault seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Listings per game.
        #[arg(long, default_value_t = 1000)]
        items_per_game: u64,
        /// Faults, e.g. "5xx=0.05,reset=0.02,stall=0.01,malformed=0.01,truncate=0.01,goaway-every=200".
        #[arg(long, default_value = "")]
        faults: FaultSpec,
        /// Require requests signed by this Ed25519 public key (64 hex).
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
        /// Serve TLS (HTTP/2 by ALPN) with a CA and certificate for localhost made at start.
        #[arg(long)]
        tls: bool,
        /// With --tls: write the CA certificate (PEM) here, for market.ca_file.
        #[arg(long, value_name = "PATH", requires = "tls")]
        ca_out: Option<PathBuf>,
        /// With --tls: offer only http/1.1 by ALPN (a server that will not speak HTTP/2).
        #[arg(long, requires = "tls")]
        tls_http1_only: bool,
        /// The server's clock runs this many seconds ahead (negative: behind).
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        clock_offset_secs: i64,
        /// A living market: new listings arrive (per game, per second, a Poisson process)
        /// and underpriced ones are bought by competitors; ground truth at /__sim/truth.
        #[arg(long, value_name = "PER_SEC")]
        living: Option<f64>,
        /// With --living: the mean time before a competitor buys an underpriced listing.
        #[arg(long, default_value_t = 20.0, value_name = "SECS", requires = "living")]
        competitor_mean_secs: f64,
        /// With --living: a game whose listings arrive at their own rate, as
        /// GAMEID=PER_SEC (repeatable; e.g. --game-rate a8db=12).
        #[arg(long, value_name = "GAMEID=PER_SEC", requires = "living")]
        game_rate: Vec<String>,
        /// Also answer as these reference markets, over the same titles (`/__sim/cross`
        /// lists the cross opportunities): skinport, csfloat.
        #[arg(long, value_enum, value_delimiter = ',', value_name = "MARKET,...")]
        markets: Vec<MarketArg>,
        /// Every API key's balance at start, in cents (GET /account/v1/balance).
        #[arg(long, default_value_t = 100_000, value_name = "CENTS")]
        balance_cents: i64,
        /// What happens to the first buys (PATCH /exchange/v1/offers-buy), in order: none,
        /// reset-after, stall-after, 5xx-after, hostile-after (bought, answer lost or
        /// garbled), hostile, price-changed (not bought). Later buys are answered normally.
        #[arg(long, default_value = "", value_name = "FAULT,...")]
        buy_faults: String,
    },
    /// List the plugins: name, source (built-in or library), sdk version, enabled.
    Plugins,
    /// Send one request of each kind a scan makes and report what answered: status, HTTP
    /// version, latency, rate-limit headers, clock skew, and whether each body parsed; then
    /// check each alert sink without sending a message (Telegram getMe and getChat, Discord
    /// GET of the webhook). Run it first when going live. Exit 0 when everything parsed and
    /// checked out, 1 when not.
    Probe {
        /// A table for people, or one JSON document.
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
    },
    /// Ask the history database (history.path): the best opportunities of a period by game,
    /// the titles most often underpriced, one title's record and observed prices. With no
    /// subcommand: `best`.
    History {
        #[command(subcommand)]
        command: Option<HistoryCommand>,
        /// A table for people, or one JSON document.
        #[arg(long, value_enum, global = true)]
        format: Option<FormatArg>,
        /// The database file [default: history.path].
        #[arg(long, value_name = "PATH", global = true)]
        db: Option<PathBuf>,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// `history best`'s defaults, also what a bare `skinscan history` shows.
const BEST_SINCE: &str = "24h";
const BEST_LIMIT: usize = 10;

#[derive(Debug, Subcommand)]
enum HistoryCommand {
    /// The best opportunities first seen within --since, by net profit, per game.
    Best {
        /// How far back ("24h", "7d").
        #[arg(long, default_value = BEST_SINCE, value_parser = humantime::parse_duration)]
        since: Duration,
        /// Only this game (plugin name).
        #[arg(long)]
        game: Option<String>,
        /// Rows per game.
        #[arg(long, default_value_t = BEST_LIMIT)]
        limit: usize,
    },
    /// The titles most often underpriced within --since.
    Titles {
        /// How far back ("24h", "7d").
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        since: Duration,
        /// Only this game (plugin name).
        #[arg(long)]
        game: Option<String>,
        /// Rows.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// The buy ledger within --since, newest first: every intention (live and dry run), its
    /// state (intent, bought, pending, refused, unknown, not_bought), DMarket's reason and
    /// the balance before and after.
    Buys {
        /// How far back ("24h", "7d").
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        since: Duration,
        /// Rows.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One title (exactly as listed): how often it was underpriced, and its observed prices.
    Title {
        /// The title, e.g. "AK-47 | Redline (Field-Tested)".
        title: String,
        /// How far back ("24h", "30d").
        #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
        since: Duration,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print it with environment overrides applied.
    Check,
}

/// A reference market the simulator can also answer as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MarketArg {
    Skinport,
    Csfloat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Human,
    Json,
}

fn main() -> ExitCode {
    skinscan_core::malloc::keep_freed_memory();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<u8, AppError> {
    let env = ProcessEnv::load()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("skinscan")
        .build()
        .map_err(|e| AppError::Runtime(format!("cannot start the async runtime: {e}")))?;
    match cli.command {
        Command::Sim {
            listen,
            rate,
            no_published_limits,
            burst,
            latency_ms,
            jitter_ms,
            seed,
            items_per_game,
            faults,
            public_key,
            tls,
            ca_out,
            tls_http1_only,
            clock_offset_secs,
            living,
            competitor_mean_secs,
            game_rate,
            markets,
            balance_cents,
            buy_faults,
        } => {
            init_logging(
                cli.log_format.map_or(LogFormat::Human, Into::into),
                "info",
                cli.quiet,
                None,
            );
            if let Some(r) = rate
                && !(r.is_finite() && r > 0.0)
            {
                return Err(AppError::Usage(format!(
                    "--rate must be greater than 0, got {r}"
                )));
            }
            let public_key = public_key
                .map(|hex| {
                    hex::decode(hex.trim())
                        .ok()
                        .and_then(|b| <[u8; 32]>::try_from(b).ok())
                        .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
                        .ok_or_else(|| {
                            AppError::Usage(
                                "--public-key must be 64 hex characters (an Ed25519 public key)"
                                    .into(),
                            )
                        })
                })
                .transpose()?;
            let buy = skinscan_core::sim::buy::SimBuyConfig {
                balance_cents,
                script: skinscan_core::sim::buy::parse_script(&buy_faults)
                    .map_err(|e| AppError::Usage(format!("--buy-faults: {e}")))?,
            };
            let config = SimConfig {
                buy,
                seed,
                items_per_game,
                limits: (!no_published_limits).then(skinscan_core::sim::SimLimits::published),
                rate,
                burst,
                latency: Duration::from_millis(latency_ms),
                jitter: Duration::from_millis(jitter_ms),
                faults,
                public_key,
                missing_paths: Vec::new(),
                markets: skinscan_core::sim::SimMarkets {
                    skinport: markets.contains(&MarketArg::Skinport),
                    csfloat: markets.contains(&MarketArg::Csfloat),
                },
                tls: tls.then_some(skinscan_core::sim::SimTls {
                    http1_only: tls_http1_only,
                }),
                clock_offset_secs,
                living: living
                    .map(|rate| {
                        let ok = |v: f64| v.is_finite() && v > 0.0 && v <= 1e6;
                        if !ok(rate) || !ok(competitor_mean_secs) {
                            return Err(AppError::Usage(format!(
                                "--living and --competitor-mean-secs must be greater than 0 and at most 1e6, got {rate} and {competitor_mean_secs}"
                            )));
                        }
                        let game_rates = game_rate
                            .iter()
                            .map(|g| {
                                g.split_once('=')
                                    .and_then(|(id, r)| Some((id.trim().to_owned(), r.trim().parse::<f64>().ok()?)))
                                    .filter(|(id, r)| !id.is_empty() && ok(*r))
                                    .ok_or_else(|| {
                                        AppError::Usage(format!(
                                            "--game-rate {g:?}: use GAMEID=PER_SEC with a rate above 0, like a8db=12"
                                        ))
                                    })
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok(skinscan_core::sim::LivingConfig {
                            arrivals_per_sec: rate,
                            game_rates,
                            competitor_mean: Duration::from_secs_f64(competitor_mean_secs),
                            ..skinscan_core::sim::LivingConfig::default()
                        })
                    })
                    .transpose()?,
            };
            runtime.block_on(async {
                let shutdown = shutdown_on_signals();
                app::sim(config, listen, ca_out, shutdown).await
            })
        }
        Command::Scan {
            once,
            cycles,
            games,
            sequential,
            parallel,
            format,
            jsonl,
        } => {
            let settings = config::load(cli.config.as_deref(), &env)?;
            let progress =
                (!cli.quiet && std::io::stderr().is_terminal()).then(indicatif::MultiProgress::new);
            let log_format = cli.log_format.map_or(settings.log_format, Into::into);
            init_logging(log_format, &settings.log_level, cli.quiet, progress.clone());
            let options = ScanOptions {
                cycles: if once { Some(1) } else { cycles },
                games,
                sequential: if sequential {
                    Some(true)
                } else if parallel {
                    Some(false)
                } else {
                    None
                },
                format: format.map(Into::into),
                jsonl,
                progress,
            };
            runtime.block_on(async {
                let shutdown = shutdown_on_signals();
                app::scan(settings, options, shutdown).await
            })
        }
        Command::Watch {
            games,
            format,
            jsonl,
            duration,
        } => {
            let settings = config::load(cli.config.as_deref(), &env)?;
            let log_format = cli.log_format.map_or(settings.log_format, Into::into);
            init_logging(log_format, &settings.log_level, cli.quiet, None);
            let options = app::WatchCommand {
                games,
                format: format.map(Into::into),
                jsonl,
                duration,
            };
            runtime.block_on(async {
                let shutdown = shutdown_on_signals();
                app::watch(settings, options, shutdown).await
            })
        }
        Command::History {
            command,
            format,
            db,
        } => {
            let settings = config::load(cli.config.as_deref(), &env)?;
            init_logging(
                cli.log_format.map_or(settings.log_format, Into::into),
                "warn",
                true,
                None,
            );
            let format = format.map_or(OutputFormat::Table, Into::into);
            let query = match command.unwrap_or(HistoryCommand::Best {
                since: humantime::parse_duration(BEST_SINCE).expect("BEST_SINCE is a duration"),
                game: None,
                limit: BEST_LIMIT,
            }) {
                HistoryCommand::Best { since, game, limit } => {
                    app::HistoryQuery::Best { since, game, limit }
                }
                HistoryCommand::Titles { since, game, limit } => {
                    app::HistoryQuery::Titles { since, game, limit }
                }
                HistoryCommand::Title { title, since } => app::HistoryQuery::Title { title, since },
                HistoryCommand::Buys { since, limit } => app::HistoryQuery::Buys { since, limit },
            };
            app::history(&settings, db.as_deref(), &query, format)
        }
        Command::Probe { format } => {
            let settings = config::load(cli.config.as_deref(), &env)?;
            init_logging(
                cli.log_format.map_or(settings.log_format, Into::into),
                &settings.log_level,
                true,
                None,
            );
            let format = format.map_or(OutputFormat::Table, Into::into);
            runtime.block_on(app::probe(settings, format))
        }
        Command::Plugins => {
            let settings = config::load(cli.config.as_deref(), &env)?;
            init_logging(
                cli.log_format.map_or(settings.log_format, Into::into),
                "warn",
                true,
                None,
            );
            print(&app::plugins_table(&settings)?);
            Ok(0)
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            let settings = config::load(cli.config.as_deref(), &env)?;
            print(&app::config_check(&settings)?);
            Ok(0)
        }
    }
}

fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

impl From<FormatArg> for OutputFormat {
    fn from(f: FormatArg) -> OutputFormat {
        match f {
            FormatArg::Table => OutputFormat::Table,
            FormatArg::Json => OutputFormat::Json,
        }
    }
}

impl From<LogFormatArg> for LogFormat {
    fn from(f: LogFormatArg) -> LogFormat {
        match f {
            LogFormatArg::Human => LogFormat::Human,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

/// First Ctrl-C or SIGTERM: graceful shutdown. Second: exit 130 at once (the JSON Lines
/// file is written line by line, so nothing already found is lost).
fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    let mut signals = Signals::listen();
    tokio::spawn(async move {
        signals.next().await;
        tracing::warn!(
            "Shutting down: no new requests; in-flight ones may finish (Ctrl-C again to exit now)"
        );
        trigger.cancel();
        signals.next().await;
        eprintln!("interrupted");
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    });
    token
}

/// Ctrl-C and SIGTERM, listened for from creation to drop. tokio drops a signal that
/// arrives while no listener of its kind exists, so the listeners are made before
/// anything runs and one set serves both signals: listening anew after the first (as each
/// `ctrl_c()` call does) lost a second Ctrl-C sent just after "Shutting down".
#[cfg(unix)]
struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
impl Signals {
    /// Starts listening; must run inside the runtime.
    fn listen() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    /// The next Ctrl-C or SIGTERM since the previous one (or since `listen`).
    async fn next(&mut self) {
        async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = recv(&mut self.interrupt) => {}
            () = recv(&mut self.terminate) => {}
        }
    }
}

/// Ctrl-C elsewhere: listened for anew at each `next`.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn listen() -> Signals {
        Signals
    }

    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn init_logging(
    format: LogFormat,
    default_level: &str,
    quiet: bool,
    bars: Option<indicatif::MultiProgress>,
) {
    let fallback = if quiet { "warn" } else { default_level };
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => {
            // Directives for a dynamic plugin's crate reach its forwarded events.
            let spec = match skinscan_core::plugin::set_plugin_log_directives(&spec) {
                Some(extra) => format!("{spec},{extra}"),
                None => spec,
            };
            EnvFilter::try_new(&spec).unwrap_or_else(|e| {
                eprintln!(
                    "warning: RUST_LOG={spec:?} is not a valid filter ({e}); using {fallback:?}"
                );
                EnvFilter::new(fallback)
            })
        }
        _ => EnvFilter::try_new(fallback).unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let writer = BarWriter(bars);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = match format {
        LogFormat::Human => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
    if let Err(e) = result {
        eprintln!("warning: logging is not available: {e}");
    }
}

/// Writes log lines to stderr, around the progress bars when there are any.
#[derive(Clone)]
struct BarWriter(Option<indicatif::MultiProgress>);

struct BarLine {
    bars: Option<indicatif::MultiProgress>,
    buf: Vec<u8>,
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BarWriter {
    type Writer = BarLine;

    fn make_writer(&'a self) -> Self::Writer {
        BarLine {
            bars: self.0.clone(),
            buf: Vec::with_capacity(256),
        }
    }
}

impl Write for BarLine {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for BarLine {
    fn drop(&mut self) {
        let write = |buf: &[u8]| {
            let _ = std::io::stderr().lock().write_all(buf);
        };
        match &self.bars {
            Some(bars) => bars.suspend(|| write(&self.buf)),
            None => write(&self.buf),
        }
    }
}
