//! The simulated market's data: a deterministic catalogue per game from a seed.
//!
//! Each game gets realistic titles (CS:GO `weapon | skin (exterior)` with StatTrak™, Dota 2
//! and TF2 items with qualities, Rust skins), `items_per_game` listings priced around each
//! title's value, a seeded 3% of them well under value (real opportunities), best buy orders
//! and offers consistent with the listings, and recent sales. Listing JSON is rendered once
//! here, so serving a page is a concatenation.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::rng::Rng;

/// Fraction of listings priced well under their title's value, in per mille.
const UNDERPRICED_PER_MILLE: u64 = 30;

/// One game's market.
#[derive(Debug)]
pub(crate) struct GameMarket {
    pub(crate) price_game: String,
    pub(crate) titles: Vec<Title>,
    pub(crate) title_index: HashMap<String, u32>,
    /// Listings sorted by (price, id): the `orderBy=price` order.
    pub(crate) listings: Vec<SimListing>,
    /// Listing positions per title, in price order.
    pub(crate) by_title: Vec<Vec<u32>>,
    /// Rendered JSON objects, concatenated; listing `i` is `blob[offsets[i]..offsets[i+1]]`.
    blob: String,
    offsets: Vec<u32>,
}

#[derive(Debug)]
pub(crate) struct Title {
    pub(crate) name: String,
    pub(crate) value: i64,
    pub(crate) best_order: i64,
    pub(crate) order_count: u32,
    pub(crate) best_offer: i64,
    pub(crate) offer_count: u32,
    pub(crate) sales: Vec<(i64, u64)>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SimListing {
    pub(crate) price: i64,
    pub(crate) title: u32,
}

impl GameMarket {
    /// The rendered JSON object of listing `i`.
    pub(crate) fn listing_json(&self, i: usize) -> &str {
        &self.blob[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

/// The catalogue of every simulated game, keyed by market `gameId`.
#[derive(Debug)]
pub(crate) struct Catalogue {
    pub(crate) games: HashMap<String, GameMarket>,
    /// Aggregated-prices `filter.game` -> market `gameId`.
    pub(crate) price_games: HashMap<String, String>,
}

/// Makes one random title of a game.
type TitleMaker = fn(&mut Rng) -> String;

/// (market gameId, price game, title generator). The fifth, `pubg`, has no built-in
/// scanner: it is the out-of-tree plugin template's game (examples/plugin-template).
const GAMES: [(&str, &str, TitleMaker); 5] = [
    ("a8db", "csgo", csgo_title),
    ("9a92", "dota2", dota2_title),
    ("rust", "rust", rust_title),
    ("tf2", "tf2", tf2_title),
    ("pubg", "pubg", pubg_title),
];

impl Catalogue {
    pub(crate) fn generate(seed: u64, items_per_game: u64) -> Catalogue {
        let mut games = HashMap::new();
        let mut price_games = HashMap::new();
        for (stream, (game_id, price_game, make_title)) in GAMES.iter().enumerate() {
            let market = generate_game(
                seed,
                stream as u64,
                game_id,
                price_game,
                *make_title,
                items_per_game,
            );
            price_games.insert((*price_game).to_owned(), (*game_id).to_owned());
            games.insert((*game_id).to_owned(), market);
        }
        Catalogue { games, price_games }
    }
}

fn generate_game(
    seed: u64,
    stream: u64,
    game_id: &str,
    price_game: &str,
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
        let best_order = value * (90 + rng.below(6) as i64) / 100;
        let order_count = 1 + rng.below(40) as u32;
        let sales = (0..10)
            .map(|k| {
                (
                    value * (95 + rng.below(11) as i64) / 100,
                    1_732_400_000 - k * 3_600 - rng.below(3_600),
                )
            })
            .collect();
        title_index.insert(name.clone(), titles.len() as u32);
        titles.push(Title {
            name,
            value,
            best_order,
            order_count,
            best_offer: 0,
            offer_count: 0,
            sales,
        });
    }
    let mut listings: Vec<(SimListing, u64)> = (0..items)
        .map(|i| {
            let mut r = Rng::derive(seed, stream, i + 1);
            let t = r.below(titles.len() as u64) as u32;
            let value = titles[t as usize].value;
            let price = if r.below(1_000) < UNDERPRICED_PER_MILLE {
                value * (60 + r.below(20) as i64) / 100
            } else {
                value * (100 + r.below(26) as i64) / 100
            };
            (
                SimListing {
                    price: price.max(1),
                    title: t,
                },
                i,
            )
        })
        .collect();
    listings.sort_by_key(|(l, i)| (l.price, *i));
    let mut by_title = vec![Vec::new(); titles.len()];
    let mut blob = String::with_capacity(listings.len() * 220);
    let mut offsets = Vec::with_capacity(listings.len() + 1);
    for (pos, (l, i)) in listings.iter().enumerate() {
        let t = &mut titles[l.title as usize];
        if t.offer_count == 0 || l.price < t.best_offer {
            t.best_offer = l.price;
        }
        t.offer_count += 1;
        by_title[l.title as usize].push(pos as u32);
        offsets.push(blob.len() as u32);
        render_listing(&mut blob, game_id, seed, *i, &t.name, l.price, t.value);
    }
    offsets.push(blob.len() as u32);
    GameMarket {
        price_game: price_game.to_owned(),
        titles,
        title_index,
        listings: listings.into_iter().map(|(l, _)| l).collect(),
        by_title,
        blob,
        offsets,
    }
}

fn render_listing(
    out: &mut String,
    game_id: &str,
    seed: u64,
    i: u64,
    title: &str,
    price: i64,
    value: i64,
) {
    let id_hash = Rng::derive(seed, 0xfeed, i).next_u64();
    let _ = write!(
        out,
        r#"{{"itemId":"{game_id}-{i:08x}-{:04x}-{:012x}","type":"item","gameId":"{game_id}","title":{},"price":{{"USD":"{price}"}},"suggestedPrice":{{"USD":"{value}"}},"extra":{{"category":"{}"}}}}"#,
        id_hash >> 48,
        id_hash & 0xffff_ffff_ffff,
        serde_json::Value::String(title.to_owned()),
        category(title),
    );
}

fn category(title: &str) -> &'static str {
    if title.contains(" | ") {
        "Skin"
    } else if title.ends_with("Key") {
        "Key"
    } else {
        "Item"
    }
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
        let json = |cat: &Catalogue| cat.games["a8db"].listing_json(0).to_owned();
        assert_eq!(json(&a), json(&b));
        assert_ne!(json(&a), json(&c));
        assert_eq!(a.games.len(), 5);
        assert_eq!(a.price_games["pubg"], "pubg");
        assert_eq!(a.price_games["dota2"], "9a92");
    }

    #[test]
    fn listings_are_sorted_consistent_and_partly_underpriced() {
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
            let parsed: serde_json::Value = serde_json::from_str(g.listing_json(5)).unwrap();
            assert!(
                parsed["price"]["USD"]
                    .as_str()
                    .unwrap()
                    .parse::<i64>()
                    .is_ok()
            );
        }
    }
}
