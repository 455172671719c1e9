//! The code's shape, checked: no module of `src/` depends on another that depends back on it.
//!
//! A module is a file (`src/engine/deploy.rs` is `engine::deploy`, a `mod.rs` is its folder). An
//! edge is any `crate::`, `super::` or `self::` path in a module's code outside comments, its
//! `#[cfg(test)] mod tests` and its `pub use` re-exports, resolved to the longest module it names.
//! A child naming its own ancestor (`super::Engine`) is containment, not an edge.

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                out.insert(parts.join("::"), std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

/// The module a path in module `cur` names, if it is one of ours.
fn resolve(mods: &BTreeMap<String, String>, cur: &str, path: &str) -> Option<String> {
    let mut base: Vec<&str> = if cur.is_empty() {
        vec![]
    } else {
        cur.split("::").collect()
    };
    let mut parts: Vec<&str> = path.split("::").collect();
    match parts[0] {
        "crate" => base.clear(),
        "super" => {
            while parts.first() == Some(&"super") {
                base.pop();
                parts.remove(0);
            }
            parts.insert(0, "self");
        }
        "self" => {}
        _ => return None,
    }
    parts.remove(0);
    (0..=parts.len()).rev().find_map(|i| {
        let m = base
            .iter()
            .chain(&parts[..i])
            .copied()
            .collect::<Vec<_>>()
            .join("::");
        mods.contains_key(&m).then_some(m)
    })
}

fn graph(mods: &BTreeMap<String, String>) -> Graph {
    let comment = Regex::new(r"//[^\n]*").unwrap();
    let tests = Regex::new(r"(?s)#\[cfg\(test\)\]\s*mod tests\s*\{.*").unwrap();
    let reexport = Regex::new(r"(?m)^\s*pub(\([^)]*\))?\s+use\s[^;]*;").unwrap();
    let path = Regex::new(r"\b(crate|super|self)((?:::\w+)+)").unwrap();
    let group = Regex::new(r"\b((?:crate|super|self)(?:::\w+)*)::\{([^;]*)\}").unwrap();
    let mut g = Graph::new();
    for (m, text) in mods {
        let code = comment.replace_all(text, "");
        let code = tests.replace_all(&code, "");
        let code = reexport.replace_all(&code, "");
        let mut targets: Vec<String> = path
            .captures_iter(&code)
            .map(|c| format!("{}{}", &c[1], &c[2]))
            .collect();
        for c in group.captures_iter(&code) {
            for item in c[2]
                .split([',', '{', '}', ' ', '\n'])
                .filter(|i| !i.is_empty())
            {
                targets.push(format!("{}::{}", &c[1], item));
            }
        }
        let edges = g.entry(m.clone()).or_default();
        for t in targets {
            if let Some(t) = resolve(mods, m, &t) {
                let ancestor = m == &t || m.starts_with(&format!("{t}::")) || t.is_empty();
                if !ancestor {
                    edges.insert(t);
                }
            }
        }
    }
    g
}

/// A path from `to` back to `from`, if there is one.
fn path_back(g: &Graph, from: &str, to: &str) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![(to.to_string(), vec![to.to_string()])];
    while let Some((m, trail)) = stack.pop() {
        if m == from {
            return Some(trail);
        }
        if !seen.insert(m.clone()) {
            continue;
        }
        for n in g.get(&m).into_iter().flatten() {
            let mut t = trail.clone();
            t.push(n.clone());
            stack.push((n.clone(), t));
        }
    }
    None
}

#[test]
fn no_import_cycle_in_src() {
    let mods = modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(mods.len() > 20, "found only {} modules", mods.len());
    let g = graph(&mods);
    // The checker itself must see real edges, or it could pass on anything.
    assert!(
        g["engine::deploy"].contains("store"),
        "{:?}",
        g["engine::deploy"]
    );
    let mut cycles = Vec::new();
    for (m, edges) in &g {
        for t in edges {
            if let Some(back) = path_back(&g, m, t) {
                cycles.push(format!("{m} -> {}", back.join(" -> ")));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}
