//! The simulated CSFloat (CS2 only), in its real shapes (`../shared/markets.md` §2):
//! `GET /api/v1/listings/price-list` (`[{market_hash_name, quantity, min_price}]`, integer
//! USD cents, listed titles only) and `GET /api/v1/listings` (the live envelope
//! `{"data": [...], "cursor": "..."}`, `limit` at most 50, `sort_by=lowest_price`, filtered by
//! `market_hash_name`; each listing's `price` in cents and `item.scm`, Steam's price and
//! volume in cents), sharing the DMarket catalogue's CS2 titles.
//!
//! CSFloat publishes no limits; its answers carry `X-Ratelimit-Limit`, `-Remaining` and
//! `-Reset` (unix seconds) per endpoint. The simulator keeps its own per endpoint (listings
//! 5 a minute, the one figure anyone cites; the price list 20 per 5 minutes) and answers 429
//! with `Retry-After` past them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::catalogue::{Catalogue, GameMarket};
use crate::other::{Answer, SlidingWindow, draw};

/// The whole market's floors.
pub(crate) const PRICE_LIST: &str = "/api/v1/listings/price-list";
/// Listings, paged by cursor.
pub(crate) const LISTINGS: &str = "/api/v1/listings";
/// The most listings a page holds.
pub(crate) const MAX_LIMIT: usize = 50;
/// The CS2 gameId of the catalogue: CSFloat lists nothing else.
pub(crate) const GAME: &str = "a8db";
/// The seller fee the truth assumes by default (2%, unverified).
pub(crate) const FEE_BPS: i64 = 200;

const SALT: u64 = 0xC5F1_0A70;

/// The simulated CSFloat's state: a window per endpoint.
#[derive(Debug)]
pub(crate) struct Csfloat {
    price_list: SlidingWindow,
    listings: SlidingWindow,
}

/// A title's CSFloat market: listings at `min` and up, `quantity` of them; Steam's price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Book {
    pub(crate) quantity: u32,
    pub(crate) min: i64,
    pub(crate) steam: i64,
    pub(crate) steam_volume: u32,
}

/// `title`'s CSFloat book: the floor between 0.97 and 1.16 of its value, none listed for
/// about one title in ten; Steam about 1.3 times the value.
pub(crate) fn book(seed: u64, market: &GameMarket, title: u32) -> Book {
    let t = &market.titles[title as usize];
    let mut r = draw(seed, &market.game_id, title, SALT);
    let quantity = if r.below(10) == 0 {
        0
    } else {
        1 + r.below(8) as u32
    };
    Book {
        quantity,
        min: t.value * (97 + r.below(20) as i64) / 100,
        steam: t.value * (125 + r.below(11) as i64) / 100,
        steam_volume: r.below(300) as u32,
    }
}

/// The CSFloat reference a seller prices at: the floor, when listed.
pub(crate) fn reference(seed: u64, market: &GameMarket, title: u32) -> Option<i64> {
    let b = book(seed, market, title);
    (b.quantity > 0).then_some(b.min)
}

/// Whether `path` is one CSFloat answers.
pub(crate) fn serves(path: &str) -> bool {
    path == PRICE_LIST || path == LISTINGS
}

impl Csfloat {
    pub(crate) fn new() -> Csfloat {
        Csfloat {
            price_list: SlidingWindow::new(20, Duration::from_secs(300)),
            listings: SlidingWindow::new(5, Duration::from_secs(60)),
        }
    }

    /// The answer to `path?query`, or `None` when the path is not CSFloat's.
    pub(crate) fn answer(
        &self,
        catalogue: &Catalogue,
        seed: u64,
        path: &str,
        query: &BTreeMap<String, String>,
        now: Instant,
    ) -> Option<Answer> {
        let window = match path {
            PRICE_LIST => &self.price_list,
            LISTINGS => &self.listings,
            _ => return None,
        };
        let admission = window.admit(now);
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let reset_secs = admission.reset.as_secs_f64().ceil() as u64;
        let headers = vec![
            ("x-ratelimit-limit", window.limit().to_string()),
            ("x-ratelimit-remaining", admission.remaining.to_string()),
            ("x-ratelimit-reset", (unix + reset_secs).to_string()),
        ];
        let mut answer = if !admission.admitted {
            let mut a = Answer::json(429, &json!({"code": 20, "message": "too many requests"}));
            a.headers
                .push(("retry-after", reset_secs.max(1).to_string()));
            a
        } else if let Some(market) = catalogue.games.get(GAME) {
            if path == PRICE_LIST {
                Answer::json(200, &price_list(seed, market))
            } else {
                listings(seed, market, query)
            }
        } else {
            Answer::json(200, &json!([]))
        };
        answer.headers.extend(headers);
        Some(answer)
    }
}

fn price_list(seed: u64, market: &GameMarket) -> Value {
    let rows: Vec<Value> = (0..market.titles.len() as u32)
        .filter_map(|i| {
            let b = book(seed, market, i);
            (b.quantity > 0).then(|| {
                json!({
                    "market_hash_name": market.titles[i as usize].name,
                    "quantity": b.quantity,
                    "min_price": b.min,
                })
            })
        })
        .collect();
    Value::Array(rows)
}

