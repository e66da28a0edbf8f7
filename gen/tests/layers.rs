//! gen's modules form layers: no top-level module reaches, directly or through others,
//! back to itself. Read from the sources, so a new `use crate::...` that closes a cycle
//! fails here with the cycle spelled out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module of a file under `src` (`settings` for `src/settings/check.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// Every `crate::<module>` a file's code names: comments (doc links among them) and the
/// `#[cfg(test)]` tail do not count.
fn references(text: &str) -> BTreeSet<String> {
    let text = text.split("#[cfg(test)]").next().unwrap_or(text);
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    // `use crate::{a, b::c}` groups.
    for (i, _) in code.match_indices("crate::{") {
        let group = &code[i + "crate::{".len()..];
        let group = &group[..group.find('}').unwrap_or(group.len())];
        for item in group.split(',') {
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let entry = graph.entry(module.clone()).or_default();
        for r in references(&text) {
            if r != module {
                entry.insert(r);
            }
        }
    }
    graph
}

/// A cycle through `node`, if any, as a path that starts and ends at it.
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    node: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    for next in graph.get(path.last().unwrap()).into_iter().flatten() {
        if next == node {
            let mut cycle = path.clone();
            cycle.push(next.clone());
            return Some(cycle);
        }
        if !path.contains(next) {
            path.push(next.clone());
            if let Some(c) = cycle_from(graph, node, path) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn modules_import_each_other_without_cycles() {
    let graph = graph();
    assert!(
        graph.contains_key("settings") && graph.contains_key("pipeline"),
        "module scan found nothing: {graph:?}"
    );
    for node in graph.keys() {
        let mut path = vec![node.clone()];
        if let Some(cycle) = cycle_from(&graph, node, &mut path) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn settings_know_only_themselves() {
    let graph = graph();
    let deps = &graph["settings"];
    assert!(deps.is_empty(), "settings import {deps:?}");
}

#[test]
fn commands_never_read_the_command_line() {
    let graph = graph();
    assert!(
        !graph["commands"].contains("cli"),
        "{:?}",
        graph["commands"]
    );
    assert!(graph["cli"].is_empty(), "cli imports {:?}", graph["cli"]);
}
