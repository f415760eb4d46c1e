//! The CS:GO game scanner: DMarket game `a8db`, 7% fee.
//!
//! Knows how CS:GO titles read (exterior, StatTrak™, Souvenir, knives, stickers, cases) and
//! excludes Souvenir items unless `include_souvenir = true` (they resell slowly and their
//! prices swing with the tournament). Scanning itself is the sdk's default strategy.

use skinscan_sdk::model::GameSpec;
use skinscan_sdk::prelude::*;
use skinscan_sdk::{GameRules, SettingsError};

/// A weapon's wear, from its title's parenthesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exterior {
    /// Factory New.
    FactoryNew,
    /// Minimal Wear.
    MinimalWear,
    /// Field-Tested.
    FieldTested,
    /// Well-Worn.
    WellWorn,
    /// Battle-Scarred.
    BattleScarred,
}

/// What kind of item a title names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A gun skin (`AK-47 | Redline`).
    Weapon,
    /// A knife or gloves (`★ Karambit | Fade`).
    Knife,
    /// A sticker (`Sticker | Crown (Foil)`).
    Sticker,
    /// A case, capsule or package.
    Container,
    /// Anything else (agents, graffiti, music kits, keys).
    Other,
}

/// A CS:GO title, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsgoTitle {
    /// The wear, for skins.
    pub exterior: Option<Exterior>,
    /// StatTrak™.
    pub stattrak: bool,
    /// Souvenir.
    pub souvenir: bool,
    /// The kind of item.
    pub kind: Kind,
}

const EXTERIORS: [(&str, Exterior); 5] = [
    ("(Factory New)", Exterior::FactoryNew),
    ("(Minimal Wear)", Exterior::MinimalWear),
    ("(Field-Tested)", Exterior::FieldTested),
    ("(Well-Worn)", Exterior::WellWorn),
    ("(Battle-Scarred)", Exterior::BattleScarred),
];

/// Reads a CS:GO market title.
pub fn classify(title: &str) -> CsgoTitle {
    let t = title.trim();
    let exterior = EXTERIORS
        .iter()
        .find(|(suffix, _)| t.ends_with(suffix))
        .map(|(_, e)| *e);
    let unstarred = t.trim_start_matches('★').trim_start();
    let stattrak = unstarred.starts_with("StatTrak™") || unstarred.starts_with("StatTrak ");
    let souvenir = t.starts_with("Souvenir ");
    let kind = if t.starts_with('★') {
        Kind::Knife
    } else if t.starts_with("Sticker |") {
        Kind::Sticker
    } else if t.ends_with(" Case") || t.contains("Capsule") || t.ends_with(" Package") {
        Kind::Container
    } else if t.contains(" | ") && exterior.is_some() {
        Kind::Weapon
    } else {
        Kind::Other
    };
    CsgoTitle {
        exterior,
        stattrak,
        souvenir,
        kind,
    }
}

/// The CS:GO profile.
#[derive(Debug, Clone, Copy, Default)]
pub struct Csgo;

impl GameProfile for Csgo {
    fn info(&self) -> GameInfo {
        const SPEC: GameSpec = GameSpec::new("csgo", "CS:GO", "a8db", 700);
        SPEC.info()
    }

    fn default_blacklist(&self) -> &'static [&'static str] {
        &["sealed graffiti", "graffiti |"]
    }

    fn own_settings(&self) -> &'static [&'static str] {
        &["include_souvenir"]
    }

    fn rules(&self, settings: &PluginSettings) -> Result<GameRules, SettingsError> {
        if settings.bool("include_souvenir", false)? {
            Ok(GameRules::none())
        } else {
            Ok(GameRules::excluding(|l| classify(&l.title).souvenir))
        }
    }
}

/// Makes the scanner (the plugin's constructor).
pub fn scanner() -> ProfileScanner<Csgo> {
    ProfileScanner::new(Csgo)
}

skinscan_sdk::declare_plugin!(csgo, scanner);

#[cfg(test)]
mod tests {
    use super::*;
    use skinscan_sdk::testkit::{MockContext, MockMarket, check_compliance};

    #[test]
    fn reads_exterior_stattrak_souvenir_and_kind() {
        let t = classify("StatTrak™ M4A1-S | Hyper Beast (Minimal Wear)");
        assert_eq!(
            t,
            CsgoTitle {
                exterior: Some(Exterior::MinimalWear),
                stattrak: true,
                souvenir: false,
                kind: Kind::Weapon
            }
        );
        let t = classify("★ StatTrak™ Karambit | Fade (Factory New)");
        assert_eq!(
            (t.kind, t.stattrak, t.exterior),
            (Kind::Knife, true, Some(Exterior::FactoryNew))
        );
        let t = classify("Souvenir AWP | Dragon Lore (Battle-Scarred)");
        assert_eq!(
            (t.souvenir, t.stattrak, t.kind),
            (true, false, Kind::Weapon)
        );
        assert_eq!(
            classify("AK-47 | Redline (Field-Tested)").exterior,
            Some(Exterior::FieldTested)
        );
        assert_eq!(
            classify("Glock-18 | Fade (Well-Worn)").exterior,
            Some(Exterior::WellWorn)
        );
        assert_eq!(classify("Sticker | Crown (Foil)").kind, Kind::Sticker);
        assert_eq!(classify("Sticker | Crown (Foil)").exterior, None);
        assert_eq!(
            classify("Operation Breakout Weapon Case").kind,
            Kind::Container
        );
        assert_eq!(
            classify("Stockholm 2021 Legends Sticker Capsule").kind,
            Kind::Container
        );
        assert_eq!(classify("Music Kit | Darude, Sandstorm").kind, Kind::Other);
    }

    #[test]
    fn souvenirs_are_excluded_unless_enabled() {
        let market = MockMarket::sample(
            &[
                "Souvenir P90 | Sand Spray (Field-Tested)",
                "AK-47 | Redline (Field-Tested)",
                "Unpriced",
            ],
            30,
        );
        let run = |include: bool| {
            let mut s = PluginSettings::new("csgo", Default::default());
            s.set("include_souvenir", SettingValue::Bool(include));
            let ctx = MockContext::market(market.clone());
            skinscan_sdk::futures::executor::block_on(scanner().scan(&ctx, &s)).unwrap()
        };
        let excluded = run(false);
        assert_eq!(excluded.rejected.get(&RejectReason::GameRule), Some(&10));
        assert!(
            excluded
                .opportunities
                .iter()
                .all(|o| !o.title.starts_with("Souvenir"))
        );
        let included = run(true);
        assert_eq!(included.rejected.get(&RejectReason::GameRule), None);
        assert!(
            included
                .opportunities
                .iter()
                .any(|o| o.title.starts_with("Souvenir"))
        );
    }

    #[test]
    fn complies_with_the_plugin_contract() {
        let market = MockMarket::sample(
            &[
                "AK-47 | Redline (Field-Tested)",
                "AWP | Asiimov (Field-Tested)",
                "Glock-18 | Fade (Factory New)",
                "Unpriced",
            ],
            240,
        );
        let report = check_compliance(&scanner(), &market);
        assert!(
            report
                .opportunities
                .iter()
                .all(|o| o.game.as_str() == "csgo")
        );
    }

    #[test]
    fn declaration_names_the_plugin() {
        // SAFETY: the declaration's strings are static.
        assert_eq!(unsafe { DECLARATION.name.as_str() }, Some("csgo"));
        let made = (DECLARATION.constructor)().unwrap();
        assert_eq!(made.info().market_game_id, "a8db");
    }
}
