//! Everything the host knows of DMarket's API, in one place: its endpoint groups and their
//! published limits, how requests are authenticated (the Ed25519 headers), how its three
//! error-body shapes read, and the hints a person needs for its refusals. The request
//! pipeline (`upstream`) is generic: it asks a [`MarketApi`] and names no path.

use std::time::{SystemTime, UNIX_EPOCH};

use skinscan_sdk::ApiRequest;

use super::api::{EndpointGroup, MarketApi, status_reason};
use crate::sign::Signer;

/// DMarket's API.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dmarket;

impl MarketApi for Dmarket {
    fn name(&self) -> &'static str {
        "dmarket"
    }

    fn group(&self, path: &str) -> EndpointGroup {
        EndpointGroup::of(path)
    }

    fn auth_headers(
        &self,
        signer: &Signer,
        request: &ApiRequest,
        query: &str,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        let date = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let signed = signer.sign(request.method.as_str(), &request.path, query, body, date);
        vec![
            ("x-api-key", signed.api_key),
            ("x-sign-date", signed.date),
            ("x-request-sign", signed.signature),
        ]
    }

    fn error_message(&self, status: u16, body: &[u8]) -> String {
        skinscan_sdk::dmarket::parse_error_body(body)
            .map(|e| {
                if e.message.is_empty() {
                    e.code
                } else {
                    e.message
                }
            })
            .unwrap_or_else(|| status_reason(status))
    }

    fn explain(
        &self,
        status: u16,
        message: String,
        signed: bool,
        clock_skew: Option<i64>,
    ) -> String {
        if status != 401 {
            return message;
        }
        if !signed {
            format!(
                "{message} (this request was not signed: anonymous use of DMarket's API has \
                 been reported broken since 2023; set DMARKET_PUBLIC_KEY and \
                 DMARKET_SECRET_KEY)"
            )
        } else if let Some(skew) = clock_skew.filter(|s| s.abs() > 60) {
            format!(
                "{message} (this machine's clock is {}s {} the server's, and DMarket refuses \
                 signatures more than 2 minutes off: sync the clock, e.g. with NTP)",
                skew.abs(),
                if skew > 0 { "behind" } else { "ahead of" }
            )
        } else if message.contains("clock") || message.to_ascii_lowercase().contains("date") {
            format!(
                "{message} (the signature's X-Sign-Date is checked against the server clock: sync this machine's clock, e.g. with NTP)"
            )
        } else {
            format!("{message} (check DMARKET_PUBLIC_KEY and DMARKET_SECRET_KEY)")
        }
    }
}

impl EndpointGroup {
    /// Every group, in config order.
    pub const ALL: [EndpointGroup; 4] = [
        EndpointGroup::Market,
        EndpointGroup::Sales,
        EndpointGroup::Fees,
        EndpointGroup::Other,
    ];

    /// The group of a request path. The trading paths (the buy, `PATCH
    /// /exchange/v1/offers-buy`, and the balance, `GET /account/v1/balance`) are in
    /// `other`: DMarket's rate-limit article names no trading endpoint, so they count in the
    /// cumulative 20/s (signed) group, uncertain but the reading that sends least.
    pub fn of(path: &str) -> EndpointGroup {
        use skinscan_sdk::dmarket::{CUSTOMIZED_FEES_PATH, LAST_SALES_PATH};
        match path {
            p if skinscan_sdk::dmarket::is_listings_path(p) => EndpointGroup::Market,
            LAST_SALES_PATH => EndpointGroup::Sales,
            CUSTOMIZED_FEES_PATH => EndpointGroup::Fees,
            _ => EndpointGroup::Other,
        }
    }

    /// The key in `[market.limits]`.
    pub fn key(self) -> &'static str {
        match self {
            EndpointGroup::Market => "market",
            EndpointGroup::Sales => "sales",
            EndpointGroup::Fees => "fees",
            EndpointGroup::Other => "other",
        }
    }

    /// DMarket's published limit for this group, per second: signed in (per account) or not
    /// (per IP). `None` for last sales unsigned: not listed, it counts under `other`.
    /// Source: DMarket's help-center article "What are the rate limits for requests".
    pub fn published_per_sec(self, signed: bool) -> Option<u32> {
        match (self, signed) {
            (EndpointGroup::Market, true) => Some(10),
            (EndpointGroup::Market, false) => Some(2),
            (EndpointGroup::Sales, true) => Some(6),
            (EndpointGroup::Sales, false) => None,
            (EndpointGroup::Fees, true) => Some(110),
            (EndpointGroup::Fees, false) => Some(2),
            (EndpointGroup::Other, true) => Some(20),
            (EndpointGroup::Other, false) => Some(6),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trading_paths_count_in_the_cumulative_group() {
        use skinscan_sdk::trading::{BALANCE_PATH, OFFERS_BUY_PATH};
        assert_eq!(EndpointGroup::of(OFFERS_BUY_PATH), EndpointGroup::Other);
        assert_eq!(EndpointGroup::of(BALANCE_PATH), EndpointGroup::Other);
    }

    #[test]
    fn refusals_get_the_hint_that_fits() {
        let d = Dmarket;
        assert!(
            d.explain(401, "Unauthorized".into(), false, None)
                .contains("not signed")
        );
        assert!(
            d.explain(401, "Unauthorized".into(), true, Some(-90))
                .contains("90s ahead of")
        );
        assert!(
            d.explain(401, "bad key".into(), true, Some(3))
                .contains("check DMARKET_PUBLIC_KEY")
        );
        assert_eq!(d.explain(400, "limit".into(), false, None), "limit");
        assert_eq!(
            d.error_message(400, br#"{"Code":"BadRequest","Message":"limit: too big"}"#),
            "limit: too big"
        );
        assert_eq!(d.error_message(502, b"<html>"), "Bad Gateway");
    }

    #[test]
    fn paths_map_to_endpoint_groups() {
        assert_eq!(
            EndpointGroup::of("/exchange/v1/market/items"),
            EndpointGroup::Market
        );
        assert_eq!(
            EndpointGroup::of("/marketplace-api/v2/offers"),
            EndpointGroup::Market
        );
        assert_eq!(
            EndpointGroup::of("/marketplace-api/v1/aggregated-prices"),
            EndpointGroup::Other
        );
        assert_eq!(
            EndpointGroup::of("/exchange/v1/customized-fees"),
            EndpointGroup::Fees
        );
        assert_eq!(
            EndpointGroup::of("/trade-aggregator/v1/last-sales"),
            EndpointGroup::Sales
        );
        assert_eq!(
            EndpointGroup::of("/account/v1/balance"),
            EndpointGroup::Other
        );
    }

    #[test]
    fn published_limits_follow_dmarkets_table() {
        let signed: Vec<_> = EndpointGroup::ALL
            .iter()
            .map(|g| g.published_per_sec(true))
            .collect();
        let anon: Vec<_> = EndpointGroup::ALL
            .iter()
            .map(|g| g.published_per_sec(false))
            .collect();
        assert_eq!(signed, vec![Some(10), Some(6), Some(110), Some(20)]);
        assert_eq!(anon, vec![Some(2), None, Some(2), Some(6)]);
    }
}
