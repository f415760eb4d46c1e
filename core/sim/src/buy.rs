//! The simulated market sells: a balance per API key (`GET /account/v1/balance`, strings of
//! cents), `PATCH /exchange/v1/offers-buy` that moves a listing to its buyer (it leaves
//! every listing page) and debits the balance, the refusals DMarket documents (200
//! `TxFailed` + `OfferNotFound` for an offer gone, 400 `NotEnoughBalance`, `TxFailed`
//! `PriceChanged` when the amount is under the listing's price), and scripted faults that
//! lose or garble the answer **after** the purchase happened. What was bought, by whom, is
//! the truth at `GET /__sim/buys`.
//!
//! The wire as `shared/dmarket-trading.md` gives it (its own copy: the simulator shares no
//! code with the client). Unsigned buys are refused 401, as the live API refuses them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

use crate::catalogue::{Catalogue, uuid};
use crate::living::Living;

/// `PATCH`: buy offers.
pub const OFFERS_BUY: &str = "/exchange/v1/offers-buy";
/// `GET`: the balance.
pub const BALANCE: &str = "/account/v1/balance";

/// What happens to one buy, in the order buys arrive (see [`SimBuyConfig::script`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuyFault {
    /// Answered as the live API would.
    None,
    /// Bought, then the stream is reset: the answer is lost.
    ResetAfter,
    /// Bought, then the answer never comes.
    StallAfter,
    /// Bought, then a 502 with an HTML body.
    ServerErrorAfter,
    /// Bought, then a 200 with this body (an unknown shape).
    HostileAfter(String),
    /// Not bought, and a 200 with this body.
    Hostile(String),
    /// Not bought: the seller raised the price just before (`TxFailed`, `PriceChanged`).
    PriceChanged,
    /// Bought, answered `TxSuccess`, but twice the price is debited (a hostile market).
    Overcharge,
}

/// The selling side of the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBuyConfig {
    /// Every key's balance at start, in cents.
    pub balance_cents: i64,
    /// Faults for the first buys, in order (the rest are answered normally).
    pub script: Vec<BuyFault>,
}

impl Default for SimBuyConfig {
    fn default() -> Self {
        SimBuyConfig {
            balance_cents: 100_000,
            script: Vec::new(),
        }
    }
}

/// One purchase, as the market knows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Purchase {
    /// The offer.
    pub offer_id: String,
    /// The gameId.
    pub game: String,
    /// The buyer's key (`X-Api-Key`).
    pub key: String,
    /// Charged, in cents.
    pub price_cents: i64,
    /// Unix time, with its fraction.
    pub at: f64,
}

/// A listing a buy can find: where it is, and its price.
#[derive(Debug, Clone, Copy)]
struct Found {
    seq: u64,
    price: i64,
    living: bool,
}

/// Balances, sold listings, purchases, and the buy requests seen.
#[derive(Debug)]
pub(crate) struct Sales {
    config: SimBuyConfig,
    state: Mutex<SalesState>,
    /// The catalogue's offers by id, built at the first buy: (gameId, seq, price).
    index: OnceLock<HashMap<String, (String, u64, i64)>>,
}

#[derive(Debug, Default)]
struct SalesState {
    balances: BTreeMap<String, i64>,
    /// (gameId, seq) sold.
    sold: HashSet<(String, u64)>,
    purchases: Vec<Purchase>,
    requests: u64,
}

/// What the server does with a buy's answer.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Send it (status, JSON body).
    Answer(u16, Vec<u8>),
    /// Reset the stream.
    Reset,
    /// Never answer.
    Stall,
}

/// What the market holds, for one request.
pub(crate) struct Market<'a> {
    pub(crate) catalogue: &'a Catalogue,
    pub(crate) living: Option<&'a Living>,
    pub(crate) seed: u64,
    /// Seconds since start.
    pub(crate) now: f64,
    /// Unix seconds now.
    pub(crate) unix: f64,
}

