//! The simulated market's data: a deterministic catalogue per game from a seed.
//!
//! Each game gets realistic titles (CS:GO `weapon | skin (exterior)` with StatTrak™, Dota 2
//! and TF2 items with qualities, Rust skins), `items_per_game` listings priced around each
//! title's value, a seeded 3% of them well under value (real opportunities), about 15% under
//! a trade lock of 1 to 7 days, CS:GO skins with a float value inside their exterior's range,
//! listing times over the last 30 days, best buy orders (5% of titles have none) and offers
//! consistent with the listings, and recent sales. Listings are rendered on demand in the
//! real v1 and v2 shapes (see `server`).

use std::collections::HashMap;

use crate::rng::Rng;

/// Fraction of listings priced well under their title's value, in per mille.
const UNDERPRICED_PER_MILLE: u64 = 30;
/// Fraction of listings under a trade lock, in per mille.
const LOCKED_PER_MILLE: u64 = 150;
/// Fraction of titles nobody has a buy order for, in per mille.
const NO_ORDERS_PER_MILLE: u64 = 50;
/// "Now" for the catalogue (2026-11-24T00:00:00Z): listing and sale times lie before it,
/// so the same seed makes the same market whatever the clock says.
pub(crate) const EPOCH: i64 = 1_795_478_400;

/// One game's market.
#[derive(Debug)]
pub(crate) struct GameMarket {
    pub(crate) game_id: String,
    pub(crate) titles: Vec<Title>,
    pub(crate) title_index: HashMap<String, u32>,
    /// Listings sorted by (price, seq): the `orderBy=price` order.
    pub(crate) listings: Vec<SimListing>,
    /// Listing positions per title, in price order.
    pub(crate) by_title: Vec<Vec<u32>>,
    /// Listing positions, newest first (`orderBy=updated|createdAt&orderDir=desc`).
    pub(crate) newest: Vec<u32>,
    /// The account's reduced fees (title index, fraction in basis points), for
    /// customized-fees.
    pub(crate) reduced_fees: Vec<(u32, u32)>,
}

#[derive(Debug)]
pub(crate) struct Title {
    pub(crate) name: String,
    pub(crate) value: i64,
    /// 0 when nobody has a buy order.
    pub(crate) best_order: i64,
    pub(crate) order_count: u32,
    pub(crate) best_offer: i64,
    pub(crate) offer_count: u32,
    /// (cents, unix seconds), newest first.
    pub(crate) sales: Vec<(i64, u64)>,
    /// CS:GO exterior in DMarket's lowercase form (`field-tested`).
    pub(crate) exterior: Option<&'static str>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SimListing {
    pub(crate) price: i64,
    pub(crate) title: u32,
    /// Generation index: ids derive from it.
    pub(crate) seq: u64,
    /// Unix seconds.
    pub(crate) created_at: i64,
    /// Trade lock in days (0: none).
    pub(crate) lock_days: u8,
    /// CS:GO float value in millionths.
    pub(crate) float_micro: Option<u32>,
}

/// The catalogue of every simulated game, keyed by market `gameId` (which is also the
/// aggregated-prices `filter.game`).
#[derive(Debug)]
pub(crate) struct Catalogue {
    pub(crate) games: HashMap<String, GameMarket>,
}

/// Makes one random title of a game.
type TitleMaker = fn(&mut Rng) -> String;

/// (market gameId, title generator). The fifth, `pubg`, has no built-in scanner: it is the
/// out-of-tree plugin template's game (examples/plugin-template).
const GAMES: [(&str, TitleMaker); 5] = [
    ("a8db", csgo_title),
    ("9a92", dota2_title),
    ("rust", rust_title),
    ("tf2", tf2_title),
    ("pubg", pubg_title),
];

impl Catalogue {
    pub(crate) fn generate(seed: u64, items_per_game: u64) -> Catalogue {
        let games = GAMES
            .iter()
            .enumerate()
            .map(|(stream, (game_id, make_title))| {
                let market =
                    generate_game(seed, stream as u64, game_id, *make_title, items_per_game);
                ((*game_id).to_owned(), market)
            })
            .collect();
        Catalogue { games }
    }
}

