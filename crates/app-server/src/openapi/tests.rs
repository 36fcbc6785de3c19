//! The committed contract against the code: docs/openapi.json is the
//! generated document byte for byte, and docs/API.md's codes, routes, bodies
//! and statuses are those of the document and of [`ApiError`].

use std::collections::BTreeSet;
use std::path::PathBuf;

use actix_web::ResponseError;
use serde_json::Value;

use super::*;

const REGENERATE: &str = "cargo run -p app-server -- openapi > docs/openapi.json";

fn repository_file(path: &str) -> String {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
}

fn generated() -> Value {
    serde_json::from_slice(&document_json()).expect("the document is JSON")
}

#[test]
fn the_committed_document_is_the_served_one() {
    let committed = repository_file("docs/openapi.json");
    let parsed: Value = serde_json::from_str(&committed).expect("docs/openapi.json is JSON");
    let generated = generated();
    for section in ["paths", "components"] {
        let (ours, theirs) = (&generated[section], &parsed[section]);
        if let (Some(ours), Some(theirs)) = (ours.as_object(), theirs.as_object()) {
            let keys: BTreeSet<_> = ours.keys().chain(theirs.keys()).collect();
            let differing: Vec<_> = keys
                .into_iter()
                .filter(|k| ours.get(*k) != theirs.get(*k))
                .collect();
            assert!(
                differing.is_empty(),
                "docs/openapi.json differs from the server's in {section} {differing:?}; regenerate: {REGENERATE}"
            );
        }
    }
    assert_eq!(
        parsed, generated,
        "docs/openapi.json differs from the server's; regenerate: {REGENERATE}"
    );
    // What /api/openapi.json serves is document_json(), so the same bytes.
    assert!(
        committed.as_bytes() == document_json().as_slice(),
        "docs/openapi.json is the served document, but not byte for byte; regenerate: {REGENERATE}"
    );
}

/// The `- Codes:` bullet of docs/API.md's Conventions, continuation lines
/// included: every "`code` (status" in it.
fn contract_codes(api: &str) -> BTreeSet<(String, u16)> {
    let mut bullet = String::new();
    for line in api.lines().skip_while(|l| !l.starts_with("- Codes:")) {
        if !bullet.is_empty() && !line.starts_with("  ") {
            break;
        }
        bullet.push_str(line);
        bullet.push(' ');
    }
    let bullet = bullet.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(!bullet.is_empty(), "docs/API.md has a `- Codes:` bullet");
    let mut codes = BTreeSet::new();
    for (i, piece) in bullet.split('`').enumerate() {
        // odd pieces are inside backticks; the text after one opens with " (NNN"
        if i % 2 == 0 {
            continue;
        }
        let rest = bullet.split('`').nth(i + 1).unwrap_or_default();
        if let Some(status) = rest
            .strip_prefix(" (")
            .and_then(|r| r.get(..3))
            .and_then(|s| s.parse().ok())
        {
            codes.insert((piece.to_owned(), status));
        }
    }
    codes
}

#[test]
fn the_contracts_codes_are_the_servers() {
    let ours: BTreeSet<(String, u16)> = every_error()
        .iter()
        .map(|e| (e.code().to_owned(), e.status_code().as_u16()))
        .collect();
    assert_eq!(contract_codes(&repository_file("docs/API.md")), ours);
    let documented: BTreeSet<String> = generated()["components"]["schemas"]["ErrorBody"]
        ["properties"]["code"]["enum"]
        .as_array()
        .expect("ErrorBody.code lists the codes")
        .iter()
        .map(|c| c.as_str().expect("a code is a string").to_owned())
        .collect();
    let codes: BTreeSet<String> = ours.into_iter().map(|(code, _)| code).collect();
    assert_eq!(documented, codes);
}

/// One route of docs/API.md: a row of its tables, or a bullet of Operations.
#[derive(Debug)]
struct ContractRoute {
    method: String,
    path: String,
    query: Option<String>,
    /// column name -> cell, for table rows
    cells: Vec<(String, String)>,
}

impl ContractRoute {
    fn cell(&self, column: &str) -> Option<&str> {
        self.cells
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| v.as_str())
    }
}

fn method_and_path(text: &str) -> Option<(String, String, Option<String>)> {
    let (method, target) = text.trim().split_once(' ')?;
    if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) {
        return None;
    }
    let target = target.trim().trim_end_matches(':');
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (target, None),
    };
    path.starts_with('/')
        .then(|| (method.to_lowercase(), path.to_owned(), query))
}

fn contract_routes(api: &str) -> Vec<ContractRoute> {
    let mut routes = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    for line in api.lines() {
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect();
        if line.starts_with("| method, path") {
            columns = cells;
        } else if line.starts_with("| ") && !columns.is_empty() {
            if let Some((method, path, query)) = method_and_path(&cells[0]) {
                routes.push(ContractRoute {
                    method,
                    path,
                    query,
                    cells: columns.iter().cloned().zip(cells).skip(1).collect(),
                });
            }
        } else if let Some(bullet) = line.strip_prefix("- ") {
            columns.clear();
            let head = bullet.split_once(": ").map_or(bullet, |(h, _)| h);
            if let Some((method, path, query)) = method_and_path(head) {
                routes.push(ContractRoute {
                    method,
                    path,
                    query,
                    cells: Vec::new(),
                });
            }
        } else if !line.starts_with('|') {
            columns.clear();
        }
    }
    routes
}

