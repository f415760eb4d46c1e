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
}
