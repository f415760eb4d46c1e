//! # skinscan-alerts: the notifiers
//!
//! Alerts: opportunities told to a person (Telegram, Discord) or a machine (a webhook), as
//! sinks on the seams' [`Sink`] trait.
//!
//! A sink never stalls a scan: [`AlertSink::handle`] filters, skips what was alerted before
//! (the history database remembers across restarts), and queues; a worker task per sink
//! delivers, within each service's own limits (Telegram: 1 message a second per chat, 20 a
//! minute per group, 30 a second in all; Discord: 5 per 2 seconds per webhook), honours
//! 429s (`retry_after`), retries failures with backoff, and turns a backlog into a digest.
//! A full queue drops, counted and reported at the next flush.
//!
//! **Layer rule:** depends on the sdk, `skinscan-events`, `skinscan-net` (TLS trust and
//! proxies, the rate buckets, secrets), `skinscan-report` (the sink interface) and
//! `skinscan-history` (which alerts went out). Its options are built by the host's config.

mod config;
pub use config::{AlertFilterConfig, AlertsConfig, DiscordConfig, TelegramConfig, WebhookConfig};

pub mod message;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hmac::Mac;
use skinscan_sdk::{Level, Opportunity};
use tokio::sync::{mpsc, oneshot};

pub use message::{Alert, Markup};

use skinscan_history::Store;
use skinscan_net::limit::{Rate, RateLimiter};
use skinscan_net::secret::Secret;
use skinscan_report::WatchKind;
use skinscan_report::{Event, Sink, SinkFailure};

/// Which alerts a destination gets.
#[derive(Debug, Clone)]
pub struct AlertFilter {
    /// Only these games (plugin names); empty: every game.
    pub games: Vec<String>,
    /// Net profit at least this, in cents.
    pub min_profit_cents: i64,
    /// ROI at least this, in basis points.
    pub min_roi_bps: i64,
    /// Only these levels; empty: any level (or none).
    pub levels: Vec<Level>,
    /// Only these events (`new` by default; a cycle's finds count as `new`).
    pub events: Vec<WatchKind>,
}

impl Default for AlertFilter {
    fn default() -> Self {
        AlertFilter {
            games: Vec::new(),
            min_profit_cents: 0,
            min_roi_bps: 0,
            levels: Vec::new(),
            events: vec![WatchKind::New],
        }
    }
}

impl AlertFilter {
    /// Whether `kind` of `o` is sent.
    pub fn admits(&self, kind: WatchKind, o: &Opportunity) -> bool {
        self.events.contains(&kind)
            && (self.games.is_empty() || self.games.iter().any(|g| g == o.game.as_str()))
            && o.net_profit.cents() >= self.min_profit_cents
            && o.roi_bps >= self.min_roi_bps
            && (self.levels.is_empty() || o.level.is_some_and(|l| self.levels.contains(&l)))
    }
}

/// Where alerts go.
#[derive(Debug, Clone)]
pub enum Service {
    /// Telegram's Bot API: `sendMessage` to each chat.
    Telegram {
        /// `https://api.telegram.org` unless testing.
        base_url: String,
        /// The bot's token (a secret: it is in the request path).
        token: Secret,
        /// Chat ids (negative for groups and channels).
        chat_ids: Vec<String>,
    },
    /// A Discord webhook (its URL is the secret).
    Discord {
        /// `https://discord.com/api/webhooks/<id>/<token>`.
        url: Secret,
    },
    /// A JSON POST per alert, signed with HMAC-SHA256 over the body when a secret is set.
    Webhook {
        /// Where to.
        url: String,
        /// The shared secret, if any.
        secret: Option<Secret>,
        /// Requests per second at most.
        rate: Rate,
    },
}

