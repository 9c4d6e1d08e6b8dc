//! Regression fixtures: every captured telegram file under `fixtures/` is decoded and its
//! result snapshotted with insta; the table in `fixtures/README.md` must match what the
//! parser really says (set `UPDATE_FIXTURE_TABLE=1` to rewrite it).

use smart_connect_sim::protocol::framer::{decode_all, FramerMode};
use smart_connect_sim::protocol::{ErrorKind, ParseOptions};
use std::collections::BTreeMap;
use std::path::Path;

fn decode_file(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap();
    let items: Vec<serde_json::Value> =
        decode_all(&bytes, FramerMode::Auto, ParseOptions { keep_raw: true })
            .into_iter()
            .map(|d| match d {
                Ok((offset, t)) => {
                    let mut v = serde_json::to_value(&t).unwrap();
                    v["offset"] = offset.into();
                    v
                }
                Err(e) => serde_json::json!({ "error": e }),
            })
            .collect();
    serde_json::Value::Array(items)
}

#[test]
fn every_fixture_snapshot() {
    insta::glob!("../../fixtures", "*/*.txt", |path| {
        insta::assert_json_snapshot!(decode_file(path));
    });
}

/// One row of the fixture table: protocol, version and result summary.
fn summary(path: &Path) -> (String, String, String) {
    let bytes = std::fs::read(path).unwrap();
    let mut protocols = Vec::new();
    let mut versions = Vec::new();
    let mut ok = 0;
    let mut errors: BTreeMap<&'static str, usize> = BTreeMap::new();
    for d in decode_all(&bytes, FramerMode::Auto, ParseOptions::default()) {
        match d {
            Ok((_, t)) => {
                ok += 1;
                let p = t.reading.protocol.as_str().to_string();
                if !protocols.contains(&p) {
                    protocols.push(p);
                }
                let v = t.reading.version.clone().unwrap_or_else(|| "—".into());
                if !versions.contains(&v) {
                    versions.push(v);
                }
            }
            Err(e) => *errors.entry(e.kind.as_str()).or_default() += 1,
        }
    }
    if protocols.is_empty() {
        protocols.push(
            if bytes.first() == Some(&b'/') {
                "dsmr"
            } else {
                "tic"
            }
            .to_string(),
        );
    }
    if versions.is_empty() {
        versions.push(
            if errors.contains_key(ErrorKind::Incompatible.as_str()) {
                "2.2/3.0"
            } else {
                "—"
            }
            .to_string(),
        );
    }
    let mut result = Vec::new();
    if ok > 0 {
        result.push(format!("{ok} ok"));
    }
    for (k, n) in errors {
        result.push(format!("{n} {k}"));
    }
    (protocols.join(", "), versions.join(", "), result.join(", "))
}

#[test]
fn fixture_table_in_readme_matches_parser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut files: Vec<_> = ["dsmr", "tic", "negative"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(root.join(d))
                .unwrap()
                .map(|e| e.unwrap().path())
        })
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let mut table = String::from("| file | protocol | version | result |\n|---|---|---|---|\n");
    for f in &files {
        let (p, v, r) = summary(f);
        let name = f.strip_prefix(&root).unwrap().display();
        table.push_str(&format!("| `{name}` | {p} | {v} | {r} |\n"));
    }
    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap_or_default();
    let (begin, end) = ("<!-- table:begin -->\n", "<!-- table:end -->");
    let (Some(a), Some(b)) = (readme.find(begin), readme.find(end)) else {
        panic!("fixtures/README.md lacks the {begin:?}…{end:?} markers");
    };
    let current = &readme[a + begin.len()..b];
    if current != table {
        if std::env::var_os("UPDATE_FIXTURE_TABLE").is_some() {
            let updated = format!("{}{table}{}", &readme[..a + begin.len()], &readme[b..]);
            std::fs::write(&readme_path, updated).unwrap();
        } else {
            panic!("fixtures/README.md table is out of date; rerun with UPDATE_FIXTURE_TABLE=1\n{table}");
        }
    }
}

#[test]
fn every_fixture_register_dump_snapshot() {
    use smart_connect_sim::cli::replay::replay;
    use smart_connect_sim::device::Variant;
    insta::glob!("../../fixtures", "*/*.txt", |path| {
        let bytes = std::fs::read(path).unwrap();
        let variant = if bytes.contains(&0x02) {
            Variant::Tic
        } else {
            Variant::P1
        };
        let lines: Vec<serde_json::Value> = replay("fixture", &bytes, variant)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        insta::assert_json_snapshot!(lines);
    });
}
