//! The generic pipeline's vocabulary: [`MarketApi`] (what it asks of a market) and
//! [`EndpointGroup`] (the groups a market's requests are rate-limited by; each market says
//! which path falls in which, and their published limits, in its own module).

use skinscan_sdk::ApiRequest;

use crate::sign::Signer;

/// What the generic request pipeline needs to know of a market.
pub trait MarketApi: Send + Sync + std::fmt::Debug {
    /// The rate-limit group of a request path.
    fn group(&self, path: &str) -> EndpointGroup;
    /// The authentication headers of one attempt (made now, over the exact bytes sent).
    fn auth_headers(
        &self,
        signer: &Signer,
        request: &ApiRequest,
        query: &str,
        body: &[u8],
    ) -> Vec<(&'static str, String)>;
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
