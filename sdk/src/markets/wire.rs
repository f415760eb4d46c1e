//! Readers the reference markets' parsers share: the answer's list of entries (a bare array
//! or an envelope), money in major units or in cents from a field's exact JSON text, counts,
//! and the row's currency. Each reader counts the forms it sees in [`WireStats`] and returns
//! the reason a value does not read, so the caller can drop the entry under it.
//!
//! Private to [`crate::markets`]: the public surface is each market's module.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::dmarket::{ParseError, not_the_shape, raw_str, whole_number};
use crate::model::WireStats;
use crate::money::{CentsRounding, Currency, Money, major_units_to_cents};

/// An entry's fields by name, each as its exact JSON text.
pub(crate) type Fields<'a> = BTreeMap<Cow<'a, str>, &'a RawValue>;

/// An answer's entries and the cursor of a further page, if it names one.
#[derive(Debug)]
pub(crate) struct Entries<'a> {
    pub(crate) entries: Vec<&'a RawValue>,
    pub(crate) cursor: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    data: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    cursor: Option<String>,
}

/// The entries of an answer that is a bare JSON array (`answer=bare array`) or an object
/// holding one under `data` or `items` (`answer={data}`, `answer={items}`), with its
/// `cursor`. Anything else is the endpoint's [`ParseError`], quoting the body.
pub(crate) fn entries<'a>(
    body: &'a [u8],
    endpoint: &'static str,
    expected: &str,
    wire: &mut WireStats,
) -> Result<Entries<'a>, ParseError> {
    let shape = |why: &str| not_the_shape(endpoint, expected, why, body);
    let start = body.iter().find(|b| !b.is_ascii_whitespace());
    if start == Some(&b'[') {
        let entries: Vec<&RawValue> =
            serde_json::from_slice(body).map_err(|e| shape(&e.to_string()))?;
        wire.saw(endpoint, "answer=bare array");
        return Ok(Entries {
            entries,
            cursor: None,
        });
    }
    let env: Envelope<'_> = serde_json::from_slice(body).map_err(|e| shape(&e.to_string()))?;
    let (entries, form) = match (env.data, env.items) {
        (Some(d), _) => (d, "answer={data}"),
        (None, Some(i)) => (i, "answer={items}"),
        (None, None) => return Err(shape("neither an array nor \"data\"")),
    };
    wire.saw(endpoint, form);
    Ok(Entries {
        entries,
        cursor: env.cursor.filter(|c| !c.is_empty()),
    })
}

/// An entry's fields, or `None` when it is not a JSON object.
pub(crate) fn fields(entry: &RawValue) -> Option<Fields<'_>> {
    serde_json::from_str(entry.get()).ok()
}

/// A non-empty string field.
pub(crate) fn text(fields: &Fields<'_>, key: &str) -> Option<String> {
    fields
        .get(key)
        .and_then(|v| raw_str(v))
        .filter(|s| !s.trim().is_empty())
}

/// A non-empty string or number field's text (an id seen as either).
pub(crate) fn id_text(fields: &Fields<'_>, key: &str) -> Option<String> {
    let v = fields.get(key)?;
    match v.get().as_bytes().first()? {
        b'"' => raw_str(v).filter(|s| !s.is_empty()),
        b'0'..=b'9' => Some(v.get().to_owned()),
        _ => None,
    }
}

