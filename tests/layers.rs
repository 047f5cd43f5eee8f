//! The layers of ARCHITECTURE.md, checked on the sources: which module of `src/` may name which,
//! that no two files import each other in a cycle, that the runtime names no resource and no
//! CPython symbol, and that no source file outgrows 600 lines (nor any test, benchmark or
//! example file).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level modules of `src/` and the modules each may use (`crate::<name>`).
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("sys", &["error"]),
    ("runtime", &["error", "sys"]),
    ("net", &["error", "sys", "runtime", "tpool"]),
    ("fs", &["error", "sys", "runtime", "tpool", "net"]),
    ("http", &["error", "sys", "runtime", "net", "fs"]),
    ("sync", &["error", "runtime"]),
    ("tpool", &["error", "runtime"]),
    ("pool", &["error", "runtime", "sync", "net"]),
    ("python", &["error", "sys", "runtime"]),
];

/// Words that name a resource type or CPython: the runtime must use none of them.
const FOREIGN_TO_RUNTIME: &[&str] = &[
    "Socket",
    "Semaphore",
    "Channel",
    "Pool",
    "tpool",
    "python",
    "Python",
    "GIL",
    "gilstate",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The file's module path below `src/`: `runtime/hub.rs` -> ["runtime", "hub"].
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments (doc comments mention anything) and string literals.
fn code(file: &Path) -> String {
    let text = fs::read_to_string(file).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut in_str = false;
        for c in line.chars() {
            if c == '"' {
                in_str = !in_str;
                continue;
            }
            if !in_str {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// Every module path a file refers to: `crate::a::b`, `super::x` (resolved), `use` groups
/// taken apart only as far as their first segment.
fn references(file: &Path) -> BTreeSet<Vec<String>> {
    let me = module_of(file);
    let code = code(file);
    let mut found = BTreeSet::new();
    // `super` is the file's module path without its last part (`net::io` -> `net`; a mod.rs
    // is its directory's module, `net` -> the crate).
    let parent = me[..me.len().saturating_sub(1)].to_vec();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().last();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut path = base.clone();
            for seg in rest.split("::") {
                let ident: String = seg
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if ident.is_empty() || ident.chars().next().unwrap().is_uppercase() {
                    break;
                }
                path.push(ident);
                if !seg.starts_with(path.last().unwrap().as_str())
                    || seg.len() != path.last().unwrap().len()
                {
                    break;
                }
            }
            if !path.is_empty() {
                found.insert(path);
            }
        }
    }
    found
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut problems = Vec::new();
    for file in &files {
        let me = module_of(file);
        let Some(top) = me.first() else { continue }; // lib.rs: the crate root
        let Some(may) = allowed.get(top.as_str()) else {
            problems.push(format!(
                "{}: module {top} is not in ALLOWED",
                file.display()
            ));
            continue;
        };
        for path in references(file) {
            let other = &path[0];
            if other != top && !may.contains(&other.as_str()) {
                problems.push(format!(
                    "{}: {top} uses {}",
                    file.display(),
                    path.join("::")
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_two_files_import_each_other_in_a_cycle() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(f)).collect();
    // Edges between files: a reference names the longest module path that is a file.
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let me = module_of(file);
        for mut path in references(file) {
            while !path.is_empty() && !modules.contains(&path) {
                path.pop();
            }
            // A reference to a module's own parent (`super::x` re-exports) is not an edge.
            if !path.is_empty() && path != me && !me.starts_with(&path) {
                edges.entry(me.clone()).or_default().insert(path);
            }
        }
    }
    // Depth-first search for a cycle.
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        match state.get(node) {
            Some(2) => return None,
            Some(1) => {
                let from = stack.iter().position(|n| n == node).unwrap();
                return Some(stack[from..].to_vec());
            }
            _ => {}
        }
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in &modules {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(node, &edges, &mut state, &mut stack) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            panic!("import cycle: {}", names.join(" -> "));
        }
    }
}

#[test]
fn the_allowed_arrows_between_modules_have_no_cycle() {
    // With every module using only what ALLOWED lets it, this keeps the top level acyclic.
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    fn reaches(
        from: &str,
        to: &str,
        allowed: &BTreeMap<&str, &[&str]>,
        seen: &mut Vec<String>,
    ) -> bool {
        if seen.iter().any(|s| s == from) {
            return false;
        }
        seen.push(from.to_string());
        allowed[from]
            .iter()
            .any(|&next| next == to || reaches(next, to, allowed, seen))
    }
    for (module, _) in ALLOWED {
        assert!(
            !reaches(module, module, &allowed, &mut Vec::new()),
            "{module} can reach itself through ALLOWED"
        );
    }
}

#[test]
fn the_runtime_names_no_resource_and_no_cpython_symbol() {
    let mut files = Vec::new();
    sources(&src().join("runtime"), &mut files);
    assert!(!files.is_empty());
    let mut problems = Vec::new();
    for file in &files {
        let code = code(file);
        for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            let cpython = word.starts_with("Py") && word[2..].starts_with(char::is_uppercase);
            if cpython || FOREIGN_TO_RUNTIME.contains(&word) {
                problems.push(format!("{}: {word}", file.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the runtime names:\n{}",
        problems.join("\n")
    );
}

/// The files of `files` longer than 600 lines, with their length.
fn over_600_lines(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter_map(|f| {
            let n = fs::read_to_string(f).unwrap().lines().count();
            (n > 600).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect()
}

#[test]
fn no_source_file_is_over_600_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "capi/src", "tools"] {
        sources(&root.join(dir), &mut files);
    }
    let long = over_600_lines(&files);
    assert!(long.is_empty(), "split by concern: {long:?}");
}

/// The tests, the benchmarks and the examples are held to the same rule: C, Python and Rust
/// files alike (hidden directories, build output and benchmark results left out).
#[test]
fn no_test_bench_or_example_file_is_over_600_lines() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "results" {
                    walk(&path, out);
                }
            } else if ["rs", "c", "h", "cpp", "py"]
                .iter()
                .any(|e| path.extension().is_some_and(|x| x == *e))
            {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["tests", "bench", "examples-c"] {
        walk(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let long = over_600_lines(&files);
    assert!(long.is_empty(), "split by concept: {long:?}");
}
