//! What the simulated reference markets (Skinport, CSFloat) share: an answer that is not
//! DMarket's, a sliding request window per endpoint (their limits are counted over minutes,
//! not DMarket's fixed seconds), a title's deterministic draw, and the cross opportunities
//! the catalogue holds against a market's reference (the ground truth at `/__sim/cross`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::catalogue::{Catalogue, GameMarket, uuid};
use crate::rng::Rng;

/// An answer of a reference market, before the server stamps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// Extra headers (rate limits, `Retry-After`, `Content-Encoding`).
    pub(crate) headers: Vec<(&'static str, String)>,
    /// The body (Brotli-compressed when `Content-Encoding: br` is among the headers).
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// A JSON answer.
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }
}

/// Requests admitted per sliding period.
#[derive(Debug)]
pub(crate) struct SlidingWindow {
    limit: usize,
    period: Duration,
    sent: Mutex<VecDeque<Instant>>,
}

/// One request's view of its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admission {
    /// Whether the request is served.
    pub(crate) admitted: bool,
    /// Requests left in the window after this one.
    pub(crate) remaining: usize,
    /// Until the oldest counted request leaves the window.
    pub(crate) reset: Duration,
}

impl SlidingWindow {
    pub(crate) fn new(limit: usize, period: Duration) -> SlidingWindow {
        SlidingWindow {
            limit,
            period,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Counts a request arriving at `now` (a refused one is not counted).
    pub(crate) fn admit(&self, now: Instant) -> Admission {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        while sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.period)
        {
            sent.pop_front();
        }
        let admitted = sent.len() < self.limit;
        if admitted {
            sent.push_back(now);
        }
        let reset = sent.front().map_or(Duration::ZERO, |t| {
            self.period
                .saturating_sub(now.saturating_duration_since(*t))
        });
        Admission {
            admitted,
            remaining: self.limit - sent.len(),
            reset,
        }
    }
}

/// A draw for `title` of `game` under `seed`, independent per market (`salt`).
pub(crate) fn draw(seed: u64, game: &str, title: u32, salt: u64) -> Rng {
    let game_hash = game.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    Rng::derive(seed, salt ^ game_hash, u64::from(title))
}

/// A DMarket listing that resells on another market at a profit after that market's fee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CrossEntry {
    /// The market it sells on (`skinport`, `csfloat`).
    pub(crate) sell_market: &'static str,
    /// The DMarket gameId.
    pub(crate) game_id: String,
    /// The listing's `itemId`.
    pub(crate) item_id: String,
    /// The listing's `offerId` (the id v2 offers carry, and what a buy names).
    pub(crate) offer_id: String,
    /// The title (`market_hash_name`).
    pub(crate) title: String,
    /// The DMarket price, cents.
    pub(crate) buy_cents: i64,
    /// The reference it sells at, cents.
    pub(crate) sell_cents: i64,
    /// The seller fee, cents (rounded up).
    pub(crate) fee_cents: i64,
    /// `sell - fee - buy`.
    pub(crate) net_cents: i64,
}

/// Every catalogue listing of `games` whose resale at `reference(game, title)` (cents) nets
/// more than zero after `fee_bps` (rounded up to the cent, as the host's fees are).
pub(crate) fn cross_entries(
    catalogue: &Catalogue,
    seed: u64,
    sell_market: &'static str,
    fee_bps: i64,
    games: &[&str],
    reference: impl Fn(&GameMarket, u32) -> Option<i64>,
) -> Vec<CrossEntry> {
    let mut out = Vec::new();
    let mut ids: Vec<&String> = catalogue.games.keys().collect();
    ids.sort();
    for id in ids.into_iter().filter(|id| games.contains(&id.as_str())) {
        let market = &catalogue.games[id];
        for listing in &market.listings {
            let Some(sell) = reference(market, listing.title) else {
                continue;
            };
            let fee = (sell * fee_bps + 9_999) / 10_000;
            let net = sell - fee - listing.price;
            if net > 0 {
                out.push(CrossEntry {
                    sell_market,
                    game_id: id.clone(),
                    item_id: uuid(seed, id, 1, listing.seq),
                    offer_id: uuid(seed, id, 3, listing.seq),
                    title: market.titles[listing.title as usize].name.clone(),
                    buy_cents: listing.price,
                    sell_cents: sell,
                    fee_cents: fee,
                    net_cents: net,
                });
            }
        }
    }
    out
}

/// Query pairs as the server hands them to a market (for tests).
#[cfg(test)]
pub(crate) fn query(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sliding_window_admits_its_limit_then_refuses_until_the_oldest_leaves() {
        let w = SlidingWindow::new(2, Duration::from_secs(300));
        let t0 = Instant::now();
        assert!(w.admit(t0).admitted);
        let second = w.admit(t0 + Duration::from_secs(10));
        assert_eq!((second.admitted, second.remaining), (true, 0));
        let third = w.admit(t0 + Duration::from_secs(20));
        assert!(!third.admitted);
        assert_eq!(third.reset, Duration::from_secs(280));
        assert!(w.admit(t0 + Duration::from_secs(300)).admitted);
    }
}
