//! DMarket's trading wire: buying one offer and reading the account's balance. Only the
//! host uses it (plugins never trade: the host's `ScanContext` refuses a `PATCH` or a trading
//! path from a plugin); it lives in the sdk beside [`crate::dmarket`] because it is DMarket's
//! format, parsed as defensively as the listings are.
//!
//! # The facts, with their sources (`shared/dmarket-trading.md` gathers them)
//! Tags: **V** an official DMarket artifact says it (the trading API swagger v2.0.0 captured
//! 2026-07 \[S1\], the official v1.1.0 JSON \[S2\], the docs' text dump 2026-06 \[S3\], the
//! `dmarket/dm-trading-tools` signing client \[S5\], the help-center rate-limit article \[S6\]);
//! **P** a peer reports live behaviour; **I** inferred, unconfirmed.
//! - **Buy** (V \[S1\]\[S2\]\[S3\]): `PATCH /exchange/v1/offers-buy`, body
//!   `{"offers":[{"offerId":"…","price":{"amount":"<cents>","currency":"USD"},"type":"dmarket"}]}`
//!   ("the price amount format is in coins (cents for USD)"). The offer id is the listing's
//!   `extra.offerId` (v1) or `offerId` (v2), never the `itemId`. Signed like a `POST`, over
//!   the exact body bytes (V \[S5\]).
//! - **Answer** (V \[S1\]; the 200 is labelled "No content" in \[S2\] though it has a schema):
//!   `{"orderId","status":"TxPending"|"TxSuccess"|"TxFailed","txId","dmOffersFailReason":{"code"},
//!   "dmOffersStatus":{"<key>":{"started":bool}}}`. A **200 can mean not bought**:
//!   `TxFailed` (V shape), e.g. `OfferNotFound` when another buyer won (P). What `TxPending`
//!   settles into is not documented (I: counted as spent until the balance says otherwise).
//!   The `dmOffersStatus` key is undocumented; peers read it as the offer id (P).
//! - **Errors** (V \[S1\]\[S2\]): 400/401/500 carry `{"code","message"}`; codes seen in the
//!   spec's enum: `NotEnoughBalance`, `InsufficientFunds`, `InvalidAmount`, `InvalidUUID`,
//!   `InvalidSignature`, `APIKeyDisabled`, `Banned`. A fake id gets 400 `InvalidUUID` (P).
//! - **No idempotency key** exists on any trading write (V \[S1\]\[S4\]); a retried buy is a
//!   brand-new buy. So a buy is sent once, never retried: a lost answer is settled by reading
//!   the account.
//! - **Balance** (V \[S1\]\[S2\]): `GET /account/v1/balance` answers
//!   `{"usd":"4550","usdAvailableToWithdraw":"0","dmc":"…","dmcAvailableToWithdraw":"…"}`,
//!   strings of cents. Whether `usd` excludes funds held by targets is **unknown**. A
//!   `"balance"` field in dollars is a third-party bot's claim the spec contradicts: not read.
//! - **Confirming a buy:** no endpoint looks up an `orderId`/`txId`, and there is no
//!   documented buyer-side history (`user-offers/closed` lists your sales,
//!   `user-targets/closed` your target fills, V \[S1\]). Peers use an undocumented
//!   `GET /exchange/v1/history` (P, not used here). So a buy is confirmed by the balance delta
//!   and, for "not bought", by the offer still being listed.
//! - **Rate limits** (V \[S6\]): per account, market items 10/s, last sales 6/s, fees 110/s,
//!   everything else 20/s together. The article names no trading endpoint: buy and balance
//!   are counted under "other" (I).
//! - **Uncertain:** whether an `amount` above the listing price is accepted and what is then
//!   charged (so the amount sent is always the judged listing price, never more); whether a
//!   repeated buy of a sold offer can succeed twice (I: no, the offer is removed).

use serde_json::Value;

use crate::context::{ApiRequest, Method};
use crate::money::Money;

/// `PATCH`: buys offers (`buyOffers`).
pub const OFFERS_BUY_PATH: &str = "/exchange/v1/offers-buy";
/// `GET`: the account's balance, strings of cents.
pub const BALANCE_PATH: &str = "/account/v1/balance";

