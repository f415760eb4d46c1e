//! Skinport's public bulk endpoints, as `shared/markets.md` §1 gives them: request builders
//! for `GET /v1/items` and `GET /v1/sales/history` (no authorization; the host must send
//! `Accept-Encoding: br`, which `skinscan-net`'s Skinport module does and decodes), tolerant
//! parsers of their bare-array answers, and the error body.
//!
//! Money on this wire is a JSON float in major units of the row's `currency`. It becomes
//! integer cents here and nowhere else, from the number's exact text
//! ([`crate::money::major_units_to_cents`]: whole cents kept, binary artefacts snapped, a
//! real fraction of a cent rounded toward zero). Doppler items come back as several rows of
//! one name that differ by `version` ("Phase 1" .. "Black Pearl"): each row keeps its
//! [`Phase`]. A row that does not read is skipped and counted by reason; one in another
//! currency than asked is too (`other currency`).

use serde_json::value::RawValue;

use crate::context::ApiRequest;
use crate::dmarket::ParseError;
use crate::markets::phase::{Phase, price_depends_on_phase};
use crate::markets::wire::{self, Fields};
use crate::model::WireStats;
use crate::money::{Currency, Money};

/// Where the API lives (markets.md §1); requests are relative to it.
pub const BASE_URL: &str = "https://api.skinport.com";
/// Every item's current listings summary, one row per name (and per Doppler phase).
pub const ITEMS_PATH: &str = "/v1/items";
/// Every item's sales statistics over 24 hours, 7, 30 and 90 days.
pub const SALES_HISTORY_PATH: &str = "/v1/sales/history";
/// The `app_id` Skinport defaults to: CS2 (Steam's appid 730).
pub const DEFAULT_APP_ID: u32 = 730;

/// Endpoint names used in [`WireStats`] and errors.
pub mod endpoint {
    /// `/v1/items`.
    pub const ITEMS: &str = "skinport items";
    /// `/v1/sales/history`.
    pub const SALES_HISTORY: &str = "skinport sales history";
}

/// `GET /v1/items?app_id=&currency=&tradable=`: all of a game's items in one answer.
/// `tradable_only` sends `tradable=1` (only items that can be traded now), else
/// `tradable=0` (the recorded call of markets.md §1). The two calls give the tradable and
/// the trade-locked floors.
pub fn items_request(app_id: u32, currency: Currency, tradable_only: bool) -> ApiRequest {
    ApiRequest::get(ITEMS_PATH)
        .param("app_id", app_id)
        .param("currency", currency.code())
        .param("tradable", u8::from(tradable_only))
}

/// `GET /v1/sales/history?app_id=&currency=` (and `market_hash_name=` for one item; without
/// it, every item in one answer).
pub fn sales_history_request(
    app_id: u32,
    currency: Currency,
    market_hash_name: Option<&str>,
) -> ApiRequest {
    let r = ApiRequest::get(SALES_HISTORY_PATH)
        .param("app_id", app_id)
        .param("currency", currency.code());
    match market_hash_name {
        Some(name) => r.param("market_hash_name", name),
        None => r,
    }
}

/// One `/v1/items` row: what one name (one phase, for a Doppler) is listed at.
#[derive(Debug, Clone, PartialEq)]
pub struct SkinportItem {
    /// Steam's `market_hash_name`, the key every market shares.
    pub market_hash_name: String,
    /// The Doppler / Gamma Doppler phase, from `version`; `None` when `version` is null.
    pub phase: Option<Phase>,
    /// The lowest listing: what a buyer pays (no buyer fee on top, markets.md §1).
    pub min_price: Option<Money>,
    /// The highest listing.
    pub max_price: Option<Money>,
    /// The mean listing price.
    pub mean_price: Option<Money>,
    /// The median listing price.
    pub median_price: Option<Money>,
    /// Skinport's suggested price.
    pub suggested_price: Option<Money>,
    /// Listings on sale.
    pub quantity: u32,
    /// The row's `updated_at` (unix seconds): the time of Skinport's 5-minute cache.
    pub updated_at: Option<i64>,
}

/// One parsed `/v1/items` answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SkinportItems {
    /// The rows that parsed, in the answer's order.
    pub items: Vec<SkinportItem>,
    /// Rows the answer held, parsed or not.
    pub entries: u64,
    /// Rows dropped (by reason, with an example) and forms seen.
    pub wire: WireStats,
}

