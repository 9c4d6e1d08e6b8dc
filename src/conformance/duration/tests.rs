use super::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn on_disk() -> Vec<Feature> {
    load(Source::Dir(&repo().join("features"))).expect("the features parse")
}

fn feature(text: &str) -> Feature {
    Feature::parse(text, GherkinEnv::default()).expect("a feature")
}

fn ms(f: &Feature, i: usize, t: &Timing) -> u128 {
    estimate_scenario(f, &f.scenarios[i], t).as_millis()
}

#[test]
fn waits_boots_telegrams_and_settle_add_up() {
    let t = Timing::default();
    let f = feature(
        "Feature: x\n  Background:\n    Given a Smart Connect P1\n\n  Scenario: a\n    Given an SMR 5.0 meter drawing 1000 W on L1\n    When 2 seconds pass\n    And the next telegram arrives\n\n  Scenario: b\n    Given a DSMR 4.2 meter drawing 1000 W on L1\n    When the next telegram arrives\n    And the next telegram arrives\n\n  Scenario: c\n    Given an SMR 5.0 meter that is not yet sending\n    When 5 seconds pass\n\n  Scenario Outline: d\n    When <n> seconds pass\n\n    Examples:\n      | n |\n      | 1 |\n      | 3 |\n",
    );
    // Boot 6 s; telegrams at 0, 1, 2 s (the last one's settle runs past the wait), the
    // next one at 3 s plus its settle.
    assert_eq!(ms(&f, 0, &t), 6_000 + 3_000 + 300);
    // The first DSMR 4.2 telegram goes at once, the second 10 s later.
    assert_eq!(ms(&f, 1, &t), 6_000 + 10_000 + 300);
    // A silent meter: no settle.
    assert_eq!(ms(&f, 2, &t), 6_000 + 5_000);
    // Each row of an outline is a run with the background.
    assert_eq!(run_count(&f, &f.scenarios[3]), 2);
    assert_eq!(ms(&f, 3, &t), 6_000 + 1_000 + 6_000 + 3_000);
    let slow = Timing {
        boot_ms: 20_000,
        settle_ms: 0,
        max_latency_ms: 0,
    };
    assert_eq!(ms(&f, 2, &slow), 20_000 + 5_000);
}

#[test]
fn session_timeouts_updates_latency_and_silence_are_counted() {
    let t = Timing::default();
    let f = feature(
        "Feature: x\n  Scenario: session\n    When the first client makes no request for 4 minutes 50 seconds\n    And the first client makes no request for 15 more seconds\n\n  Scenario: update\n    Given the update server offers firmware 1.5.0\n    When an update to 1.5.0 is requested over HTTP\n    Then polling the firmware API every second shows downloading, verifying, installing, rebooting and then idle on version 1.5.0\n\n  Scenario: missing\n    When an update to 9.9.9 is requested over HTTP\n    Then polling the firmware API every second shows downloading and then failed with a reason\n\n  Scenario: mqtt\n    When the command reset is published with an empty payload\n    Then the device answers on \"t\" that reset was accepted\n    And no measurement is published\n\n  Scenario: off\n    Then the device does not answer over Modbus or HTTP\n",
    );
    assert_eq!(ms(&f, 0, &t), 305_000);
    assert_eq!(ms(&f, 1, &t), 4_000 + 1_000 + 3_000 + 1_000 + 6_000);
    assert_eq!(ms(&f, 2, &t), 4_000);
    assert_eq!(ms(&f, 3, &t), 1_000 + 200);
    assert_eq!(ms(&f, 4, &t), 4 * 5_000);
}

#[test]
fn a_selection_sees_outline_rows_as_the_suite_does() {
    let f = feature(
        "Feature: x\n  @a\n  Scenario Outline: o <n>\n    When <n> seconds pass\n\n    Examples:\n      | n  |\n      | 10 |\n      | 20 |\n\n  Scenario: p\n    When 7 seconds pass\n",
    );
    let t = Timing::default();
    let all = estimate_selected_of(std::slice::from_ref(&f), &t, |_, _| true);
    assert_eq!(all.scenarios, 3);
    assert_eq!(all.total, Duration::from_secs(37));
    let one = estimate_selected_of(&[f], &t, |_, s| s.name == "o 20");
    assert_eq!(one.scenarios, 1);
    assert_eq!(one.total, Duration::from_secs(20));
}

