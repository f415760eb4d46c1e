//! How each service's answer is judged: delivered only when the service says so (Telegram a
//! 2xx with its JSON and `"ok": true`, Discord a 204 or its message, the webhook any 2xx),
//! read to a bounded prefix, quoted escaped and with every secret masked; what a refusal
//! means (stop the sink, stop a chat, fail one message) and the hint that names what to fix.

use skinscan_net::secret::Secret;
use std::time::Duration;

use crate::options::{DEFAULT_TELEGRAM, Service};

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
    pub(crate) fn secrets(&self) -> Vec<&str> {
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
    pub(crate) fn mask(&self, text: &str) -> String {
        self.secrets()
            .iter()
            .fold(text.to_owned(), |t, s| t.replace(s, "***"))
    }

    /// `failure` with this service's secrets (should a cause quote them) masked.
    pub(crate) fn redact(&self, failure: Failure) -> Failure {
        match failure {
            Failure::Retry(wait, p) => Failure::Retry(wait, p.masked(self)),
            Failure::Fatal(p) => Failure::Fatal(p.masked(self)),
        }
    }

    /// The first [`QUOTED_BYTES`] of an answer's body, secrets masked (before the cut, so no
    /// part of one survives it), escaped and in quotes, `…` when there was more.
    pub(crate) fn quote(&self, body: &[u8]) -> String {
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
    pub(crate) fn said(&self, json: &serde_json::Value, body: &[u8]) -> String {
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
    pub(crate) fn credentials_hint(&self) -> String {
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
    pub(crate) fn address_hint(&self) -> &'static str {
        match self {
            Service::Telegram { .. } => "alerts.telegram.base_url",
            Service::Discord { .. } => "DISCORD_WEBHOOK_URL (or alerts.discord.webhook_url)",
            Service::Webhook { .. } => "alerts.webhook.url",
        }
    }

    /// Judges an answer: what `expect`ed came back (its JSON, `Null` when it has none), or
    /// why not. Everything but a confirmation fails; `chat` is the Telegram chat asked.
    pub(crate) fn judge(
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
    pub(crate) fn bad_answer(&self, expect: Expect, answer: &Answer) -> Problem {
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
    pub(crate) fn refusal(
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

/// Bytes of an answer quoted in a message.
pub(crate) const QUOTED_BYTES: usize = 200;

/// Bytes of an answer read at most: a confirmation is far smaller (Telegram's echoes the
/// message, 4,096 characters at most); a body that never ends is not waited for.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// `s` with what could forge or hide part of a log line escaped: control characters
/// (`\n`, `\u{1b}`), invisible and direction-changing ones; with `quoted`, `"` and `\` too.
pub(crate) fn escaped(s: &str, quoted: bool) -> String {
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
pub(crate) fn cut_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut at = max;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    &s[..at]
}

/// Why a delivery failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Worth another attempt after this long (None: backoff).
    Retry(Option<Duration>, Problem),
    /// Not worth another attempt.
    Fatal(Problem),
}

/// Why a message was not delivered: the `reason` label of `skinscan_alerts_failed_total`
/// (a fixed set, never error text) and the words for a person.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) reason: FailReason,
    /// What happened and what to fix; never a token or a webhook URL.
    pub(crate) text: String,
    /// What the service refused, so is not asked again this run.
    pub(crate) stop: Stop,
}

impl Problem {
    pub(crate) fn new(reason: FailReason, text: String) -> Problem {
        Problem {
            reason,
            text,
            stop: Stop::Nothing,
        }
    }

    pub(crate) fn stopping(self, stop: Stop) -> Problem {
        Problem { stop, ..self }
    }

    pub(crate) fn masked(self, service: &Service) -> Problem {
        Problem {
            text: service.mask(&self.text),
            ..self
        }
    }

    pub(crate) fn and(self, more: &str) -> Problem {
        Problem {
            text: format!("{}{more}", self.text),
            ..self
        }
    }
}

/// What a refusal stops for the rest of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Nothing: the next message is tried.
    Nothing,
    /// This chat (Telegram's chat not found, or a bot not allowed to write there).
    Chat,
    /// The whole sink (its token or webhook refused).
    Sink,
}

/// Why a message was not delivered, as the metric's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FailReason {
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
    pub(crate) fn as_str(self) -> &'static str {
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
pub(crate) enum Expect {
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
    pub(crate) fn confirmed(self, answer: &Answer) -> Option<serde_json::Value> {
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
    pub(crate) fn wanted(self) -> &'static str {
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
    pub(crate) fn reads_body(self, status: reqwest::StatusCode) -> bool {
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
pub(crate) struct Answer {
    pub(crate) status: reqwest::StatusCode,
    /// `Location` (a 3xx).
    pub(crate) location: Option<String>,
    /// `Retry-After` in seconds (a 429).
    pub(crate) retry_after: Option<f64>,
    /// At most [`BODY_LIMIT`] bytes.
    pub(crate) body: Vec<u8>,
    /// The body ended within the limit.
    pub(crate) complete: bool,
}

impl Answer {
    /// Reads `response`: the body only when it matters (a confirmation in it, or an error's
    /// words), at most [`BODY_LIMIT`] bytes, within `timeout`. A 2xx whose body does not
    /// arrive fails as a transport failure (worth another attempt).
    pub(crate) async fn read(
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
pub(crate) fn transport_failure(e: reqwest::Error) -> Failure {
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
pub(crate) fn rustls_error<'a>(
    cause: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
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
