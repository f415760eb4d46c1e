//! Everything the host knows of Skinport's API (`shared/markets.md` §1): its one published
//! limit (8 requests per 5 minutes) and how its endpoints share it, no authentication for
//! the two public endpoints, the mandatory `Accept-Encoding: br` and the Brotli decoding
//! of every answer, its error bodies, and the hints for its refusals (406 without Brotli,
//! 429 over the limit). The paths and the parsers are the sdk's
//! (`skinscan_sdk::markets::skinport`).

use std::io::Read;
use std::time::Duration;

use skinscan_sdk::markets::skinport::{ITEMS_PATH, SALES_HISTORY_PATH, parse_error_body};

use crate::limit::Rate;
use crate::markets::api::{EndpointGroup, FixedHeader, MarketApi, status_reason};

/// Requests Skinport allows per [`PUBLISHED_WINDOW`] ("8 requests / 5 Minutes", quoted from
/// its docs by several independent clients).
pub const PUBLISHED_REQUESTS: u32 = 8;
/// The window of [`PUBLISHED_REQUESTS`].
pub const PUBLISHED_WINDOW: Duration = Duration::from_secs(300);
/// How long Skinport caches `/v1/items` and `/v1/sales/history`: refreshing faster buys
/// nothing.
pub const SERVER_CACHE: Duration = Duration::from_secs(300);
/// The most bytes a decoded answer may hold (the default of [`Skinport::max_decoded_bytes`]):
/// 64 MiB, several times the ~20,000-row answer of one game.
pub const DEFAULT_MAX_DECODED_BYTES: usize = 64 << 20;

/// Whether the 8-per-5-minutes limit is shared by both endpoints or each endpoint's own.
/// The docs' quote does not say; one client says "per endpoint", unconfirmed. A setting,
/// defaulting to the reading that can never exceed the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitScope {
    /// One budget for every path (the default): every request is in [`EndpointGroup::Other`].
    #[default]
    Shared,
    /// A budget per endpoint: `/v1/items` in [`EndpointGroup::Market`], `/v1/sales/history`
    /// in [`EndpointGroup::Sales`], anything else in [`EndpointGroup::Other`].
    PerEndpoint,
}

/// Skinport's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skinport {
    /// How the published limit is shared.
    pub scope: LimitScope,
    /// The most bytes a decoded answer may hold; a larger one is refused (a Brotli bomb, or
    /// an answer far from the recorded size).
    pub max_decoded_bytes: usize,
}

impl Default for Skinport {
    fn default() -> Self {
        Skinport {
            scope: LimitScope::Shared,
            max_decoded_bytes: DEFAULT_MAX_DECODED_BYTES,
        }
    }
}

impl Skinport {
    /// The published limit as a steady rate (8 per 300 s = 1.6/min), for a group's limiter:
    /// a limiter that never exceeds it in any sliding window never exceeds 8 in 5 minutes.
    pub fn published_rate() -> Rate {
        "1.6/min".parse().expect("1.6/min is a valid rate literal")
    }
}

/// Why an answer's body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The Brotli stream is corrupt or cut short.
    #[error("the Brotli body does not decode ({0}): cut short or corrupt")]
    Corrupt(String),
    /// The decoded body would be larger than allowed.
    #[error("the decoded body is over {max} bytes (skinport max_decoded_bytes): refused")]
    TooLarge {
        /// The limit.
        max: usize,
    },
}

/// Decodes a Brotli body, refusing one that decodes to more than `max` bytes.
pub fn decode_brotli(body: &[u8], max: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(8).min(max));
    let reader = brotli_decompressor::Decompressor::new(body, 4096);
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    if out.len() > max {
        return Err(DecodeError::TooLarge { max });
    }
    Ok(out)
}

const RATE_HINT: &str = "Skinport allows 8 requests per 5 minutes (for /v1/items and \
    /v1/sales/history together, unless per endpoint) and caches both for 5 minutes: fetch \
    each (endpoint, app_id) at most every 5-10 minutes, staggered";

