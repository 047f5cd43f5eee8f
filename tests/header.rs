//! The committed header carries version macros equal to Cargo.toml's version, and C++ guards.

fn header() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/greenhub.h");
    std::fs::read_to_string(path).expect("include/greenhub.h is committed")
}

fn macro_value(text: &str, name: &str) -> String {
    let prefix = format!("#define {name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{name} missing from the header"))
        .trim()
        .to_string()
}

#[test]
fn version_macros_match_cargo_toml() {
    let h = header();
    assert_eq!(
        macro_value(&h, "GREENHUB_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        macro_value(&h, "GREENHUB_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        macro_value(&h, "GREENHUB_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION_PATCH")
    );
    assert_eq!(
        macro_value(&h, "GREENHUB_VERSION"),
        format!("\"{}\"", env!("CARGO_PKG_VERSION"))
    );
    // libuv's UV_VERSION_HEX: (MAJOR << 16) | (MINOR << 8) | PATCH.
    let part = |name: &str| -> u32 { macro_value(&h, name).parse().unwrap() };
    let hex = macro_value(&h, "GREENHUB_VERSION_HEX");
    let value = u32::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap();
    assert_eq!(
        value,
        (part("GREENHUB_VERSION_MAJOR") << 16)
            | (part("GREENHUB_VERSION_MINOR") << 8)
            | part("GREENHUB_VERSION_PATCH"),
        "GREENHUB_VERSION_HEX {hex}"
    );
}

#[test]
fn header_has_cpp_guards_and_documents_every_function() {
    let h = header();
    assert!(h.contains("extern \"C\" {") && h.contains("#ifdef __cplusplus"));
    let lines: Vec<&str> = h.lines().collect();
    let mut functions = 0;
    for (i, line) in lines.iter().enumerate() {
        let is_decl =
            line.contains(" gh_") && line.trim_end().ends_with(");") && !line.starts_with(' ');
        if is_decl {
            functions += 1;
            assert!(
                i > 0 && lines[i - 1].trim() == "*/",
                "undocumented function: {line}"
            );
        }
    }
    assert!(functions >= 30, "only {functions} functions found");
}

/// Runs the C preprocessor (`$CC`, default `cc`) on `source` and returns its output.
fn preprocess(source: &str, flags: &[&str]) -> String {
    use std::io::Write;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let include = concat!(env!("CARGO_MANIFEST_DIR"), "/include");
    let mut child = std::process::Command::new(&cc)
        .args(["-std=c99", "-E", "-I", include])
        .args(flags)
        .args(["-x", "c", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(source.as_bytes())
        .expect("write to the preprocessor");
    let out = child.wait_with_output().expect("the preprocessor runs");
    assert!(out.status.success(), "{cc} -E failed");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Macro names defined by `source` after preprocessing (`-dM`).
fn macro_names(source: &str) -> std::collections::BTreeSet<String> {
    preprocess(source, &["-dM"])
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .map(|rest| {
            let end = rest.find([' ', '(']).unwrap_or(rest.len());
            rest[..end].to_string()
        })
        .collect()
}

/// The C tokens of the lines that come from greenhub.h itself in preprocessed output.
fn header_tokens(preprocessed: &str) -> Vec<String> {
    let mut ours = false;
    let mut tokens = Vec::new();
    for line in preprocessed.lines() {
        if let Some(marker) = line.strip_prefix("# ") {
            ours = marker.contains("greenhub.h\"");
            continue;
        }
        if !ours {
            continue;
        }
        let mut chars = line.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            if c.is_ascii_alphabetic() || c == '_' {
                let mut end = start + 1;
                while let Some(&(i, c)) = chars.peek() {
                    if !(c.is_ascii_alphanumeric() || c == '_') {
                        break;
                    }
                    end = i + 1;
                    chars.next();
                }
                tokens.push(line[start..end].to_string());
            } else if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
        }
    }
    tokens
}

fn is_ident(t: &str) -> bool {
    t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

/// Every name the declarations define, with what it is: functions, typedefs, struct, union and
/// enum tags (of definitions), enum constants. Parsed from top-level statements.
fn declared_names(tokens: &[String]) -> Vec<(&'static str, String)> {
    let mut names = Vec::new();
    let mut statement: Vec<&str> = Vec::new();
    let mut depth = 0;
    for t in tokens {
        match t.as_str() {
            "{" => depth += 1,
            "}" => depth -= 1,
            _ => {}
        }
        statement.push(t);
        if t == ";" && depth == 0 {
            names.extend(names_of_statement(&statement));
            statement.clear();
        }
    }
    assert!(
        statement.is_empty(),
        "unterminated declaration: {statement:?}"
    );
    names
}

fn names_of_statement(s: &[&str]) -> Vec<(&'static str, String)> {
    let mut names = Vec::new();
    // Tags of struct/union/enum definitions, and enum constants.
    for (i, w) in s.windows(3).enumerate() {
        if ["struct", "union", "enum"].contains(&w[0]) && is_ident(w[1]) && w[2] == "{" {
            names.push(("tag", w[1].to_string()));
        }
        if w[0] == "enum" {
            let body = s[i..].iter().position(|&t| t == "{").map(|b| i + b);
            let mut j = body.unwrap_or(s.len());
            while j + 1 < s.len() && s[j] != "}" {
                if (s[j] == "{" || s[j] == ",") && is_ident(s[j + 1]) {
                    names.push(("enum constant", s[j + 1].to_string()));
                }
                j += 1;
            }
        }
    }
    // The declared name: outside any braces, the one before the first '(' of a function, the
    // one in `(*name)` of a function pointer typedef, else the last identifier.
    let mut depth = 0;
    let outer: Vec<&str> = s
        .iter()
        .copied()
        .filter(|&t| {
            let inside = depth > 0 || t == "{";
            match t {
                "{" => depth += 1,
                "}" => depth -= 1,
                _ => {}
            }
            !inside && t != "}"
        })
        .collect();
    let what = if outer.first() == Some(&"typedef") {
        "typedef"
    } else if outer.contains(&"(") {
        "function"
    } else {
        "object"
    };
    let paren = outer.iter().position(|&t| t == "(");
    let name = match paren {
        // `(*name)(...)`: a function pointer typedef (or object).
        Some(p) if outer.get(p + 1) == Some(&"*") && outer.get(p + 3) == Some(&")") => {
            Some(outer[p + 2])
        }
        Some(p) if what == "function" && p > 0 => Some(outer[p - 1]),
        _ => outer
            .iter()
            .rposition(|t| is_ident(t))
            // `struct tag;` or `enum tag { ... };` declare no name of their own.
            .filter(|&i| i == 0 || !["struct", "union", "enum"].contains(&outer[i - 1]))
            .map(|i| outer[i]),
    };
    if let Some(name) = name.filter(|n| is_ident(n) && !["struct", "union", "enum"].contains(n)) {
        names.push((what, name.to_string()));
    }
    names
}

#[test]
fn every_identifier_the_header_defines_is_prefixed() {
    let allowed = |n: &str| ["gh_", "GH_", "GREENHUB_"].iter().any(|p| n.starts_with(p));
    // Macros: what the header defines beyond the system headers it includes.
    let system =
        "#include <stddef.h>\n#include <stdint.h>\n#include <stdbool.h>\n#include <sys/types.h>\n";
    let with_header = macro_names(&format!("{system}#include \"greenhub.h\"\n"));
    let without = macro_names(system);
    let macros: Vec<_> = with_header.difference(&without).collect();
    assert!(macros.iter().any(|m| *m == "GH_HOST_MAX") && macros.len() >= 8);
    let bad: Vec<_> = macros.iter().filter(|m| !allowed(m)).collect();
    assert!(bad.is_empty(), "macros without the prefix: {bad:?}");

    // Declarations, as the compiler sees them.
    let tokens = header_tokens(&preprocess("#include \"greenhub.h\"\n", &[]));
    let names = declared_names(&tokens);
    let has = |what: &str, name: &str| names.iter().any(|(w, n)| *w == what && n == name);
    assert!(has("function", "gh_connect") && has("function", "gh_version"));
    assert!(has("typedef", "gh_sock") && has("typedef", "gh_fn") && has("typedef", "gh_tpool_fn"));
    assert!(has("tag", "gh_addr") && has("typedef", "gh_addr"));
    let functions = names.iter().filter(|(w, _)| *w == "function").count();
    let exported = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/capi/src"))
        .expect("capi/src")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("readable"))
        .map(|text| text.matches("#[no_mangle]").count())
        .sum::<usize>();
    assert_eq!(
        functions, exported,
        "functions parsed vs #[no_mangle] items in capi/src"
    );
    let bad: Vec<_> = names.iter().filter(|(_, n)| !allowed(n)).collect();
    assert!(bad.is_empty(), "declarations without the prefix: {bad:?}");
}

#[test]
fn the_declaration_scanner_finds_every_kind_of_name() {
    let source = "typedef struct tag_a { int field; struct other *p; } type_a;\n\
                  enum tag_e { CONST_X, CONST_Y = 2 };\n\
                  typedef void *(*type_fn)(void *arg);\n\
                  int func_f(struct tag_a *a, int (*cb)(int));\n\
                  extern int object_o;\n";
    let tokens: Vec<String> = header_tokens(&format!("# 1 \"greenhub.h\"\n{source}"));
    let mut names = declared_names(&tokens);
    names.sort();
    let want = [
        ("enum constant", "CONST_X"),
        ("enum constant", "CONST_Y"),
        ("function", "func_f"),
        ("object", "object_o"),
        ("tag", "tag_a"),
        ("tag", "tag_e"),
        ("typedef", "type_a"),
        ("typedef", "type_fn"),
    ];
    let got: Vec<(&str, &str)> = names.iter().map(|(w, n)| (*w, n.as_str())).collect();
    assert_eq!(got, want);
}
