//! `[alerts]` and its `[alerts.telegram]`, `[alerts.discord]`, `[alerts.webhook]` tables:
//! the sections with their defaults, and the check that turns them into the sinks'
//! [`AlertOptions`](crate::options::AlertOptions). A service is on once its secret is set.

use serde::{Deserialize, Serialize};
use skinscan_net::limit::Rate;
use skinscan_net::secret::Secret;
use skinscan_settings::{Invalid, invalid};

/// `[alerts]`: shared settings and one table per service. A service is on once its secret
/// (Telegram's token and chats, Discord's webhook URL, the webhook's URL) is set.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// The listing link: `{game}`, `{title}` and `{offer}` are filled in.
    pub link: String,
    /// `[alerts.telegram]`.
    pub telegram: TelegramConfig,
    /// `[alerts.discord]`.
    pub discord: DiscordConfig,
    /// `[alerts.webhook]`.
    pub webhook: WebhookConfig,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            link: crate::options::DEFAULT_LINK.to_owned(),
            telegram: TelegramConfig::default(),
            discord: DiscordConfig::default(),
            webhook: WebhookConfig::default(),
        }
    }
}

/// What a service is sent, and how much it may queue.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertFilterConfig {
    /// Only these games (plugin names); empty: all.
    pub games: Vec<String>,
    /// Net profit at least this many dollars.
    pub min_profit: f64,
    /// ROI at least this many percent.
    pub min_roi: f64,
    /// Only these levels (boost, standard, medium, advanced, pro); empty: any.
    pub levels: Vec<String>,
    /// Events sent: `new` (a cycle's finds count as new), `changed`, `gone`.
    pub events: Vec<String>,
    /// A backlog of this many alerts or more goes as one digest (0: never); unset: 5 for
    /// Telegram and Discord, and never for the webhook (one POST per event), which refuses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_at: Option<u32>,
    /// Alerts queued while the service is slow or down; more are dropped, counted.
    pub queue: u32,
}

impl Default for AlertFilterConfig {
    fn default() -> Self {
        AlertFilterConfig {
            games: Vec::new(),
            min_profit: 0.0,
            min_roi: 0.0,
            levels: Vec::new(),
            events: vec!["new".to_owned()],
            digest_at: None,
            queue: 1_000,
        }
    }
}

/// `[alerts.telegram]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramConfig {
    /// The bot's token from @BotFather (prefer `TELEGRAM_BOT_TOKEN`).
    pub token: Option<Secret>,
    /// Chat ids to send to (`TELEGRAM_CHAT_IDS`, comma-separated).
    pub chat_ids: Vec<String>,
    /// The Bot API's address.
    pub base_url: String,
    /// What is sent.
    #[serde(flatten)]
    pub filter: AlertFilterConfig,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            token: None,
            chat_ids: Vec::new(),
            base_url: "https://api.telegram.org".to_owned(),
            filter: AlertFilterConfig::default(),
        }
    }
}

/// `[alerts.discord]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// The channel's webhook URL (a secret; prefer `DISCORD_WEBHOOK_URL`).
    pub webhook_url: Option<Secret>,
    /// What is sent.
    #[serde(flatten)]
    pub filter: AlertFilterConfig,
}

/// `[alerts.webhook]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Where each alert is POSTed as JSON.
    pub url: Option<String>,
    /// Signs each body (`X-Skinscan-Signature: sha256=<hex HMAC-SHA256>`); prefer
    /// `SKINSCAN_WEBHOOK_SECRET`.
    pub secret: Option<Secret>,
    /// Requests at most, like `"10/s"`.
    pub rate: String,
    /// What is sent.
    #[serde(flatten)]
    pub filter: AlertFilterConfig,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            url: None,
            secret: None,
            rate: "10/s".to_owned(),
            filter: AlertFilterConfig::default(),
        }
    }
}