impl Service {
    /// `failure` with this service's secrets (should a cause quote them) masked.
    fn redact(&self, failure: Failure) -> Failure {
        let secrets: Vec<&str> = match self {
            Service::Telegram { token, .. } => vec![token.expose()],
            Service::Discord { url } => vec![url.expose()],
            Service::Webhook { secret, .. } => secret.iter().map(|s| s.expose()).collect(),
        };
        let mask = |m: String| {
            secrets
                .iter()
                .filter(|s| !s.is_empty())
                .fold(m, |m, s| m.replace(s, "***"))
        };
        match failure {
            Failure::Retry(wait, m) => Failure::Retry(wait, mask(m)),
            Failure::Fatal(m) => Failure::Fatal(mask(m)),
        }
    }

    /// `telegram`, `discord` or `webhook`.
    pub fn name(&self) -> &'static str {
        match self {
            Service::Telegram { .. } => "telegram",
            Service::Discord { .. } => "discord",
            Service::Webhook { .. } => "webhook",
        }
    }
}

/// One alert sink's settings.
#[derive(Debug, Clone)]
pub struct AlertOptions {
    /// The service.
    pub service: Service,
    /// What it gets.
    pub filter: AlertFilter,
    /// A backlog of this many alerts or more goes as one digest (0: never; not for webhooks).
    pub digest_at: usize,
    /// Opportunities listed in a digest.
    pub digest_top: usize,
    /// Alerts queued at most while the service is slow or down; more are dropped, counted.
    pub queue: usize,
    /// Attempts per message (the first included).
    pub attempts: u32,
    /// A 429 asking to wait longer than this drops the message instead.
    pub max_wait: Duration,
    /// Each request's timeout.
    pub timeout: Duration,
    /// How long the end of a run waits for the queue to drain.
    pub drain: Duration,
    /// The listing link: `{game}`, `{title}` and `{offer}` are filled in.
    pub link: String,
}

/// DMarket's item page, found by title and offer id.
pub const DEFAULT_LINK: &str =
    "https://dmarket.com/ingame-items/item-list/{game}-skins?title={title}&userOfferId={offer}";

impl AlertOptions {
    /// Defaults for `service`.
    pub fn new(service: Service) -> AlertOptions {
        AlertOptions {
            service,
            filter: AlertFilter::default(),
            digest_at: 5,
            digest_top: 10,
            queue: 1_000,
            attempts: 5,
            max_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            drain: Duration::from_secs(10),
            link: DEFAULT_LINK.to_owned(),
        }
    }
}

/// What an alert sink did.
#[derive(Debug, Default)]
pub struct AlertStats {
    /// Messages delivered (a digest is one).
    pub sent: AtomicU64,
    /// Alerts given up on after retries (or refused by the service).
    pub failed: AtomicU64,
    /// Alerts dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Alerts skipped: sent before (this run or an earlier one).
    pub duplicates: AtomicU64,
    /// 429s answered by the service.
    pub rate_limited: AtomicU64,
    /// Why the last delivery that failed did (never holding a token or a webhook URL).
    pub last_error: std::sync::Mutex<Option<String>>,
}