/// Whether the simulator's buy module answers `path`.
pub(crate) fn serves(path: &str) -> bool {
    path == OFFERS_BUY || path == BALANCE
}

impl Sales {
    pub(crate) fn new(config: SimBuyConfig) -> Sales {
        Sales {
            config,
            state: Mutex::new(SalesState::default()),
            index: OnceLock::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SalesState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the catalogue's listing `seq` of `game` was bought (it leaves every page).
    pub(crate) fn sold(&self, game: &str, seq: u64) -> bool {
        let s = self.lock();
        !s.sold.is_empty() && s.sold.contains(&(game.to_owned(), seq))
    }

    /// `GET /__sim/buys`.
    pub(crate) fn truth(&self) -> Vec<u8> {
        let s = self.lock();
        serde_json::to_vec(&json!({
            "purchases": s.purchases,
            "balances": s.balances,
            "requests": s.requests,
        }))
        .unwrap_or_default()
    }

    /// Answers a balance read or a buy from `key` (`None`: unsigned).
    pub(crate) fn answer(
        &self,
        market: &Market<'_>,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let Some(key) = key else {
            return error(
                401,
                "Unauthorized",
                "the trading API needs a signed request",
            );
        };
        match (path, method) {
            (BALANCE, "GET") => {
                let mut s = self.lock();
                let usd = *s
                    .balances
                    .entry(key.to_owned())
                    .or_insert(self.config.balance_cents);
                let body = json!({"usd": usd.to_string(), "usdAvailableToWithdraw": usd.to_string(),
                    "dmc": "0", "dmcAvailableToWithdraw": "0"});
                Reply::Answer(200, body.to_string().into_bytes())
            }
            (OFFERS_BUY, "PATCH") => self.buy(market, key, body),
            _ => error(
                405,
                "MethodNotAllowed",
                &format!("{method} is not allowed on {path}"),
            ),
        }
    }

    fn buy(&self, market: &Market<'_>, key: &str, body: &[u8]) -> Reply {
        let Some((offer_id, amount)) = parse_buy(body) else {
            return error(
                400,
                "BadRequest",
                "body must be {\"offers\":[{\"offerId\",\"price\":{\"amount\",\"currency\":\"USD\"},\"type\":\"dmarket\"}]}",
            );
        };
        let fault = {
            let mut s = self.lock();
            s.requests += 1;
            self.config
                .script
                .get(s.requests as usize - 1)
                .cloned()
                .unwrap_or(BuyFault::None)
        };
        match &fault {
            BuyFault::Hostile(b) => return Reply::Answer(200, b.clone().into_bytes()),
            BuyFault::PriceChanged => return tx(&offer_id, "TxFailed", "PriceChanged"),
            _ => {}
        }
        let Some((game, found)) = self.find(market, &offer_id) else {
            return tx(&offer_id, "TxFailed", "OfferNotFound");
        };
        if amount < found.price {
            return tx(&offer_id, "TxFailed", "PriceChanged");
        }
        {
            let mut s = self.lock();
            if s.sold.contains(&(game.clone(), found.seq)) {
                return tx(&offer_id, "TxFailed", "OfferNotFound");
            }
            let balance = s
                .balances
                .entry(key.to_owned())
                .or_insert(self.config.balance_cents);
            if *balance < found.price {
                drop(s);
                return error(
                    400,
                    "NotEnoughBalance",
                    "not enough balance to buy the offer",
                );
            }
            // Charged the listing's price (what the live API charges for an amount above it
            // is unknown; the client never sends more).
            let charged = if fault == BuyFault::Overcharge {
                found.price * 2
            } else {
                found.price
            };
            *balance -= charged;
            s.sold.insert((game.clone(), found.seq));
            s.purchases.push(Purchase {
                offer_id: offer_id.clone(),
                game: game.clone(),
                key: key.to_owned(),
                price_cents: charged,
                at: market.unix,
            });
        }
        if found.living
            && let Some(l) = market.living
        {
            l.bought(&game, found.seq, market.now);
        }
        match fault {
            BuyFault::ResetAfter => Reply::Reset,
            BuyFault::StallAfter => Reply::Stall,
            BuyFault::ServerErrorAfter => {
                Reply::Answer(502, b"<html><body>502 Bad Gateway</body></html>".to_vec())
            }
            BuyFault::HostileAfter(b) => Reply::Answer(200, b.into_bytes()),
            _ => tx(&offer_id, "TxSuccess", ""),
        }
    }

    /// The listing `offer_id` names, live now and not sold.
    fn find(&self, market: &Market<'_>, offer_id: &str) -> Option<(String, Found)> {
        if let Some(living) = market.living {
            for (game, g) in &market.catalogue.games {
                for a in living.live(market.catalogue, game, market.now) {
                    if uuid(market.seed, &g.game_id, 3, a.listing.seq) == offer_id {
                        let found = Found {
                            seq: a.listing.seq,
                            price: a.listing.price,
                            living: true,
                        };
                        return Some((game.clone(), found));
                    }
                }
            }
        }
        let index = self.index.get_or_init(|| {
            let mut m = HashMap::new();
            for (game, g) in &market.catalogue.games {
                for l in &g.listings {
                    m.insert(
                        uuid(market.seed, &g.game_id, 3, l.seq),
                        (game.clone(), l.seq, l.price),
                    );
                }
            }
            m
        });
        index.get(offer_id).map(|(game, seq, price)| {
            (
                game.clone(),
                Found {
                    seq: *seq,
                    price: *price,
                    living: false,
                },
            )
        })
    }
}

/// The one offer of a buy body and its amount in cents.
fn parse_buy(body: &[u8]) -> Option<(String, i64)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let offers = v.get("offers")?.as_array()?;
    let [offer] = offers.as_slice() else {
        return None;
    };
    let id = offer.get("offerId")?.as_str()?.to_owned();
    let price = offer.get("price")?;
    if price.get("currency")?.as_str()? != "USD" {
        return None;
    }
    let amount = price.get("amount")?.as_str()?.parse().ok()?;
    Some((id, amount))
}

