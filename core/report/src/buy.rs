//! What the buyer did with an opportunity ([`BuyEvent`]): bought, refused by DMarket (with
//! its reason), or sent with an outcome unknown (then how the account settled it). Every
//! sink gets it as [`crate::Event::Buy`].

use std::time::{Duration, SystemTime};

use skinscan_sdk::Opportunity;

/// The kind of a buy event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuyKind {
    /// Bought: DMarket said so, or the balance proved it (or, in a dry run, it would have
    /// been sent).
    Bought,
    /// DMarket refused it; nothing spent.
    Refused,
    /// The answer was lost or unreadable: `resolution` says what the account showed.
    Unknown,
}

impl BuyKind {
    /// `bought`, `buy_refused`, `buy_unknown`: the event's name in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            BuyKind::Bought => "bought",
            BuyKind::Refused => "buy_refused",
            BuyKind::Unknown => "buy_unknown",
        }
    }
}

/// One buy's outcome.
#[derive(Debug, Clone)]
pub struct BuyEvent {
    /// What happened.
    pub kind: BuyKind,
    /// `live` or `dry-run`.
    pub mode: &'static str,
    /// What was bought, at the price sent.
    pub opportunity: Opportunity,
    /// DMarket's reason (refused), or what was unclear (unknown).
    pub reason: Option<String>,
    /// For `buy_unknown`: the ledger's state after reading the account (`bought`,
    /// `not_bought`, or `unknown`: still counted as spent).
    pub resolution: Option<&'static str>,
    /// When the outcome was known.
    pub at: SystemTime,
    /// From the listing's time to the outcome.
    pub since_listed: Option<Duration>,
    /// The balance read after, in cents.
    pub balance_after_cents: Option<i64>,
}

impl BuyEvent {
    /// The event as one JSON object (the JSON, JSON Lines and webhook outputs).
    pub fn to_json(&self) -> serde_json::Value {
        let o = &self.opportunity;
        serde_json::json!({
            "event": self.kind.as_str(),
            "mode": self.mode,
            "game": o.game.as_str(),
            "offer_id": o.offer_id,
            "item_id": o.item_id,
            "title": o.title,
            "price_cents": o.buy_price.cents(),
            "sell_cents": o.sell_price.cents(),
            "net_profit_cents": o.net_profit.cents(),
            "strategy": o.strategy.as_str(),
            "reason": self.reason,
            "resolution": self.resolution,
            "at": humantime_rfc3339(self.at),
            "since_listed_ms": self.since_listed.map(|d| d.as_millis() as u64),
            "balance_after_cents": self.balance_after_cents,
        })
    }

    /// One line for people.
    pub fn line(&self) -> String {
        let o = &self.opportunity;
        let mut s = format!(
            "{}{} [{}] {} at {} (net {})",
            if self.mode == "dry-run" {
                "[dry run] "
            } else {
                ""
            },
            self.kind.as_str(),
            o.game.as_str(),
            o.title,
            o.buy_price,
            o.net_profit
        );
        if let Some(r) = &self.reason {
            s.push_str(&format!(": {r}"));
        }
        if let Some(r) = self.resolution {
            s.push_str(&format!(" -> {r}"));
        }
        s
    }
}

/// RFC 3339 with milliseconds, UTC (the report crate has no time dependency of its own).
fn humantime_rfc3339(t: SystemTime) -> String {
    let ms = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    format!(
        "{}.{:03}Z",
        skinscan_sdk::dmarket::format_rfc3339(ms / 1000).trim_end_matches('Z'),
        ms % 1000
    )
}