/// Whether `path` is one of the trading paths (a write, or the account): the host never lets
/// a plugin send to one.
pub fn is_trading_path(path: &str) -> bool {
    path == OFFERS_BUY_PATH || path.starts_with("/account/")
}

/// The host's check on every request a plugin (or the host's own scan and watch blocks)
/// sends through a `ScanContext`: plugins never trade. A `PATCH`, or any request to a
/// trading path, is refused before it reaches the upstream; only the host's buyer, behind
/// its guards, sends those.
pub fn refuse_from_plugin(request: &ApiRequest) -> Result<(), crate::FetchError> {
    if request.method == Method::Patch || is_trading_path(&request.path) {
        return Err(crate::FetchError::Host {
            message: format!(
                "{} {} refused: plugins cannot trade (only skinscan's buyer, within [buy], can)",
                request.method, request.path
            ),
        });
    }
    Ok(())
}

/// The buy of one offer at `price` (its cents as the `amount` string, `"type":"dmarket"`).
/// `read_only` is false: the host never retries it once it may have reached the server.
pub fn buy_request(offer_id: &str, price: Money) -> ApiRequest {
    let body = serde_json::json!({
        "offers": [{
            "offerId": offer_id,
            "price": {"amount": price.cents().to_string(), "currency": price.currency().code()},
            "type": "dmarket",
        }]
    });
    ApiRequest {
        method: Method::Patch,
        path: OFFERS_BUY_PATH.to_owned(),
        query: Vec::new(),
        body: Some(serde_json::to_vec(&body).unwrap_or_default()),
        read_only: false,
    }
}

/// The read of the account's balance.
pub fn balance_request() -> ApiRequest {
    ApiRequest::get(BALANCE_PATH)
}

/// What a 2xx answer to a buy says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuyAnswer {
    /// `TxSuccess`: bought.
    Bought {
        /// `orderId`, when given.
        order_id: String,
    },
    /// `TxPending`: accepted, in progress (counted as spent until the balance settles it).
    Pending {
        /// `orderId`, when given.
        order_id: String,
    },
    /// `TxFailed`: not bought, with DMarket's reason (`OfferNotFound`, ...).
    Failed {
        /// `dmOffersFailReason.code`, or `unspecified`.
        code: String,
    },
    /// A shape this parser does not know, or one that contradicts itself: nothing can be
    /// concluded, so the account is read.
    Unknown {
        /// What was wrong.
        why: String,
    },
}

/// A parsed buy answer and the form it came in (counted and logged by the host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedBuy {
    /// The verdict.
    pub answer: BuyAnswer,
    /// The form seen: `status`, `status+unknown-value`, `not-json`, ...
    pub form: &'static str,
}

/// Parses a 2xx answer to the buy of `offer_id` at `price`.
///
/// Reads `status` (`TxSuccess`, `TxPending`, `TxFailed`, any case, with or without the
/// `Tx` prefix). Anything else is [`BuyAnswer::Unknown`]: no JSON object, no status, a status
/// not in the list, success with a failure reason, a `dmOffersStatus` that names other offers
/// but not this one (or says it did not start), or an answer naming a price above `price`.
pub fn parse_buy_answer(body: &[u8], offer_id: &str, price: Money) -> ParsedBuy {
    let unknown = |form, why: String| ParsedBuy {
        answer: BuyAnswer::Unknown { why },
        form,
    };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return unknown("not-json", format!("not JSON: {}", quote_bytes(body)));
    };
    let Some(o) = v.as_object() else {
        return unknown("not-object", format!("not a JSON object: {}", quote(&v)));
    };
    let text = |k: &str| match o.get(k) {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if let Some(above) = price_above(&v, price) {
        return unknown(
            "price-above",
            format!(
                "the answer names a price of {above} cents, above the {} sent",
                price.cents()
            ),
        );
    }
    let reason = match o.get("dmOffersFailReason") {
        Some(Value::Object(r)) => r
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_owned(),
        Some(Value::String(s)) => s.trim().to_owned(),
        _ => String::new(),
    };
    // The per-offer map: when present and naming other offers only, or saying ours did not
    // start, the answer is not about this buy as sent.
    let ours_started = match o.get("dmOffersStatus") {
        Some(Value::Object(m)) if !m.is_empty() => match m.get(offer_id) {
            Some(s) => Some(s.get("started").and_then(Value::as_bool)),
            None => Some(None),
        },
        _ => None,
    };
    let status = text("status");
    let order_id = text("orderId");
    let verdict = match status.to_ascii_lowercase().trim_start_matches("tx") {
        "success" => "success",
        "pending" => "pending",
        "failed" | "fail" => "failed",
        "" => {
            return unknown(
                "no-status",
                format!("no `status` in the answer: {}", quote(&v)),
            );
        }
        _ => {
            return unknown(
                "status-unknown-value",
                format!("unknown status {status:?}: {}", quote(&v)),
            );
        }
    };
    match verdict {
        "failed" => ParsedBuy {
            answer: BuyAnswer::Failed {
                code: if reason.is_empty() {
                    "unspecified".to_owned()
                } else {
                    reason
                },
            },
            form: "status",
        },
        _ if !reason.is_empty() => unknown(
            "status-contradicted",
            format!("status {status:?} with a failure reason {reason:?}"),
        ),
        _ if ours_started == Some(None) => unknown(
            "offers-status-other",
            format!(
                "dmOffersStatus does not say this offer started: {}",
                quote(&v)
            ),
        ),
        _ if ours_started == Some(Some(false)) => unknown(
            "offers-status-not-started",
            format!("dmOffersStatus says the offer did not start: {}", quote(&v)),
        ),
        "success" => ParsedBuy {
            answer: BuyAnswer::Bought { order_id },
            form: "status",
        },
        _ => ParsedBuy {
            answer: BuyAnswer::Pending { order_id },
            form: "status",
        },
    }
}

