//! # skinscan-events: internal events and metrics
//!
//! The host's internal events: one type per thing that happens, whose `emit` both counts it
//! (Prometheus metrics) and logs it, so the count and the log line can never disagree (the
//! Vector pattern). Counters live in one process-wide [`Metrics`] registry; `metrics.listen`
//! serves it as Prometheus text at `/metrics` (with `/healthz`).
//!
//! Adding an event: a struct here, its counter in [`Metrics`], one `emit` call where it
//! happens.
//!
//! Long because every event of the host is here, each a few lines (a struct, its counter, its
//! `emit`): one file is the list of what the host counts.
//!
//! **Layer rule:** the lowest host crate: every other host crate may emit these events; it
//! depends on none of them (only the sdk, for its types).
//!
//! Long because each event is a struct, its counter and its `emit` (about 30 events), kept
//! together so the metric names can be read in one place.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// An endpoint group label (`market`, `sales`, `fees`, `other`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupLabel {
    /// The group.
    pub group: String,
}

/// A game label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GameLabel {
    /// The plugin name.
    pub game: String,
}

/// A dropped-entry label: which endpoint and why.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabel {
    /// The game.
    pub game: String,
    /// The endpoint (`aggregated prices`).
    pub endpoint: String,
    /// The reason (`bad price`).
    pub reason: String,
}

/// Every counter and histogram the host keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<GroupLabel, Counter>,
    retries: Family<GroupLabel, Counter>,
    rate_limited: Family<GroupLabel, Counter>,
    failures: Family<GroupLabel, Counter>,
    bad_bodies: Family<GroupLabel, Counter>,
    breaker_opened: Counter,
    latency: Family<GroupLabel, Histogram>,
    listings: Family<GameLabel, Counter>,
    opportunities: Family<GameLabel, Counter>,
    game_errors: Family<GameLabel, Counter>,
    dropped: Family<DropLabel, Counter>,
    cycles: Counter,
    sink_dropped: Family<SinkLabel, Counter>,
    price_cache: Family<CacheLabel, Counter>,
    watch_events: Family<WatchLabel, Counter>,
    detection_delay: Histogram,
    alerts_sent: Family<SinkLabel, Counter>,
    alerts_failed: Family<AlertFailLabel, Counter>,
    alerts_dropped: Family<SinkLabel, Counter>,
    buys: Family<BuyLabel, Counter>,
    buy_skipped: Family<BuySkipLabel, Counter>,
    buy_forms: Family<BuyFormLabel, Counter>,
    buy_spent: Family<ModeLabel, prometheus_client::metrics::gauge::Gauge>,
    snapshot_refreshes: Family<SnapshotLabel, Counter>,
    snapshot_rows: Family<MarketGameLabel, prometheus_client::metrics::gauge::Gauge>,
    snapshot_fetched_at: Family<MarketGameLabel, prometheus_client::metrics::gauge::Gauge>,
}

/// A buy's outcome and mode.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuyLabel {
    /// `bought`, `buy_refused`, `buy_unknown`.
    pub event: String,
    /// `live` or `dry-run`.
    pub mode: String,
}

/// Why a buy was not attempted.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuySkipLabel {
    /// A short class: `stop_file`, `recheck`, `budget`, `rate`, `duplicate`, `balance`, ...
    pub reason: String,
}

/// The form of a trading answer.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuyFormLabel {
    /// `buy:status`, `buy:not-json`, `balance:cents-string`, ...
    pub form: String,
}

/// A mode.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModeLabel {
    /// `live` or `dry-run`.
    pub mode: String,
}

/// A reference market and game.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MarketGameLabel {
    /// `skinport`, `csfloat`.
    pub market: String,
    /// The plugin name.
    pub game: String,
}

/// A snapshot refresh's label: market, game, `ok` or `failed`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SnapshotLabel {
    /// `skinport`, `csfloat`.
    pub market: String,
    /// The plugin name.
    pub game: String,
    /// `ok` or `failed`.
    pub result: String,
}

/// A price-cache label: the game and `hit` or `miss`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabel {
    /// The plugin name.
    pub game: String,
    /// `hit` or `miss`.
    pub result: String,
}

/// A watch-event label: the game and `new`, `changed` or `gone`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchLabel {
    /// The plugin name.
    pub game: String,
    /// The event's kind.
    pub kind: String,
}