/// The exterior in DMarket's lowercase form and its float range in millionths.
fn exterior_of(title: &str) -> Option<(&'static str, u32, u32)> {
    const EXTERIORS: [(&str, &str, u32, u32); 5] = [
        ("(Factory New)", "factory new", 0, 70_000),
        ("(Minimal Wear)", "minimal wear", 70_000, 150_000),
        ("(Field-Tested)", "field-tested", 150_000, 380_000),
        ("(Well-Worn)", "well-worn", 380_000, 450_000),
        ("(Battle-Scarred)", "battle-scarred", 450_000, 1_000_000),
    ];
    EXTERIORS
        .iter()
        .find(|(suffix, ..)| title.ends_with(suffix))
        .map(|&(_, name, lo, hi)| (name, lo, hi))
}

fn generate_game(
    seed: u64,
    stream: u64,
    game_id: &str,
    make_title: TitleMaker,
    items: u64,
) -> GameMarket {
    let mut rng = Rng::derive(seed, stream, 0);
    // About three listings per title, between 8 and 5,000 titles.
    let want_titles = (items / 3).clamp(8, 5_000) as usize;
    let mut titles: Vec<Title> = Vec::with_capacity(want_titles);
    let mut title_index = HashMap::with_capacity(want_titles);
    let mut attempts = 0;
    while titles.len() < want_titles && attempts < want_titles * 20 {
        attempts += 1;
        let name = make_title(&mut rng);
        if title_index.contains_key(&name) {
            continue;
        }
        // Values from $0.60 to about $300, most of them cheap.
        let r = rng.below(1_000) as i64;
        let value = 60 + r * r * 3 / 100;
        let (best_order, order_count) = if rng.below(1_000) < NO_ORDERS_PER_MILLE {
            (0, 0)
        } else {
            (
                value * (90 + rng.below(6) as i64) / 100,
                1 + rng.below(40) as u32,
            )
        };
        let sales = (0..10)
            .map(|k| {
                (
                    value * (95 + rng.below(11) as i64) / 100,
                    (EPOCH - k * 3_600 - rng.below(3_600) as i64) as u64,
                )
            })
            .collect();
        let exterior = exterior_of(&name).map(|(e, ..)| e);
        title_index.insert(name.clone(), titles.len() as u32);
        titles.push(Title {
            name,
            value,
            best_order,
            order_count,
            best_offer: 0,
            offer_count: 0,
            sales,
            exterior,
        });
    }
    let mut listings: Vec<SimListing> = (0..items)
        .map(|i| {
            let mut r = Rng::derive(seed, stream, i + 1);
            let t = r.below(titles.len() as u64) as u32;
            let value = titles[t as usize].value;
            let price = if r.below(1_000) < UNDERPRICED_PER_MILLE {
                value * (60 + r.below(20) as i64) / 100
            } else {
                value * (100 + r.below(26) as i64) / 100
            };
            let created_at = EPOCH - r.below(30 * 86_400) as i64;
            let lock_days = if r.below(1_000) < LOCKED_PER_MILLE {
                1 + r.below(7) as u8
            } else {
                0
            };
            let float_micro = exterior_of(&titles[t as usize].name)
                .filter(|_| game_id == "a8db")
                .map(|(_, lo, hi)| lo + r.below(u64::from(hi - lo)) as u32);
            SimListing {
                price: price.max(1),
                title: t,
                seq: i,
                created_at,
                lock_days,
                float_micro,
            }
        })
        .collect();
    listings.sort_by_key(|l| (l.price, l.seq));
    let mut by_title = vec![Vec::new(); titles.len()];
    for (pos, l) in listings.iter().enumerate() {
        let t = &mut titles[l.title as usize];
        if t.offer_count == 0 || l.price < t.best_offer {
            t.best_offer = l.price;
        }
        t.offer_count += 1;
        by_title[l.title as usize].push(pos as u32);
    }
    let mut newest: Vec<u32> = (0..listings.len() as u32).collect();
    newest.sort_by_key(|&p| {
        let l = &listings[p as usize];
        (std::cmp::Reverse(l.created_at), l.seq)
    });
    // The account has a reduced fee on about 3% of titles.
    let mut fee_rng = Rng::derive(seed, stream, u64::MAX);
    let reduced_fees = (0..titles.len() as u32)
        .filter_map(|t| {
            let bps = 200 + 100 * fee_rng.below(4) as u32;
            (fee_rng.below(1_000) < 30).then_some((t, bps))
        })
        .collect();
    GameMarket {
        game_id: game_id.to_owned(),
        titles,
        title_index,
        listings,
        by_title,
        newest,
        reduced_fees,
    }
}