/// One window of `/v1/sales/history` (`last_7_days`): all-null statistics and `volume: 0`
/// when nothing sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SalesWindow {
    /// The lowest sale.
    pub min: Option<Money>,
    /// The highest sale.
    pub max: Option<Money>,
    /// The average sale.
    pub avg: Option<Money>,
    /// The median sale.
    pub median: Option<Money>,
    /// Sales in the window.
    pub volume: u32,
}

/// One `/v1/sales/history` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkinportSales {
    /// Steam's `market_hash_name`.
    pub market_hash_name: String,
    /// The phase, from `version`.
    pub phase: Option<Phase>,
    /// `last_24_hours`, when the row has it.
    pub last_24_hours: Option<SalesWindow>,
    /// `last_7_days`.
    pub last_7_days: Option<SalesWindow>,
    /// `last_30_days`.
    pub last_30_days: Option<SalesWindow>,
    /// `last_90_days`.
    pub last_90_days: Option<SalesWindow>,
}

/// One parsed `/v1/sales/history` answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SkinportSalesHistory {
    /// The rows that parsed.
    pub sales: Vec<SkinportSales>,
    /// Rows the answer held, parsed or not.
    pub entries: u64,
    /// Rows dropped and forms seen.
    pub wire: WireStats,
}

/// Parses a `/v1/items` answer asked in `currency`.
pub fn parse_items(body: &[u8], currency: Currency) -> Result<SkinportItems, ParseError> {
    let ep = endpoint::ITEMS;
    let mut wire = WireStats::default();
    let list = wire::entries(body, ep, "an array of Skinport items", &mut wire)?;
    let mut out = SkinportItems {
        items: Vec::with_capacity(list.entries.len()),
        entries: list.entries.len() as u64,
        wire,
    };
    for entry in list.entries {
        match parse_item(entry, currency, &mut out.wire) {
            Ok(item) => out.items.push(item),
            Err(reason) => out.wire.drop_entry(ep, &reason, entry.get()),
        }
    }
    Ok(out)
}

fn parse_item(
    entry: &RawValue,
    currency: Currency,
    wire: &mut WireStats,
) -> Result<SkinportItem, String> {
    let ep = endpoint::ITEMS;
    let f = wire::fields(entry).ok_or("not an item object")?;
    let (market_hash_name, phase) = name_and_phase(&f, currency, ep, wire)?;
    let money = |key: &str, wire: &mut WireStats| wire::major_money(&f, key, currency, ep, wire);
    let item = SkinportItem {
        min_price: money("min_price", wire)?,
        max_price: money("max_price", wire)?,
        mean_price: money("mean_price", wire)?,
        median_price: money("median_price", wire)?,
        suggested_price: money("suggested_price", wire)?,
        quantity: wire::count(&f, "quantity", ep, wire)?,
        updated_at: wire::unix_seconds(&f, "updated_at"),
        market_hash_name,
        phase,
    };
    if item.quantity > 0 && item.min_price.is_none() {
        wire.saw(ep, "min_price null with quantity");
    }
    Ok(item)
}

/// The row's name, currency check and phase, shared by both endpoints. A `version` that
/// is not a phase, or a phase that does not exist for the title's finish, drops the row:
/// pooling it under the name would mix prices that differ.
fn name_and_phase(
    f: &Fields<'_>,
    currency: Currency,
    ep: &str,
    wire: &mut WireStats,
) -> Result<(String, Option<Phase>), String> {
    let name = wire::text(f, "market_hash_name").ok_or("no market_hash_name")?;
    wire::check_currency(f, currency, ep, wire)?;
    let phase = match f.get("version").map(|v| v.get()) {
        None | Some("null") => {
            if price_depends_on_phase(&name) {
                wire.saw(ep, "version null on a Doppler");
            }
            None
        }
        Some(_) => {
            let text = wire::text(f, "version").ok_or("bad version")?;
            let phase = Phase::parse(&text).ok_or("unrecognised version")?;
            if !phase.fits(&name) {
                return Err("version does not fit the title".to_owned());
            }
            Some(phase)
        }
    };
    Ok((name, phase))
}