/// A sink label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabel {
    /// The sink's name.
    pub sink: String,
}

/// An undelivered alert's label: the sink and why.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertFailLabel {
    /// The sink's name.
    pub sink: String,
    /// A fixed word (`unauthorized`, `bad_answer`, ...), never error text.
    pub reason: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~16 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("skinscan");
        let m = Metrics {
            requests: Family::default(),
            retries: Family::default(),
            rate_limited: Family::default(),
            failures: Family::default(),
            bad_bodies: Family::default(),
            breaker_opened: Counter::default(),
            latency: Family::new_with_constructor(latency_histogram),
            listings: Family::default(),
            opportunities: Family::default(),
            game_errors: Family::default(),
            dropped: Family::default(),
            cycles: Counter::default(),
            sink_dropped: Family::default(),
            price_cache: Family::default(),
            watch_events: Family::default(),
            // 10 ms .. ~80 s.
            detection_delay: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.01, 2.0, 14),
            ),
            alerts_sent: Family::default(),
            alerts_failed: Family::default(),
            alerts_dropped: Family::default(),
            buys: Family::default(),
            buy_skipped: Family::default(),
            buy_forms: Family::default(),
            buy_spent: Family::default(),
            snapshot_refreshes: Family::default(),
            snapshot_rows: Family::default(),
            snapshot_fetched_at: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "buys",
            "Buys sent (or rehearsed), by outcome event and mode",
            m.buys.clone(),
        );
        registry.register(
            "buy_skipped",
            "Buys not attempted, by reason",
            m.buy_skipped.clone(),
        );
        registry.register(
            "buy_answer_forms",
            "Forms of trading answers seen (buy and balance)",
            m.buy_forms.clone(),
        );
        registry.register(
            "buy_spent_cents",
            "Spent or in flight over the last 24 h, in cents, by mode",
            m.buy_spent.clone(),
        );
        registry.register(
            "requests",
            "Requests sent to the market (first attempts)",
            m.requests.clone(),
        );
        registry.register("retries", "Requests retried", m.retries.clone());
        registry.register(
            "rate_limited",
            "429 answers from the market",
            m.rate_limited.clone(),
        );
        registry.register(
            "request_failures",
            "Requests that failed in the end",
            m.failures.clone(),
        );
        registry.register(
            "bad_bodies",
            "2xx answers cut short or not JSON (retried)",
            m.bad_bodies.clone(),
        );
        registry.register(
            "breaker_opened",
            "Times the circuit breaker opened",
            m.breaker_opened.clone(),
        );
        registry.register(
            "request_latency_seconds",
            "Latency of successful attempts",
            m.latency.clone(),
        );
        registry.register("listings", "Listings read, by game", m.listings.clone());
        registry.register(
            "opportunities",
            "Opportunities found, by game",
            m.opportunities.clone(),
        );
        registry.register(
            "game_errors",
            "Errors reported by game scans",
            m.game_errors.clone(),
        );
        registry.register(
            "dropped_entries",
            "Answer entries not understood, by game, endpoint and reason",
            m.dropped.clone(),
        );
        registry.register("cycles", "Scan cycles completed", m.cycles.clone());
        registry.register(
            "sink_dropped",
            "Events an output fell behind on and dropped",
            m.sink_dropped.clone(),
        );
        registry.register(
            "price_cache",
            "Watch mode's reference-price lookups, by game and hit or miss",
            m.price_cache.clone(),
        );
        registry.register(
            "watch_events",
            "Watch-mode events, by game and kind (new, changed, gone)",
            m.watch_events.clone(),
        );
        registry.register(
            "detection_delay_seconds",
            "From a listing's creation to its `new` event",
            m.detection_delay.clone(),
        );
        registry.register(
            "alerts_sent",
            "Alerts delivered, by sink (a digest counts each alert in it)",
            m.alerts_sent.clone(),
        );
        registry.register(
            "alerts_failed",
            "Alert messages not delivered, by sink and reason (one per message and chat): unauthorized, forbidden, not_found, chat_not_found, bad_answer, redirect, http_status, rate_limited, transport, tls",
            m.alerts_failed.clone(),
        );
        registry.register(
            "alerts_dropped",
            "Alerts dropped because the sink's queue was full, by sink",
            m.alerts_dropped.clone(),
        );
        registry.register(
            "snapshot_refreshes",
            "Reference snapshot fetches, by market, game and result (ok, failed)",
            m.snapshot_refreshes.clone(),
        );
        registry.register(
            "snapshot_rows",
            "Rows (names, phases) in the reference snapshot in use, by market and game",
            m.snapshot_rows.clone(),
        );
        registry.register(
            "snapshot_fetched_at_seconds",
            "Unix time the reference snapshot in use was fetched (age = time() - this)",
            m.snapshot_fetched_at.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The registry as Prometheus text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

fn group(g: &str) -> GroupLabel {
    GroupLabel {
        group: g.to_owned(),
    }
}

fn game(g: &str) -> GameLabel {
    GameLabel { game: g.to_owned() }
}

/// The request counter and latency histogram of one endpoint group, each found in its
/// family once (on first use) and kept: the request path counts every request and every
/// success, and a family look-up hashes a label made afresh each time (about 0.1 us a
/// request, BENCHMARKS.md row 4a). The series appear when first used, as they did.
#[derive(Debug)]
pub struct GroupMetrics {
    group: &'static str,
    requests: OnceLock<Counter>,
    latency: OnceLock<Histogram>,
}

impl GroupMetrics {
    /// The handles of `group` (none looked up yet).
    pub const fn new(group: &'static str) -> Self {
        GroupMetrics {
            group,
            requests: OnceLock::new(),
            latency: OnceLock::new(),
        }
    }

    /// A request is about to be sent (first attempt): counts it.
    pub fn request_sent(&self) {
        self.requests
            .get_or_init(|| metrics().requests.get_or_create(&group(self.group)).clone())
            .inc();
    }

    /// An attempt answered successfully after `latency`: records it.
    pub fn request_succeeded(&self, latency: Duration) {
        self.latency
            .get_or_init(|| metrics().latency.get_or_create(&group(self.group)).clone())
            .observe(latency.as_secs_f64());
    }
}

/// A request is retried.
#[derive(Debug)]
pub struct RequestRetried<'a> {
    /// Its endpoint group.
    pub group: &'a str,
    /// Its path.
    pub path: &'a str,
    /// Why.
    pub error: &'a skinscan_sdk::FetchError,
    /// The backoff before it, if any.
    pub backoff: Option<Duration>,
}

