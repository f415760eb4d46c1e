//! The simulated Skinport, in its real shapes (`../shared/markets.md` §1): `GET /v1/items`
//! (a bare array, one object per `market_hash_name`, money as floats in major units of
//! `currency`, `null` prices when `quantity` is 0, `updated_at` the cache's snapshot time)
//! and `GET /v1/sales/history` (24 h / 7 / 30 / 90 days of `min`, `max`, `avg`, `median`,
//! `volume`, all `null` with `volume: 0` when nothing sold), for `app_id` 730 (CS2), 570
//! (Dota 2), 252490 (Rust) and 440 (TF2), sharing the DMarket catalogue's titles.
//!
//! Brotli is mandatory, as the live API makes it: without `br` in `Accept-Encoding` the
//! answer is 406 `not_acceptable`. The published limit is kept: 8 requests per 5 minutes
//! (every request counts, a 406 too), then 429 `rate_limit_exceeded`. Without `currency` the
//! answer is in EUR, Skinport's default (at a fixed 0.92 per dollar here).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::catalogue::{Catalogue, EPOCH, GameMarket, Title};
use crate::other::{Answer, SlidingWindow, draw};

/// All items' prices.
pub(crate) const ITEMS: &str = "/v1/items";
/// All items' sales.
pub(crate) const SALES_HISTORY: &str = "/v1/sales/history";
/// Skinport's published limit: 8 requests ...
pub(crate) const LIMIT: usize = 8;
/// ... per 5 minutes.
pub(crate) const PERIOD: Duration = Duration::from_secs(300);
/// The catalogue's games Skinport lists, by Steam `app_id`.
pub(crate) const APPS: [(u32, &str); 4] = [
    (730, "a8db"),
    (570, "9a92"),
    (252_490, "rust"),
    (440, "tf2"),
];
/// The seller fee the truth assumes by default (the brief's 12%, unverified).
pub(crate) const FEE_BPS: i64 = 1_200;

const SALT: u64 = 0x5C1F_0001;

/// The simulated Skinport's state: its request window.
#[derive(Debug)]
pub(crate) struct Skinport {
    window: SlidingWindow,
}

/// A title's Skinport prices, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prices {
    pub(crate) quantity: u32,
    pub(crate) min: i64,
    pub(crate) max: i64,
    pub(crate) mean: i64,
    pub(crate) suggested: i64,
}

/// `title`'s prices on the simulated Skinport: between 0.95 and 1.14 of its value at the
/// floor, up to 1.3 times that; `quantity` 0 for about one title in twelve.
pub(crate) fn prices(seed: u64, market: &GameMarket, title: u32) -> Prices {
    let t: &Title = &market.titles[title as usize];
    let mut r = draw(seed, &market.game_id, title, SALT);
    let quantity = r.below(12) as u32;
    let min = t.value * (95 + r.below(20) as i64) / 100;
    let max = min * (100 + r.below(31) as i64) / 100;
    Prices {
        quantity,
        min,
        max,
        mean: (min + max) / 2,
        suggested: t.value * 105 / 100,
    }
}

/// The Skinport reference a seller prices at: the floor less one cent, when listed.
pub(crate) fn reference(seed: u64, market: &GameMarket, title: u32) -> Option<i64> {
    let p = prices(seed, market, title);
    (p.quantity > 0).then_some(p.min - 1)
}

/// Whether `path` is one Skinport answers.
pub(crate) fn serves(path: &str) -> bool {
    path == ITEMS || path == SALES_HISTORY
}

impl Skinport {
    pub(crate) fn new() -> Skinport {
        Skinport {
            window: SlidingWindow::new(LIMIT, PERIOD),
        }
    }

