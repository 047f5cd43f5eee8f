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