impl RequestRetried<'_> {
    /// Counts and logs it.
    pub fn emit(&self) {
        metrics().retries.get_or_create(&group(self.group)).inc();
        tracing::debug!(
            path = %self.path,
            error = %self.error,
            backoff_ms = self.backoff.map(|b| b.as_millis() as u64),
            "retrying"
        );
    }
}

/// A request failed in the end.
#[derive(Debug)]
pub struct RequestFailed<'a> {
    /// Its endpoint group.
    pub group: &'a str,
}

impl RequestFailed<'_> {
    /// Counts it.
    pub fn emit(&self) {
        metrics().failures.get_or_create(&group(self.group)).inc();
    }
}

/// A 429.
#[derive(Debug)]
pub struct RateLimited<'a> {
    /// Its endpoint group.
    pub group: &'a str,
    /// Its path.
    pub path: &'a str,
    /// The group's rate after the cut, per second.
    pub effective_per_sec: f64,
    /// What the wait is, in words.
    pub retry_in: &'a str,
}

impl RateLimited<'_> {
    /// Counts and logs it.
    pub fn emit(&self) {
        metrics()
            .rate_limited
            .get_or_create(&group(self.group))
            .inc();
        tracing::warn!(
            path = %self.path,
            effective_rate = format_args!("{:.1}/s", self.effective_per_sec),
            "Rate limit hit, retrying in {}",
            self.retry_in
        );
    }
}

/// A 2xx body that was cut short or not JSON.
#[derive(Debug)]
pub struct BadBody<'a> {
    /// Its endpoint group.
    pub group: &'a str,
    /// Its path.
    pub path: &'a str,
    /// What was wrong.
    pub error: &'a skinscan_sdk::FetchError,
}

