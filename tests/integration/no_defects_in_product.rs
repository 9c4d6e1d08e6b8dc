//! The correct device has no planted bugs in it: outside `src/defects/` (the `defects`
//! feature's faulty-firmware layers), no source file asks for a defect. A defect is a
//! wrapper around the correct code, never a branch inside it.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            if !path.ends_with("defects") {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_defect_branches_outside_the_defects_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 50, "found only {} source files", files.len());
    assert!(
        src.join("defects/mod.rs").exists(),
        "the defects module moved: update this test"
    );
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for (i, line) in text.lines().enumerate() {
            if line.contains("has_defect") || line.contains("Defect::") {
                found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "defect branches in the correct code (move them into src/defects/):\n{}",
        found.join("\n")
    );
}
