//! The layout's rule, held against the code: no import circle between the
//! files or folders of `src/`. Every `use crate::…`, `use super::…`,
//! `use self::…` and every `crate::…` path written in the code (attributes
//! included) counts as an arrow from its file to the module it names; a
//! `mod x;` declaration does not (it places a file, it imports nothing).
//! In each folder, its files and subfolders must form no circle: a circle
//! among files of different folders shows as one among their folders. A
//! folder's `mod.rs` and its own files are one room, not two (see below).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path (`["actors", "event", "commit"]`) and the file holding it.
type Modules = BTreeMap<Vec<String>, PathBuf>;

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

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`; `lib.rs` is the root.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The code without comments and string literals' contents, so a path in
/// a doc comment or a message draws no arrow.
fn code_only(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut out = String::new();
            let mut in_string = false;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' => in_string = !in_string,
                    '\\' if in_string => {
                        chars.next();
                    }
                    '/' if !in_string && chars.peek() == Some(&'/') => break,
                    _ if !in_string => out.push(c),
                    _ => {}
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a `use` item names, braces expanded: `a::{b, c::d}` gives
/// `a::b` and `a::c::d`.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim_end_matches("::").trim();
        let inner = &tree[open + 1..tree.rfind('}').unwrap()];
        let base = join(prefix, head);
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&base, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&base, &inner[start..], out);
    } else if !tree.is_empty() {
        let path = tree.split(" as ").next().unwrap().trim();
        out.push(join(prefix, path));
    }
}

fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}::{path}"),
    }
}

/// The paths a file names: its `use` items and the `crate::` paths inline.
fn named_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let after = &rest[at + 4..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = after.find(';') else { break };
        let item = after[..end].trim();
        if item.starts_with("crate::") || item.starts_with("super::") || item.starts_with("self::")
        {
            expand("", item, &mut paths);
        }
    }
    let bytes = code.as_bytes();
    // A child module named in a path without `use` (`commit::EVERY`).
    let children: Vec<&str> = code
        .lines()
        .filter_map(|line| {
            let line = line
                .trim()
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ");
            line.strip_prefix("mod ")?.strip_suffix(';')
        })
        .collect();
    for child in children {
        let named = format!("{child}::");
        let seen = code.match_indices(&named).any(|(at, _)| {
            at == 0
                || !(bytes[at - 1].is_ascii_alphanumeric() || matches!(bytes[at - 1], b'_' | b':'))
        });
        if seen {
            paths.push(format!("self::{child}"));
        }
    }
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue;
        }
        let tail: String = code[at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        paths.push(tail.trim_end_matches(':').to_string());
    }
    paths
}

/// The deepest module of `modules` that `path` (seen from `from`) names.
fn resolve(modules: &Modules, from: &[String], path: &str) -> Option<PathBuf> {
    let mut segments: Vec<String> = Vec::new();
    let mut parts = path.split("::").peekable();
    match parts.peek().copied() {
        Some("crate") => {
            parts.next();
        }
        Some("self" | "super") => {
            // `a/b.rs` and `a/b/mod.rs` are module `a::b`: `self` is it,
            // `super` is `a`.
            segments = from.to_vec();
            while let Some(step) = parts.peek().copied() {
                match step {
                    "self" => {}
                    "super" => {
                        segments.pop();
                    }
                    _ => break,
                }
                parts.next();
            }
        }
        _ => return None,
    }
    segments.extend(parts.map(str::to_string));
    while !segments.is_empty() {
        if let Some(file) = modules.get(&segments) {
            return Some(file.clone());
        }
        segments.pop();
    }
    None
}

/// A circle in `arrows`, if there is one (as the nodes along it).
fn circle(arrows: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        arrows: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in arrows.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = path.iter().position(|n| n == next).unwrap();
                    let mut found = path[from..].to_vec();
                    found.push(next.clone());
                    return Some(found);
                }
                0 => {
                    if let Some(found) = visit(next, arrows, state, path) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in arrows.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(found) = visit(node, arrows, &mut state, &mut Vec::new()) {
                return Some(found);
            }
        }
    }
    None
}

/// The arrows between files of `src/`, as paths relative to it.
fn file_arrows(src: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.retain(|f| !f.starts_with(src.join("bin")) && f != &src.join("main.rs"));
    let modules: Modules = files
        .iter()
        .map(|f| {
            (
                module_of(src, f),
                f.strip_prefix(src).unwrap().to_path_buf(),
            )
        })
        .collect();
    let mut arrows = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(src).unwrap().to_path_buf();
        let module = module_of(src, file);
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for path in named_paths(&code) {
            if let Some(target) = resolve(&modules, &module, &path) {
                if target != rel {
                    arrows.push((rel.clone(), target));
                }
            }
        }
    }
    arrows
}

#[test]
fn no_import_circle_between_files_or_folders_of_src() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let arrows = file_arrows(&src);
    assert!(
        arrows.len() > 100,
        "the imports were read: {}",
        arrows.len()
    );
    // Each folder: its direct children (files, and subfolders taken whole).
    let mut folders: BTreeMap<PathBuf, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, to) in &arrows {
        let (a, b): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
        let shared = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        let folder: PathBuf = a[..shared].iter().collect();
        let name = |parts: &[std::path::Component]| {
            parts[shared].as_os_str().to_string_lossy().into_owned()
        };
        // A folder's front (`mod.rs`, or `lib.rs` for `src/`) and its own
        // parts are one room: the front declares them and they may use its
        // items, as the front may re-export theirs.
        let front = |name: &str| name == "mod.rs" || (shared == 0 && name == "lib.rs");
        if front(&name(&a)) || front(&name(&b)) {
            continue;
        }
        folders
            .entry(folder)
            .or_default()
            .entry(name(&a))
            .or_default()
            .insert(name(&b));
    }
    let circles: Vec<String> = folders
        .iter()
        .filter_map(|(folder, children)| {
            let found = circle(children)?;
            Some(format!("src/{}: {}", folder.display(), found.join(" -> ")))
        })
        .collect();
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_reader_sees_circles() {
    let mut arrows: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    arrows.entry("a".into()).or_default().insert("b".into());
    arrows.entry("b".into()).or_default().insert("c".into());
    assert_eq!(circle(&arrows), None);
    arrows.entry("c".into()).or_default().insert("a".into());
    assert_eq!(circle(&arrows).unwrap(), ["a", "b", "c", "a"]);
    let mut paths = Vec::new();
    expand("", "crate::a::{b, c::{d, e as f}, self}", &mut paths);
    assert_eq!(
        paths,
        [
            "crate::a::b",
            "crate::a::c::d",
            "crate::a::c::e",
            "crate::a::self"
        ]
    );
    let code = code_only("use crate::x::Y; // use crate::z;\nlet s = \"crate::w\"; crate::v::f();");
    assert_eq!(
        named_paths(&code),
        ["crate::x::Y", "crate::x::Y", "crate::v::f"]
    );
}
