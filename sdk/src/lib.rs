//! # skinscan-sdk
//!
//! What a skinscan game plugin is written against. A plugin knows a game (ids, fee, how to
//! read its titles, what never to buy); the host owns all I/O (the HTTP/2 connection, the rate
//! limiter, retries, signing, logging spans). The plugin turns the host's responses into
//! [`Opportunity`]s: listings that can be bought and resold at a profit after fees.
//!
//! - [`GameScanner`]: the trait a plugin implements (`info` and `scan`).
//! - [`GameProfile`] + [`ProfileScanner`]: implement only the game's knowledge and reuse the
//!   default strategy ([`strategy`]): page, batch-price, evaluate, report progress.
//! - [`ScanContext`]: what the host hands a scan: `send`, `progress`, `is_cancelled`.
//! - [`Money`] (integer cents) and [`Bps`] (basis points): no floats in money arithmetic.
//! - [`dmarket`]: request builders and tolerant parsers for DMarket's wire format.
//! - [`arbitrage`]: fee-aware profit, filters, levels, ranking.
//! - [`declare_plugin!`]: export a plugin from a `cdylib` (see [`plugin`] for the rules).
//! - `testkit` (feature `testkit`, for dev-dependencies): a mock context and market, and the
//!   compliance check plugins run.
//!
//! ## A complete scanner
//!
//! ```
//! use skinscan_sdk::prelude::*;
//! use skinscan_sdk::testkit::{MockContext, MockMarket};
//!
//! /// A game whose scan is the default strategy: only its identity and one rule differ.
//! struct Chess;
//!
//! impl GameProfile for Chess {
//!     fn info(&self) -> GameInfo {
//!         GameInfo {
//!             id: GameId::new("chess").expect("a valid id"),
//!             display_name: "Chess".into(),
//!             market_game_id: "chss".into(),
//!             price_game: "chess".into(),
//!             fee: Bps::new(500).expect("5% is a valid fee"),
//!         }
//!     }
//!
//!     fn default_blacklist(&self) -> &'static [&'static str] {
//!         &["*(damaged)"]
//!     }
//! }
//!
//! // In the plugin crate: `skinscan_sdk::declare_plugin!(chess, make);` with
//! // `fn make() -> ProfileScanner<Chess> { ProfileScanner::new(Chess) }`.
//!
//! let mut listing = Listing::new("k1", "Golden King", Money::usd(1000));
//! listing.offer_id = Some("o-k1".into());
//! let reference = ReferencePrice {
//!     title: "Golden King".into(),
//!     best_order: Some(Money::usd(1300)),
//!     order_count: 4,
//!     best_offer: Some(Money::usd(1000)),
//!     offer_count: 1,
//!     recent_sales: vec![],
//! };
//! let ctx = MockContext::market(MockMarket::new(vec![listing], vec![reference]));
//! let settings = PluginSettings::new("chess", Default::default());
//! let report = skinscan_sdk::futures::executor::block_on(ProfileScanner::new(Chess).scan(&ctx, &settings))
//!     .expect("the mock market answers");
//! // Sell into the $13.00 order: fee 5% = 65 cents, net = 1300 - 65 - 1000 = $2.35.
//! assert_eq!(report.opportunities[0].net_profit, Money::usd(235));
//! assert_eq!(report.opportunities[0].offer_id.as_deref(), Some("o-k1"));
//! assert_eq!(report.requests, 2); // one market page, one price batch
//! ```
#![deny(missing_docs)]

pub mod arbitrage;
pub mod context;
pub mod dmarket;
pub mod model;
pub mod money;
pub mod plugin;
pub mod scanner;
pub mod settings;
pub mod strategy;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod titles;

pub use context::{ApiRequest, ApiResponse, FetchError, Method, ScanContext, ScanError};
pub use model::{
    FeeSource, GameId, GameInfo, GameReport, Level, Listing, Opportunity, ReferencePrice,
    RejectReason, Rejections, Strategy, TradeLock, WireStats,
};
pub use money::{Bps, Currency, Money, MoneyError};
pub use scanner::{GameProfile, GameRules, GameScanner, ProfileScanner};
pub use settings::{PluginSettings, SettingValue, SettingsError};

/// Re-exported so plugins and hosts agree on the exact `async_trait` version.
pub use async_trait::async_trait;
/// Re-exported for plugin tests (`futures::executor::block_on`) and concurrency helpers.
pub use futures;

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::money::Currency;
    pub use crate::{
        ApiRequest, ApiResponse, Bps, FetchError, GameId, GameInfo, GameProfile, GameReport,
        GameRules, GameScanner, Level, Listing, Money, Opportunity, PluginSettings, ProfileScanner,
        ReferencePrice, RejectReason, ScanContext, ScanError, SettingValue, Strategy, TradeLock,
        async_trait,
    };
}
