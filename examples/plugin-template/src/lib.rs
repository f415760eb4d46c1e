//! A fifth game for skinscan, built outside its workspace and loaded by path:
//! `[plugins.pubg] path = "examples/plugin-template/target/release/libskinscan_pubg.so"`.
//! The scan itself is the sdk's default strategy; the game only says who it is.

use skinscan_sdk::model::GameSpec;
use skinscan_sdk::prelude::*;

/// PUBG on the (simulated) market.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pubg;

impl GameProfile for Pubg {
    fn info(&self) -> GameInfo {
        const SPEC: GameSpec = GameSpec::new("pubg", "PUBG", "pubg", 1_000);
        SPEC.info()
    }

    /// Never buy crates: they sell slowly and below their listings.
    fn default_blacklist(&self) -> &'static [&'static str] {
        &["* Crate"]
    }
}

/// The constructor skinscan calls when it loads the library.
pub fn scanner() -> ProfileScanner<Pubg> {
    ProfileScanner::new(Pubg)
}

skinscan_sdk::declare_plugin!(pubg, scanner);

#[cfg(test)]
mod tests {
    use super::*;
    use skinscan_sdk::testkit::{MockMarket, check_compliance};

    #[test]
    fn follows_the_plugin_contract() {
        let market = MockMarket::sample(&["Arctic Crate", "Pan (Arctic)", "Mask", "Kar98k"], 240);
        let report = check_compliance(&scanner(), &market);
        assert_eq!(
            report.rejected[&RejectReason::Blacklisted],
            60,
            "every crate listing"
        );
    }

    /// The game does nothing for `cross`: when the host holds other markets' snapshots
    /// (`[markets.*]`), the sdk's default strategy judges its listings against them too.
    #[test]
    fn resells_on_another_market_when_the_host_holds_its_prices() {
        use skinscan_sdk::futures::executor::block_on;
        use skinscan_sdk::markets::book::{BookEntry, ReferenceBook};
        use skinscan_sdk::markets::cross::{CrossReference, CrossRules};
        use skinscan_sdk::markets::skinport::parse_items;
        use skinscan_sdk::markets::snapshot::{ReferenceMarket, SnapshotBuilder};
        use skinscan_sdk::testkit::MockContext;
        use skinscan_sdk::{Bps, GameScanner, Market, Strategy};
        use std::sync::Arc;
        use std::time::Duration;

        // Skinport's buyers pay $900 for a Mask: every listing resells there at a profit.
        let answer =
            br#"[{"market_hash_name":"Mask","currency":"USD","min_price":900.0,"quantity":3}]"#;
        let items = parse_items(answer, Currency::Usd).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let snapshot = SnapshotBuilder::new(ReferenceMarket::Skinport, Currency::Usd)
            .skinport_items(items, now)
            .build();
        let book = ReferenceBook::new(
            vec![BookEntry {
                snapshot: Arc::new(snapshot),
                rules: CrossRules {
                    fee: Bps::new(1_200).unwrap(),
                    reference: CrossReference::Lowest,
                    min_volume_7d: 0,
                    min_quantity: 1,
                    max_age: Duration::from_secs(600),
                },
            }],
            Duration::ZERO,
        );
        let market = MockMarket::sample(&["Arctic Crate", "Mask", "Kar98k"], 60);
        let ctx = MockContext::market(market).with_references(book);
        let report =
            block_on(scanner().scan(&ctx, &PluginSettings::new("pubg", Default::default())))
                .unwrap();
        let cross: Vec<_> = report
            .opportunities
            .iter()
            .filter(|o| o.strategy == Strategy::Cross)
            .collect();
        assert!(!cross.is_empty(), "{:?}", report.rejected);
        for o in cross {
            assert_eq!(
                (o.title.as_str(), o.sell_market),
                ("Mask", Market::Skinport)
            );
            // $899.99 less 12% (rounded up), less what it costs.
            assert_eq!(o.sell_price.cents(), 89_999);
            assert_eq!(o.fee.cents(), 10_800);
            assert_eq!(o.net_profit.cents(), 89_999 - 10_800 - o.buy_price.cents());
        }
    }
}
