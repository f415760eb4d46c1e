//! Everything the host knows of CSFloat's API (`shared/markets.md` §2): which path is in
//! which group, the optional `Authorization: <key>` header (the raw key from
//! `CSFLOAT_API_KEY`, no `Bearer`), its `X-Ratelimit-*` headers (whose reset is a unix time,
//! not a delay), its error bodies, and the hints for its refusals. CSFloat publishes no
//! limits: the one reported figure is a setting's default here, marked as weak. The paths
//! and parsers are the sdk's (`skinscan_sdk::markets::csfloat`).

use std::time::Duration;

use http::HeaderMap;
use skinscan_sdk::markets::csfloat::{LISTINGS_PATH, PRICE_LIST_PATH, parse_error_body};

use crate::limit::Rate;
use crate::markets::api::{EndpointGroup, FixedHeader, MarketApi, status_reason};
use crate::secret::Secret;

/// The default rate of `/api/v1/listings`: "v1/listings 5 requests/minute", cited from the
/// BetterFloat wiki in csfloat/docs issue #8 (weak: one commenter, unpublished by CSFloat).
pub const DEFAULT_LISTINGS_RATE: &str = "5/min";

/// CSFloat's API, with the optional API key.
#[derive(Debug, Clone, Default)]
pub struct Csfloat {
    key: Option<Secret>,
}

impl Csfloat {
    /// With `key` (from `CSFLOAT_API_KEY`); an empty key is none.
    pub fn new(key: Option<Secret>) -> Self {
        Csfloat {
            key: key.filter(|k| !k.expose().trim().is_empty()),
        }
    }

    /// True when requests carry a key.
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// [`DEFAULT_LISTINGS_RATE`] as a rate.
    pub fn default_listings_rate() -> Rate {
        DEFAULT_LISTINGS_RATE
            .parse()
            .expect("DEFAULT_LISTINGS_RATE is a valid rate literal")
    }
}

/// CSFloat's rate-limit headers (`X-Ratelimit-Limit`, `-Remaining`, `-Reset`), as
/// Bios-Marcel/csfloat_go reads them: the reset is a **unix time** in seconds. Different
/// endpoints send different ones (csfloat/docs #8), so each answer is read on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CsfloatRateHeaders {
    /// `X-Ratelimit-Limit`: requests per window.
    pub limit: Option<u64>,
    /// `X-Ratelimit-Remaining`.
    pub remaining: Option<u64>,
    /// `X-Ratelimit-Reset`: when the window resets, unix seconds.
    pub reset_at: Option<i64>,
}

impl CsfloatRateHeaders {
    /// Reads them (names are case-insensitive); a value that does not parse is `None`.
    pub fn read(headers: &HeaderMap) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        CsfloatRateHeaders {
            limit: text("x-ratelimit-limit").and_then(|v| v.parse().ok()),
            remaining: text("x-ratelimit-remaining").and_then(|v| v.parse().ok()),
            reset_at: text("x-ratelimit-reset").and_then(|v| v.parse().ok()),
        }
    }

    /// Time left until the reset at `now` (unix seconds); zero once passed.
    pub fn until_reset(&self, now: i64) -> Option<Duration> {
        let left = self.reset_at?.saturating_sub(now);
        Some(Duration::from_secs(u64::try_from(left).unwrap_or(0)))
    }

    /// The pause between requests that spreads what remains over the rest of the window
    /// (csfloat_go's `SuggestedWait`: time to reset / remaining); the whole time to reset
    /// when nothing remains.
    pub fn suggested_wait(&self, now: i64) -> Option<Duration> {
        let until = self.until_reset(now)?;
        match self.remaining? {
            0 => Some(until),
            n => Some(until / u32::try_from(n).unwrap_or(u32::MAX)),
        }
    }
}