#[test]
fn the_contracts_routes_are_the_documents() {
    let doc = generated();
    let routes = contract_routes(&repository_file("docs/API.md"));
    let contract: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().expect("a path item").keys();
            methods.map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    assert_eq!(contract, documented);
    for route in routes.iter().filter(|r| r.query.is_some()) {
        let parameters = doc["paths"][&route.path][&route.method]["parameters"]
            .as_array()
            .expect("documented query parameters");
        for pair in route.query.as_deref().unwrap_or_default().split('&') {
            let name = pair.trim_end_matches('=');
            assert!(
                parameters
                    .iter()
                    .any(|p| p["name"] == name && p["in"] == "query"),
                "{} {}: query parameter {name}",
                route.method,
                route.path
            );
        }
    }
}

/// The quoted names of a body like `{"username","password","email"?}`:
/// (name, required).
fn body_fields(cell: &str) -> Vec<(String, bool)> {
    let pieces: Vec<&str> = cell.split('"').collect();
    pieces
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        // `{"detail":"text"}`: a quoted string after a colon is a value, not a name
        .filter(|(i, _)| !pieces[i - 1].trim_end().ends_with(':'))
        .map(|(i, name)| {
            let optional = pieces.get(i + 1).is_some_and(|p| p.starts_with('?'));
            ((*name).to_owned(), !optional)
        })
        .collect()
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// A body of alternatives (`oneOf`, as the blacklist's `{"refresh"} or
/// {"token"}`) as one object: every alternative's properties, each required
/// where its alternative requires it.
fn merge_alternatives(doc: &Value, schema: &Value) -> Value {
    let Some(alternatives) = schema["oneOf"].as_array() else {
        return schema.clone();
    };
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for alternative in alternatives {
        let alternative = resolve(doc, alternative);
        if let Some(p) = alternative["properties"].as_object() {
            properties.extend(p.clone());
        }
        if let Some(r) = alternative["required"].as_array() {
            required.extend(r.iter().cloned());
        }
    }
    serde_json::json!({"properties": properties, "required": required})
}

fn property_names(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn statuses(cell: &str) -> Vec<String> {
    cell.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() == 3 && w.starts_with(['2', '4', '5']))
        .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_contracts_tables_are_the_documents_operations() {
    let doc = generated();
    let api = repository_file("docs/API.md");
    let user = property_names(&doc["components"]["schemas"]["UserView"]);
    // "A user is {...}": the user object of the tables
    let sentence = api
        .lines()
        .find(|l| l.starts_with("A user is "))
        .expect("docs/API.md says what a user is");
    let contract_user: BTreeSet<String> =
        body_fields(sentence).into_iter().map(|(n, _)| n).collect();
    assert_eq!(contract_user, user, "the user object");
    let required: BTreeSet<String> = doc["components"]["schemas"]["UserView"]["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert_eq!(required, user, "every field of a user is always present");

    let rows = contract_routes(&api);
    let rows: Vec<_> = rows.iter().filter(|r| !r.cells.is_empty()).collect();
    assert!(rows.len() >= 10, "the two tables: {rows:?}");
    for row in rows {
        let label = format!("{} {}", row.method, row.path);
        let operation = &doc["paths"][&row.path][&row.method];
        let body = row.cell("body").unwrap_or_default();
        let request = &operation["requestBody"]["content"]["application/json"]["schema"];
        if body.is_empty() {
            assert!(request.is_null(), "{label}: no body");
        } else {
            let schema = merge_alternatives(&doc, resolve(&doc, request));
            let fields = body_fields(body);
            let names: BTreeSet<String> = fields.iter().map(|(n, _)| n.clone()).collect();
            assert_eq!(names, property_names(&schema), "{label}: body fields");
            for (name, required) in fields {
                let listed = schema["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|v| v == name.as_str()));
                assert_eq!(listed, required, "{label}: {name} required");
            }
        }
        let secured = operation["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty());
        assert_eq!(
            secured,
            row.cell("auth").is_some_and(|a| a.starts_with("Bearer")),
            "{label}: security"
        );
        let success = row.cell("success").expect("a success column");
        let failures = row.cell("failures").expect("a failures column");
        for status in statuses(success).iter().chain(&statuses(failures)) {
            assert!(
                operation["responses"][status].is_object(),
                "{label}: {status} documented"
            );
        }
        let status = &statuses(success)[0];
        let returned = &operation["responses"][status]["content"]["application/json"]["schema"];
        let shown = success.trim_start_matches(status.as_str()).trim();
        let expected: BTreeSet<String> = if shown == "user" {
            user.clone()
        } else {
            body_fields(shown).into_iter().map(|(n, _)| n).collect()
        };
        if shown.is_empty() {
            assert!(returned.is_null(), "{label}: {status} has no body");
        } else {
            // `[{...}]`: a list, whose items are the fields shown
            let returned = if returned["type"] == "array" {
                &returned["items"]
            } else {
                returned
            };
            assert_eq!(
                property_names(resolve(&doc, returned)),
                expected,
                "{label}: {status} body"
            );
        }
    }
}

#[test]
fn every_link_leads_to_an_operation_of_the_document() {
    let doc = generated();
    let operations = doc["paths"].as_object().expect("paths").values();
    let operations: Vec<&Value> = operations
        .flat_map(|item| item.as_object().expect("a path item").values())
        .collect();
    let ids: BTreeSet<&str> = operations
        .iter()
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let mut links = 0;
    for operation in &operations {
        let responses = operation["responses"].as_object().expect("responses");
        for link in responses
            .values()
            .filter_map(|r| r["links"].as_object())
            .flat_map(|l| l.values())
        {
            links += 1;
            let target = link["operationId"].as_str().expect("operationId, so named");
            assert!(ids.contains(target), "a link to {target}: {link}");
            assert!(link["requestBody"].is_object(), "{link}");
        }
    }
    assert!(
        links >= 8,
        "login, refresh and registration lead on: {links}"
    );
}
