//! The layer rule, measured from the imports: the host's crates depend only downward in the
//! order ARCHITECTURE.md draws, no two files of a crate import each other in a circle, and no
//! file is over 800 lines without a reason written at its top.
//!
//! A file's imports are its `crate::`, `super::` and `self::` paths and the `use` of its own
//! child modules, resolved to the file that defines the module named; `mod x;` alone is a
//! declaration, not an import. Inline `#[cfg(test)] mod tests { .. }` blocks are left out
//! (their `super::*` is their own file).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The host's crates, bottom up: each may depend only on crates before it.
const LAYERS: &[(&str, &str)] = &[
    ("skinscan-settings", "core/settings"),
    ("skinscan-events", "core/events"),
    ("skinscan-net", "core/net"),
    ("skinscan-report", "core/report"),
    ("skinscan-history", "core/history"),
    ("skinscan-alerts", "core/alerts"),
    ("skinscan-core", "core"),
];

/// Every crate whose files are checked for circles and length.
const CRATES: &[&str] = &[
    "sdk",
    "core/settings",
    "core/events",
    "core/net",
    "core/report",
    "core/history",
    "core/alerts",
    "core",
    "core/sim",
    "plugins/csgo",
    "plugins/dota2",
    "plugins/rust",
    "plugins/tf2",
];

/// Lines a file may have without a reason at its top (`//! Long because ...`).
const MAX_LINES: usize = 800;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn skinscan_dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut deps = Vec::new();
    let mut in_deps = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps
            && let Some(name) = line.split(['.', ' ', '=']).next()
            && name.starts_with("skinscan-")
        {
            deps.push(name.to_owned());
        }
    }
    deps
}