impl MarketApi for Csfloat {
    fn name(&self) -> &'static str {
        "csfloat"
    }

    fn group(&self, path: &str) -> EndpointGroup {
        match path {
            LISTINGS_PATH => EndpointGroup::Market,
            PRICE_LIST_PATH => EndpointGroup::Other,
            p if p.starts_with("/api/v1/history/") => EndpointGroup::Sales,
            _ => EndpointGroup::Other,
        }
    }

    fn error_message(&self, status: u16, body: &[u8]) -> String {
        parse_error_body(body).unwrap_or_else(|| status_reason(status))
    }

    fn explain(
        &self,
        status: u16,
        message: String,
        _signed: bool,
        _clock_skew: Option<i64>,
    ) -> String {
        match (status, self.has_key()) {
            (401 | 403, false) => format!(
                "{message} (no CSFloat API key was sent: set CSFLOAT_API_KEY to the key from \
                 your CSFloat profile's developer tab)"
            ),
            (401 | 403, true) => format!(
                "{message} (CSFloat refused the key in CSFLOAT_API_KEY: copy it again from \
                 your profile's developer tab; it is sent raw, without `Bearer`)"
            ),
            (429, _) => format!(
                "{message} (CSFloat publishes no limits; each endpoint's X-Ratelimit-Reset \
                 says when its window ends, and /api/v1/listings is reported at about 5 \
                 requests per minute)"
            ),
            _ => message,
        }
    }

    fn fixed_headers(&self) -> Vec<FixedHeader> {
        self.key
            .iter()
            .map(|k| FixedHeader {
                name: "authorization",
                value: k.expose().trim().to_owned(),
                sensitive: true,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn the_key_is_sent_raw_marked_sensitive_and_never_printed() {
        let api = Csfloat::new(Some(Secret::new("k3y-abc")));
        let h = api.fixed_headers();
        assert_eq!(h.len(), 1);
        assert_eq!(
            (h[0].name, h[0].value.as_str(), h[0].sensitive),
            ("authorization", "k3y-abc", true)
        );
        assert!(!format!("{h:?} {api:?}").contains("k3y-abc"));
        assert!(Csfloat::new(None).fixed_headers().is_empty());
        assert!(!Csfloat::new(Some(Secret::new("  "))).has_key());
    }

    #[test]
    fn rate_headers_reset_at_a_unix_time() {
        let mut h = HeaderMap::new();
        h.insert("X-Ratelimit-Limit", HeaderValue::from_static("10"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("4"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1776601060"));
        let r = CsfloatRateHeaders::read(&h);
        assert_eq!(
            r,
            CsfloatRateHeaders {
                limit: Some(10),
                remaining: Some(4),
                reset_at: Some(1_776_601_060)
            }
        );
        let now = 1_776_601_000;
        assert_eq!(r.until_reset(now), Some(Duration::from_secs(60)));
        assert_eq!(r.suggested_wait(now), Some(Duration::from_secs(15)));
        let spent = CsfloatRateHeaders {
            remaining: Some(0),
            ..r
        };
        assert_eq!(spent.suggested_wait(now), Some(Duration::from_secs(60)));
        assert_eq!(r.until_reset(now + 100), Some(Duration::ZERO));
        assert_eq!(
            CsfloatRateHeaders::read(&HeaderMap::new()),
            CsfloatRateHeaders::default()
        );
        assert_eq!(CsfloatRateHeaders::default().suggested_wait(now), None);
    }

    #[test]
    fn refusals_say_whether_a_key_was_sent_and_429_names_the_headers() {
        let none = Csfloat::new(None);
        let keyed = Csfloat::new(Some(Secret::new("k")));
        assert!(
            none.explain(401, "Unauthorized".into(), false, None)
                .contains("set CSFLOAT_API_KEY")
        );
        assert!(
            keyed
                .explain(403, "Forbidden".into(), false, None)
                .contains("without `Bearer`")
        );
        assert!(
            none.explain(429, "slow".into(), false, None)
                .contains("X-Ratelimit-Reset")
        );
        assert_eq!(none.explain(404, "nope".into(), false, None), "nope");
        assert_eq!(
            none.error_message(429, br#"{"message":"too many requests"}"#),
            "too many requests"
        );
        assert_eq!(none.error_message(500, b""), "Internal Server Error");
    }

    #[test]
    fn paths_map_to_groups_and_the_weak_default_rate_parses() {
        let api = Csfloat::default();
        assert_eq!(api.group(LISTINGS_PATH), EndpointGroup::Market);
        assert_eq!(api.group(PRICE_LIST_PATH), EndpointGroup::Other);
        assert_eq!(
            api.group("/api/v1/history/AK-47/sales"),
            EndpointGroup::Sales
        );
        assert_eq!(Csfloat::default_listings_rate().to_string(), "5/min");
        // Unencoded answers only (CSFloat is asked for no encoding).
        assert_eq!(api.decode_body(None, b"[]".to_vec()), Ok(b"[]".to_vec()));
        assert!(api.decode_body(Some("br"), vec![]).is_err());
    }
}
