//! What one answer says, read from the answer alone: its rate-limit headers (both spellings,
//! `Retry-After` as seconds or a date) and what it means for the request ([`classify`]).
//! Pure functions, so every status and header combination is tested without a server.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// The rate-limit headers of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// `RateLimit-Limit` / `X-RateLimit-Limit-Second`.
    pub limit: Option<u64>,
    /// `RateLimit-Remaining` / `X-RateLimit-Remaining-Second`.
    pub remaining: Option<u64>,
    /// `RateLimit-Reset`: until the window resets.
    pub reset: Option<Duration>,
    /// `Retry-After`, in seconds or as an HTTP date.
    pub retry_after: Option<Duration>,
    /// The wait a 429 naming none stands for on this market (its module's
    /// `wait_after_429`), set by the pipeline, never read from the answer.
    pub implied: Option<Duration>,
}

impl RateHeaders {
    /// Reads them from `headers`, in either spelling; a value that does not parse is `None`.
    /// One pass over the answer's few headers, rather than a look-up (a hash) per spelling.
    pub fn read(headers: &HeaderMap) -> RateHeaders {
        // The first value of each name, as `HeaderMap::get` gives it.
        let mut seen = [false; NAMES.len()];
        let mut values: [Option<&str>; NAMES.len()] = [None; NAMES.len()];
        for (name, value) in headers {
            if let Some(i) = NAMES.iter().position(|n| *n == name.as_str())
                && !std::mem::replace(&mut seen[i], true)
            {
                values[i] = value.to_str().ok().map(str::trim);
            }
        }
        let text = |names: std::ops::Range<usize>| values[names].iter().find_map(|v| *v);
        let int = |names| text(names).and_then(|v| v.parse::<u64>().ok());
        RateHeaders {
            limit: int(0..3),
            remaining: int(3..6),
            reset: text(6..8).and_then(|v| parse_reset(v, SystemTime::now())),
            retry_after: text(8..9).and_then(parse_retry_after),
            implied: None,
        }
    }
}

/// The rate-limit headers' names in [`RateHeaders::read`]'s order of preference: limit (0..3),
/// remaining (3..6), reset (6..8), `Retry-After` (8).
const NAMES: [&str; 9] = [
    "ratelimit-limit",
    "x-ratelimit-limit-second",
    "x-ratelimit-limit",
    "ratelimit-remaining",
    "x-ratelimit-remaining-second",
    "x-ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-reset",
    "retry-after",
];

/// Past this, a reset value is a Unix time (CSFloat's `X-Ratelimit-Reset: 1776601060`), not
/// seconds to wait (DMarket's `RateLimit-Reset: 1`): no window lasts 30 years.
const RESET_IS_A_UNIX_TIME: f64 = 1e9;

/// A reset as seconds to wait or as the Unix time it happens (in the past: 0).
fn parse_reset(v: &str, now: SystemTime) -> Option<Duration> {
    let n: f64 = v.parse().ok()?;
    if n.is_finite() && n >= RESET_IS_A_UNIX_TIME {
        let now = now
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        return parse_seconds(&format!("{}", (n - now).max(0.0)));
    }
    parse_seconds(v)
}

/// Seconds as a non-negative number (`"1"`, `"0.5"`); anything else, or absurd, is `None`.
fn parse_seconds(v: &str) -> Option<Duration> {
    let secs: f64 = v.parse().ok()?;
    // A wait past a day is not a wait a scanner can honour: treat it as unknown so the cap
    // applies rather than an overflow.
    (secs.is_finite() && (0.0..=86_400.0).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3). A date in the past is 0.
fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(u64::from(u32::MAX))));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// What an answer means for the request, decided from the answer alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// 2xx with a whole JSON body.
    Success,
    /// 2xx whose body was cut short or is not JSON: retry.
    BadBody(String),
    /// 429: pause for the server's wait (and which header named it), else back off; retry.
    RateLimited {
        wait: Option<(Duration, &'static str)>,
    },
    /// 429 asking for a wait over the cap: fail at once.
    WaitTooLong {
        wait: Duration,
        told_by: &'static str,
    },
    /// 5xx: retry, count towards the breaker.
    ServerError,
    /// Any other status: fail, no retry.
    ClientError,
}

