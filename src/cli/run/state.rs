//! The state folder of `run` (`--state-dir`, default `<temp>/smart-connect-sim-<serial>`):
//! `config.json` (the saved settings, with the Wi-Fi and MQTT passwords), `label-seed` (the
//! random seed of this installation's label password), `pki/` and `mqtt/` (test certificates
//! and their private keys).
//!
//! At every start `prepare`:
//! - creates the folder with mode 0700 and narrows an existing one to 0700 (Unix);
//! - narrows every secret in it to 0600: `config.json*`, `label-seed`, `*.key` (also in the
//!   sub-folders, which become 0700);
//! - removes `config.json.tmp*` left by a kill during a save.
//!
//! `label_seed` reads `label-seed` or, on the first start, creates it (0600, 16 hex digits):
//! the label password is then stable for this folder and different for every other one.

use super::RunError;
use crate::adapters::file_store::{create_private, set_private, FileStore};
use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// The file that holds the label seed.
pub(super) const LABEL_SEED: &str = "label-seed";

/// Mode 0700 on Unix.
fn set_owner_only_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn is_secret(name: &str) -> bool {
    name.starts_with("config.json") || name == LABEL_SEED || name.ends_with(".key")
}

/// Narrow `dir` to 0700 and its secrets to 0600, one level of sub-folders deep.
fn restrict(dir: &Path, depth: u8) -> io::Result<()> {
    set_owner_only_dir(dir)?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let t = entry.file_type()?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if t.is_dir() && depth > 0 {
            restrict(&entry.path(), 0)?;
        } else if t.is_file() && is_secret(&name) {
            set_private(&entry.path())?;
        }
    }
    Ok(())
}

/// Create or tidy the state folder (see the module doc); `store` is its config file.
pub(super) fn prepare(dir: &Path, store: &FileStore) -> Result<(), RunError> {
    let err = |source: io::Error| RunError::StateDir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(err)?;
    for f in store.remove_stale_temp_files().map_err(err)? {
        tracing::info!("removed {} (left by an interrupted save)", f.display());
    }
    restrict(dir, 1).map_err(err)
}

/// This state folder's label seed, created on the first start.
pub(super) fn label_seed(dir: &Path) -> Result<u64, RunError> {
    let path = dir.join(LABEL_SEED);
    let parse = |text: &str| {
        u64::from_str_radix(text.trim(), 16).map_err(|_| RunError::LabelSeed { path: path.clone() })
    };
    match fs::read_to_string(&path) {
        Ok(text) => return parse(&text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(RunError::file(&path)(e)),
    }
    let seed: u64 = rand::random();
    let write = || -> io::Result<()> {
        let mut f = create_private(&path)?;
        writeln!(f, "{seed:016x}")?;
        f.sync_all()
    };
    write().map_err(RunError::file(&path))?;
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("scs-state-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        p
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn one_seed_per_folder_kept_across_starts() {
        let (a, b) = (temp("seed-a"), temp("seed-b"));
        for d in [&a, &b] {
            prepare(d, &FileStore::new(d.join("config.json"))).unwrap();
        }
        let sa = label_seed(&a).unwrap();
        assert_eq!(label_seed(&a).unwrap(), sa, "same folder, same seed");
        assert_ne!(label_seed(&b).unwrap(), sa, "another folder, another seed");
        #[cfg(unix)]
        assert_eq!(mode(&a.join(LABEL_SEED)), 0o600);
        fs::write(a.join(LABEL_SEED), "zz\n").unwrap();
        let e = label_seed(&a).unwrap_err();
        assert!(matches!(e, RunError::LabelSeed { .. }), "{e}");
        assert!(e.to_string().contains("label-seed"), "{e}");
        for d in [a, b] {
            let _ = fs::remove_dir_all(d);
        }
    }

    #[cfg(unix)]
    #[test]
    fn prepare_narrows_modes_and_removes_stale_temp_files() {
        use std::os::unix::fs::PermissionsExt;
        let d = temp("modes");
        fs::create_dir_all(d.join("pki")).unwrap();
        let open = |p: &Path, m| fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
        for f in [
            "config.json",
            "pki/server.key",
            "pki/ca.pem",
            "config.json.tmp",
            "config.json.tmp.123",
        ] {
            fs::write(d.join(f), "x").unwrap();
            open(&d.join(f), 0o644);
        }
        open(&d.join("pki"), 0o755);
        open(&d, 0o755);
        prepare(&d, &FileStore::new(d.join("config.json"))).unwrap();
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join("pki")), 0o700);
        assert_eq!(mode(&d.join("config.json")), 0o600);
        assert_eq!(mode(&d.join("pki/server.key")), 0o600);
        assert_eq!(
            mode(&d.join("pki/ca.pem")),
            0o644,
            "certificates are not secret"
        );
        assert!(!d.join("config.json.tmp").exists());
        assert!(!d.join("config.json.tmp.123").exists());
        let _ = fs::remove_dir_all(&d);
        // A new folder is created 0700.
        let n = temp("modes-new").join("inner");
        prepare(&n, &FileStore::new(n.join("config.json"))).unwrap();
        assert_eq!(mode(&n), 0o700);
        let _ = fs::remove_dir_all(n.parent().unwrap());
    }
}