/// Parses a `/v1/sales/history` answer asked in `currency`.
pub fn parse_sales_history(
    body: &[u8],
    currency: Currency,
) -> Result<SkinportSalesHistory, ParseError> {
    let ep = endpoint::SALES_HISTORY;
    let mut wire = WireStats::default();
    let list = wire::entries(body, ep, "an array of Skinport sales rows", &mut wire)?;
    let mut out = SkinportSalesHistory {
        sales: Vec::with_capacity(list.entries.len()),
        entries: list.entries.len() as u64,
        wire,
    };
    for entry in list.entries {
        match parse_sales_row(entry, currency, &mut out.wire) {
            Ok(row) => out.sales.push(row),
            Err(reason) => out.wire.drop_entry(ep, &reason, entry.get()),
        }
    }
    Ok(out)
}

fn parse_sales_row(
    entry: &RawValue,
    currency: Currency,
    wire: &mut WireStats,
) -> Result<SkinportSales, String> {
    let ep = endpoint::SALES_HISTORY;
    let f = wire::fields(entry).ok_or("not a sales object")?;
    let (market_hash_name, phase) = name_and_phase(&f, currency, ep, wire)?;
    let mut window = |key: &str| -> Result<Option<SalesWindow>, String> {
        let raw = match f.get(key) {
            None => {
                wire.saw(ep, &format!("{key} missing"));
                return Ok(None);
            }
            Some(v) if v.get() == "null" => return Ok(None),
            Some(v) => v,
        };
        let w = wire::fields(raw).ok_or_else(|| format!("bad {key}"))?;
        let money = |k: &str, wire: &mut WireStats| wire::major_money(&w, k, currency, ep, wire);
        let reason = |e: String| format!("{key}: {e}");
        Ok(Some(SalesWindow {
            min: money("min", wire).map_err(reason)?,
            max: money("max", wire).map_err(reason)?,
            avg: money("avg", wire).map_err(reason)?,
            median: money("median", wire).map_err(reason)?,
            volume: wire::count(&w, "volume", ep, wire).map_err(reason)?,
        }))
    };
    Ok(SkinportSales {
        last_24_hours: window("last_24_hours")?,
        last_7_days: window("last_7_days")?,
        last_30_days: window("last_30_days")?,
        last_90_days: window("last_90_days")?,
        market_hash_name,
        phase,
    })
}

/// A Skinport error: `[{"id", "message"}]` (skinport-rs), `{"errors": [{"id"}]}` (a 429
/// fixture of a third party), or a bare `{"id", "message"}` / `{"message"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkinportError {
    /// The error id (`rate_limit_exceeded`, `not_acceptable`); may be empty.
    pub id: String,
    /// The human message; may be empty.
    pub message: String,
}

/// Parses an error body in any of its shapes (the first error of a list), if it is one.
pub fn parse_error_body(body: &[u8]) -> Option<SkinportError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let first = match &v {
        serde_json::Value::Array(a) => a.first()?,
        serde_json::Value::Object(o) => match o.get("errors") {
            Some(serde_json::Value::Array(a)) => a.first()?,
            _ => &v,
        },
        _ => return None,
    };
    let text = |k: &str| {
        first
            .get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let e = SkinportError {
        id: text("id"),
        message: text("message"),
    };
    (!e.id.is_empty() || !e.message.is_empty()).then_some(e)
}

/// The snapshot parts this market's answers make.
impl crate::markets::snapshot::SnapshotBuilder {
    /// Adds Skinport's `/v1/items`, fetched at `fetched_at`: lowest, suggested, quantity.
    pub fn skinport_items(mut self, items: SkinportItems, fetched_at: i64) -> Self {
        self.wire_mut().merge(&items.wire);
        let n = items.items.len();
        for i in items.items {
            self.push(i.market_hash_name, i.phase, |q| {
                q.lowest = i.min_price;
                q.suggested = i.suggested_price;
                q.quantity = i.quantity;
            });
        }
        self.part(endpoint::ITEMS, fetched_at, n);
        self
    }

    /// Adds Skinport's `/v1/sales/history`: the 7-day median and volume.
    pub fn skinport_sales(mut self, sales: SkinportSalesHistory, fetched_at: i64) -> Self {
        self.wire_mut().merge(&sales.wire);
        let n = sales.sales.len();
        for s in sales.sales {
            let week = s.last_7_days;
            self.push(s.market_hash_name, s.phase, |q| {
                q.median_7d = week.and_then(|w| w.median);
                q.volume_7d = week.map(|w| w.volume);
            });
        }
        self.part(endpoint::SALES_HISTORY, fetched_at, n);
        self
    }
}

#[cfg(test)]
mod tests;
