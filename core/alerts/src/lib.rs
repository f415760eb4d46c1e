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
//! An alert is delivered only when the service says so: Telegram a 2xx with its JSON and
//! `"ok": true`; Discord a 204 (a 200 with the message for `?wait=true`); the webhook, the
//! user's own endpoint, any 2xx. Anything else (a captive portal's HTML on 200, a redirect,
//! which is never followed) fails, stays unmarked in the history, and the next run sends it.
//! Answers are read to a bounded prefix within the request's timeout. A service that refuses
//! the credentials (a 401, an unknown token or webhook) stops that sink for the run; a chat
//! it will not deliver to stops that chat. Each kind of failure is warned once per sink (per
//! chat when the chat is the cause), naming what to fix and never a token or webhook URL;
//! the rest are counted (`skinscan_alerts_failed_total{sink,reason}`). [`check`] is
//! `skinscan probe`'s look at a sink: its credentials and chats, without sending a message.
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
use serde::Serialize;
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
    /// `telegram`, `discord` or `webhook`.
    pub fn name(&self) -> &'static str {
        match self {
            Service::Telegram { .. } => "telegram",
            Service::Discord { .. } => "discord",
            Service::Webhook { .. } => "webhook",
        }
    }

    /// What must never be shown: each secret whole, and the part of it an echo could carry
    /// re-encoded (a Telegram token's part after `:`, a Discord webhook's path and token
    /// segment, which percent- or JSON-escaping leave as they are). Longest first.
    fn secrets(&self) -> Vec<&str> {
        let (whole, parts): (Option<&str>, Vec<&str>) = match self {
            Service::Telegram { token, .. } => {
                let t = token.expose();
                (
                    Some(t),
                    t.split_once(':').map(|(_, key)| key).into_iter().collect(),
                )
            }
            Service::Discord { url } => {
                let u = url.expose();
                let path = u
                    .split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                    .and_then(|p| p.split(['?', '#']).next());
                let token = path.and_then(|p| p.trim_end_matches('/').rsplit('/').next());
                (Some(u), path.into_iter().chain(token).collect())
            }
            Service::Webhook { secret, .. } => (secret.as_ref().map(Secret::expose), Vec::new()),
        };
        // A secret whole is masked however short; a part of it only when long enough not to
        // be a word of the message (`1:t`'s `t`).
        let mut out: Vec<&str> = whole
            .into_iter()
            .chain(parts.into_iter().filter(|p| p.len() >= 8))
            .filter(|s| !s.is_empty())
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out
    }

    /// `text` with this service's secrets masked.
    fn mask(&self, text: &str) -> String {
        self.secrets()
            .iter()
            .fold(text.to_owned(), |t, s| t.replace(s, "***"))
    }

    /// `failure` with this service's secrets (should a cause quote them) masked.
    fn redact(&self, failure: Failure) -> Failure {
        match failure {
            Failure::Retry(wait, p) => Failure::Retry(wait, p.masked(self)),
            Failure::Fatal(p) => Failure::Fatal(p.masked(self)),
        }
    }

    /// The first [`QUOTED_BYTES`] of an answer's body, secrets masked (before the cut, so no
    /// part of one survives it), escaped and in quotes, `…` when there was more.
    fn quote(&self, body: &[u8]) -> String {
        if body.is_empty() {
            return "an empty body".to_owned();
        }
        let longest = self.secrets().first().map_or(0, |s| s.len());
        let window = &body[..body.len().min(QUOTED_BYTES + longest)];
        let masked = self.mask(&String::from_utf8_lossy(window));
        let cut = cut_bytes(&masked, QUOTED_BYTES);
        let more = cut.len() < masked.len() || window.len() < body.len();
        format!("\"{}\"{}", escaped(cut, true), if more { "…" } else { "" })
    }

    /// What a service said in words (Telegram's `description`, Discord's `message`), escaped
    /// and cut as a quote is; else the body quoted.
    fn said(&self, json: &serde_json::Value, body: &[u8]) -> String {
        match json["description"]
            .as_str()
            .or_else(|| json["message"].as_str())
        {
            Some(words) => {
                let masked = self.mask(words);
                let cut = cut_bytes(&masked, QUOTED_BYTES);
                let more = if cut.len() < masked.len() { "…" } else { "" };
                format!("{}{more}", escaped(cut, false))
            }
            None => self.quote(body),
        }
    }

    /// Where the credentials of this service are set, for a message saying to fix them.
    fn credentials_hint(&self) -> String {
        match self {
            Service::Telegram { base_url, .. } => {
                let mut hint = "check TELEGRAM_BOT_TOKEN (or alerts.telegram.token): the whole \
                                token @BotFather gave the bot (`123456789:AA...`)"
                    .to_owned();
                if base_url != DEFAULT_TELEGRAM {
                    hint.push_str(&format!(
                        ", and alerts.telegram.base_url ({base_url}): is it the Bot API?"
                    ));
                }
                hint
            }
            Service::Discord { .. } => "check DISCORD_WEBHOOK_URL (or \
                                        alerts.discord.webhook_url): copy the URL again from \
                                        the channel's Integrations > Webhooks"
                .to_owned(),
            // Only the origin: the user's URL may hold a token of its own.
            Service::Webhook { url, .. } => format!(
                "check alerts.webhook.url (at {}) and the shared secret \
                 (SKINSCAN_WEBHOOK_SECRET or alerts.webhook.secret)",
                reqwest::Url::parse(url)
                    .map_or("?".to_owned(), |u| u.origin().ascii_serialization())
            ),
        }
    }

    /// Where the service's address is set, for a message about an answer from elsewhere.
    fn address_hint(&self) -> &'static str {
        match self {
            Service::Telegram { .. } => "alerts.telegram.base_url",
            Service::Discord { .. } => "DISCORD_WEBHOOK_URL (or alerts.discord.webhook_url)",
            Service::Webhook { .. } => "alerts.webhook.url",
        }
    }

    /// Judges an answer: what `expect`ed came back (its JSON, `Null` when it has none), or
    /// why not. Everything but a confirmation fails; `chat` is the Telegram chat asked.
    fn judge(
        &self,
        expect: Expect,
        chat: &str,
        answer: &Answer,
    ) -> Result<serde_json::Value, Failure> {
        let (name, status) = (self.name(), answer.status);
        if status.is_success() {
            return expect
                .confirmed(answer)
                .ok_or_else(|| Failure::Fatal(self.bad_answer(expect, answer)));
        }
        if status.is_redirection() {
            // Only the origin: a relative or echoing location could carry the path, and the
            // path the token.
            let location = answer.location.as_deref().unwrap_or("");
            let origin = reqwest::Url::parse(location).ok().map(|u| u.origin());
            let to = match origin {
                Some(o) if o.is_tuple() => o.ascii_serialization(),
                _ if location.starts_with('/') => "elsewhere on the same server".to_owned(),
                _ => "a location not shown".to_owned(),
            };
            return Err(Failure::Fatal(Problem::new(
                FailReason::Redirect,
                format!(
                    "{name} answered {status} redirecting to {to}: redirects are never followed \
                     (a captive portal or a proxy's login page sends one, and a message is \
                     delivered only when the service itself confirms it): check {}",
                    self.address_hint()
                ),
            )));
        }
        let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        let answered = format!("{status}: {}", self.said(&json, &answer.body));
        let plain = |reason| Problem::new(reason, format!("{name} answered {answered}"));
        match status.as_u16() {
            429 => {
                // Telegram: {"parameters":{"retry_after":3}}; Discord: {"retry_after":1.25}.
                let secs = json["parameters"]["retry_after"]
                    .as_f64()
                    .or_else(|| json["retry_after"].as_f64())
                    .or(answer.retry_after)
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .unwrap_or(1.0);
                Err(Failure::Retry(
                    Some(Duration::from_secs_f64(secs.min(86_400.0))),
                    plain(FailReason::RateLimited),
                ))
            }
            408 | 500..=599 => Err(Failure::Retry(None, plain(FailReason::HttpStatus))),
            code => Err(Failure::Fatal(
                self.refusal(code, chat, &json, &answered)
                    .unwrap_or_else(|| plain(FailReason::HttpStatus)),
            )),
        }
    }

    /// A 2xx that does not confirm: quoted, with what was expected.
    fn bad_answer(&self, expect: Expect, answer: &Answer) -> Problem {
        let longer = if answer.complete {
            ""
        } else {
            " (longer than skinscan reads)"
        };
        Problem::new(
            FailReason::BadAnswer,
            format!(
                "{} answered {} with {}{longer}, not {} (a captive portal, a proxy's login page \
                 or a wrong {} answers like this)",
                self.name(),
                answer.status,
                self.quote(&answer.body),
                expect.wanted(),
                self.address_hint(),
            ),
        )
    }

    /// A status saying the credentials or the chat are refused: what to fix, and what stops.
    fn refusal(
        &self,
        code: u16,
        chat: &str,
        json: &serde_json::Value,
        answered: &str,
    ) -> Option<Problem> {
        use FailReason::{ChatNotFound, Forbidden, NotFound, Unauthorized};
        let name = self.name();
        let hint = self.credentials_hint();
        let refused = |reason, what: &str| {
            Problem::new(reason, format!("{name} {what} ({answered}): {hint}")).stopping(Stop::Sink)
        };
        let chat_ids = "TELEGRAM_CHAT_IDS (or alerts.telegram.chat_ids)";
        let chat_not_found = json["description"]
            .as_str()
            .is_some_and(|d| d.to_ascii_lowercase().contains("chat not found"));
        let problem = match (self, code) {
            (Service::Telegram { .. }, 401) => refused(Unauthorized, "refused the bot token"),
            (Service::Telegram { .. }, 404) => refused(NotFound, "knows no bot by this token"),
            (Service::Telegram { .. }, 403) => Problem::new(
                Forbidden,
                format!(
                    "telegram will not let the bot write to chat {chat} ({answered}): a group or \
                     channel must have the bot in it, a person must have written to it first; \
                     {hint}, and chat {chat} in {chat_ids}"
                ),
            )
            .stopping(Stop::Chat),
            (Service::Telegram { .. }, 400) if chat_not_found => Problem::new(
                ChatNotFound,
                format!(
                    "telegram has no chat {chat} for this bot ({answered}): check the id in \
                     {chat_ids}; a person must have written to the bot first, a group or \
                     channel must have the bot in it"
                ),
            )
            .stopping(Stop::Chat),
            (Service::Telegram { .. }, _) => return None,
            (_, 401) => refused(Unauthorized, "refused the request"),
            (_, 403) => refused(Forbidden, "refused the request"),
            (Service::Discord { .. }, 404) => refused(NotFound, "knows no such webhook"),
            (Service::Webhook { .. }, 404 | 410) => refused(NotFound, "has nothing at this URL"),
            _ => return None,
        };
        Some(problem)
    }
}