/// A stable id for listing `seq` of a game, shaped like a UUID.
pub(crate) fn uuid(seed: u64, game_id: &str, salt: u64, seq: u64) -> String {
    let g = game_id
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(b)));
    let a = Rng::derive(seed ^ g, salt, seq).next_u64();
    let b = Rng::derive(seed ^ g, salt.wrapping_add(1), seq).next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

fn csgo_title(rng: &mut Rng) -> String {
    const WEAPONS: [&str; 16] = [
        "AK-47",
        "M4A4",
        "M4A1-S",
        "AWP",
        "Desert Eagle",
        "Glock-18",
        "USP-S",
        "P250",
        "FAMAS",
        "Galil AR",
        "MP9",
        "MAC-10",
        "UMP-45",
        "P90",
        "SSG 08",
        "Five-SeveN",
    ];
    const SKINS: [&str; 20] = [
        "Redline",
        "Asiimov",
        "Hyper Beast",
        "Vulcan",
        "Fade",
        "Case Hardened",
        "Safari Mesh",
        "Water Elemental",
        "Kill Confirmed",
        "Neo-Noir",
        "Bloodsport",
        "Printstream",
        "Fuel Injector",
        "Phantom Disruptor",
        "Slate",
        "Elite Build",
        "Night Riot",
        "Cyrex",
        "Blaze",
        "Boreal Forest",
    ];
    const EXTERIORS: [&str; 5] = [
        "Factory New",
        "Minimal Wear",
        "Field-Tested",
        "Well-Worn",
        "Battle-Scarred",
    ];
    match rng.below(20) {
        0 => format!(
            "Sticker | {} (Foil)",
            rng.pick(&["Crown", "Howling Dawn", "Battle Scarred", "Flammable"])
        ),
        1 => format!(
            "{} Case",
            rng.pick(&[
                "Operation Breakout Weapon",
                "Chroma 2",
                "Spectrum",
                "Fracture",
                "Recoil"
            ])
        ),
        2 => format!(
            "Souvenir {} | {} ({})",
            rng.pick(&WEAPONS),
            rng.pick(&SKINS),
            rng.pick(&EXTERIORS)
        ),
        n => {
            let st = if n % 4 == 0 { "StatTrak™ " } else { "" };
            format!(
                "{st}{} | {} ({})",
                rng.pick(&WEAPONS),
                rng.pick(&SKINS),
                rng.pick(&EXTERIORS)
            )
        }
    }
}

fn dota2_title(rng: &mut Rng) -> String {
    const ITEMS: [&str; 20] = [
        "Dragonclaw Hook",
        "Manifold Paradox",
        "Fiery Soul of the Slayer",
        "Bladeform Legacy",
        "Arcana of the Demon",
        "Golden Baby Roshan",
        "Fractal Horns of Inner Abysm",
        "Swine of the Sunken Galley",
        "Blades of Voth Domosh",
        "Eye of Skadi Courier",
        "Genuine Weathered Pipe",
        "Tempest Helm",
        "Exalted Feast of Abscession",
        "Bloodstone of the Precursor",
        "Staff of Gun-Yu",
        "Hydrakan Latch",
        "Mantle of the Cinder Baron",
        "Golden Gravelmaw",
        "Axe of Phractos",
        "Crimson Wyvern",
    ];
    const QUALITIES: [&str; 7] = [
        "",
        "Inscribed ",
        "Genuine ",
        "Unusual ",
        "Autographed ",
        "Frozen ",
        "Corrupted ",
    ];
    format!("{}{}", rng.pick(&QUALITIES), rng.pick(&ITEMS))
}

fn rust_title(rng: &mut Rng) -> String {
    const SKINS: [&str; 16] = [
        "Tempered",
        "Alien Red",
        "Big Grin",
        "Glory",
        "Neon",
        "Punishment",
        "Whiteout",
        "Midnight",
        "Playmaker",
        "Jungle",
        "Desert Raider",
        "Toxic Wolf",
        "Azul",
        "Rainbow Pony",
        "No Mercy",
        "Tundra",
    ];
    const ITEMS: [&str; 10] = [
        "AK47",
        "Hoodie",
        "Pants",
        "Metal Facemask",
        "Garage Door",
        "Sheet Metal Door",
        "Large Wood Box",
        "Thompson",
        "Python Revolver",
        "Semi-Automatic Rifle",
    ];
    format!("{} {}", rng.pick(&SKINS), rng.pick(&ITEMS))
}

