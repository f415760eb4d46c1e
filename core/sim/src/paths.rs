//! The DMarket paths the simulator serves (its own copy: it shares no code with the client).

/// v1 market items.
pub const MARKET_ITEMS: &str = "/exchange/v1/market/items";
/// v2 offers.
pub const OFFERS_V2: &str = "/marketplace-api/v2/offers";
/// Aggregated prices.
pub const AGGREGATED_PRICES: &str = "/marketplace-api/v1/aggregated-prices";
/// Last sales.
pub const LAST_SALES: &str = "/trade-aggregator/v1/last-sales";
/// Customized fees.
pub const CUSTOMIZED_FEES: &str = "/exchange/v1/customized-fees";
