//! The feature files, built into the binary so `smart-connect-sim conformance` runs the
//! suite anywhere (a firmware team's CI has the binary, not this repository). Written out to
//! a folder when no `features/` folder is given or found.

use std::path::{Path, PathBuf};

/// Every `.feature` file of `features/`: (file name, text).
pub const FEATURES: &[(&str, &str)] = &[
    (
        "button.feature",
        include_str!("../../features/button.feature"),
    ),
    (
        "config.feature",
        include_str!("../../features/config.feature"),
    ),
    (
        "firmware.feature",
        include_str!("../../features/firmware.feature"),
    ),
    ("http.feature", include_str!("../../features/http.feature")),
    ("led.feature", include_str!("../../features/led.feature")),
    (
        "modbus.feature",
        include_str!("../../features/modbus.feature"),
    ),
    ("mqtt.feature", include_str!("../../features/mqtt.feature")),
    (
        "network.feature",
        include_str!("../../features/network.feature"),
    ),
    ("p1.feature", include_str!("../../features/p1.feature")),
    (
        "power.feature",
        include_str!("../../features/power.feature"),
    ),
    (
        "registers.feature",
        include_str!("../../features/registers.feature"),
    ),
    ("tic.feature", include_str!("../../features/tic.feature")),
    ("web.feature", include_str!("../../features/web.feature")),
];

/// Write the built-in feature files to `dir` (created) and return it.
pub fn write_to(dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in FEATURES {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_list_is_the_features_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("features");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".feature"))
            .collect();
        on_disk.sort();
        let built_in: Vec<&str> = FEATURES.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            on_disk, built_in,
            "add new feature files to src/conformance/features.rs"
        );
        for (name, text) in FEATURES {
            assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), *text);
        }
    }
}