    /// The answer to `path?query`, or `None` when the path is not Skinport's.
    pub(crate) fn answer(
        &self,
        catalogue: &Catalogue,
        seed: u64,
        path: &str,
        query: &BTreeMap<String, String>,
        accept_encoding: Option<&str>,
        now: Instant,
    ) -> Option<Answer> {
        if !serves(path) {
            return None;
        }
        let admission = self.window.admit(now);
        if !admission.admitted {
            // The only recorded 429 body (a fixture): `{"errors":[{"id":...}]}`. Whether a
            // 429 carries Retry-After is unknown: this one does not.
            return Some(Answer::json(
                429,
                &json!({"errors": [{"id": "rate_limit_exceeded", "message": "Rate limit exceeded"}]}),
            ));
        }
        let brotli = accept_encoding.is_some_and(|v| {
            v.split(',').any(|e| {
                e.split(';')
                    .next()
                    .is_some_and(|e| e.trim().eq_ignore_ascii_case("br"))
            })
        });
        if !brotli {
            return Some(Answer::json(
                406,
                &json!([{"id": "not_acceptable", "message": "Accept-Encoding: br is required"}]),
            ));
        }
        let app = match query.get("app_id").map(|a| a.trim().parse::<u32>()) {
            None => Ok(730),
            Some(Ok(a)) => Ok(a),
            Some(Err(_)) => Err(()),
        };
        let Some(game) = app.ok().and_then(|a| APPS.iter().find(|(id, _)| *id == a)) else {
            return Some(brotli_answer(
                400,
                &json!([{"id": "invalid_app_id", "message": "app_id is not supported"}]),
            ));
        };
        let (currency, rate) = match query.get("currency").map(String::as_str) {
            None => ("EUR", 92),
            Some("USD") => ("USD", 100),
            Some("EUR") => ("EUR", 92),
            Some(_) => {
                return Some(brotli_answer(
                    400,
                    &json!([{"id": "invalid_currency", "message": "currency is not supported"}]),
                ));
            }
        };
        let market = &catalogue.games[game.1];
        let only = query.get("market_hash_name");
        let body = if path == ITEMS {
            items(seed, market, currency, rate)
        } else {
            sales_history(market, currency, rate, only.map(String::as_str))
        };
        Some(brotli_answer(200, &body))
    }
}

/// Cents as Skinport writes money: a float in major units (`12.5`, `7364.79`).
fn major(cents: i64, rate: i64) -> Value {
    let converted = cents * rate / 100;
    json!(converted as f64 / 100.0)
}

fn items(seed: u64, market: &GameMarket, currency: &str, rate: i64) -> Value {
    let rows: Vec<Value> = (0..market.titles.len() as u32)
        .map(|i| {
            let t = &market.titles[i as usize];
            let p = prices(seed, market, i);
            let listed = |c: i64| {
                if p.quantity > 0 {
                    major(c, rate)
                } else {
                    Value::Null
                }
            };
            let slug: String = t
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            json!({
                "market_hash_name": t.name,
                "version": null,
                "currency": currency,
                "suggested_price": major(p.suggested, rate),
                "item_page": format!("https://skinport.com/item/{slug}"),
                "market_page": format!("https://skinport.com/market?item={slug}"),
                "min_price": listed(p.min),
                "max_price": listed(p.max),
                "mean_price": listed(p.mean),
                "median_price": listed(p.mean),
                "quantity": p.quantity,
                "created_at": EPOCH - 86_400 * 900,
                "updated_at": EPOCH,
            })
        })
        .collect();
    Value::Array(rows)
}

fn sales_history(market: &GameMarket, currency: &str, rate: i64, only: Option<&str>) -> Value {
    let window = |t: &Title, days: u64| {
        let since = (EPOCH as u64).saturating_sub(days * 86_400);
        let mut sold: Vec<i64> = t
            .sales
            .iter()
            .filter(|(_, at)| *at >= since)
            .map(|(c, _)| *c)
            .collect();
        if sold.is_empty() {
            return json!({"min": null, "max": null, "avg": null, "median": null, "volume": 0});
        }
        sold.sort_unstable();
        let sum: i64 = sold.iter().sum();
        json!({
            "min": major(sold[0], rate),
            "max": major(sold[sold.len() - 1], rate),
            "avg": major(sum / sold.len() as i64, rate),
            "median": major(sold[sold.len() / 2], rate),
            "volume": sold.len(),
        })
    };
    let rows: Vec<Value> = market
        .titles
        .iter()
        .filter(|t| only.is_none_or(|n| n == t.name))
        .map(|t| {
            json!({
                "market_hash_name": t.name,
                "version": null,
                "currency": currency,
                "last_24_hours": window(t, 1),
                "last_7_days": window(t, 7),
                "last_30_days": window(t, 30),
                "last_90_days": window(t, 90),
            })
        })
        .collect();
    Value::Array(rows)
}