impl BadBody<'_> {
    /// Counts and logs it.
    pub fn emit(&self) {
        metrics().bad_bodies.get_or_create(&group(self.group)).inc();
        tracing::debug!(path = %self.path, error = %self.error, "retrying a bad body");
    }
}

/// The circuit breaker opened.
#[derive(Debug)]
pub struct BreakerOpened<'a> {
    /// The upstream.
    pub upstream: &'a str,
    /// The failure that opened it.
    pub cause: &'a skinscan_sdk::FetchError,
    /// Consecutive failures that opened it.
    pub failures: u32,
    /// How long it stays open.
    pub cooldown: Duration,
}

impl BreakerOpened<'_> {
    /// Counts and logs it.
    pub fn emit(&self) {
        metrics().breaker_opened.inc();
        tracing::warn!(
            upstream = %self.upstream,
            cause = %self.cause,
            failures = self.failures,
            cooldown_ms = self.cooldown.as_millis() as u64,
            "circuit breaker opened: failing fast until the cool-down ends"
        );
    }
}

/// A game finished with a report.
#[derive(Debug)]
pub struct GameScanned<'a> {
    /// The plugin.
    pub game: &'a str,
    /// Its report.
    pub report: &'a skinscan_sdk::GameReport,
}

impl GameScanned<'_> {
    /// Counts listings, opportunities, errors and dropped entries.
    pub fn emit(&self) {
        let m = metrics();
        let label = game(self.game);
        m.listings
            .get_or_create(&label)
            .inc_by(self.report.listings_seen);
        m.opportunities
            .get_or_create(&label)
            .inc_by(self.report.opportunities.len() as u64);
        m.game_errors
            .get_or_create(&label)
            .inc_by(self.report.errors.len() as u64);
        for ((endpoint, reason), n) in &self.report.wire.dropped {
            m.dropped
                .get_or_create(&DropLabel {
                    game: self.game.to_owned(),
                    endpoint: endpoint.clone(),
                    reason: reason.clone(),
                })
                .inc_by(*n);
        }
    }
}

/// An output's queue was full: the event was dropped (logged at the next flush).
#[derive(Debug)]
pub struct SinkDropped<'a> {
    /// The sink.
    pub sink: &'a str,
}

impl SinkDropped<'_> {
    /// Counts it.
    pub fn emit(&self) {
        metrics()
            .sink_dropped
            .get_or_create(&SinkLabel {
                sink: self.sink.to_owned(),
            })
            .inc();
    }
}

/// A cycle ended.
#[derive(Debug)]
pub struct CycleEnded;

impl CycleEnded {
    /// Counts it.
    pub fn emit(&self) {
        metrics().cycles.inc();
    }
}

/// The metrics endpoint: `GET /metrics` (Prometheus text) and `GET /healthz`, until
/// `shutdown`. Returns the address bound (for `127.0.0.1:0`).
pub async fn serve_metrics(
    listen: SocketAddr,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<SocketAddr> {
    use http_body_util::Full;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let shutdown = Arc::new(shutdown);
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((s, _)) => s,
                    Err(_) => continue,
                },
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let (status, ctype, body) = match req.uri().path() {
                            "/metrics" => (
                                200,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                metrics().encode(),
                            ),
                            "/healthz" => (200, "text/plain", "ok\n".to_owned()),
                            _ => (404, "text/plain", "try /metrics or /healthz\n".to_owned()),
                        };
                        let mut r = http::Response::new(Full::new(bytes::Bytes::from(body)));
                        *r.status_mut() =
                            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
                        r.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static(ctype),
                        );
                        Ok::<_, std::convert::Infallible>(r)
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// Watch mode looked reference prices up.
#[derive(Debug)]
pub struct PriceCacheLookup<'a> {
    /// The plugin.
    pub game: &'a str,
    /// Titles answered from the cache.
    pub hits: u64,
    /// Titles fetched.
    pub misses: u64,
}

impl PriceCacheLookup<'_> {
    /// Counts them.
    pub fn emit(&self) {
        for (result, n) in [("hit", self.hits), ("miss", self.misses)] {
            if n > 0 {
                metrics()
                    .price_cache
                    .get_or_create(&CacheLabel {
                        game: self.game.to_owned(),
                        result: result.to_owned(),
                    })
                    .inc_by(n);
            }
        }
    }
}

