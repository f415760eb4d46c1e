//! The delivery worker of one sink: each destination's rate buckets (the service's limits),
//! batches and digests, retries with backoff, 429s honoured, every chat at once, and the
//! history marked only for what was delivered.

use skinscan_history::Store;
use skinscan_net::limit::{Rate, RateLimiter};
use skinscan_report::WatchKind;
use skinscan_sdk::Opportunity;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use crate::answer::{Answer, Expect, FailReason, Failure, Problem, Stop, transport_failure};
use crate::client::signature;
use crate::message::{self, Alert, Markup};
use crate::options::{AlertOptions, Service};
use crate::stats::AlertStats;

pub(crate) enum Job {
    Alert(Alert),
    Flush(oneshot::Sender<()>),
}

/// One place a message goes, with its own limit.
pub(crate) struct Destination {
    /// Telegram's chat id; empty for the others.
    pub(crate) chat: String,
    pub(crate) limiter: RateLimiter,
    /// The service said its bucket is empty until then (Discord's `X-RateLimit-Remaining: 0`
    /// with `X-RateLimit-Reset-After`): the next message waits instead of earning a 429.
    pub(crate) not_before: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// The service will not deliver here (a chat not found): nothing more is sent this run.
    pub(crate) stopped: std::sync::Mutex<Option<Problem>>,
}

impl Destination {
    pub(crate) fn new(chat: String, limiter: RateLimiter) -> Destination {
        Destination {
            chat,
            limiter,
            not_before: std::sync::Mutex::new(None),
            stopped: std::sync::Mutex::new(None),
        }
    }