#[test]
fn durations_read_well() {
    assert_eq!(format_duration(Duration::from_millis(44_600)), "45 s");
    assert_eq!(format_duration(Duration::from_secs(245)), "4 min 05 s");
    assert_eq!(format_duration(Duration::from_secs(4_020)), "1 h 07 min");
}

#[test]
fn every_step_of_the_features_is_classified() {
    let unknown = unclassified_steps(&on_disk());
    assert!(
        unknown.is_empty(),
        "steps the real-time estimate does not know (add them to RULES in src/conformance/duration.rs, as waiting or instant):\n{}",
        unknown.join("\n")
    );
}

#[test]
fn the_built_in_features_load() {
    let built_in = per_file(Source::BuiltIn, &Timing::default()).expect("built-in features");
    assert_eq!(built_in.len(), FEATURES.len());
    assert!(built_in.iter().all(|e| e.scenarios > 0));
}

const BEGIN: &str = "<!-- duration-table:begin -->";
const END: &str = "<!-- duration-table:end -->";

/// The table in `docs/conformance.md` is the estimate of `features/` at the default
/// timing; `UPDATE_DOCS=1` rewrites it in place.
#[test]
fn the_duration_table_in_the_docs_is_fresh() {
    let path = repo().join("docs/conformance.md");
    let doc = std::fs::read_to_string(&path).expect("docs/conformance.md");
    let fresh = markdown_table(&per_file_of(&on_disk(), &Timing::default()));
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/conformance.md lacks the markers {BEGIN} … {END}");
    };
    let inner = &doc[b + BEGIN.len()..e];
    if inner.trim() == fresh.trim() {
        return;
    }
    if std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1") {
        let updated = format!("{}{BEGIN}\n{fresh}{}", &doc[..b], &doc[e..]);
        std::fs::write(&path, updated).expect("rewrite docs/conformance.md");
        eprintln!("docs/conformance.md: duration table updated");
        return;
    }
    panic!(
        "the duration table in docs/conformance.md is stale; rerun with UPDATE_DOCS=1 or paste:\n\n{fresh}"
    );
}

/// `@smoke` covers every `[manual]` requirement a bench without hooks can check (but the
/// ones in `SMOKE_LEFT_OUT`), needs no bench hook itself, and fits in 5 minutes of real
/// time.
#[test]
fn the_smoke_profile_covers_the_manual_requirements_in_five_minutes() {
    let md = std::fs::read_to_string(repo().join("spec/requirements.md")).expect("spec");
    let reqs = super::super::coverage::parse_requirements(&md);
    let features = on_disk();
    let r = smoke_report(&features, &reqs, &Timing::default());
    let listing: Vec<String> = r
        .scenarios
        .iter()
        .map(|(n, runs, d)| format!("  {:>10}  {runs} run(s)  {n}", format_duration(*d)))
        .collect();
    let listing = listing.join("\n");
    eprintln!(
        "@smoke: {} scenario(s), {} of real time (budget {})\n{listing}\nleft out: {:?}\nout of reach without bench hooks: {:?}",
        r.scenarios.len(),
        format_duration(r.total),
        format_duration(SMOKE_BUDGET),
        SMOKE_LEFT_OUT.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        r.out_of_reach
    );
    let left_out: Vec<&str> = SMOKE_LEFT_OUT.iter().map(|(id, _)| *id).collect();
    let missing: Vec<&String> = r
        .missing
        .iter()
        .filter(|id| !left_out.contains(&id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "[manual] requirements a scenario without bench hooks checks, but no @smoke one: {missing:?} (tag a short scenario @smoke, or list the ID in SMOKE_LEFT_OUT with the reason)"
    );
    let stale: Vec<&&str> = left_out
        .iter()
        .filter(|id| !r.missing.iter().any(|m| m == *id))
        .collect();
    assert!(
        stale.is_empty(),
        "SMOKE_LEFT_OUT lists {stale:?}, which @smoke covers now or nothing without bench hooks can: remove them"
    );
    assert!(
        r.needing_hooks.is_empty(),
        "@smoke scenarios that need a bench hook (a bench without it skips them): {:?}",
        r.needing_hooks
    );
    for (variant, t) in &r.per_variant {
        eprintln!(
            "@smoke against a {} device: {}",
            variant.label(),
            format_duration(*t)
        );
        assert!(
            *t <= SMOKE_BUDGET,
            "@smoke against a {} device takes {} of real time, more than {}:\n{listing}",
            variant.label(),
            format_duration(*t),
            format_duration(SMOKE_BUDGET)
        );
    }
}