impl AlertStats {
    /// Why the last delivery that failed did.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

enum Job {
    Alert(Alert),
    Flush(oneshot::Sender<()>),
}

/// An alert output: filters, deduplicates and queues; its worker delivers.
pub struct AlertSink {
    name: &'static str,
    filter: AlertFilter,
    store: Option<Arc<Store>>,
    seen: HashSet<(String, String)>,
    tx: mpsc::Sender<Job>,
    drain: Duration,
    stats: Arc<AlertStats>,
    reported_dropped: u64,
    reported_failed: u64,
}

impl std::fmt::Debug for AlertSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl AlertSink {
    /// Starts the worker (on the current runtime) for `options`, sending through `client`;
    /// `store` remembers what was alerted across restarts.
    pub fn new(
        options: AlertOptions,
        client: reqwest::Client,
        store: Option<Arc<Store>>,
    ) -> AlertSink {
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let stats = Arc::new(AlertStats::default());
        let name = options.service.name();
        let worker = Worker::new(options.clone(), client, stats.clone(), store.clone());
        tokio::spawn(worker.run(rx));
        AlertSink {
            name,
            filter: options.filter,
            store,
            seen: HashSet::new(),
            tx,
            drain: options.drain,
            stats,
            reported_dropped: 0,
            reported_failed: 0,
        }
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<AlertStats> {
        self.stats.clone()
    }

    /// Whether `o` should be told now: a `new` not queued in this run nor delivered before
    /// (the history remembers deliveries across restarts), or a later event of one that was.
    async fn first_time(&mut self, kind: WatchKind, o: &Opportunity) -> bool {
        let key = (
            o.game.as_str().to_owned(),
            skinscan_history::offer_key(o).to_owned(),
        );
        let this_run = self.seen.contains(&key);
        if kind == WatchKind::New && this_run {
            return false;
        }
        let mut before = false;
        if !this_run && let Some(store) = &self.store {
            let (store, o2, name) = (store.clone(), o.clone(), self.name);
            match tokio::task::spawn_blocking(move || store.was_alerted(name, &o2)).await {
                Ok(Ok(yes)) => before = yes,
                Ok(Err(e)) => tracing::warn!(
                    sink = self.name,
                    error = %e,
                    "the history could not tell whether this was alerted before: alerting"
                ),
                Err(e) => {
                    tracing::warn!(sink = self.name, error = %e, "history lookup failed: alerting")
                }
            }
        }
        match kind {
            WatchKind::New if before => false,
            WatchKind::New => {
                self.seen.insert(key);
                true
            }
            _ => this_run || before,
        }
    }

    async fn offer(&mut self, alert: Alert) {
        if !self.filter.admits(alert.kind, &alert.opportunity) {
            return;
        }
        if !self.first_time(alert.kind, &alert.opportunity).await {
            self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.tx.try_send(Job::Alert(alert)).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            skinscan_events::AlertDropped { sink: self.name }.emit();
        }
    }
}

#[async_trait]
impl Sink for AlertSink {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn handle(&mut self, event: &Event) -> Result<(), SinkFailure> {
        match event {
            Event::Watch(e) => {
                self.offer(Alert {
                    kind: e.kind,
                    opportunity: e.opportunity.clone(),
                    reason: e.reason,
                    delay_ms: e.delay.map(|d| d.as_millis() as u64),
                })
                .await;
            }
            Event::GameFinished { outcome, .. } => {
                for o in outcome.report.iter().flat_map(|r| &r.opportunities) {
                    self.offer(Alert {
                        kind: WatchKind::New,
                        opportunity: o.clone(),
                        reason: None,
                        delay_ms: None,
                    })
                    .await;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A cycle ended: reports what was dropped or failed since the last report; never waits
    /// for the service (the next cycle must not).
    async fn flush(&mut self) -> Result<(), SinkFailure> {
        self.report_losses();
        Ok(())
    }

    /// The run ends: waits (up to `drain`) for what is queued to be delivered, then reports
    /// what was dropped or failed. A service that is down is not the scan's failure.
    async fn finish(&mut self) -> Result<(), SinkFailure> {
        let (reply, done) = oneshot::channel();
        let drained = tokio::time::timeout(self.drain, async {
            if self.tx.send(Job::Flush(reply)).await.is_ok() {
                let _ = done.await;
            }
        })
        .await
        .is_ok();
        if !drained {
            tracing::warn!(
                sink = self.name,
                "alerts still queued after {}: the service is slow or down; they are not marked as sent, so the next run sends them",
                humantime::format_duration(self.drain)
            );
        }
        self.report_losses();
        Ok(())
    }
}

impl AlertSink {
    fn report_losses(&mut self) {
        let dropped = self.stats.dropped.load(Ordering::Relaxed);
        let failed = self.stats.failed.load(Ordering::Relaxed);
        if dropped > self.reported_dropped || failed > self.reported_failed {
            tracing::warn!(
                sink = self.name,
                dropped = dropped - self.reported_dropped,
                failed = failed - self.reported_failed,
                last_error = self.stats.last_error().as_deref().unwrap_or("-"),
                "some alerts were not delivered (dropped: the queue was full; failed: given up after retries)"
            );
            self.reported_dropped = dropped;
            self.reported_failed = failed;
        }
    }
}

/// One place a message goes, with its own limit.
struct Destination {
    /// Telegram's chat id; empty for the others.
    chat: String,
    limiter: RateLimiter,
    /// The service said its bucket is empty until then (Discord's `X-RateLimit-Remaining: 0`
    /// with `X-RateLimit-Reset-After`): the next message waits instead of earning a 429.
    not_before: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Destination {
    fn new(chat: String, limiter: RateLimiter) -> Destination {
        Destination {
            chat,
            limiter,
            not_before: std::sync::Mutex::new(None),
        }
    }

    /// Reads the bucket a service publishes in its answer's headers.
    fn note_bucket(&self, headers: &reqwest::header::HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|n| n.is_finite() && *n >= 0.0)
        };
        if number("x-ratelimit-remaining") == Some(0.0)
            && let Some(after) = number("x-ratelimit-reset-after")
        {
            let until = tokio::time::Instant::now() + Duration::from_secs_f64(after.min(3_600.0));
            *self.not_before.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
        }
    }

    /// Waits until the service's bucket has room again, if it said it had none.
    async fn bucket_room(&self) {
        let until = self
            .not_before
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }
}

/// Delivers queued alerts.
struct Worker {
    options: AlertOptions,
    /// Where deliveries are recorded (so a restart does not send them again).
    store: Option<Arc<Store>>,
    client: reqwest::Client,
    stats: Arc<AlertStats>,
    destinations: Vec<Destination>,
    /// Telegram's limit over all chats.
    global: Option<RateLimiter>,
}

/// Why a delivery failed.
#[derive(Debug)]
enum Failure {
    /// Worth another attempt after this long (None: backoff).
    Retry(Option<Duration>, String),
    /// Not worth another attempt.
    Fatal(String),
}

/// A failed request a person can act on. reqwest's own text says only "error sending
/// request": the causes follow it, and a certificate that is not trusted is not retried and
/// says how to fix it. Never the URL beyond its origin (Telegram's path holds the token,
/// Discord's whole URL is the secret).
fn transport_failure(e: reqwest::Error) -> Failure {
    let origin = e
        .url()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|| "the service".to_owned());
    let mut causes = Vec::new();
    let mut certificate = None;
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        if let Some(rustls::Error::InvalidCertificate(c)) = rustls_error(cause) {
            certificate = Some(c.clone());
        }
        causes.push(cause.to_string());
        source = cause.source();
    }
    if let Some(c) = certificate {
        return Failure::Fatal(format!(
            "the TLS certificate of {origin} is not trusted ({c:?}); TLS is always verified: \
             if a proxy or your network signs with its own CA, set market.ca_file to that CA \
             (PEM; alerts trust the same roots as the market)"
        ));
    }
    let mut text = format!("{origin}: {}", e.without_url());
    for cause in causes {
        if !text.ends_with(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    Failure::Retry(None, text)
}

/// The TLS error `cause` is, or wraps in `io::Error`s (which hide it from `source()`).
fn rustls_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut at = cause;
    loop {
        if let Some(tls) = at.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner: &(dyn std::error::Error + 'static) =
            at.downcast_ref::<std::io::Error>()?.get_ref()?;
        at = inner;
    }
}

fn rate(count: f64, period: Duration) -> Rate {
    Rate { count, period }
}

impl Worker {
    fn new(
        options: AlertOptions,
        client: reqwest::Client,
        stats: Arc<AlertStats>,
        store: Option<Arc<Store>>,
    ) -> Worker {
        let (destinations, global) = match &options.service {
            Service::Telegram { chat_ids, .. } => (
                chat_ids
                    .iter()
                    .map(|chat| {
                        Destination::new(
                            chat.clone(),
                            // Groups and channels (negative ids): 20 a minute; a person: 1 a
                            // second.
                            RateLimiter::new(
                                format!("telegram chat {chat}"),
                                if chat.starts_with('-') {
                                    rate(20.0, Duration::from_secs(60))
                                } else {
                                    rate(1.0, Duration::from_secs(1))
                                },
                                1,
                            ),
                        )
                    })
                    .collect(),
                Some(RateLimiter::new(
                    "telegram",
                    rate(30.0, Duration::from_secs(1)),
                    1,
                )),
            ),
            Service::Discord { .. } => (
                vec![Destination::new(
                    String::new(),
                    RateLimiter::new("discord", rate(5.0, Duration::from_secs(2)), 5),
                )],
                None,
            ),
            Service::Webhook { rate, .. } => (
                vec![Destination::new(
                    String::new(),
                    RateLimiter::new("webhook", *rate, 1),
                )],
                None,
            ),
        };
        Worker {
            options,
            store,
            client,
            stats,
            destinations,
            global,
        }
    }

    async fn run(self, mut rx: mpsc::Receiver<Job>) {
        while let Some(job) = rx.recv().await {
            let mut batch = Vec::new();
            let mut waiting = Vec::new();
            let mut take = |job: Job| match job {
                Job::Alert(a) => batch.push(a),
                Job::Flush(reply) => waiting.push(reply),
            };
            take(job);
            // What piled up while the last batch was being delivered goes together.
            while let Ok(job) = rx.try_recv() {
                take(job);
            }
            self.deliver_batch(batch).await;
            for reply in waiting {
                let _ = reply.send(());
            }
        }
    }

    async fn deliver_batch(&self, batch: Vec<Alert>) {
        if batch.is_empty() {
            return;
        }
        let digest = self.options.digest_at > 0
            && batch.len() >= self.options.digest_at
            && !matches!(self.options.service, Service::Webhook { .. });
        let messages: Vec<&[Alert]> = if digest {
            vec![&batch[..]]
        } else {
            batch.chunks(1).collect()
        };
        for alerts in messages {
            let body = match alerts {
                [one] => Body::One(one),
                all => Body::Digest(all),
            };
            let n = alerts.len() as u64;
            if self.send_everywhere(&body).await {
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                skinscan_events::AlertSent {
                    sink: self.options.service.name(),
                    alerts: n,
                }
                .emit();
                self.delivered(alerts).await;
            } else {
                self.stats.failed.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Records `alerts` as delivered: only then, so one that was never delivered (the
    /// service down, the process stopped first) is sent by the next run.
    async fn delivered(&self, alerts: &[Alert]) {
        let Some(store) = &self.store else {
            return;
        };
        let (store, name) = (store.clone(), self.options.service.name());
        let news: Vec<Opportunity> = alerts
            .iter()
            .filter(|a| a.kind == WatchKind::New)
            .map(|a| a.opportunity.clone())
            .collect();
        let written = tokio::task::spawn_blocking(move || {
            news.iter()
                .try_for_each(|o| store.first_alert(name, o).map(|_| ()))
        })
        .await;
        if let Ok(Err(e)) = written {
            tracing::warn!(
                sink = name,
                error = %e,
                "could not record an alert as sent: a restart may send it again"
            );
        }
    }

    /// Sends `body` to every destination at once (a chat that is slow, limited or down
    /// holds up no other); true when at least one got it (a destination that did not is
    /// logged; sending again would repeat it to the others).
    async fn send_everywhere(&self, body: &Body<'_>) -> bool {
        let sent =
            futures::future::join_all(self.destinations.iter().map(|d| self.send(d, body))).await;
        let mut any = false;
        for result in sent {
            match result {
                Ok(()) => any = true,
                Err(e) => {
                    skinscan_events::AlertFailed {
                        sink: self.options.service.name(),
                        error: &e,
                    }
                    .emit();
                    *self
                        .stats
                        .last_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) = Some(e);
                }
            }
        }
        any
    }

    /// One message to one destination: limited, retried.
    async fn send(&self, dest: &Destination, body: &Body<'_>) -> Result<(), String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            dest.bucket_room().await;
            dest.limiter.acquire().await;
            if let Some(g) = &self.global {
                g.acquire().await;
            }
            let failure = match self.request(dest, body).send().await {
                Ok(response) => match self.verdict(dest, response).await {
                    Ok(()) => return Ok(()),
                    Err(f) => f,
                },
                Err(e) => self.options.service.redact(transport_failure(e)),
            };
            let wait = match failure {
                Failure::Fatal(m) => return Err(m),
                Failure::Retry(_, m) if attempt >= self.options.attempts => {
                    return Err(format!("{m} (after {attempt} attempts)"));
                }
                Failure::Retry(Some(wait), m) if wait > self.options.max_wait => {
                    return Err(format!(
                        "{m}: asked to wait {}, more than the {} allowed",
                        humantime::format_duration(wait),
                        humantime::format_duration(self.options.max_wait)
                    ));
                }
                Failure::Retry(Some(wait), _) => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    wait
                }
                Failure::Retry(None, m) => {
                    let backoff = Duration::from_millis(500)
                        .saturating_mul(1 << (attempt - 1).min(6))
                        .min(Duration::from_secs(30));
                    tracing::debug!(sink = self.options.service.name(), error = %m, "retrying an alert");
                    backoff
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    fn request(&self, dest: &Destination, body: &Body<'_>) -> reqwest::RequestBuilder {
        let o = &self.options;
        let timeout = o.timeout;
        match &o.service {
            Service::Telegram {
                base_url, token, ..
            } => {
                let text = truncate(body.text(Markup::Html, o), 4_096);
                self.client
                    .post(format!(
                        "{}/bot{}/sendMessage",
                        base_url.trim_end_matches('/'),
                        token.expose()
                    ))
                    .timeout(timeout)
                    .json(&serde_json::json!({
                        "chat_id": dest.chat,
                        "text": text,
                        "parse_mode": "HTML",
                        "link_preview_options": {"is_disabled": true},
                    }))
            }
            Service::Discord { url } => {
                let text = truncate(body.text(Markup::Markdown, o), 2_000);
                self.client
                    .post(url.expose())
                    .timeout(timeout)
                    .json(&serde_json::json!({
                        "content": text,
                        // A title can never ping anyone.
                        "allowed_mentions": {"parse": []},
                    }))
            }
            Service::Webhook { url, secret, .. } => {
                let (kind, json) = match body {
                    Body::One(a) => (a.kind.as_str(), message::json(a, &o.link)),
                    Body::Digest(all) => (
                        "digest",
                        serde_json::Value::Array(
                            all.iter().map(|a| message::json(a, &o.link)).collect(),
                        ),
                    ),
                };
                let bytes = serde_json::to_vec(&json).unwrap_or_default();
                let mut request = self
                    .client
                    .post(url)
                    .timeout(timeout)
                    .header("content-type", "application/json")
                    .header("x-skinscan-event", kind);
                if let Some(secret) = secret {
                    request = request.header("x-skinscan-signature", signature(secret, &bytes));
                }
                request.body(bytes)
            }
        }
    }

    /// Reads an answer: success, a wait asked for (429), worth retrying (5xx) or refused.
    async fn verdict(
        &self,
        dest: &Destination,
        response: reqwest::Response,
    ) -> Result<(), Failure> {
        dest.note_bucket(response.headers());
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let header_wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok());
        let body = response.bytes().await.unwrap_or_default();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        // Telegram: {"ok":false,"error_code":429,"description":"...","parameters":{"retry_after":3}};
        // Discord: {"message":"...","retry_after":1.25,"global":false}.
        let said = json["description"]
            .as_str()
            .or_else(|| json["message"].as_str())
            .map_or_else(
                || {
                    skinscan_events::printable(&String::from_utf8_lossy(
                        &body[..body.len().min(200)],
                    ))
                    .into_owned()
                },
                |s| skinscan_events::printable(s).into_owned(),
            );
        let message = format!("{} answered {status}: {said}", self.options.service.name());
        if status.as_u16() == 429 {
            let secs = json["parameters"]["retry_after"]
                .as_f64()
                .or_else(|| json["retry_after"].as_f64())
                .or(header_wait)
                .filter(|s| s.is_finite() && *s >= 0.0)
                .unwrap_or(1.0);
            return Err(Failure::Retry(
                Some(Duration::from_secs_f64(secs.min(86_400.0))),
                message,
            ));
        }
        if status.is_server_error() || status.as_u16() == 408 {
            return Err(Failure::Retry(None, message));
        }
        Err(Failure::Fatal(message))
    }
}

/// A message: one alert or a digest.
enum Body<'a> {
    One(&'a Alert),
    Digest(&'a [Alert]),
}

impl Body<'_> {
    fn text(&self, markup: Markup, o: &AlertOptions) -> String {
        match self {
            Body::One(a) => message::single(a, markup, &o.link),
            Body::Digest(all) => message::digest(all, markup, &o.link, o.digest_top),
        }
    }
}

/// `s` cut to `max_chars`: whole lines while they fit (each line closes its own markup, so
/// a cut never leaves a tag open, which Telegram refuses), then `…`; a first line too long
/// on its own is cut within.
fn truncate(s: String, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s;
    }
    let mut out = String::new();
    let mut used = 0;
    for line in s.lines() {
        let n = line.chars().count() + 1;
        if used + n + 1 > max_chars {
            break;
        }
        out.push_str(line);
        out.push('\n');
        used += n;
    }
    if out.is_empty() {
        out = s.chars().take(max_chars - 1).collect();
    }
    out.push('…');
    out
}

/// `sha256=<hex>` of HMAC-SHA256 over `body` with `secret`.
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The HTTP client alerts use: TLS verified against the same roots as the market (webpki,
/// the system's, `market.ca_file`), HTTP/1.1 or HTTP/2, through `market.proxy` when set, else
/// the environment's proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`).
pub fn client(
    tls: &skinscan_net::http::TlsOptions,
    proxy: Option<&skinscan_net::http::Proxy>,
) -> Result<reqwest::Client, String> {
    let config = skinscan_net::http::tls_client_config(tls, &[b"h2", b"http/1.1"]);
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("skinscan/", env!("CARGO_PKG_VERSION")));
    if let Some(p) = proxy {
        let mut rp = reqwest::Proxy::all(format!("http://{}:{}", p.host, p.port))
            .map_err(|e| format!("{}: {e}", p.source))?;
        if let Some(c) = &p.credentials {
            let (user, pass) = c.expose().split_once(':').unwrap_or((c.expose(), ""));
            rp = rp.basic_auth(user, pass);
        }
        builder = builder.proxy(rp);
    }
    builder.build().map_err(|e| e.without_url().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_between_lines_never_inside_markup() {
        let text = (0..100)
            .map(|i| format!("<b>line {i}</b> <a href=\"https://x/{i}\">open</a>"))
            .collect::<Vec<_>>()
            .join("\n");
        let cut = truncate(text.clone(), 500);
        assert!(cut.chars().count() <= 500, "{}", cut.chars().count());
        assert!(cut.ends_with("\n…"), "{cut}");
        for line in cut.lines().filter(|l| *l != "…") {
            assert!(
                text.lines().any(|whole| whole == line),
                "a line was cut: {line}"
            );
        }
        assert_eq!(truncate("short".to_owned(), 500), "short");
        assert_eq!(truncate("x".repeat(20), 10), format!("{}…", "x".repeat(9)));
    }

    #[test]
    fn signatures_are_hmac_sha256_over_the_body_in_hex() {
        // RFC 4231, test case 2.
        let s = signature(&Secret::new("Jefe"), b"what do ya want for nothing?");
        assert_eq!(
            s,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