fn tf2_title(rng: &mut Rng) -> String {
    const HATS: [&str; 16] = [
        "Team Captain",
        "Tyrolean",
        "Towering Pillar of Hats",
        "Killer Exclusive",
        "Bill's Hat",
        "Anger",
        "Hat of Undeniable Wealth And Respect",
        "Brigade Helm",
        "Pyromancer's Mask",
        "Scattergun",
        "Rocket Launcher",
        "Minigun",
        "Sniper Rifle",
        "Flame Thrower",
        "Stickybomb Launcher",
        "Ambassador",
    ];
    const QUALITIES: [&str; 8] = [
        "",
        "Strange ",
        "Unusual ",
        "Vintage ",
        "Genuine ",
        "Haunted ",
        "Collector's ",
        "Strange Professional Killstreak ",
    ];
    if rng.below(25) == 0 {
        return rng
            .pick(&["Mann Co. Supply Crate Key", "Secret Saxton Key"])
            .to_string();
    }
    format!("{}{}", rng.pick(&QUALITIES), rng.pick(&HATS))
}

fn pubg_title(rng: &mut Rng) -> String {
    const SETS: [&str; 12] = [
        "Candy Cane",
        "Desert Digital",
        "Bloodwork",
        "Golden Plate",
        "Victory Dance",
        "Arctic",
        "Neon Party",
        "Dragon Hunter",
        "Floral",
        "Urban Camo",
        "PGC 2019",
        "Beryl Lightning",
    ];
    const ITEMS: [&str; 10] = [
        "Pan",
        "Hoodie",
        "Mask",
        "Combat Pants",
        "Beanie",
        "Trench Coat",
        "AKM",
        "M416",
        "Kar98k",
        "Parachute",
    ];
    // Crates are never worth flipping: the template blacklists them.
    if rng.below(20) == 0 {
        return format!("{} Crate", rng.pick(&SETS));
    }
    format!("{} ({})", rng.pick(&ITEMS), rng.pick(&SETS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_market() {
        let a = Catalogue::generate(42, 300);
        let b = Catalogue::generate(42, 300);
        let c = Catalogue::generate(43, 300);
        let first = |cat: &Catalogue| {
            let l = cat.games["a8db"].listings[0];
            (l.price, l.seq, l.created_at, l.lock_days, l.float_micro)
        };
        assert_eq!(first(&a), first(&b));
        assert_ne!(first(&a), first(&c));
        assert_eq!(a.games.len(), 5);
        assert_eq!(uuid(42, "a8db", 1, 7), uuid(42, "a8db", 1, 7));
        assert_ne!(uuid(42, "a8db", 1, 7), uuid(42, "9a92", 1, 7));
    }

    #[test]
    fn listings_are_sorted_consistent_and_partly_underpriced_locked_and_floated() {
        let cat = Catalogue::generate(7, 3_000);
        for g in cat.games.values() {
            assert_eq!(g.listings.len(), 3_000);
            assert!(g.listings.windows(2).all(|w| w[0].price <= w[1].price));
            let counted: u32 = g.titles.iter().map(|t| t.offer_count).sum();
            assert_eq!(counted, 3_000);
            for (t, positions) in g.titles.iter().zip(&g.by_title) {
                if let Some(&first) = positions.first() {
                    assert_eq!(t.best_offer, g.listings[first as usize].price);
                }
                assert!(t.best_order < t.value);
            }
            let under = g
                .listings
                .iter()
                .filter(|l| l.price * 100 < g.titles[l.title as usize].value * 85)
                .count();
            assert!((30..=180).contains(&under), "{under} underpriced of 3000");
            let locked = g.listings.iter().filter(|l| l.lock_days > 0).count();
            assert!((300..=600).contains(&locked), "{locked} locked of 3000");
            assert!(g.newest.windows(2).all(|w| {
                g.listings[w[0] as usize].created_at >= g.listings[w[1] as usize].created_at
            }));
            assert!(g.listings.iter().all(|l| l.created_at <= EPOCH));
        }
        let cs = &cat.games["a8db"];
        let floated = cs.listings.iter().filter(|l| l.float_micro.is_some());
        for l in floated {
            let (_, lo, hi) = exterior_of(&cs.titles[l.title as usize].name).unwrap();
            assert!((lo..hi).contains(&l.float_micro.unwrap()));
        }
        assert!(
            cat.games["9a92"]
                .listings
                .iter()
                .all(|l| l.float_micro.is_none())
        );
    }
}