impl MarketApi for Skinport {
    fn name(&self) -> &'static str {
        "skinport"
    }

    fn group(&self, path: &str) -> EndpointGroup {
        match (self.scope, path) {
            (LimitScope::PerEndpoint, ITEMS_PATH) => EndpointGroup::Market,
            (LimitScope::PerEndpoint, SALES_HISTORY_PATH) => EndpointGroup::Sales,
            _ => EndpointGroup::Other,
        }
    }

    fn error_message(&self, status: u16, body: &[u8]) -> String {
        let message = parse_error_body(body)
            .map(|e| match (e.id.is_empty(), e.message.is_empty()) {
                (false, false) => format!("{}: {}", e.id, e.message),
                (false, true) => e.id,
                _ => e.message,
            })
            .unwrap_or_else(|| status_reason(status));
        // The pipeline's 429 path reads only this message: the hint goes here.
        if status == 429 {
            format!("{message} ({RATE_HINT})")
        } else {
            message
        }
    }

    fn explain(
        &self,
        status: u16,
        message: String,
        _signed: bool,
        _clock_skew: Option<i64>,
    ) -> String {
        match status {
            406 => format!(
                "{message} (Skinport answers 406 to a request without `Accept-Encoding: br`: \
                 it went out without that header, or a proxy removed it)"
            ),
            429 if !message.contains(RATE_HINT) => format!("{message} ({RATE_HINT})"),
            _ => message,
        }
    }

    /// Skinport's 429 names no wait (the one recorded has no `Retry-After`): its window is
    /// 5 minutes, and peers pause far longer.
    fn wait_after_429(&self) -> Option<Duration> {
        Some(PUBLISHED_WINDOW)
    }

    fn fixed_headers(&self) -> Vec<FixedHeader> {
        vec![FixedHeader {
            name: "accept-encoding",
            value: "br".to_owned(),
            sensitive: false,
        }]
    }

    /// Brotli (`br`) is decoded; an unencoded body is taken as it is; any other encoding is
    /// refused (only `br` is asked for).
    fn decode_body(
        &self,
        content_encoding: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        match content_encoding.map(str::trim) {
            Some(e) if e.eq_ignore_ascii_case("br") => {
                decode_brotli(&body, self.max_decoded_bytes).map_err(|e| e.to_string())
            }
            None | Some("") | Some("identity") => Ok(body),
            Some(other) => Err(format!(
                "Skinport answered {other:?}-encoded, though only br was asked for"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sdk/tests/fixtures/skinport_items.json` (written from markets.md §1's recorded
    /// answer), compressed with the `brotli` crate (quality 11, window 22).
    const ITEMS_BR: &[u8] = include_bytes!("../../tests/fixtures/skinport_items.json.br");
    const ITEMS_JSON: &[u8] = include_bytes!("../../../../sdk/tests/fixtures/skinport_items.json");

    #[test]
    fn brotli_answers_decode_to_the_json_the_sdk_parses() {
        let s = Skinport::default();
        let json = s.decode_body(Some("br"), ITEMS_BR.to_vec()).unwrap();
        assert_eq!(json, ITEMS_JSON);
        let items =
            skinscan_sdk::markets::skinport::parse_items(&json, skinscan_sdk::Currency::Usd)
                .unwrap();
        assert_eq!(
            items.items[0].min_price,
            Some(skinscan_sdk::Money::usd(736_479))
        );
        // Unencoded passes through; an encoding never asked for is refused.
        assert_eq!(s.decode_body(None, b"[]".to_vec()), Ok(b"[]".to_vec()));
        assert!(
            s.decode_body(Some("gzip"), b"x".to_vec())
                .unwrap_err()
                .contains("gzip")
        );
    }

    #[test]
    fn a_cut_or_oversized_brotli_body_is_refused() {
        let cut = &ITEMS_BR[..ITEMS_BR.len() / 2];
        assert!(matches!(
            decode_brotli(cut, 1 << 20),
            Err(DecodeError::Corrupt(_))
        ));
        assert_eq!(
            decode_brotli(ITEMS_BR, 100),
            Err(DecodeError::TooLarge { max: 100 })
        );
        assert_eq!(
            decode_brotli(ITEMS_BR, ITEMS_JSON.len()).unwrap().len(),
            ITEMS_JSON.len()
        );
    }

    #[test]
    fn every_attempt_asks_for_brotli_and_carries_no_credentials() {
        let h = Skinport::default().fixed_headers();
        assert_eq!(h.len(), 1);
        assert_eq!(
            (h[0].name, h[0].value.as_str(), h[0].sensitive),
            ("accept-encoding", "br", false)
        );
        assert_eq!(
            format!("{:?}", h[0]),
            r#"FixedHeader { name: "accept-encoding", value: "br" }"#
        );
    }

    #[test]
    fn the_406_and_429_refusals_say_what_to_do() {
        let s = Skinport::default();
        let m = s.error_message(
            406,
            br#"[{"id":"not_acceptable","message":"Not Acceptable"}]"#,
        );
        assert_eq!(m, "not_acceptable: Not Acceptable");
        let explained = s.explain(406, m, false, None);
        assert!(explained.contains("Accept-Encoding: br"), "{explained}");
        let limited = s.error_message(429, br#"{"errors":[{"id":"rate_limit_exceeded"}]}"#);
        assert!(
            limited.starts_with("rate_limit_exceeded (Skinport allows 8 requests per 5 minutes"),
            "{limited}"
        );
        // explain does not repeat a hint error_message gave.
        assert_eq!(s.explain(429, limited.clone(), false, None), limited);
        assert!(
            s.explain(429, "Too Many Requests".into(), false, None)
                .contains("8 requests")
        );
        assert_eq!(s.error_message(502, b"<html>"), "Bad Gateway");
        assert_eq!(s.explain(400, "bad".into(), false, None), "bad");
    }

    #[test]
    fn the_limit_is_shared_unless_set_per_endpoint() {
        let shared = Skinport::default();
        assert_eq!(shared.group(ITEMS_PATH), EndpointGroup::Other);
        assert_eq!(shared.group(SALES_HISTORY_PATH), EndpointGroup::Other);
        let per = Skinport {
            scope: LimitScope::PerEndpoint,
            ..Skinport::default()
        };
        assert_eq!(per.group(ITEMS_PATH), EndpointGroup::Market);
        assert_eq!(per.group(SALES_HISTORY_PATH), EndpointGroup::Sales);
        assert_eq!(per.group("/v1/sales/out-of-stock"), EndpointGroup::Other);
        // 8 per 300 s is 1.6 per minute.
        assert_eq!(Skinport::published_rate().to_string(), "1.6/min");
        assert_eq!((PUBLISHED_REQUESTS, PUBLISHED_WINDOW.as_secs()), (8, 300));
    }
}