/// Classifies an answer: a pure function of its status, rate-limit headers and body.
pub(super) fn classify(
    status: u16,
    limits: &RateHeaders,
    body: &[u8],
    max_wait: Duration,
) -> Outcome {
    match status {
        200..=299 => match super::shape::whole_json(body) {
            Ok(()) => Outcome::Success,
            Err(why) => Outcome::BadBody(why),
        },
        429 => {
            // DMarket documents 429 without Retry-After: RateLimit-Reset says when the
            // window ends. Wait for the later of the two when both come.
            let wait = match (limits.retry_after, limits.reset) {
                (Some(a), Some(r)) if r > a => Some((r, "RateLimit-Reset")),
                (Some(a), _) => Some((a, "Retry-After")),
                (None, Some(r)) => Some((r, "RateLimit-Reset")),
                (None, None) => limits.implied.map(|w| (w, "the market's published window")),
            };
            match wait {
                Some((w, told_by)) if w > max_wait => Outcome::WaitTooLong { wait: w, told_by },
                wait => Outcome::RateLimited { wait },
            }
        }
        500..=599 => Outcome::ServerError,
        _ => Outcome::ClientError,
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn rate_limit_headers_are_read_in_both_spellings_and_retry_after_as_a_date() {
        let mut h = HeaderMap::new();
        h.insert("ratelimit-limit", HeaderValue::from_static("10"));
        h.insert("ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("ratelimit-reset", HeaderValue::from_static("1"));
        assert_eq!(
            RateHeaders::read(&h),
            RateHeaders {
                limit: Some(10),
                remaining: Some(0),
                reset: Some(Duration::from_secs(1)),
                retry_after: None,
                implied: None
            }
        );
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit-second", HeaderValue::from_static("6"));
        h.insert(
            "x-ratelimit-remaining-second",
            HeaderValue::from_static("4"),
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        h.insert("retry-after", HeaderValue::from_str(&later).unwrap());
        let r = RateHeaders::read(&h);
        assert_eq!((r.limit, r.remaining, r.reset), (Some(6), Some(4), None));
        let wait = r.retry_after.unwrap();
        assert!(
            wait > Duration::from_secs(28) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        // CSFloat's spelling: the reset is the Unix time the window ends.
        let mut h = HeaderMap::new();
        h.insert("X-Ratelimit-Limit", HeaderValue::from_static("10"));
        h.insert("X-Ratelimit-Remaining", HeaderValue::from_static("0"));
        h.insert("X-Ratelimit-Reset", HeaderValue::from_static("1776601060"));
        let r = RateHeaders::read(&h);
        assert_eq!((r.limit, r.remaining), (Some(10), Some(0)));
        let at = |unix: u64| std::time::UNIX_EPOCH + Duration::from_secs(unix);
        assert_eq!(
            parse_reset("1776601060", at(1_776_601_000)),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_reset("1776601060", at(1_776_602_000)),
            Some(Duration::ZERO),
            "a reset in the past is no wait"
        );
        assert_eq!(
            parse_reset("2", at(1_776_601_000)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_reset("4776601060", at(1_776_601_000)),
            None,
            "a reset decades away is unknown, so the cap applies"
        );
        // Garbage and absurd values are unknown, never an overflow or a panic.
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("1e300"), None);
        assert_eq!(parse_seconds("soon"), None);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999"),
            None,
            "does not fit u64: unknown"
        );
        assert_eq!(
            parse_retry_after("18446744073709551615"),
            Some(Duration::from_secs(u64::from(u32::MAX)))
        );
    }

    #[test]
    fn answers_are_classified_from_status_headers_and_body_alone() {
        let none = RateHeaders::default();
        let max = Duration::from_secs(60);
        assert_eq!(classify(200, &none, b"{}", max), Outcome::Success);
        assert!(matches!(
            classify(200, &none, b"{\"objects\":[", max),
            Outcome::BadBody(_)
        ));
        assert!(matches!(
            classify(204, &none, b"<html>", max),
            Outcome::BadBody(_)
        ));
        assert_eq!(
            classify(429, &none, b"", max),
            Outcome::RateLimited { wait: None }
        );
        let both = RateHeaders {
            reset: Some(Duration::from_secs(2)),
            retry_after: Some(Duration::from_secs(1)),
            ..RateHeaders::default()
        };
        assert_eq!(
            classify(429, &both, b"", max),
            Outcome::RateLimited {
                wait: Some((Duration::from_secs(2), "RateLimit-Reset"))
            }
        );
        let long = RateHeaders {
            retry_after: Some(Duration::from_secs(3_600)),
            ..RateHeaders::default()
        };
        assert_eq!(
            classify(429, &long, b"", max),
            Outcome::WaitTooLong {
                wait: Duration::from_secs(3_600),
                told_by: "Retry-After"
            }
        );
        assert_eq!(classify(503, &none, b"", max), Outcome::ServerError);
        assert_eq!(classify(401, &none, b"", max), Outcome::ClientError);
        assert_eq!(classify(404, &none, b"{}", max), Outcome::ClientError);
    }
}
