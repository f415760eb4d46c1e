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

mod answer;
mod check;
mod client;
mod config;
pub mod message;
mod options;
mod sink;
mod stats;
mod worker;

pub use check::{SinkCheck, check};
pub use client::{client, signature};
pub use config::{AlertFilterConfig, AlertsConfig, DiscordConfig, TelegramConfig, WebhookConfig};
pub use message::{Alert, Markup};
pub use options::{AlertFilter, AlertOptions, DEFAULT_LINK, Service};
pub use sink::AlertSink;
pub use stats::AlertStats;

#[cfg(test)]
mod tests;
