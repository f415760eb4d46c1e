//! The boundary between a plugin and the host: `ScanContext`, requests, responses, errors.
//!
//! A plugin never performs I/O of its own. It builds an [`ApiRequest`], hands it to
//! [`ScanContext::send`], and the host rate-limits, signs, retries, traces and sends it over its
//! one shared HTTP/2 connection. Everything here is std + sdk types so it can cross a cdylib
//! boundary unchanged.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::settings::SettingsError;

/// HTTP method of an API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PATCH` (DMarket's buy, `PATCH /exchange/v1/offers-buy`): signed like a `POST`, over
    /// the exact body. Never `read_only`: the host does not retry it once it may have
    /// reached the server.
    Patch,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to the market API, relative to the host's configured endpoint.
///
/// The query is kept as decoded pairs; [`ApiRequest::encoded_query`] is the one place that
/// turns them into wire bytes, so the host signs exactly what it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// The method.
    pub method: Method,
    /// The route path, starting with `/` (`/exchange/v1/market/items`).
    pub path: String,
    /// Query pairs in order, not yet encoded.
    pub query: Vec<(String, String)>,
    /// The JSON body, if any.
    pub body: Option<Vec<u8>>,
    /// True when repeating the request cannot change anything on the server (reads), so the
    /// host may retry it. GETs are; the aggregated-prices POST is too.
    pub read_only: bool,
}

impl ApiRequest {
    /// A `GET` of `path`.
    pub fn get(path: impl Into<String>) -> Self {
        ApiRequest {
            method: Method::Get,
            path: path.into(),
            query: Vec::new(),
            body: None,
            read_only: true,
        }
    }

    /// A `POST` of a JSON `body` to `path`; `read_only` says whether it is safe to retry.
    pub fn post_json(path: impl Into<String>, body: Vec<u8>, read_only: bool) -> Self {
        ApiRequest {
            method: Method::Post,
            path: path.into(),
            query: Vec::new(),
            body: Some(body),
            read_only,
        }
    }

    /// Appends a query pair.
    pub fn param(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    /// The value of the first query pair named `key`.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The query as sent on the wire, without the leading `?` (empty when there is none).
    /// Spaces become `%20`, never `+`: the bytes signed are the bytes sent.
    pub fn encoded_query(&self) -> String {
        let mut out = String::new();
        self.push_encoded_query(&mut out);
        out
    }

    /// [`ApiRequest::encoded_query`] appended to `out` (the host writes it straight onto
    /// the request line).
    pub fn push_encoded_query(&self, out: &mut String) {
        // Sized for the common case (nothing to escape): no regrowth.
        let unescaped: usize = self.query.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        out.reserve(unescaped);
        for (i, (k, v)) in self.query.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            push_encoded(out, k);
            out.push('=');
            push_encoded(out, v);
        }
    }

    /// `path?query` as it goes on the request line.
    pub fn path_and_query(&self) -> String {
        let q = self.encoded_query();
        if q.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{q}", self.path)
        }
    }
}

/// `s` percent-encoded onto `out`; copied whole when it has nothing to escape (a game id,
/// a number, a cursor: almost every value), which skips the encoder's char-by-char walk.
/// The bytes copied whole are exactly those `QUERY_COMPONENT` leaves alone (its `contains`
/// is not public: the set is spelled out here, and the tests encode both kinds).
fn push_encoded(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        out.push_str(s);
    } else {
        out.extend(percent_encoding::utf8_percent_encode(s, QUERY_COMPONENT));
    }
}

/// Everything but RFC 3986's unreserved characters is percent-encoded in a query component.
const QUERY_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A successful (2xx) answer from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// Why a request failed, after the host's retries. Matchable; messages say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The scan is being cancelled (shutdown or timeout): no new requests are sent.
    #[error("cancelled: skinscan is shutting down or the scan timed out")]
    Cancelled,
    /// The upstream's circuit breaker is open after repeated failures.
    #[error(
        "circuit breaker for {upstream} is open after repeated failures (the last: {cause}); next attempt in {}ms",
        retry_in.as_millis()
    )]
    CircuitOpen {
        /// The upstream's address.
        upstream: String,
        /// Time until the breaker lets a probe through.
        retry_in: Duration,
        /// The failure that opened it (or the last one seen).
        cause: String,
    },
    /// The API answered with an error status (after retries, for retryable ones).
    #[error("HTTP {status}: {message}")]
    Http {
        /// The status code.
        status: u16,
        /// The server's message, or the reason phrase.
        message: String,
    },
    /// No complete answer within the request timeout.
    #[error("no answer within {}ms (market.request_timeout)", after.as_millis())]
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },
    /// The connection failed (refused, reset, TLS, protocol error).
    #[error("transport error: {message}")]
    Transport {
        /// What went wrong.
        message: String,
    },
    /// The host failed internally while handling the request (a bug: please report it).
    #[error("host error: {message}")]
    Host {
        /// What went wrong.
        message: String,
    },
}

/// Why a game's scan failed as a whole. Partial failures go in [`crate::GameReport::errors`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// A request the scan could not do without failed.
    #[error("request failed: {0}")]
    Fetch(#[from] FetchError),
    /// The plugin's settings are invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A response could not be understood.
    #[error("unexpected response: {0}")]
    Parse(String),
    /// The plugin panicked; the host caught it.
    #[error("plugin panicked: {0}")]
    Panicked(String),
    /// Anything else, described.
    #[error("{0}")]
    Other(String),
}

/// What the host gives a plugin for one scan. Implemented by the host (and by
/// `testkit::MockContext` in tests, feature `testkit`).
///
/// A plugin must do all its I/O through [`ScanContext::send`] and must not spawn tasks or use
/// a runtime's timers: a plugin loaded from a shared library carries its own copy of tokio's
/// thread-locals and would panic ("no reactor running"). Awaiting several `send` futures at
/// once (`join`, `buffer_unordered`) is fine.
#[async_trait]
pub trait ScanContext: Send + Sync {
    /// Sends `request`: rate-limited, signed, retried, traced by the host. `Ok` only for a 2xx.
    async fn send(&self, request: ApiRequest) -> Result<ApiResponse, FetchError>;

    /// Reports progress: `done` of `total` listings handled so far.
    fn progress(&self, done: u64, total: u64);

    /// True once the host wants the scan to stop; finish quickly and return what you have.
    fn is_cancelled(&self) -> bool;

    /// True when the host signs requests with the user's API keys, so endpoints that need an
    /// account (such as `customized-fees`) can be asked. The default says no.
    fn authenticated(&self) -> bool {
        false
    }

    /// The other markets' snapshots this game's listings are judged against for `cross`
    /// (`[markets.*]` in the host's config), as the host holds them now. `None` (the
    /// default) when no other market is enabled: `cross` then judges nothing.
    fn references(&self) -> Option<std::sync::Arc<crate::markets::book::ReferenceBook>> {
        None
    }
}