/// The buyer finished a buy: counted by event and mode, the 24-hour spend set.
#[derive(Debug)]
pub struct BuyFinished<'a> {
    /// `bought`, `buy_refused`, `buy_unknown`.
    pub event: &'a str,
    /// `live` or `dry-run`.
    pub mode: &'a str,
    /// Spent or in flight over the last 24 h, in cents.
    pub spent_day_cents: i64,
}

impl BuyFinished<'_> {
    /// Counts it and sets the spend gauge (the buyer logs the outcome itself, with its reason).
    pub fn emit(&self) {
        let m = metrics();
        m.buys
            .get_or_create(&BuyLabel {
                event: self.event.to_owned(),
                mode: self.mode.to_owned(),
            })
            .inc();
        m.buy_spent
            .get_or_create(&ModeLabel {
                mode: self.mode.to_owned(),
            })
            .set(self.spent_day_cents);
    }
}

/// The buyer did not attempt a buy.
#[derive(Debug)]
pub struct BuySkipped<'a> {
    /// A short class.
    pub reason: &'a str,
}

impl BuySkipped<'_> {
    /// Counts it.
    pub fn emit(&self) {
        metrics()
            .buy_skipped
            .get_or_create(&BuySkipLabel {
                reason: self.reason.to_owned(),
            })
            .inc();
    }
}

/// A trading answer came in a form; true the first time that form is seen (log it then).
#[derive(Debug)]
pub struct BuyAnswerForm<'a> {
    /// `buy:status`, `balance:cents-string`, ...
    pub form: &'a str,
}

impl BuyAnswerForm<'_> {
    /// Counts it; true when it is the first of its form.
    pub fn emit(&self) -> bool {
        let c = metrics().buy_forms.get_or_create(&BuyFormLabel {
            form: self.form.to_owned(),
        });
        c.inc() == 0
    }
}

/// Watch mode reported an event.
#[derive(Debug)]
pub struct WatchReported<'a> {
    /// The plugin.
    pub game: &'a str,
    /// `new`, `changed` or `gone`.
    pub kind: &'a str,
    /// The detection delay (`new`).
    pub delay: Option<Duration>,
}

impl WatchReported<'_> {
    /// Counts it, and its delay.
    pub fn emit(&self) {
        let m = metrics();
        m.watch_events
            .get_or_create(&WatchLabel {
                game: self.game.to_owned(),
                kind: self.kind.to_owned(),
            })
            .inc();
        if let Some(d) = self.delay {
            m.detection_delay.observe(d.as_secs_f64());
        }
    }
}

/// Watch mode read answer entries it did not understand.
#[derive(Debug)]
pub struct WireDropped<'a> {
    /// The plugin.
    pub game: &'a str,
    /// What was dropped, with an example.
    pub wire: &'a skinscan_sdk::WireStats,
}

impl WireDropped<'_> {
    /// Counts them; with `warn`, logs a warning quoting the first example.
    pub fn emit(&self, warn: bool) {
        let m = metrics();
        for ((endpoint, reason), n) in &self.wire.dropped {
            m.dropped
                .get_or_create(&DropLabel {
                    game: self.game.to_owned(),
                    endpoint: endpoint.clone(),
                    reason: reason.clone(),
                })
                .inc_by(*n);
        }
        if warn {
            let example = self
                .wire
                .examples
                .values()
                .next()
                .map_or("", String::as_str);
            tracing::warn!(
                game = self.game,
                dropped = self.wire.dropped_total(),
                "entries of the market's answers were not understood and skipped (counted in skinscan_dropped_entries; warned once per game), the first: {}",
                crate::printable(example)
            );
        }
    }
}

fn sink(s: &str) -> SinkLabel {
    SinkLabel { sink: s.to_owned() }
}

/// An alert message was delivered.
#[derive(Debug)]
pub struct AlertSent<'a> {
    /// The sink.
    pub sink: &'a str,
    /// Alerts it carried.
    pub alerts: u64,
}

impl AlertSent<'_> {
    /// Counts it.
    pub fn emit(&self) {
        metrics()
            .alerts_sent
            .get_or_create(&sink(self.sink))
            .inc_by(self.alerts);
    }
}

