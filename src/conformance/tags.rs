//! Checking a `--tags` expression before a run: every `@tag` it names must be on some scenario
//! of the suite, else the run would silently select nothing. An unknown tag is reported with
//! the closest known ones (`@modbsu` → `@modbus`).

/// Every tag on a feature or scenario in `features` (name, text) pairs.
pub fn known(features: &[(&str, &str)]) -> Vec<String> {
    let mut tags: Vec<String> = features
        .iter()
        .flat_map(|(_, text)| text.lines())
        .filter(|l| l.trim_start().starts_with('@'))
        .flat_map(|l| l.split_whitespace().filter(|t| t.starts_with('@')))
        .map(str::to_string)
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

/// The `@tags` an expression names.
fn named(expr: &str) -> Vec<&str> {
    expr.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| t.starts_with('@'))
        .collect()
}

/// Levenshtein distance (tags are short).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Ok when every tag of `expr` is known; else one message naming each unknown tag with its
/// closest known tags.
pub fn check(expr: &str, known: &[String]) -> Result<(), String> {
    let unknown: Vec<String> = named(expr)
        .into_iter()
        .filter(|t| !known.iter().any(|k| k.eq_ignore_ascii_case(t)))
        .map(|t| {
            let mut close: Vec<(usize, &String)> = known
                .iter()
                .map(|k| (distance(&t.to_lowercase(), &k.to_lowercase()), k))
                .filter(|(d, _)| *d <= 3)
                .collect();
            close.sort();
            match close.first() {
                Some(_) => format!(
                    "{t} (did you mean {}?)",
                    close
                        .iter()
                        .take(3)
                        .map(|(_, k)| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => format!("{t} (no tag is close)"),
            }
        })
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let areas: Vec<&str> = known
        .iter()
        .map(String::as_str)
        .filter(|k| !k.starts_with("@needs-") && !k.contains(|c: char| c.is_ascii_digit()))
        .collect();
    Err(format!(
        "--tags {expr:?}: no scenario is tagged {}; tags besides requirement IDs (@P1-07) and bench needs (@needs-…): {}",
        unknown.join(", "),
        areas.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_tag_names_the_close_ones() {
        let known = known(crate::conformance::features::FEATURES);
        assert!(known.iter().any(|k| k == "@modbus"), "{known:?}");
        assert!(check("@modbus and not @needs-led", &known).is_ok());
        assert!(check("(@smoke or @MB-01) and not @sim-convention", &known).is_ok());
        let e = check("@modbsu", &known).unwrap_err();
        assert!(e.contains("@modbsu (did you mean @modbus"), "{e}");
        let e = check("@smoke and @zzzzzzzzzz", &known).unwrap_err();
        assert!(
            e.contains("@zzzzzzzzzz (no tag is close)") && !e.contains("@smoke ("),
            "{e}"
        );
    }
}
