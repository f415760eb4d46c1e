//! The Rust (the game) scanner: DMarket game `rust`, 7.7% fee (the original's 7% x 1.1).
//!
//! Rust skins carry no qualities or wear in their titles, so the profile is only the game's
//! identity and fee; scanning is the sdk's default strategy.

use skinscan_sdk::prelude::*;

/// The Rust profile.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustGame;

impl GameProfile for RustGame {
    fn info(&self) -> GameInfo {
        GameInfo {
            id: GameId::new("rust").expect("\"rust\" is a valid game id"),
            display_name: "Rust".into(),
            market_game_id: "rust".into(),
            price_game: "rust".into(),
            fee: Bps::new(770).expect("770 bps is a valid fee"),
        }
    }
}

/// Makes the scanner (the plugin's constructor).
pub fn scanner() -> ProfileScanner<RustGame> {
    ProfileScanner::new(RustGame)
}

skinscan_sdk::declare_plugin!(rust, scanner);

#[cfg(test)]
mod tests {
    use super::*;
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