    /// Reads the bucket a service publishes in its answer's headers.
    pub(crate) fn note_bucket(&self, headers: &reqwest::header::HeaderMap) {
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
    pub(crate) async fn bucket_room(&self) {
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
pub(crate) struct Worker {
    pub(crate) options: AlertOptions,
    /// Where deliveries are recorded (so a restart does not send them again).
    pub(crate) store: Option<Arc<Store>>,
    pub(crate) client: reqwest::Client,
    pub(crate) stats: Arc<AlertStats>,
    pub(crate) destinations: Vec<Destination>,
    /// Telegram's limit over all chats.
    pub(crate) global: Option<RateLimiter>,
    /// The service refused the credentials: nothing more is sent this run.
    pub(crate) stopped: std::sync::Mutex<Option<Problem>>,
    /// The kinds of failure warned about already (with the chat, when the chat is the
    /// cause): each is warned once a run, the others counted.
    pub(crate) warned: std::sync::Mutex<HashSet<(FailReason, String)>>,
}

pub(crate) fn rate(count: f64, period: Duration) -> Rate {
    Rate { count, period }
}

impl Worker {
    pub(crate) fn new(
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
            stopped: std::sync::Mutex::new(None),
            warned: std::sync::Mutex::new(HashSet::new()),
        }
    }

    pub(crate) async fn run(self, mut rx: mpsc::Receiver<Job>) {
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

    pub(crate) async fn deliver_batch(&self, batch: Vec<Alert>) {
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
    pub(crate) async fn delivered(&self, alerts: &[Alert]) {
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
    /// counted and, the first time of its kind, warned about; sending again would repeat it
    /// to the others).
    pub(crate) async fn send_everywhere(&self, body: &Body<'_>) -> bool {
        let sent =
            futures::future::join_all(self.destinations.iter().map(|d| self.send(d, body))).await;
        let mut any = false;
        for (dest, result) in self.destinations.iter().zip(sent) {
            match result {
                Ok(()) => any = true,
                Err(problem) => {
                    let chat = match problem.stop {
                        Stop::Chat => dest.chat.clone(),
                        Stop::Nothing | Stop::Sink => String::new(),
                    };
                    let first = self
                        .warned
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert((problem.reason, chat));
                    skinscan_events::AlertFailed {
                        sink: self.options.service.name(),
                        reason: problem.reason.as_str(),
                        error: &problem.text,
                        first,
                    }
                    .emit();
                    self.stats.failed_for(&problem);
                }
            }
        }
        any
    }

    /// What stops `dest` being sent to this run, if anything does.
    pub(crate) fn stopped(&self, dest: &Destination) -> Option<Problem> {
        let sink = self
            .stopped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        sink.or_else(|| {
            dest.stopped
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        })
    }

    /// Remembers a refusal that stops `dest` or the whole sink for the rest of the run.
    pub(crate) fn stop(&self, dest: &Destination, problem: Problem) -> Problem {
        let (slot, what) = match problem.stop {
            Stop::Nothing => return problem,
            Stop::Chat => (&dest.stopped, format!("chat {}", dest.chat)),
            Stop::Sink => (&self.stopped, self.options.service.name().to_owned()),
        };
        let problem = problem.and(&format!("; no more alerts go to {what} this run"));
        slot.lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| problem.clone());
        problem
    }

    /// What a delivery must get back.
    pub(crate) fn expect(&self) -> Expect {
        match &self.options.service {
            Service::Telegram { .. } => Expect::TelegramOk,
            Service::Discord { url } => Expect::DiscordMessage {
                wait: reqwest::Url::parse(url.expose()).is_ok_and(|u| {
                    u.query_pairs()
                        .any(|(k, v)| k == "wait" && v.eq_ignore_ascii_case("true"))
                }),
            },
            Service::Webhook { .. } => Expect::AnySuccess,
        }
    }

    /// One message to one destination: limited, retried; never to a destination or a sink
    /// whose service refused it this run.
    pub(crate) async fn send(&self, dest: &Destination, body: &Body<'_>) -> Result<(), Problem> {
        let service = &self.options.service;
        let mut attempt = 0;
        loop {
            if let Some(refused) = self.stopped(dest) {
                return Err(refused);
            }
            attempt += 1;
            dest.bucket_room().await;
            dest.limiter.acquire().await;
            if let Some(g) = &self.global {
                g.acquire().await;
            }
            // Another chat's answer may have stopped the sink meanwhile.
            if let Some(refused) = self.stopped(dest) {
                return Err(refused);
            }
            let failure = match self.request(dest, body).send().await {
                Ok(response) => match self.verdict(dest, self.expect(), response).await {
                    Ok(_) => return Ok(()),
                    Err(f) => f,
                },
                Err(e) => transport_failure(e),
            };
            let wait = match service.redact(failure) {
                Failure::Fatal(p) => return Err(self.stop(dest, p)),
                Failure::Retry(_, p) if attempt >= self.options.attempts => {
                    return Err(p.and(&format!(" (after {attempt} attempts)")));
                }
                Failure::Retry(Some(wait), p) if wait > self.options.max_wait => {
                    return Err(p.and(&format!(
                        ": asked to wait {}, more than the {} allowed",
                        humantime::format_duration(wait),
                        humantime::format_duration(self.options.max_wait)
                    )));
                }
                Failure::Retry(Some(wait), _) => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    wait
                }
                Failure::Retry(None, p) => {
                    let backoff = Duration::from_millis(500)
                        .saturating_mul(1 << (attempt - 1).min(6))
                        .min(Duration::from_secs(30));
                    tracing::debug!(sink = service.name(), error = %p.text, "retrying an alert");
                    backoff
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    pub(crate) fn request(&self, dest: &Destination, body: &Body<'_>) -> reqwest::RequestBuilder {
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

    /// Reads an answer: confirmed (its JSON), a wait asked for (429), worth retrying (5xx)
    /// or failed.
    pub(crate) async fn verdict(
        &self,
        dest: &Destination,
        expect: Expect,
        response: reqwest::Response,
    ) -> Result<serde_json::Value, Failure> {
        dest.note_bucket(response.headers());
        let service = &self.options.service;
        let answer = Answer::read(response, expect, self.options.timeout, service.name()).await?;
        service.judge(expect, &dest.chat, &answer)
    }
}

/// A message: one alert or a digest.
pub(crate) enum Body<'a> {
    One(&'a Alert),
    Digest(&'a [Alert]),
}

impl Body<'_> {
    pub(crate) fn text(&self, markup: Markup, o: &AlertOptions) -> String {
        match self {
            Body::One(a) => message::single(a, markup, &o.link),
            Body::Digest(all) => message::digest(all, markup, &o.link, o.digest_top),
        }
    }
}

/// `s` cut to `max_chars`: whole lines while they fit (each line closes its own markup, so
/// a cut never leaves a tag open, which Telegram refuses), then `…`; a first line too long
/// on its own is cut within.
pub(crate) fn truncate(s: String, max_chars: usize) -> String {
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