/// Telegram's Bot API.
const DEFAULT_TELEGRAM: &str = "https://api.telegram.org";

/// Bytes of an answer quoted in a message.
const QUOTED_BYTES: usize = 200;

/// Bytes of an answer read at most: a confirmation is far smaller (Telegram's echoes the
/// message, 4,096 characters at most); a body that never ends is not waited for.
const BODY_LIMIT: usize = 64 * 1024;

/// `s` with what could forge or hide part of a log line escaped: control characters
/// (`\n`, `\u{1b}`), invisible and direction-changing ones; with `quoted`, `"` and `\` too.
fn escaped(s: &str, quoted: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' if quoted => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{200b}'..='\u{200f}'
                        | '\u{2028}'..='\u{202e}'
                        | '\u{2060}'..='\u{206f}'
                        | '\u{feff}'
                        | '\u{fff9}'..='\u{fffb}'
                ) =>
            {
                out.extend(c.escape_unicode())
            }
            c => out.push(c),
        }
    }
    out
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut at = max;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    &s[..at]
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

/// What `skinscan probe` found of one part of an alert sink (its credentials, a chat),
/// asked without sending a message.
#[derive(Debug, Clone, Serialize)]
pub struct SinkCheck {
    /// `telegram`, `discord` or `webhook`.
    pub sink: &'static str,
    /// What was checked (`bot token (getMe)`, `chat 42 (getChat)`, `webhook (GET)`).
    pub what: String,
    /// False when nothing could be asked without sending an alert (the webhook).
    pub checked: bool,
    /// The answer's status, when one came.
    pub status: Option<u16>,
    /// What the service said it is (`bot @name`, `webhook "name" in channel 1`).
    pub found: Option<String>,
    /// Why it did not check out: what to fix (never a token or a webhook URL).
    pub error: Option<String>,
}

