//! `@sim-convention` agrees with `spec/requirements.md`: a scenario whose requirement IDs are
//! all [sim] statements carries the tag (so `not @sim-convention` leaves exactly the manual's
//! requirements for a firmware run), and a scenario carrying it checks no [manual] ID (so
//! such a run still judges every manual requirement).

use smart_connect_sim::conformance::coverage::parse_requirements;
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn sim_convention_tags_follow_the_requirement_kinds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reqs =
        parse_requirements(&std::fs::read_to_string(root.join("spec/requirements.md")).unwrap());
    let kind: BTreeMap<&str, &str> = reqs
        .iter()
        .map(|r| (r.id.as_str(), r.kind.as_str()))
        .collect();
    assert!(kind.len() > 80, "requirements not parsed");
    let mut wrong = Vec::new();
    let mut manual_without_sim_free_scenario: BTreeMap<&str, bool> = kind
        .iter()
        .filter(|(_, k)| **k == "manual")
        .map(|(id, _)| (*id, false))
        .collect();
    for entry in std::fs::read_dir(root.join("features")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "feature") {
            continue;
        }
        let feature = cucumber::gherkin::Feature::parse_path(&path, Default::default()).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for s in &feature.scenarios {
            let tags: Vec<&str> = feature
                .tags
                .iter()
                .chain(&s.tags)
                .map(|t| t.trim_start_matches('@'))
                .collect();
            let ids: Vec<&str> = tags
                .iter()
                .copied()
                .filter(|t| kind.contains_key(t))
                .collect();
            let sim = tags.contains(&"sim-convention");
            let manual: Vec<&str> = ids
                .iter()
                .copied()
                .filter(|id| kind[id] == "manual")
                .collect();
            let at = format!("features/{file}:{} {:?}", s.position.line, s.name);
            if sim && !manual.is_empty() {
                wrong.push(format!(
                    "{at}: tagged @sim-convention but checks the manual's {} (split the scenario)",
                    manual.join(" ")
                ));
            }
            if !sim && !ids.is_empty() && manual.is_empty() {
                wrong.push(format!(
                    "{at}: checks only simulator conventions ({}) but lacks @sim-convention",
                    ids.join(" ")
                ));
            }
            if !sim {
                for id in manual {
                    manual_without_sim_free_scenario
                        .insert(kind.keys().find(|k| **k == id).copied().unwrap(), true);
                }
            }
        }
    }
    let unjudged: Vec<&str> = manual_without_sim_free_scenario
        .iter()
        .filter(|(_, has)| !**has)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        unjudged.is_empty(),
        "manual requirements that a `not @sim-convention` run would leave unjudged: {}",
        unjudged.join(" ")
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
