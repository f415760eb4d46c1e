//! Doppler and Gamma Doppler phases: a typed [`Phase`] read from each market's own field
//! (Skinport `version`, CSFloat and DMarket `paint_index`, DMarket's `phase[]` filter
//! slugs), and [`price_depends_on_phase`], which says when a title's price cannot be judged
//! without one.
//!
//! Why: the phase is not in the `market_hash_name` (markets.md §6), and phases of one name
//! are worth up to 4x apart (a Sapphire M9 sold at $3,435.92, a Phase 1 at $807.03, §1). A
//! reference that pools phases is refused rather than guessed.

use std::fmt;

use crate::model::Listing;

/// A Doppler or Gamma Doppler phase. The finish (Doppler or Gamma Doppler) is in the title;
/// the phase is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Phase {
    /// Phase 1 (Doppler paint index 418, Gamma Doppler 569).
    Phase1,
    /// Phase 2 (419, 570).
    Phase2,
    /// Phase 3 (420, 571).
    Phase3,
    /// Phase 4 (421, 572).
    Phase4,
    /// Ruby (Doppler, 415).
    Ruby,
    /// Sapphire (Doppler, 416).
    Sapphire,
    /// Black Pearl (Doppler, 417).
    BlackPearl,
    /// Emerald (Gamma Doppler, 568).
    Emerald,
}

impl Phase {
    /// Every phase.
    pub const ALL: [Phase; 8] = [
        Phase::Phase1,
        Phase::Phase2,
        Phase::Phase3,
        Phase::Phase4,
        Phase::Ruby,
        Phase::Sapphire,
        Phase::BlackPearl,
        Phase::Emerald,
    ];