impl SinkCheck {
    /// True when nothing was wrong (a sink not checked included).
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Checks the sink of `options` through `client` without sending a message: Telegram's
/// `getMe` (the token), then `getChat` for each chat; Discord's `GET` of the webhook; the
/// webhook is not asked (its only request is an alert). Judged as deliveries are: a
/// redirect, a 2xx that is not the service's JSON, a refusal each fail with what to fix.
pub async fn check(options: &AlertOptions, client: &reqwest::Client) -> Vec<SinkCheck> {
    let service = &options.service;
    let line = |what: String| SinkCheck {
        sink: service.name(),
        what,
        checked: true,
        status: None,
        found: None,
        error: None,
    };
    let ask =
        |request: reqwest::RequestBuilder, expect: Expect, chat: &str, mut line: SinkCheck| {
            let chat = chat.to_owned();
            async move {
                let judged = match request.timeout(options.timeout).send().await {
                    Ok(response) => {
                        line.status = Some(response.status().as_u16());
                        match Answer::read(response, expect, options.timeout, service.name()).await
                        {
                            Ok(answer) => service.judge(expect, &chat, &answer),
                            Err(f) => Err(f),
                        }
                    }
                    Err(e) => Err(transport_failure(e)),
                };
                match judged.map_err(|f| service.redact(f)) {
                    Ok(json) => (line, Some(json)),
                    Err(Failure::Retry(_, p) | Failure::Fatal(p)) => {
                        line.error = Some(p.text);
                        (line, None)
                    }
                }
            }
        };
    let shown = |v: &serde_json::Value| {
        v.as_str()
            .map(|s| escaped(cut_bytes(&service.mask(s), 100), true))
            .or_else(|| v.as_i64().map(|n| n.to_string()))
    };
    match service {
        Service::Telegram {
            base_url,
            token,
            chat_ids,
        } => {
            let method = |name: &str| {
                format!(
                    "{}/bot{}/{name}",
                    base_url.trim_end_matches('/'),
                    token.expose()
                )
            };
            let (mut me, json) = ask(
                client.get(method("getMe")),
                Expect::TelegramOk,
                "",
                line("bot token (getMe)".to_owned()),
            )
            .await;
            let Some(json) = json else {
                return vec![me];
            };
            let bot = &json["result"];
            me.found = Some(match (shown(&bot["username"]), shown(&bot["id"])) {
                (Some(name), Some(id)) => format!("bot @{name} (id {id})"),
                (Some(name), None) => format!("bot @{name}"),
                _ => "a bot (getMe named none)".to_owned(),
            });
            let mut out = vec![me];
            for chat in chat_ids {
                let (mut found, json) = ask(
                    client.get(format!(
                        "{}?chat_id={}",
                        method("getChat"),
                        percent_encoding::utf8_percent_encode(
                            chat,
                            percent_encoding::NON_ALPHANUMERIC
                        )
                    )),
                    Expect::TelegramOk,
                    chat,
                    line(format!("chat {chat} (getChat)")),
                )
                .await;
                if let Some(json) = json {
                    let c = &json["result"];
                    let kind = shown(&c["type"]).unwrap_or_else(|| "chat".to_owned());
                    let name = ["title", "username", "first_name"]
                        .iter()
                        .find_map(|k| shown(&c[*k]));
                    found.found = Some(match name {
                        Some(name) => format!("{kind} \"{name}\""),
                        None => kind,
                    });
                }
                out.push(found);
            }
            out
        }
        Service::Discord { url } => {
            let (mut hook, json) = ask(
                client.get(url.expose()),
                Expect::DiscordWebhook,
                "",
                line("webhook (GET)".to_owned()),
            )
            .await;
            // Its answer holds the webhook's token: only the name and the channel are shown.
            if let Some(json) = json {
                hook.found = Some(match (shown(&json["name"]), shown(&json["channel_id"])) {
                    (Some(name), Some(channel)) => {
                        format!("webhook \"{name}\" in channel {channel}")
                    }
                    (Some(name), None) => format!("webhook \"{name}\""),
                    (None, Some(channel)) => format!("a webhook in channel {channel}"),
                    (None, None) => "a webhook".to_owned(),
                });
            }
            vec![hook]
        }
        Service::Webhook { .. } => {
            let mut hook = line("endpoint".to_owned());
            hook.checked = false;
            hook.found = Some("not checked: its only request is an alert".to_owned());
            vec![hook]
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
    /// Messages not delivered, by reason: one per message and chat, as
    /// `skinscan_alerts_failed_total{sink,reason}` counts them.
    pub failures: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl AlertStats {
    /// Why the last delivery that failed did.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Messages not delivered, by reason (`bad_answer`, `unauthorized`, ...).
    pub fn failures(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn failed_for(&self, problem: &Problem) {
        *self
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(problem.reason.as_str())
            .or_default() += 1;
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(problem.text.clone());
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
            let reasons = self
                .stats
                .failures()
                .iter()
                .map(|(reason, n)| format!("{reason}={n}"))
                .collect::<Vec<_>>()
                .join(" ");
            tracing::warn!(
                sink = self.name,
                dropped = dropped - self.reported_dropped,
                failed = failed - self.reported_failed,
                failures_this_run = if reasons.is_empty() {
                    "-"
                } else {
                    reasons.as_str()
                },
                last_error = self.stats.last_error().as_deref().unwrap_or("-"),
                "some alerts were not delivered and are not marked as sent: the next run sends them (dropped: the queue was full; failed: refused or given up after retries)"
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
    /// The service will not deliver here (a chat not found): nothing more is sent this run.
    stopped: std::sync::Mutex<Option<Problem>>,
}

impl Destination {
    fn new(chat: String, limiter: RateLimiter) -> Destination {
        Destination {
            chat,
            limiter,
            not_before: std::sync::Mutex::new(None),
            stopped: std::sync::Mutex::new(None),
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
    /// The service refused the credentials: nothing more is sent this run.
    stopped: std::sync::Mutex<Option<Problem>>,
    /// The kinds of failure warned about already (with the chat, when the chat is the
    /// cause): each is warned once a run, the others counted.
    warned: std::sync::Mutex<HashSet<(FailReason, String)>>,
}

/// Why a delivery failed.
#[derive(Debug)]
enum Failure {
    /// Worth another attempt after this long (None: backoff).
    Retry(Option<Duration>, Problem),
    /// Not worth another attempt.
    Fatal(Problem),
}

/// Why a message was not delivered: the `reason` label of `skinscan_alerts_failed_total`
/// (a fixed set, never error text) and the words for a person.
#[derive(Debug, Clone)]
struct Problem {
    reason: FailReason,
    /// What happened and what to fix; never a token or a webhook URL.
    text: String,
    /// What the service refused, so is not asked again this run.
    stop: Stop,
}

impl Problem {
    fn new(reason: FailReason, text: String) -> Problem {
        Problem {
            reason,
            text,
            stop: Stop::Nothing,
        }
    }

    fn stopping(self, stop: Stop) -> Problem {
        Problem { stop, ..self }
    }

    fn masked(self, service: &Service) -> Problem {
        Problem {
            text: service.mask(&self.text),
            ..self
        }
    }

    fn and(self, more: &str) -> Problem {
        Problem {
            text: format!("{}{more}", self.text),
            ..self
        }
    }
}

/// What a refusal stops for the rest of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Nothing: the next message is tried.
    Nothing,
    /// This chat (Telegram's chat not found, or a bot not allowed to write there).
    Chat,
    /// The whole sink (its token or webhook refused).
    Sink,
}

/// Why a message was not delivered, as the metric's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FailReason {
    /// 401: the token, the webhook or its secret refused.
    Unauthorized,
    /// 403: Telegram's bot may not write to the chat; Discord's webhook or the user's
    /// endpoint refused.
    Forbidden,
    /// 404: no bot by this token, no such webhook.
    NotFound,
    /// Telegram's 400 "chat not found".
    ChatNotFound,
    /// A 2xx that is not the service's confirmation: HTML, empty, other JSON, `"ok": false`.
    BadAnswer,
    /// A 3xx, never followed.
    Redirect,
    /// Another error status (a 400 saying something else, 5xx after the attempts).
    HttpStatus,
    /// 429s past the attempts, or asking for a longer wait than allowed.
    RateLimited,
    /// No whole answer: connection, timeout, proxy, a body cut short.
    Transport,
    /// The service's TLS certificate is not trusted.
    Tls,
}

impl FailReason {
    fn as_str(self) -> &'static str {
        match self {
            FailReason::Unauthorized => "unauthorized",
            FailReason::Forbidden => "forbidden",
            FailReason::NotFound => "not_found",
            FailReason::ChatNotFound => "chat_not_found",
            FailReason::BadAnswer => "bad_answer",
            FailReason::Redirect => "redirect",
            FailReason::HttpStatus => "http_status",
            FailReason::RateLimited => "rate_limited",
            FailReason::Transport => "transport",
            FailReason::Tls => "tls",
        }
    }
}

/// What a request must get back to have done its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Telegram: a 2xx whose body is the Bot API's JSON with `"ok": true` (the boolean).
    TelegramOk,
    /// Discord's execute-webhook: 204; with `?wait=true`, a 200 and the message (JSON with
    /// an `id`).
    DiscordMessage {
        /// The URL asks for the message back.
        wait: bool,
    },
    /// Discord's `GET` of a webhook: a 200 and the webhook (JSON with an `id`).
    DiscordWebhook,
    /// The user's own endpoint: any 2xx.
    AnySuccess,
}

impl Expect {
    /// The JSON of a 2xx that confirms (`Null` for one without a body), or `None`.
    fn confirmed(self, answer: &Answer) -> Option<serde_json::Value> {
        let json = || serde_json::from_slice::<serde_json::Value>(&answer.body).ok();
        let has_id = |v: &serde_json::Value| v["id"].as_str().is_some_and(|id| !id.is_empty());
        match (self, answer.status.as_u16()) {
            (Expect::AnySuccess, _) => Some(serde_json::Value::Null),
            (Expect::TelegramOk, _) => json().filter(|v| v["ok"] == serde_json::Value::Bool(true)),
            (Expect::DiscordMessage { .. }, 204) => Some(serde_json::Value::Null),
            (Expect::DiscordMessage { wait: true }, 200) | (Expect::DiscordWebhook, 200) => {
                json().filter(has_id)
            }
            _ => None,
        }
    }

    /// The confirmation expected, in words.
    fn wanted(self) -> &'static str {
        match self {
            Expect::TelegramOk => "the Bot API's JSON with \"ok\": true",
            Expect::DiscordMessage { wait: false } => "Discord's 204",
            Expect::DiscordMessage { wait: true } => {
                "Discord's 200 with the message (the URL has ?wait=true)"
            }
            Expect::DiscordWebhook => "Discord's 200 with the webhook",
            Expect::AnySuccess => "a 2xx",
        }
    }

    /// Whether a confirmation is in the body (else a 2xx is not read at all).
    fn reads_body(self, status: reqwest::StatusCode) -> bool {
        match self {
            Expect::AnySuccess => false,
            Expect::DiscordMessage { .. } => status.as_u16() != 204,
            Expect::TelegramOk | Expect::DiscordWebhook => true,
        }
    }
}

/// An answer as judged: its status, the headers that matter, and a bounded prefix of its
/// body.
#[derive(Debug)]
struct Answer {
    status: reqwest::StatusCode,
    /// `Location` (a 3xx).
    location: Option<String>,
    /// `Retry-After` in seconds (a 429).
    retry_after: Option<f64>,
    /// At most [`BODY_LIMIT`] bytes.
    body: Vec<u8>,
    /// The body ended within the limit.
    complete: bool,
}

impl Answer {
    /// Reads `response`: the body only when it matters (a confirmation in it, or an error's
    /// words), at most [`BODY_LIMIT`] bytes, within `timeout`. A 2xx whose body does not
    /// arrive fails as a transport failure (worth another attempt).
    async fn read(
        mut response: reqwest::Response,
        expect: Expect,
        timeout: Duration,
        service: &'static str,
    ) -> Result<Answer, Failure> {
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut answer = Answer {
            status,
            location: header("location"),
            retry_after: header("retry-after").and_then(|v| v.trim().parse().ok()),
            body: Vec::new(),
            complete: true,
        };
        let wanted = if status.is_success() {
            expect.reads_body(status)
        } else {
            !status.is_redirection()
        };
        if !wanted {
            return Ok(answer);
        }
        let read = tokio::time::timeout(timeout, async {
            while let Some(chunk) = response.chunk().await? {
                let room = BODY_LIMIT - answer.body.len();
                answer
                    .body
                    .extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    answer.complete = false;
                    break;
                }
            }
            Ok::<_, reqwest::Error>(())
        })
        .await;
        let cut = match read {
            Ok(Ok(())) => return Ok(answer),
            Ok(Err(e)) => e.without_url().to_string(),
            Err(_) => format!("not within {}", humantime::format_duration(timeout)),
        };
        if !status.is_success() {
            // An error's words are a courtesy: what came is enough.
            return Ok(answer);
        }
        Err(Failure::Retry(
            None,
            Problem::new(
                FailReason::Transport,
                format!("{service} answered {status} but its body did not arrive in full: {cut}"),
            ),
        ))
    }
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
        return Failure::Fatal(Problem::new(
            FailReason::Tls,
            format!(
                "the TLS certificate of {origin} is not trusted ({c:?}); TLS is always verified: \
             if a proxy or your network signs with its own CA, set market.ca_file to that CA \
             (PEM; alerts trust the same roots as the market)"
            ),
        ));
    }
    let mut text = format!("{origin}: {}", e.without_url());
    for cause in causes {
        if !text.ends_with(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    Failure::Retry(None, Problem::new(FailReason::Transport, text))
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
            stopped: std::sync::Mutex::new(None),
            warned: std::sync::Mutex::new(HashSet::new()),
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
    /// counted and, the first time of its kind, warned about; sending again would repeat it
    /// to the others).
    async fn send_everywhere(&self, body: &Body<'_>) -> bool {
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
    fn stopped(&self, dest: &Destination) -> Option<Problem> {
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
    fn stop(&self, dest: &Destination, problem: Problem) -> Problem {
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
    fn expect(&self) -> Expect {
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
    async fn send(&self, dest: &Destination, body: &Body<'_>) -> Result<(), Problem> {
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

    /// Reads an answer: confirmed (its JSON), a wait asked for (429), worth retrying (5xx)
    /// or failed.
    async fn verdict(
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

/// The HTTP client alerts use (and `skinscan probe`'s sink checks): redirects not followed, TLS verified against the same roots as the market (webpki,
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
        // A redirect is an answer, never followed: to a login page it would "deliver".
        .redirect(reqwest::redirect::Policy::none())
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

    const TOKEN: &str = "123456:AAHsecretPartOfTheToken_x-9";

    fn telegram() -> Service {
        Service::Telegram {
            base_url: DEFAULT_TELEGRAM.to_owned(),
            token: Secret::new(TOKEN),
            chat_ids: vec!["42".to_owned()],
        }
    }

    fn discord(url: &str) -> Service {
        Service::Discord {
            url: Secret::new(url),
        }
    }

    fn answer(status: u16, body: &[u8]) -> Answer {
        Answer {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            location: None,
            retry_after: None,
            body: body.to_vec(),
            complete: true,
        }
    }

    /// The failure's reason, what it stops, whether it is retried, and its text.
    fn failed(service: &Service, expect: Expect, a: &Answer) -> (&'static str, Stop, bool, String) {
        match service
            .judge(expect, "42", a)
            .map(|_| ())
            .map_err(|f| service.redact(f))
        {
            Ok(()) => panic!("{} was taken as delivered", a.status),
            Err(Failure::Retry(_, p)) => (p.reason.as_str(), p.stop, true, p.text),
            Err(Failure::Fatal(p)) => (p.reason.as_str(), p.stop, false, p.text),
        }
    }

    #[test]
    fn telegram_delivers_only_on_a_2xx_with_its_json_and_ok_true() {
        let t = telegram();
        let ok = |status: u16, body: &[u8]| {
            t.judge(Expect::TelegramOk, "42", &answer(status, body))
                .is_ok()
        };
        // JSON is JSON whatever its content type says (the judge never looks at it).
        assert!(ok(200, br#"{"ok":true,"result":{"message_id":7}}"#));
        assert!(ok(200, br#" {"ok": true} "#));
        for body in [
            &b"<!DOCTYPE html><html><title>Sign in to the Wi-Fi</title></html>"[..],
            b"",
            br#"{"ok":false}"#,
            br#"{"ok":"true"}"#,
            br#"{"ok":1}"#,
            br#"{"result":{}}"#,
            br#"[{"ok":true}]"#,
            b"true",
            br#"{"ok":true"#,
        ] {
            let (reason, stop, retried, text) = failed(&t, Expect::TelegramOk, &answer(200, body));
            assert_eq!(
                (reason, stop, retried),
                ("bad_answer", Stop::Nothing, false),
                "{text}"
            );
            assert!(text.starts_with("telegram answered 200 OK with "), "{text}");
            assert!(
                text.contains(r#"not the Bot API's JSON with "ok": true"#),
                "{text}"
            );
        }
        let (.., text) = failed(&t, Expect::TelegramOk, &answer(201, b""));
        assert!(
            text.starts_with("telegram answered 201 Created with an empty body, "),
            "{text}"
        );
    }

    #[test]
    fn a_quote_is_the_first_200_bytes_escaped_with_no_part_of_a_secret() {
        let t = telegram();
        // The token straddles the 200th byte: masked whole before the cut.
        let mut body = "a".repeat(190).into_bytes();
        body.extend_from_slice(format!("/bot{TOKEN}/sendMessage").as_bytes());
        let quoted = t.quote(&body);
        assert_eq!(quoted, format!("\"{}/bot***/se\"…", "a".repeat(190)));
        // Only the part after the colon (an echo may encode the colon): still masked.
        let quoted = t.quote(b"Cannot POST /bot123456%3AAAHsecretPartOfTheToken_x-9/sendMessage");
        assert_eq!(quoted, r#""Cannot POST /bot123456%3A***/sendMessage""#);
        // Control characters and quotes cannot forge a log line.
        assert_eq!(
            t.quote(b"<p>\"x\"</p>\n\x1b[31mred\r\n"),
            r#""<p>\"x\"</p>\n\u{1b}[31mred\r\n""#
        );
        // Nor can text that turns itself around or hides.
        assert_eq!(
            t.quote("a\u{202e}b\u{200b}c".as_bytes()),
            r#""a\u{202e}b\u{200b}c""#
        );
        // Not UTF-8: replaced, not refused.
        assert_eq!(t.quote(&[0xff, b'o', b'k']), "\"\u{fffd}ok\"");
        assert_eq!(t.quote(b""), "an empty body");
        let long = t.quote(&[b'x'; 1_000]);
        assert_eq!(long, format!("\"{}\"…", "x".repeat(200)));
        // A Discord webhook's path and token, echoed with JSON's escaped slashes.
        let d = discord("https://discord.com/api/webhooks/123/TOKENtokenTOKEN?wait=true");
        assert_eq!(
            d.quote(br#"{"url":"https:\/\/discord.com\/api\/webhooks\/123\/TOKENtokenTOKEN"}"#),
            r#""{\"url\":\"https:\\/\\/discord.com\\/api\\/webhooks\\/123\\/***\"}""#
        );
    }

    #[test]
    fn telegram_refusals_name_what_to_fix_and_what_stops() {
        let t = telegram();
        let status =
            |code: u16, body: &str| failed(&t, Expect::TelegramOk, &answer(code, body.as_bytes()));
        let (reason, stop, retried, text) = status(
            401,
            r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
        );
        assert_eq!((reason, stop, retried), ("unauthorized", Stop::Sink, false));
        assert_eq!(
            text,
            "telegram refused the bot token (401 Unauthorized: Unauthorized): check \
             TELEGRAM_BOT_TOKEN (or alerts.telegram.token): the whole token @BotFather gave the \
             bot (`123456789:AA...`)"
        );
        let (reason, stop, _, text) = status(
            404,
            r#"{"ok":false,"error_code":404,"description":"Not Found"}"#,
        );
        assert_eq!((reason, stop), ("not_found", Stop::Sink));
        assert!(text.starts_with("telegram knows no bot by this token (404 Not Found: Not Found): check TELEGRAM_BOT_TOKEN"), "{text}");
        let (reason, stop, _, text) = status(
            403,
            r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
        );
        assert_eq!((reason, stop), ("forbidden", Stop::Chat));
        assert!(
            text.contains(
                "write to chat 42 (403 Forbidden: Forbidden: bot was blocked by the user)"
            ),
            "{text}"
        );
        assert!(
            text.contains("TELEGRAM_BOT_TOKEN") && text.contains("TELEGRAM_CHAT_IDS"),
            "{text}"
        );
        let (reason, stop, _, text) = status(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
        );
        assert_eq!((reason, stop), ("chat_not_found", Stop::Chat));
        assert!(
            text.starts_with("telegram has no chat 42 for this bot (400 Bad Request: Bad Request: chat not found): check the id in TELEGRAM_CHAT_IDS (or alerts.telegram.chat_ids)"),
            "{text}"
        );
        // Another 400: a failed message, quoted; no stop.
        let (reason, stop, retried, text) = status(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities"}"#,
        );
        assert_eq!(
            (reason, stop, retried),
            ("http_status", Stop::Nothing, false)
        );
        assert_eq!(
            text,
            "telegram answered 400 Bad Request: Bad Request: can't parse entities"
        );
        // An HTML 404 from something that is not Telegram: the token, and base_url when set.
        let elsewhere = Service::Telegram {
            base_url: "http://portal.example".to_owned(),
            token: Secret::new(TOKEN),
            chat_ids: vec!["42".to_owned()],
        };
        let (.., text) = failed(
            &elsewhere,
            Expect::TelegramOk,
            &answer(404, b"<h1>Not here</h1>"),
        );
        assert!(
            text.contains(r#"(404 Not Found: "<h1>Not here</h1>")"#),
            "{text}"
        );
        assert!(
            text.contains(
                "and alerts.telegram.base_url (http://portal.example): is it the Bot API?"
            ),
            "{text}"
        );
    }

    #[test]
    fn rate_limits_and_server_errors_are_retried() {
        let t = telegram();
        let limited = answer(
            429,
            br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#,
        );
        match t.judge(Expect::TelegramOk, "42", &limited) {
            Err(Failure::Retry(Some(wait), p)) => {
                assert_eq!(
                    (wait, p.reason.as_str()),
                    (Duration::from_secs(3), "rate_limited")
                )
            }
            other => panic!("{other:?}"),
        }
        let (reason, _, retried, text) =
            failed(&t, Expect::TelegramOk, &answer(502, b"Bad Gateway"));
        assert_eq!((reason, retried), ("http_status", true));
        assert_eq!(text, r#"telegram answered 502 Bad Gateway: "Bad Gateway""#);
    }

    #[test]
    fn a_redirect_is_never_delivered_and_shows_only_where_it_went() {
        let mut a = answer(302, b"");
        a.location = Some(format!(
            "https://login.example/portal?next=/bot{TOKEN}/sendMessage"
        ));
        let (reason, stop, retried, text) = failed(&telegram(), Expect::TelegramOk, &a);
        assert_eq!((reason, stop, retried), ("redirect", Stop::Nothing, false));
        assert!(text.starts_with("telegram answered 302 Found redirecting to https://login.example: redirects are never followed"), "{text}");
        assert!(text.ends_with("check alerts.telegram.base_url"), "{text}");
        a.location = Some(format!("/bot{TOKEN}/login"));
        let (.., text) = failed(&telegram(), Expect::AnySuccess, &a);
        assert!(
            text.contains("redirecting to elsewhere on the same server"),
            "{text}"
        );
        assert!(!text.contains("secretPart"), "{text}");
        for odd in [None, Some("javascript:alert(1)"), Some("login.html")] {
            a.location = odd.map(str::to_owned);
            let (.., text) = failed(&telegram(), Expect::TelegramOk, &a);
            assert!(
                text.contains("302 Found redirecting to a location not shown: "),
                "{text}"
            );
        }
        let hook = Service::Webhook {
            url: "https://hooks.example/in".to_owned(),
            secret: None,
            rate: Rate::per_second(1.0).unwrap(),
        };
        let (reason, ..) = failed(&hook, Expect::AnySuccess, &answer(301, b""));
        assert_eq!(reason, "redirect");
        // The webhook is the user's own: any 2xx, whatever its body.
        assert!(
            hook.judge(Expect::AnySuccess, "", &answer(200, b"<html>"))
                .is_ok()
        );
        assert!(
            hook.judge(Expect::AnySuccess, "", &answer(202, b""))
                .is_ok()
        );
    }

    #[test]
    fn discord_delivers_on_204_or_the_message_when_it_waits() {
        let d = discord("https://discord.com/api/webhooks/1/TOKENtokenTOKEN");
        let plain = Expect::DiscordMessage { wait: false };
        let wait = Expect::DiscordMessage { wait: true };
        let ok =
            |e: Expect, status: u16, body: &[u8]| d.judge(e, "", &answer(status, body)).is_ok();
        assert!(ok(plain, 204, b""));
        assert!(ok(
            wait,
            200,
            br#"{"id":"1234","channel_id":"99","content":"x"}"#
        ));
        assert!(ok(wait, 204, b""));
        for (e, status, body) in [
            (plain, 200, &b"<html>login</html>"[..]),
            (plain, 200, br#"{"id":"1234"}"#),
            (wait, 200, b"<html>login</html>"),
            (wait, 200, br#"{"id":""}"#),
            (wait, 200, br#"{"id":1234}"#),
            (plain, 201, b""),
        ] {
            let (reason, stop, retried, text) = failed(&d, e, &answer(status, body));
            assert_eq!(
                (reason, stop, retried),
                ("bad_answer", Stop::Nothing, false),
                "{text}"
            );
            assert!(text.contains("DISCORD_WEBHOOK_URL"), "{text}");
        }
        for (code, reason) in [
            (401, "unauthorized"),
            (403, "forbidden"),
            (404, "not_found"),
        ] {
            let (r, stop, _, text) = failed(
                &d,
                plain,
                &answer(code, br#"{"message": "Unknown Webhook", "code": 10015}"#),
            );
            assert_eq!((r, stop), (reason, Stop::Sink), "{text}");
            assert!(
                text.contains(
                    ": Unknown Webhook): check DISCORD_WEBHOOK_URL (or alerts.discord.webhook_url)"
                ),
                "{text}"
            );
            assert!(!text.contains("TOKENtoken"), "{text}");
        }
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
