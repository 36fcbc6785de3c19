//! The documentation of the variables, checked against [`VARIABLES`]:
//!
//! - docs/API.md's configuration table holds the variables the contract
//!   promises, the README's table the others (operations and tuning); each
//!   variable is in exactly one of them, and nothing else is;
//! - a row's default cell begins with the table's default (`5m`, or the
//!   words of a computed one);
//! - `.env.example` mentions every variable and no `AUTH_*` the code lacks,
//!   and in its "(defaults shown)" sections shows the defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::variables::{Var, WhenUnset, VARIABLES};

fn repository_file(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "..", name]
        .iter()
        .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn var(name: &str) -> Option<&'static Var> {
    VARIABLES.iter().find(|v| v.name == name)
}

/// The rows of the first table after `heading`: each variable named in the
/// first cell (several may share a row), with the row's default cell.
fn table_after(document: &str, heading: &str) -> Vec<(String, String)> {
    let mut lines = document
        .lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip(1)
        .skip_while(|l| !l.starts_with('|'));
    // the header row and the separator
    lines.next();
    lines.next();
    let mut rows = Vec::new();
    for line in lines.take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert!(cells.len() >= 2, "a row without a default: {line}");
        for name in cells[0].split(',') {
            rows.push((
                name.trim().trim_matches('`').to_owned(),
                cells[1].to_owned(),
            ));
        }
    }
    assert!(!rows.is_empty(), "a table after {heading:?}");
    rows
}

#[test]
fn the_readme_and_the_contract_document_every_variable_once_with_its_default() {
    let api = table_after(&repository_file("docs/API.md"), "## Configuration");
    let readme = table_after(&repository_file("README.md"), "### Configuration");
    let mut documented: BTreeMap<String, &str> = BTreeMap::new();
    for (file, rows) in [("docs/API.md", &api), ("README.md", &readme)] {
        for (name, default) in rows {
            let var = var(name)
                .unwrap_or_else(|| panic!("{file} documents {name}, which the code does not read"));
            if let Some(other) = documented.insert(name.clone(), file) {
                panic!("{name} is documented in both {other} and {file}");
            }
            let expected = var.when_unset.documented();
            assert!(
                default.starts_with(&expected),
                "{file}: the default of {name} should begin with {expected:?}, not {default:?}"
            );
        }
    }
    for var in VARIABLES {
        assert!(
            documented.contains_key(var.name),
            "{} is in neither docs/API.md's table nor the README's",
            var.name
        );
    }
}

#[test]
fn env_example_mentions_every_variable_and_shows_the_defaults() {
    let example = repository_file(".env.example");
    let words = |line: &str| -> Vec<String> {
        line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.len() > 1 && w.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
            .map(str::to_owned)
            .collect()
    };
    for line in example.lines() {
        for word in words(line) {
            if word.starts_with("AUTH_") {
                assert!(
                    var(&word).is_some(),
                    ".env.example mentions {word}, which the code does not read"
                );
            }
        }
    }
    for var in VARIABLES {
        assert!(
            example
                .lines()
                .any(|l| words(l).iter().any(|w| w == var.name)),
            ".env.example does not mention {}",
            var.name
        );
    }

    let mut section = "";
    let mut checked = 0;
    for line in example.lines() {
        if line.starts_with("# ----") {
            section = line;
            continue;
        }
        let assignment = line.trim_start_matches('#');
        let Some((name, value)) = assignment.split_once('=') else {
            continue;
        };
        let Some(var) = var(name) else { continue };
        if let (true, WhenUnset::Value(default)) =
            (section.contains("(defaults shown)"), var.when_unset)
        {
            assert_eq!(
                value, default,
                ".env.example shows {name}={value} under {section:?}; its default is {default}"
            );
            checked += 1;
        }
    }
    assert!(
        checked > 0,
        "no \"(defaults shown)\" section in .env.example"
    );
}