/// Any `price`/`amount` in the answer above `sent` (the schema has none; a market that
/// names one higher than the price sent may have charged it).
fn price_above(v: &Value, sent: Money) -> Option<i64> {
    let mut worst = None;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let key = k.to_ascii_lowercase();
                    if key == "amount" || key == "price" || key == "pricecents" {
                        let cents = match x {
                            Value::String(s) => s.trim().parse::<i64>().ok(),
                            Value::Number(n) => n.as_i64(),
                            _ => None,
                        };
                        if let Some(c) = cents.filter(|c| *c > sent.cents()) {
                            worst = worst.max(Some(c));
                        }
                    }
                    stack.push(x);
                }
            }
            Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    worst
}

/// The account's balance as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// `usd`, in cents.
    pub usd: Money,
    /// The form `usd` came in: `cents-string`, `cents-number`, `commonMoney`.
    pub form: &'static str,
}

/// Parses the balance answer. `usd` as a string of cents (the spec), a whole number, or a
/// `{"amount"|"Amount": "<cents>"}` envelope; anything else (missing, negative, a decimal
/// that might be dollars) is an error: a balance that cannot be read buys nothing.
pub fn parse_balance(body: &[u8]) -> Result<Balance, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| format!("the balance is not JSON: {}", quote_bytes(body)))?;
    let usd = v
        .get("usd")
        .or_else(|| v.get("USD"))
        .ok_or_else(|| format!("the balance has no `usd`: {}", quote(&v)))?;
    let (cents, form) = match usd {
        Value::String(s) => (digits(s), "cents-string"),
        Value::Number(n) => (n.as_i64(), "cents-number"),
        Value::Object(m) => (
            m.get("amount")
                .or_else(|| m.get("Amount"))
                .and_then(|a| match a {
                    Value::String(s) => digits(s),
                    Value::Number(n) => n.as_i64(),
                    _ => None,
                }),
            "commonMoney",
        ),
        _ => (None, "other"),
    };
    match cents {
        Some(c) if c >= 0 => Ok(Balance {
            usd: Money::usd(c),
            form,
        }),
        _ => Err(format!(
            "the balance's `usd` is not whole cents ({}): not buying on a balance that cannot be read",
            quote(usd)
        )),
    }
}

fn digits(s: &str) -> Option<i64> {
    let t = s.trim();
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse().ok())
        .flatten()
}

fn quote(v: &Value) -> String {
    quote_bytes(v.to_string().as_bytes())
}