fn tx(offer_id: &str, status: &str, reason: &str) -> Reply {
    let body = json!({
        "orderId": format!("order-{offer_id}"),
        "status": status,
        "txId": if status == "TxFailed" { String::new() } else { format!("tx-{offer_id}") },
        "dmOffersFailReason": {"code": reason},
        "dmOffersStatus": {offer_id: {"started": status != "TxFailed"}},
    });
    Reply::Answer(200, body.to_string().into_bytes())
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::Answer(
        status,
        json!({"code": code, "message": message})
            .to_string()
            .into_bytes(),
    )
}

/// Parses `skinscan sim --buy-faults`: comma-separated, one per buy in order: `none`,
/// `reset-after`, `stall-after`, `5xx-after`, `hostile-after`, `hostile`, `price-changed`,
/// `overcharge` (the hostile body is `{"result":"ok"}`, a shape DMarket never documented).
pub fn parse_script(text: &str) -> Result<Vec<BuyFault>, String> {
    let hostile = || r#"{"result":"ok"}"#.to_owned();
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "none" => Ok(BuyFault::None),
            "reset-after" => Ok(BuyFault::ResetAfter),
            "stall-after" => Ok(BuyFault::StallAfter),
            "5xx-after" => Ok(BuyFault::ServerErrorAfter),
            "hostile-after" => Ok(BuyFault::HostileAfter(hostile())),
            "hostile" => Ok(BuyFault::Hostile(hostile())),
            "price-changed" => Ok(BuyFault::PriceChanged),
            "overcharge" => Ok(BuyFault::Overcharge),
            other => Err(format!(
                "unknown buy fault {other:?}: use none, reset-after, stall-after, 5xx-after, hostile-after, hostile, price-changed or overcharge"
            )),
        })
        .collect()
}