    /// Skinport's spelling (`Phase 1`, `Black Pearl`), also how it prints.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Phase1 => "Phase 1",
            Phase::Phase2 => "Phase 2",
            Phase::Phase3 => "Phase 3",
            Phase::Phase4 => "Phase 4",
            Phase::Ruby => "Ruby",
            Phase::Sapphire => "Sapphire",
            Phase::BlackPearl => "Black Pearl",
            Phase::Emerald => "Emerald",
        }
    }

    /// Reads a phase's name in any of the spellings seen: Skinport's `version` (`Phase 1`,
    /// `Black Pearl`), DMarket's filter slugs (`phase-1`, `black-pearl`), and case or
    /// separator variants (`phase1`, `PHASE_2`). `None` for anything else.
    pub fn parse(text: &str) -> Option<Phase> {
        let key: String = text
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Some(match key.as_str() {
            "phase1" | "p1" => Phase::Phase1,
            "phase2" | "p2" => Phase::Phase2,
            "phase3" | "p3" => Phase::Phase3,
            "phase4" | "p4" => Phase::Phase4,
            "ruby" => Phase::Ruby,
            "sapphire" => Phase::Sapphire,
            "blackpearl" => Phase::BlackPearl,
            "emerald" => Phase::Emerald,
            _ => return None,
        })
    }

    /// The phase of a paint index (CSFloat `item.paint_index`, DMarket `extra.paintIndex`):
    /// Doppler 415 Ruby, 416 Sapphire, 417 Black Pearl, 418-421 Phase 1-4; Gamma Doppler
    /// 568 Emerald, 569-572 Phase 1-4 (markets.md §6, several third-party tables agreeing).
    /// `None` for any other index: a Doppler whose index is not in that table has an
    /// unknown phase, and is refused rather than guessed.
    pub fn from_paint_index(index: u32) -> Option<Phase> {
        Some(match index {
            415 => Phase::Ruby,
            416 => Phase::Sapphire,
            417 => Phase::BlackPearl,
            418 | 569 => Phase::Phase1,
            419 | 570 => Phase::Phase2,
            420 | 571 => Phase::Phase3,
            421 | 572 => Phase::Phase4,
            568 => Phase::Emerald,
            _ => return None,
        })
    }

    /// True when this phase exists for `title`'s finish: Ruby, Sapphire and Black Pearl only
    /// on a Doppler, Emerald only on a Gamma Doppler, Phase 1-4 on both. False for a title
    /// whose price does not depend on a phase.
    pub fn fits(self, title: &str) -> bool {
        let gamma = title.contains("Gamma Doppler");
        match self {
            _ if !price_depends_on_phase(title) => false,
            Phase::Ruby | Phase::Sapphire | Phase::BlackPearl => !gamma,
            Phase::Emerald => gamma,
            Phase::Phase1 | Phase::Phase2 | Phase::Phase3 | Phase::Phase4 => true,
        }
    }

    /// The phase of a DMarket listing, from its `paintIndex` attribute (or a `phase`
    /// attribute in any spelling [`Phase::parse`] reads). `None` when neither reads, or when
    /// the title's price does not depend on a phase.
    pub fn of_listing(listing: &Listing) -> Option<Phase> {
        if !price_depends_on_phase(&listing.title) {
            return None;
        }
        let by_index = listing
            .attributes
            .get("paintIndex")
            .and_then(|t| t.trim().parse::<u32>().ok())
            .and_then(Phase::from_paint_index);
        by_index
            .or_else(|| {
                listing
                    .attributes
                    .get("phase")
                    .and_then(|t| Phase::parse(t))
            })
            .filter(|p| p.fits(&listing.title))
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// True when `title`'s price depends on a phase the name does not carry: a Doppler or Gamma
/// Doppler finish (`★ M9 Bayonet | Doppler (Minimal Wear)`, `Glock-18 | Gamma Doppler (...)`).
/// Such a title is matched across markets only when the phase is known on both sides.
pub fn price_depends_on_phase(title: &str) -> bool {
    title.contains("Doppler")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;

    #[test]
    fn every_spelling_of_a_phase_reads() {
        assert_eq!(Phase::parse("Phase 1"), Some(Phase::Phase1));
        assert_eq!(Phase::parse("phase-4"), Some(Phase::Phase4));
        assert_eq!(Phase::parse("PHASE_2"), Some(Phase::Phase2));
        assert_eq!(Phase::parse("Black Pearl"), Some(Phase::BlackPearl));
        assert_eq!(Phase::parse("black-pearl"), Some(Phase::BlackPearl));
        assert_eq!(Phase::parse(" Sapphire "), Some(Phase::Sapphire));
        assert_eq!(Phase::parse("emerald"), Some(Phase::Emerald));
        assert_eq!(Phase::parse("Phase 5"), None);
        assert_eq!(Phase::parse(""), None);
        for p in Phase::ALL {
            assert_eq!(Phase::parse(p.name()), Some(p));
            assert_eq!(p.to_string(), p.name());
        }
    }

    #[test]
    fn paint_indexes_map_to_phases_per_the_tables() {
        assert_eq!(Phase::from_paint_index(415), Some(Phase::Ruby));
        assert_eq!(Phase::from_paint_index(416), Some(Phase::Sapphire));
        assert_eq!(Phase::from_paint_index(417), Some(Phase::BlackPearl));
        let doppler: Vec<_> = (418..=421).map(Phase::from_paint_index).collect();
        let gamma: Vec<_> = (569..=572).map(Phase::from_paint_index).collect();
        let phases = [Phase::Phase1, Phase::Phase2, Phase::Phase3, Phase::Phase4].map(Some);
        assert_eq!(doppler, phases);
        assert_eq!(gamma, phases);
        assert_eq!(Phase::from_paint_index(568), Some(Phase::Emerald));
        assert_eq!(Phase::from_paint_index(449), None);
        assert_eq!(Phase::from_paint_index(414), None);
    }

    #[test]
    fn only_doppler_titles_depend_on_a_phase_and_phases_fit_their_finish() {
        let m9 = "★ M9 Bayonet | Doppler (Minimal Wear)";
        let gamma = "★ Karambit | Gamma Doppler (Factory New)";
        assert!(price_depends_on_phase(m9) && price_depends_on_phase(gamma));
        assert!(!price_depends_on_phase("AK-47 | Redline (Field-Tested)"));
        assert!(Phase::Sapphire.fits(m9) && !Phase::Sapphire.fits(gamma));
        assert!(Phase::Emerald.fits(gamma) && !Phase::Emerald.fits(m9));
        assert!(Phase::Phase2.fits(m9) && Phase::Phase2.fits(gamma));
        assert!(!Phase::Phase1.fits("AK-47 | Redline (Field-Tested)"));
    }

    #[test]
    fn a_dmarket_listing_tells_its_phase_by_paint_index_or_phase_attribute() {
        let mut l = Listing::new("i", "★ M9 Bayonet | Doppler (Minimal Wear)", Money::usd(1));
        assert_eq!(Phase::of_listing(&l), None);
        l.attributes.insert("paintIndex".into(), "416".into());
        assert_eq!(Phase::of_listing(&l), Some(Phase::Sapphire));
        l.attributes.insert("paintIndex".into(), "9999".into());
        l.attributes.insert("phase".into(), "phase-3".into());
        assert_eq!(Phase::of_listing(&l), Some(Phase::Phase3));
        // Emerald does not exist on a (non-Gamma) Doppler: unknown, not guessed.
        l.attributes.insert("phase".into(), "emerald".into());
        assert_eq!(Phase::of_listing(&l), None);
        let mut ak = Listing::new("j", "AK-47 | Redline (Field-Tested)", Money::usd(1));
        ak.attributes.insert("paintIndex".into(), "418".into());
        assert_eq!(Phase::of_listing(&ak), None);
    }
}