impl AlertFilterConfig {
    fn options(
        &self,
        section: &str,
        service: crate::options::Service,
        link: &str,
    ) -> Result<crate::options::AlertOptions, Invalid> {
        let key = |k: &str| format!("alerts.{section}.{k}");
        let finite = |k: &str, v: f64| {
            if v.is_finite() && (0.0..=1e9).contains(&v) {
                Ok(v)
            } else {
                Err(invalid(
                    key(k),
                    format!("must be a number from 0 up, got {v}"),
                ))
            }
        };
        let min_profit = finite("min_profit", self.min_profit)?;
        let min_roi = finite("min_roi", self.min_roi)?;
        let levels = self
            .levels
            .iter()
            .map(|l| {
                skinscan_sdk::Level::parse(l).ok_or_else(|| {
                    invalid(
                        key("levels"),
                        format!(
                            "{l:?} is not a level: use boost, standard, medium, advanced or pro"
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let events = self
            .events
            .iter()
            .map(|e| match e.as_str() {
                "new" => Ok(skinscan_report::WatchKind::New),
                "changed" => Ok(skinscan_report::WatchKind::Changed),
                "gone" => Ok(skinscan_report::WatchKind::Gone),
                other => Err(invalid(
                    key("events"),
                    format!("{other:?} is not an event: use new, changed or gone"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.queue == 0 {
            return Err(invalid(key("queue"), "must be at least 1".to_owned()));
        }
        let mut o = crate::options::AlertOptions::new(service);
        o.filter = crate::options::AlertFilter {
            games: self.games.clone(),
            min_profit_cents: (min_profit * 100.0).round() as i64,
            min_roi_bps: (min_roi * 100.0).round() as i64,
            levels,
            events,
        };
        o.digest_at = self
            .digest_at
            .unwrap_or(if section == "webhook" { 0 } else { 5 }) as usize;
        o.queue = self.queue as usize;
        o.link = link.to_owned();
        Ok(o)
    }
}

impl AlertsConfig {
    /// The alert sinks configured, checked.
    pub fn options(&self) -> Result<Vec<crate::options::AlertOptions>, Invalid> {
        use crate::options::Service;
        let mut out = Vec::new();
        if !self.link.starts_with("https://") && !self.link.starts_with("http://") {
            return Err(invalid(
                "alerts.link",
                "must be an http(s) URL template".to_owned(),
            ));
        }
        let base = |key: &str, url: &str| {
            let url = url.trim().trim_end_matches('/');
            if url.starts_with("https://") || url.starts_with("http://") {
                Ok(url.to_owned())
            } else {
                Err(invalid(
                    key,
                    format!("must be an http:// or https:// URL, got {url:?}"),
                ))
            }
        };
        let t = &self.telegram;
        match (&t.token, t.chat_ids.is_empty()) {
            (Some(token), false) if !token.is_empty() => {
                if let Some(bad) = t.chat_ids.iter().find(|c| {
                    let c = c.trim();
                    !(c.starts_with('@') && c.len() > 1
                        || c.strip_prefix('-')
                            .unwrap_or(c)
                            .chars()
                            .all(|d| d.is_ascii_digit())
                            && !c.trim_start_matches('-').is_empty())
                }) {
                    return Err(invalid(
                        "alerts.telegram.chat_ids",
                        format!(
                            "{bad:?} is not a chat id: use the number (negative for groups) or @channelname"
                        ),
                    ));
                }
                out.push(t.filter.options(
                    "telegram",
                    Service::Telegram {
                        base_url: base("alerts.telegram.base_url", &t.base_url)?,
                        token: token.clone(),
                        chat_ids: t.chat_ids.iter().map(|c| c.trim().to_owned()).collect(),
                    },
                    &self.link,
                )?);
            }
            (Some(token), true) if !token.is_empty() => {
                return Err(invalid(
                    "alerts.telegram.chat_ids",
                    "a token is set but no chat: add chat_ids (or TELEGRAM_CHAT_IDS)".to_owned(),
                ));
            }
            (None, false) => {
                return Err(invalid(
                    "alerts.telegram.token",
                    "chat ids are set but no token: set TELEGRAM_BOT_TOKEN (or token)".to_owned(),
                ));
            }
            _ => {}
        }
        if let Some(url) = self.discord.webhook_url.as_ref().filter(|u| !u.is_empty()) {
            if !url.expose().starts_with("https://") && !url.expose().starts_with("http://") {
                return Err(invalid(
                    "alerts.discord.webhook_url",
                    "must be the webhook's https:// URL (it is not shown: it holds a secret)"
                        .to_owned(),
                ));
            }
            out.push(self.discord.filter.options(
                "discord",
                Service::Discord { url: url.clone() },
                &self.link,
            )?);
        }
        let w = &self.webhook;
        if let Some(url) = w.url.as_deref().filter(|u| !u.trim().is_empty()) {
            let rate: Rate = w
                .rate
                .parse()
                .map_err(|e: skinscan_net::limit::RateError| {
                    invalid("alerts.webhook.rate", e.to_string())
                })?;
            if w.filter.digest_at.is_some_and(|n| n > 0) {
                return Err(invalid(
                    "alerts.webhook.digest_at",
                    "a webhook gets one POST per event, never a digest (digests are for \
                     phones): remove it"
                        .to_owned(),
                ));
            }
            out.push(w.filter.options(
                "webhook",
                Service::Webhook {
                    url: base("alerts.webhook.url", url)?,
                    secret: w.secret.clone().filter(|s| !s.is_empty()),
                    rate,
                },
                &self.link,
            )?);
        }
        Ok(out)
    }
}