/// At most 200 characters of what the market sent, control characters escaped.
fn quote_bytes(b: &[u8]) -> String {
    let text = String::from_utf8_lossy(b);
    let mut out: String = text
        .chars()
        .take(200)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    format!("\"{out}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Money = Money::usd(1_250);

    fn parse(body: &str) -> BuyAnswer {
        parse_buy_answer(body.as_bytes(), "o1", P).answer
    }

    #[test]
    fn the_buy_body_is_the_documented_one_and_never_retried() {
        let r = buy_request("o1", P);
        assert_eq!(r.method, Method::Patch);
        assert!(!r.read_only);
        assert_eq!(
            String::from_utf8(r.body.unwrap()).unwrap(),
            r#"{"offers":[{"offerId":"o1","price":{"amount":"1250","currency":"USD"},"type":"dmarket"}]}"#
        );
        assert!(is_trading_path(OFFERS_BUY_PATH) && is_trading_path(BALANCE_PATH));
        assert!(!is_trading_path(crate::dmarket::OFFERS_V2_PATH));
    }

    #[test]
    fn a_plugin_cannot_send_a_buy_or_read_the_account() {
        assert!(refuse_from_plugin(&buy_request("o", P)).is_err());
        assert!(refuse_from_plugin(&balance_request()).is_err());
        let mut patch = ApiRequest::get(crate::dmarket::MARKET_ITEMS_PATH);
        patch.method = Method::Patch;
        assert!(refuse_from_plugin(&patch).is_err());
        assert!(refuse_from_plugin(&ApiRequest::get(crate::dmarket::MARKET_ITEMS_PATH)).is_ok());
    }

    #[test]
    fn every_documented_status_reads_and_anything_else_is_unknown() {
        let ok = r#"{"orderId":"x","status":"TxSuccess","txId":"t","dmOffersFailReason":{"code":""},"dmOffersStatus":{"o1":{"started":true}}}"#;
        assert_eq!(
            parse(ok),
            BuyAnswer::Bought {
                order_id: "x".into()
            }
        );
        assert!(matches!(
            parse(r#"{"status":"TxPending"}"#),
            BuyAnswer::Pending { .. }
        ));
        assert_eq!(
            parse(r#"{"status":"TxFailed","dmOffersFailReason":{"code":"OfferNotFound"}}"#),
            BuyAnswer::Failed {
                code: "OfferNotFound".into()
            }
        );
        assert_eq!(
            parse(r#"{"status":"failed"}"#),
            BuyAnswer::Failed {
                code: "unspecified".into()
            }
        );
        for hostile in [
            "",
            "<html>502</html>",
            "[]",
            r#"{"result":"ok"}"#,
            r#"{"status":"Done"}"#,
            r#"{"status":"TxSuccess","dmOffersFailReason":{"code":"PriceChanged"}}"#,
            r#"{"status":"TxSuccess","dmOffersStatus":{"other":{"started":true}}}"#,
            r#"{"status":"TxSuccess","dmOffersStatus":{"o1":{"started":false}}}"#,
            r#"{"status":"TxSuccess","price":{"amount":"99999","currency":"USD"}}"#,
        ] {
            assert!(
                matches!(parse(hostile), BuyAnswer::Unknown { .. }),
                "{hostile}"
            );
        }
        // A price at or under the one sent is no alarm.
        assert!(matches!(
            parse(r#"{"status":"TxSuccess","price":{"amount":"1250"}}"#),
            BuyAnswer::Bought { .. }
        ));
    }

    #[test]
    fn the_balance_reads_cents_in_every_plausible_form_and_refuses_the_rest() {
        let cents = |b: &str| parse_balance(b.as_bytes()).map(|b| (b.usd.cents(), b.form));
        assert_eq!(
            cents(
                r#"{"usd":"4550","usdAvailableToWithdraw":"0","dmc":"0","dmcAvailableToWithdraw":"0"}"#
            ),
            Ok((4_550, "cents-string"))
        );
        assert_eq!(cents(r#"{"usd":4550}"#), Ok((4_550, "cents-number")));
        assert_eq!(
            cents(r#"{"usd":{"amount":"4550","currency":"USD"}}"#),
            Ok((4_550, "commonMoney"))
        );
        for bad in [
            r#"{"usd":"45.50"}"#,
            r#"{"usd":"-1"}"#,
            r#"{"balance":45.5}"#,
            r#"{"usd":null}"#,
            "nope",
        ] {
            assert!(cents(bad).is_err(), "{bad}");
        }
    }
}