/// An alert message was not delivered (to one chat).
#[derive(Debug)]
pub struct AlertFailed<'a> {
    /// The sink.
    pub sink: &'a str,
    /// Why, in one fixed word (the metric's label).
    pub reason: &'a str,
    /// Why, for a person (never holding a token or a webhook URL).
    pub error: &'a str,
    /// The first of its kind this run for this sink: warned; the others are counted, and
    /// logged at debug level.
    pub first: bool,
}

impl AlertFailed<'_> {
    /// Counts it; warns the first time, at debug level after.
    pub fn emit(&self) {
        metrics()
            .alerts_failed
            .get_or_create(&AlertFailLabel {
                sink: self.sink.to_owned(),
                reason: self.reason.to_owned(),
            })
            .inc();
        if self.first {
            tracing::warn!(
                sink = self.sink,
                reason = self.reason,
                error = %self.error,
                "an alert was not delivered: it is not marked as sent, so the next run sends it (warned once a run; the others are counted in skinscan_alerts_failed_total)"
            );
        } else {
            tracing::debug!(
                sink = self.sink,
                reason = self.reason,
                error = %self.error,
                "an alert was not delivered"
            );
        }
    }
}

/// An alert was dropped: the sink's queue was full.
#[derive(Debug)]
pub struct AlertDropped<'a> {
    /// The sink.
    pub sink: &'a str,
}

impl AlertDropped<'_> {
    /// Counts it (reported at the next flush).
    pub fn emit(&self) {
        metrics()
            .alerts_dropped
            .get_or_create(&sink(self.sink))
            .inc();
    }
}

/// `s` safe for a terminal: control characters (ESC, NUL, newlines, C1 codes, DEL) become
/// visible escapes (`\u{1b}`), so text from the market (titles, error bodies) cannot move
/// the cursor, recolour the screen or forge lines of output.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod printable_tests {
    use super::printable;

    #[test]
    fn control_characters_become_visible_escapes_and_plain_text_is_borrowed() {
        assert!(matches!(
            printable("plain"),
            std::borrow::Cow::Borrowed("plain")
        ));
        assert_eq!(
            printable("AK\u{1b}[2J\nrow\0\u{9b}"),
            "AK\\u{1b}[2J\\u{a}row\\u{0}\\u{9b}"
        );
    }
}

#[cfg(test)]
mod buy_tests {
    use super::*;

    #[test]
    fn buys_are_counted_by_event_and_the_spend_is_a_gauge_on_metrics() {
        BuyFinished {
            event: "bought",
            mode: "live",
            spent_day_cents: 1_250,
        }
        .emit();
        BuySkipped { reason: "budget" }.emit();
        assert!(
            BuyAnswerForm {
                form: "buy:test-only"
            }
            .emit()
        );
        assert!(
            !BuyAnswerForm {
                form: "buy:test-only"
            }
            .emit()
        );
        let text = metrics().encode();
        assert!(
            text.contains(r#"skinscan_buys_total{event="bought",mode="live"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"skinscan_buy_spent_cents{mode="live"} 1250"#),
            "{text}"
        );
        assert!(text.contains(r#"skinscan_buy_skipped_total{reason="budget"}"#));
    }
}

/// A reference snapshot was fetched, or its fetch failed (the one in use is kept).
#[derive(Debug)]
pub struct SnapshotRefreshed<'a> {
    /// `skinport`, `csfloat`.
    pub market: &'a str,
    /// The plugin name.
    pub game: &'a str,
    /// Rows of the snapshot now in use, and when it was fetched (unix seconds); `None` when
    /// the fetch failed.
    pub fresh: Option<(usize, i64)>,
}

impl SnapshotRefreshed<'_> {
    /// Counts it and sets the gauges of the snapshot in use.
    pub fn emit(&self) {
        let m = metrics();
        let label = MarketGameLabel {
            market: self.market.to_owned(),
            game: self.game.to_owned(),
        };
        let result = if self.fresh.is_some() { "ok" } else { "failed" };
        m.snapshot_refreshes
            .get_or_create(&SnapshotLabel {
                market: self.market.to_owned(),
                game: self.game.to_owned(),
                result: result.to_owned(),
            })
            .inc();
        if let Some((rows, at)) = self.fresh {
            m.snapshot_rows.get_or_create(&label).set(rows as i64);
            m.snapshot_fetched_at.get_or_create(&label).set(at);
        }
    }
}
