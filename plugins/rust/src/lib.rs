//! The Rust (the game) scanner: DMarket game `rust`, 7.7% fee (the original's 7% x 1.1).
//!
//! Rust skins carry no qualities or wear in their titles, so the profile is only the game's
//! identity and fee; scanning is the sdk's default strategy.

use skinscan_sdk::model::GameSpec;

skinscan_sdk::profile_plugin!(rust, RustGame, GameSpec::new("rust", "Rust", "rust", 770));

#[cfg(test)]
mod tests {
    use super::*;
    use skinscan_sdk::prelude::*;
    use skinscan_sdk::testkit::{MockMarket, check_compliance};

    #[test]
    fn complies_with_the_plugin_contract() {
        let market =
            MockMarket::sample(&["Tempered AK47", "Big Grin", "Alien Red", "Unpriced"], 240);
        let report = check_compliance(&scanner(), &market);
        let o = &report.opportunities[0];
        assert_eq!(
            o.fee.cents(),
            Bps::new(770).unwrap().fee_on(o.sell_price.cents())
        );
        assert_eq!(scanner().info().market_game_id, "rust");
    }
}