#[test]
fn the_host_crates_depend_only_downward() {
    let mut wrong = Vec::new();
    for (i, (name, dir)) in LAYERS.iter().enumerate() {
        let above: BTreeSet<&str> = LAYERS[i..].iter().map(|(n, _)| *n).collect();
        for dep in skinscan_dependencies(&workspace().join(dir).join("Cargo.toml")) {
            if above.contains(dep.as_str()) {
                wrong.push(format!("{name} depends on {dep}, which is not below it"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The request path knows nothing of config files, outputs or the store.
    let net = skinscan_dependencies(&workspace().join("core/net/Cargo.toml"));
    assert_eq!(
        net,
        ["skinscan-sdk", "skinscan-events"],
        "skinscan-net: {net:?}"
    );
}

/// A module path (`["watch", "config"]`; the crate root is `[]`).
type Module = Vec<String>;
/// Each file's imports, by module.
type Graph = BTreeMap<Module, BTreeSet<Module>>;

/// A crate's source files by module path.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<Vec<String>, PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                let mut p = prefix.to_vec();
                p.push(name);
                walk(&path, &p, out);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                let mut p = prefix.to_vec();
                if !matches!(stem, "lib" | "main" | "mod") {
                    p.push(stem.to_owned());
                }
                out.insert(p, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &[], &mut out);
    out
}

/// `text` without its inline test modules and comment lines.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t == "#[cfg(test)]" && lines.peek().is_some_and(|n| n.trim_end().ends_with('{')) {
            // Skip the inline module to its closing brace at the same indent.
            let indent = line.len() - t.len();
            for l in lines.by_ref() {
                if l.len() - l.trim_start().len() == indent && l.trim() == "}" {
                    break;
                }
            }
            continue;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn ident_path(s: &str) -> Vec<String> {
    let mut segs = Vec::new();
    for seg in s.split("::") {
        let id: String = seg
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if id.is_empty() {
            break;
        }
        let whole = id.len() == seg.len();
        segs.push(id);
        if !whole {
            break;
        }
    }
    segs
}

/// The module paths `code` (of the module at `me`) names.
fn imports(code: &str, me: &[String], children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", me[..me.len().saturating_sub(1)].to_vec()),
        ("self::", me.to_vec()),
    ] {
        let mut from = 0;
        while let Some(i) = code[from..].find(prefix) {
            let at = from + i;
            from = at + prefix.len();
            if at > 0
                && (bytes[at - 1].is_ascii_alphanumeric() || matches!(bytes[at - 1], b'_' | b'$'))
            {
                continue;
            }
            let mut path = base.clone();
            path.extend(ident_path(&code[from..]));
            out.push(path);
        }
    }
    for line in code.lines() {
        let t = line.trim_start();
        let rest = t
            .strip_prefix("pub use ")
            .or_else(|| t.strip_prefix("pub(crate) use "))
            .or_else(|| t.strip_prefix("use "));
        if let Some(rest) = rest {
            let segs = ident_path(rest);
            if segs.first().is_some_and(|s| children.contains(s)) {
                let mut path = me.to_vec();
                path.extend(segs);
                out.push(path);
            }
        }
    }
    out
}

/// The file defining the longest prefix of `path`.
fn resolve(path: &[String], files: &BTreeMap<Vec<String>, PathBuf>) -> Option<Vec<String>> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| files.contains_key(p))
}

/// The circles of a directed graph (strongly connected components of two or more).
fn circles(edges: &Graph) -> Vec<Vec<Module>> {
    // Kosaraju: reachability both ways, small graphs.
    let nodes: Vec<&Vec<String>> = edges.keys().collect();
    let reach = |from: &Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    stack.push(m.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&Vec<String>, BTreeSet<Vec<String>>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in &nodes {
        if done.contains(*n) {
            continue;
        }
        let group: Vec<Vec<String>> = nodes
            .iter()
            .filter(|m| *m != n && reaches[n].contains(**m) && reaches[**m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        if !group.is_empty() {
            let mut g = vec![(*n).clone()];
            g.extend(group);
            done.extend(g.iter().cloned());
            out.push(g);
        }
    }
    out
}

fn file_graph(src: &Path) -> (Graph, BTreeMap<Module, PathBuf>) {
    let files = modules(src);
    let mut edges = BTreeMap::new();
    for (me, path) in &files {
        let code = code_of(&std::fs::read_to_string(path).unwrap());
        let children: BTreeSet<String> = files
            .keys()
            .filter(|k| k.len() == me.len() + 1 && k.starts_with(me))
            .map(|k| k[me.len()].clone())
            .collect();
        let targets: BTreeSet<Vec<String>> = imports(&code, me, &children)
            .iter()
            .filter_map(|p| resolve(p, &files))
            .filter(|t| t != me)
            .collect();
        edges.insert(me.clone(), targets);
    }
    (edges, files)
}

#[test]
fn no_two_files_of_a_crate_import_each_other_in_a_circle() {
    let mut found = Vec::new();
    for dir in CRATES {
        let (edges, files) = file_graph(&workspace().join(dir).join("src"));
        for circle in circles(&edges) {
            let names: Vec<String> = circle
                .iter()
                .map(|m| {
                    files[m]
                        .strip_prefix(workspace())
                        .unwrap()
                        .display()
                        .to_string()
                })
                .collect();
            found.push(names.join(" <-> "));
        }
    }
    assert!(found.is_empty(), "import circles: {found:#?}");
}

#[test]
fn the_circle_finder_finds_a_circle_through_super_and_a_child_reexport() {
    // The measurement itself: a parent re-exporting a child that imports its parent is a
    // circle; a child that only uses its sibling is not.
    let me = vec!["sinks".to_owned()];
    let children: BTreeSet<String> = ["json".to_owned()].into();
    let parent = imports("pub use json::JsonSink;\n", &me, &children);
    assert_eq!(
        parent,
        [vec![
            "sinks".to_owned(),
            "json".to_owned(),
            "JsonSink".to_owned()
        ]]
    );
    let child = imports(
        "use super::{Event, Sink};\n",
        &["sinks".into(), "json".into()],
        &BTreeSet::new(),
    );
    assert_eq!(child, [vec!["sinks".to_owned()]]);
    let mut edges = BTreeMap::new();
    edges.insert(
        vec!["sinks".to_owned()],
        [vec!["sinks".to_owned(), "json".to_owned()]].into(),
    );
    edges.insert(
        vec!["sinks".to_owned(), "json".to_owned()],
        [vec!["sinks".to_owned()]].into(),
    );
    edges.insert(vec!["table".to_owned()], [vec!["sinks".to_owned()]].into());
    let c = circles(&edges);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].len(), 2);
    // And test modules are not imports.
    let code = code_of("use crate::a;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n");
    assert_eq!(code, "use crate::a;\n");
}

#[test]
fn no_file_is_over_800_lines_without_a_reason_at_its_top() {
    let mut long = Vec::new();
    for dir in CRATES
        .iter()
        .copied()
        .chain(["tests/src", "tests/tests", "core/tests"])
    {
        let root = workspace().join(dir);
        let root = if root.join("src").is_dir() {
            root.join("src")
        } else {
            root
        };
        let files: Vec<PathBuf> = if dir.ends_with("tests") {
            std::fs::read_dir(&root)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "rs"))
                .collect()
        } else {
            modules(&root).into_values().collect()
        };
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let lines = text.lines().count();
            let head: String = text.lines().take_while(|l| l.starts_with("//!")).collect();
            if lines > MAX_LINES && !head.contains("Long because") {
                long.push(format!("{}: {lines} lines", path.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines with no `Long because` at the top: {long:#?}"
    );
}
