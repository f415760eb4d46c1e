//! `skinscan probe`'s look at a sink: its credentials and chats, without sending a message
//! (Telegram `getMe` and `getChat`, a Discord webhook's `GET`).

use serde::Serialize;

use crate::answer::{Answer, Expect, Failure, cut_bytes, escaped, transport_failure};
use crate::options::{AlertOptions, Service};

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