fn listings(seed: u64, market: &GameMarket, q: &BTreeMap<String, String>) -> Answer {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => MAX_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Answer::json(
                400,
                &json!({"code": 4, "message": "limit must be between 1 and 50"}),
            );
        }
    };
    let start: usize = match q
        .get("cursor")
        .map(|c| c.strip_prefix("c").unwrap_or("x").parse())
    {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Answer::json(400, &json!({"code": 4, "message": "invalid cursor"})),
    };
    let name = q.get("market_hash_name");
    // Every title's listings, cheapest first: a title's floor, then a cent or so apart.
    let mut all: Vec<(i64, u32, u32)> = Vec::new();
    for i in 0..market.titles.len() as u32 {
        if name.is_some_and(|n| *n != market.titles[i as usize].name) {
            continue;
        }
        let b = book(seed, market, i);
        for k in 0..b.quantity {
            all.push((b.min + i64::from(k) * (1 + b.min / 50), i, k));
        }
    }
    all.sort_unstable();
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|(price, i, k)| {
            let b = book(seed, market, *i);
            let mut r = draw(seed, &market.game_id, *i, SALT ^ (u64::from(*k) + 1));
            json!({
                "id": format!("{}", 300_000_000_000_000_000_u64 + u64::from(*i) * 100 + u64::from(*k)),
                "type": "buy_now",
                "price": price,
                "state": "listed",
                "item": {
                    "def_index": 7 + r.below(60),
                    "paint_index": r.below(900),
                    "paint_seed": r.below(1000),
                    "float_value": r.unit() * 0.8,
                    "is_stattrak": false,
                    "is_souvenir": false,
                    "market_hash_name": market.titles[*i as usize].name,
                    "scm": {"price": b.steam, "volume": b.steam_volume},
                },
                "min_offer_price": price * 85 / 100,
                "max_offer_discount": 1500,
            })
        })
        .collect();
    let next = start + page.len();
    let mut body = json!({"data": page});
    if next < all.len() {
        body["cursor"] = json!(format!("c{next}"));
    }
    Answer::json(200, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(s: &Csfloat, c: &Catalogue, path: &str, q: &[(&str, &str)]) -> Answer {
        let q = crate::other::query(q);
        s.answer(c, 42, path, &q, Instant::now())
            .expect("a CSFloat path")
    }

    fn header<'a>(a: &'a Answer, name: &str) -> &'a str {
        &a.headers.iter().find(|(n, _)| *n == name).expect(name).1
    }

    #[test]
    fn the_price_list_holds_every_listed_cs2_title_in_cents_with_rate_headers() {
        let c = Catalogue::generate(42, 50);
        let s = Csfloat::new();
        let a = ask(&s, &c, PRICE_LIST, &[]);
        assert_eq!(a.status, 200);
        assert_eq!(header(&a, "x-ratelimit-limit"), "20");
        assert_eq!(header(&a, "x-ratelimit-remaining"), "19");
        let rows: Value = serde_json::from_slice(&a.body).unwrap();
        let market = &c.games[GAME];
        let listed = (0..market.titles.len() as u32)
            .filter(|i| book(42, market, *i).quantity > 0)
            .count();
        assert_eq!(rows.as_array().unwrap().len(), listed);
        let first = &rows[0];
        let i = market.title_index[first["market_hash_name"].as_str().unwrap()];
        assert_eq!(
            first["min_price"].as_i64().unwrap(),
            book(42, market, i).min
        );
    }

    #[test]
    fn listings_page_by_cursor_at_most_50_and_refuse_more_with_429_past_the_window() {
        let c = Catalogue::generate(42, 50);
        let s = Csfloat::new();
        let first = ask(
            &s,
            &c,
            LISTINGS,
            &[("limit", "3"), ("sort_by", "lowest_price")],
        );
        let body: Value = serde_json::from_slice(&first.body).unwrap();
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 3);
        assert!(data[0]["price"].as_i64() <= data[1]["price"].as_i64());
        assert!(data[0]["item"]["scm"]["price"].as_i64().unwrap() > 0);
        assert_eq!(body["cursor"], "c3");
        let next = ask(&s, &c, LISTINGS, &[("limit", "3"), ("cursor", "c3")]);
        let next: Value = serde_json::from_slice(&next.body).unwrap();
        assert_ne!(next["data"][0]["id"], data[0]["id"]);
        assert_eq!(ask(&s, &c, LISTINGS, &[("limit", "51")]).status, 400);
        assert_eq!(ask(&s, &c, LISTINGS, &[]).status, 200);
        assert_eq!(ask(&s, &c, LISTINGS, &[]).status, 200);
        let refused = ask(&s, &c, LISTINGS, &[]);
        assert_eq!(refused.status, 429);
        assert_eq!(header(&refused, "x-ratelimit-remaining"), "0");
        assert!(header(&refused, "retry-after").parse::<u64>().unwrap() >= 1);
    }
}