/// A JSON answer compressed with Brotli, as every Skinport answer the client can read is.
fn brotli_answer(status: u16, value: &Value) -> Answer {
    let plain = serde_json::to_vec(value).unwrap_or_default();
    let mut body = Vec::with_capacity(plain.len() / 4);
    {
        let mut w = brotli::CompressorWriter::new(&mut body, 4096, 5, 22);
        // Writing into a Vec cannot fail.
        let _ = w.write_all(&plain);
    }
    Answer {
        status,
        headers: vec![("content-encoding", "br".to_owned())],
        body,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn unbrotli(body: &[u8]) -> Value {
        let mut out = Vec::new();
        brotli::Decompressor::new(body, 4096)
            .read_to_end(&mut out)
            .expect("a Brotli body");
        serde_json::from_slice(&out).expect("JSON inside")
    }

    fn ask(
        s: &Skinport,
        c: &Catalogue,
        path: &str,
        q: &[(&str, &str)],
        enc: Option<&str>,
    ) -> Answer {
        let q = crate::other::query(q);
        s.answer(c, 42, path, &q, enc, Instant::now())
            .expect("a Skinport path")
    }

    #[test]
    fn items_are_the_catalogues_titles_in_major_units_compressed_with_brotli() {
        let c = Catalogue::generate(42, 50);
        let s = Skinport::new();
        let a = ask(
            &s,
            &c,
            ITEMS,
            &[("app_id", "730"), ("currency", "USD")],
            Some("gzip, br"),
        );
        assert_eq!(a.status, 200);
        assert!(a.headers.contains(&("content-encoding", "br".to_owned())));
        let rows = unbrotli(&a.body);
        let rows = rows.as_array().unwrap();
        let market = &c.games["a8db"];
        assert_eq!(rows.len(), market.titles.len());
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row["market_hash_name"], market.titles[i].name.as_str());
            assert_eq!(row["currency"], "USD");
            let p = prices(42, market, i as u32);
            if p.quantity == 0 {
                assert!(row["min_price"].is_null(), "{row}");
            } else {
                assert_eq!(row["min_price"].as_f64().unwrap(), p.min as f64 / 100.0);
            }
        }
        assert!(
            s.answer(&c, 42, "/v1/other", &BTreeMap::new(), None, Instant::now())
                .is_none()
        );
    }

    #[test]
    fn without_br_the_answer_is_406_and_past_8_in_5_minutes_429() {
        let c = Catalogue::generate(42, 10);
        let s = Skinport::new();
        let a = ask(&s, &c, ITEMS, &[], Some("gzip"));
        assert_eq!(a.status, 406);
        let body: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(body[0]["id"], "not_acceptable");
        for _ in 1..LIMIT {
            assert_eq!(ask(&s, &c, SALES_HISTORY, &[], Some("br")).status, 200);
        }
        let refused = ask(&s, &c, ITEMS, &[], Some("br"));
        assert_eq!(refused.status, 429);
        let body: Value = serde_json::from_slice(&refused.body).unwrap();
        assert_eq!(body["errors"][0]["id"], "rate_limit_exceeded");
    }

    #[test]
    fn without_currency_the_answer_is_in_euros_and_sales_windows_are_null_when_empty() {
        let c = Catalogue::generate(42, 10);
        let s = Skinport::new();
        let rows = unbrotli(&ask(&s, &c, SALES_HISTORY, &[("app_id", "440")], Some("br")).body);
        let row = &rows[0];
        assert_eq!(row["currency"], "EUR");
        for w in [
            "last_24_hours",
            "last_7_days",
            "last_30_days",
            "last_90_days",
        ] {
            let volume = row[w]["volume"].as_u64().unwrap();
            assert_eq!(row[w]["median"].is_null(), volume == 0, "{w}: {row}");
        }
    }
}