/// Money in *major* units (`7364.79`): a JSON number read from its exact text, or a decimal
/// string (`money=string`, counted); `null` or absent is none, and so is zero (`money=zero`).
/// A rounding that was not exact is counted (`money=artefact`, `money=sub-cent down`). Any
/// other value is `Err("bad <field>")`.
pub(crate) fn major_money(
    fields: &Fields<'_>,
    key: &str,
    currency: Currency,
    endpoint: &str,
    wire: &mut WireStats,
) -> Result<Option<Money>, String> {
    let bad = || format!("bad {key}");
    let Some(v) = fields.get(key) else {
        return Ok(None);
    };
    let raw = v.get();
    let text = match raw.as_bytes().first() {
        Some(b'n') if raw == "null" => return Ok(None),
        Some(b'"') => {
            wire.saw(endpoint, "money=string");
            raw_str(v).ok_or_else(bad)?
        }
        Some(b'-' | b'0'..=b'9') => raw.to_owned(),
        _ => return Err(bad()),
    };
    let (cents, rounding) = major_units_to_cents(&text).map_err(|_| bad())?;
    if rounding != CentsRounding::Exact {
        wire.saw(endpoint, &format!("money={}", rounding.as_str()));
    }
    if cents == 0 {
        wire.saw(endpoint, "money=zero");
        return Ok(None);
    }
    Ok(Some(Money::from_cents(cents, currency)))
}

/// Money in whole *cents* (`260000`): a JSON integer; a string of digits (`cents=string`)
/// and a number with a zero fraction (`cents=decimal`, `260000.0`) are read and counted.
/// `null` or absent is none; zero is none (`cents=zero`). Anything else is
/// `Err("bad <field>")`, a fraction of a cent included: CSFloat's unit is the cent.
pub(crate) fn cents_money(
    fields: &Fields<'_>,
    key: &str,
    endpoint: &str,
    wire: &mut WireStats,
) -> Result<Option<Money>, String> {
    let bad = || format!("bad {key}");
    let Some(v) = fields.get(key) else {
        return Ok(None);
    };
    let raw = v.get();
    if raw == "null" {
        return Ok(None);
    }
    let cents = if let Some(n) = whole_number(raw).filter(|_| !raw.starts_with('"')) {
        n
    } else if let Some(n) = raw_str(v).and_then(|s| whole_number(&s)) {
        wire.saw(endpoint, "cents=string");
        n
    } else {
        match major_units_to_cents(raw) {
            Ok((c, CentsRounding::Exact)) if c % 100 == 0 => {
                wire.saw(endpoint, "cents=decimal");
                c / 100
            }
            _ => return Err(bad()),
        }
    };
    if cents == 0 {
        wire.saw(endpoint, "cents=zero");
        return Ok(None);
    }
    Ok(Some(Money::usd(cents)))
}

/// A count (`quantity`, `volume`): a JSON integer or a string of digits (`count=string`).
/// Absent or `null` is 0 (counted as `<field> missing`). Anything else is
/// `Err("bad <field>")`.
pub(crate) fn count(
    fields: &Fields<'_>,
    key: &str,
    endpoint: &str,
    wire: &mut WireStats,
) -> Result<u32, String> {
    let Some(v) = fields.get(key).filter(|v| v.get() != "null") else {
        wire.saw(endpoint, &format!("{key} missing"));
        return Ok(0);
    };
    let raw = v.get();
    let n = if raw.starts_with('"') {
        wire.saw(endpoint, "count=string");
        raw_str(v).and_then(|s| whole_number(&s))
    } else {
        whole_number(raw)
    };
    n.map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        .ok_or_else(|| format!("bad {key}"))
}

/// Checks a row's `currency` against the one asked for: a match is fine, an absent one is
/// counted (`currency missing`) and assumed, another one is `Err("other currency")`.
pub(crate) fn check_currency(
    fields: &Fields<'_>,
    currency: Currency,
    endpoint: &str,
    wire: &mut WireStats,
) -> Result<(), String> {
    match fields.get("currency").and_then(|v| raw_str(v)) {
        Some(code) if code.trim().eq_ignore_ascii_case(currency.code()) => Ok(()),
        Some(_) => Err("other currency".to_owned()),
        None => {
            wire.saw(endpoint, "currency missing");
            Ok(())
        }
    }
}

/// A whole number of unix seconds (`updated_at`), when it reads.
pub(crate) fn unix_seconds(fields: &Fields<'_>, key: &str) -> Option<i64> {
    let v = fields.get(key)?;
    whole_number(v.get()).map(|n| if n > 100_000_000_000 { n / 1_000 } else { n })
}
