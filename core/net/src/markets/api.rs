//! The generic pipeline's vocabulary: [`MarketApi`] (what it asks of a market) and
//! [`EndpointGroup`] (the groups a market's requests are rate-limited by; each market says
//! which path falls in which, and their published limits, in its own module).

use skinscan_sdk::ApiRequest;

use crate::sign::Signer;

/// What the generic request pipeline needs to know of a market.
pub trait MarketApi: Send + Sync + std::fmt::Debug {
    /// The market's name (`dmarket`, `skinport`, `csfloat`): the `group` label of its
    /// requests in the metrics when it is not DMarket, whose groups are labelled by name.
    fn name(&self) -> &'static str;
    /// The rate-limit group of a request path.
    fn group(&self, path: &str) -> EndpointGroup;
    /// The authentication headers of one attempt (made now, over the exact bytes sent) by
    /// the DMarket signer. None by default: a market that needs no signature (or whose key
    /// is a fixed header, [`MarketApi::fixed_headers`]) keeps it.
    fn auth_headers(
        &self,
        _signer: &Signer,
        _request: &ApiRequest,
        _query: &str,
        _body: &[u8],
    ) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// The server's message from an error body (or the status's reason).
    fn error_message(&self, status: u16, body: &[u8]) -> String;
    /// `message` with what a person should do about a refused request.
    fn explain(
        &self,
        status: u16,
        message: String,
        signed: bool,
        clock_skew: Option<i64>,
    ) -> String;
    /// The wait a 429 that names none stands for: `None` (the default) backs off and
    /// retries; a market whose window is long says so (Skinport: its 5-minute window), so a
    /// 429 there fails at once when the wait is past `max_server_wait`, instead of retrying
    /// into the same spent window.
    fn wait_after_429(&self) -> Option<std::time::Duration> {
        None
    }
    /// Headers every attempt carries whether or not requests are signed: Skinport's
    /// `Accept-Encoding: br`, CSFloat's `Authorization: <key>`. A [`FixedHeader`] marked
    /// sensitive must be marked so before anything can log it. None by default (DMarket's
    /// only authentication is its signature, [`MarketApi::auth_headers`]).
    fn fixed_headers(&self) -> Vec<FixedHeader> {
        Vec::new()
    }
    /// The body as the JSON the sdk's parsers read, undoing the answer's `Content-Encoding`
    /// (Skinport's Brotli). The default accepts only an unencoded body: an encoding this
    /// market never asked for is an error naming it, not bytes handed on as JSON.
    fn decode_body(
        &self,
        content_encoding: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        match content_encoding.map(str::trim) {
            None | Some("") | Some("identity") => Ok(body),
            Some(other) => Err(format!(
                "the answer is {other:?}-encoded, which this market's module does not decode"
            )),
        }
    }
}

/// A header of every attempt ([`MarketApi::fixed_headers`]).
#[derive(Clone, PartialEq, Eq)]
pub struct FixedHeader {
    /// The lowercase header name.
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// True for a credential: never printed, and marked sensitive on the wire.
    pub sensitive: bool,
}

impl std::fmt::Debug for FixedHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.sensitive {
            "***"
        } else {
            self.value.as_str()
        };
        f.debug_struct("FixedHeader")
            .field("name", &self.name)
            .field("value", &value)
            .finish()
    }
}

/// A family of endpoints with its own limit, as DMarket publishes them (`[market.limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointGroup {
    /// Market listings: v1 `/exchange/v1/market/items` and v2 `/marketplace-api/v2/offers`.
    Market,
    /// Last sales.
    Sales,
    /// The account's fees (`/exchange/v1/customized-fees`).
    Fees,
    /// Everything else, counted together (aggregated prices included).
    Other,
}

/// The status's reason phrase (`Too Many Requests`), for an error body that says nothing.
pub(crate) fn status_reason(status: u16) -> String {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error")
        .to_owned()
}
