//! Persistence of the configuration across power cycles and soft resets (API-10): the
//! `ConfigStore` trait, `FileStore` (a JSON file replaced atomically: write a temp file, fsync,
//! rename over the target, fsync the folder) and `MemStore`, an in-memory disk model that runs
//! the same steps one by one and can lose power after any of them, to show that a save leaves
//! either the old or the new configuration, never a broken one.
//!
//! Hardening (issue "Hardening under abuse"):
//! - A failed save is an error with the file and the OS error (`StoreError::Io`); the host
//!   then keeps the old settings in memory and the API answers 500 (see `adapters::host`).
//! - A corrupt or invalid file is not overwritten: `ConfigStore::quarantine` renames it to
//!   `config.json.corrupt-<UTC time>` (e.g. `config.json.corrupt-20261203T123410Z`), and the
//!   device boots on factory settings and says so in its status (`Config.Recovered`).
//! - `FileStore::remove_stale_temp_files` deletes `config.json.tmp*` left by a kill during a
//!   save (run at start; a temp file is never read).
//! - On Unix the temp file, and so `config.json` after the rename, is created with mode 0600
//!   (it holds the Wi-Fi and MQTT passwords); `FileStore::restrict_permissions` fixes an
//!   existing file.

use super::config::{Config, ConfigError};
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where the configuration lives between power cycles.
pub trait ConfigStore: Send {
    /// The saved configuration; `None` when nothing was saved yet (factory settings).
    fn load(&mut self) -> Result<Option<Config>, StoreError>;
    /// Replace the saved configuration atomically.
    fn save(&mut self, c: &Config) -> Result<(), StoreError>;
    /// Move an unreadable saved configuration aside (after `load` reported it `Corrupt` or
    /// `Invalid`) as `<name>.corrupt-<stamp>`, so that the next save does not destroy it.
    /// Returns the new file name; `Ok(None)` when there was nothing to move.
    fn quarantine(&mut self, stamp: &str) -> Result<Option<String>, StoreError> {
        let _ = stamp;
        Ok(None)
    }
}

/// A UTC time as a file-name-safe stamp: `20261203T123410Z` (epoch milliseconds in).
pub fn file_stamp(epoch_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("config store {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("config file {} is corrupt: {message}", .path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("config file {} holds an invalid configuration: {source}", .path.display())]
    Invalid { path: PathBuf, source: ConfigError },
    /// `MemStore` only: the simulated power loss struck after `step` steps of a save.
    #[error(
        "simulated power loss after step {step} of {} of a save",
        MemStore::STEPS
    )]
    PowerLoss { step: usize },
}

impl StoreError {
    /// The file the error is about (`config.json` for `MemStore`).
    pub fn path(&self) -> Option<&Path> {
        match self {
            StoreError::Io { path, .. }
            | StoreError::Corrupt { path, .. }
            | StoreError::Invalid { path, .. } => Some(path),
            StoreError::PowerLoss { .. } => None,
        }
    }

    /// The cause without the file name (the OS error, the JSON error, the invalid field).
    pub fn cause(&self) -> String {
        match self {
            StoreError::Io { source, .. } => source.to_string(),
            StoreError::Corrupt { message, .. } => message.clone(),
            StoreError::Invalid { source, .. } => source.to_string(),
            StoreError::PowerLoss { .. } => self.to_string(),
        }
    }

    /// Whether the saved bytes are unreadable (as opposed to the disk being unreachable).
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self,
            StoreError::Corrupt { .. } | StoreError::Invalid { .. }
        )
    }
}

/// The bytes a configuration is saved as.
fn encode(c: &Config) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(&c.to_json()).expect("JSON value serialises");
    b.push(b'\n');
    b
}

/// Parse saved bytes: a JSON error or an invalid configuration is an error naming the file.
fn decode(bytes: &[u8], path: &Path) -> Result<Config, StoreError> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        path: path.into(),
        message: e.to_string(),
    })?;
    Config::from_json(&v).map_err(|source| StoreError::Invalid {
        path: path.into(),
        source,
    })
}

/// A configuration file on a real file system.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// The folder of `path` must exist; the temp file `<name>.tmp` is created next to it.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<name>.tmp` in the same folder (a rename is only atomic within one file system).
    pub fn temp_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        self.path.with_file_name(name)
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.into(),
            _ => PathBuf::from("."),
        }
    }

    /// Delete `<name>.tmp*` files a kill during a save left behind (call at start, before any
    /// save). Returns the files removed; a name that cannot be removed (e.g. a folder) is
    /// skipped (the next save reports it).
    pub fn remove_stale_temp_files(&self) -> io::Result<Vec<PathBuf>> {
        let mut prefix = self.path.file_name().unwrap_or_default().to_os_string();
        prefix.push(".tmp");
        let prefix = prefix.to_string_lossy().into_owned();
        let mut removed = Vec::new();
        for entry in fs::read_dir(self.dir())? {
            let entry = entry?;
            let stale = entry.file_name().to_string_lossy().starts_with(&prefix)
                && entry
                    .file_type()
                    .is_ok_and(|t| t.is_file() || t.is_symlink());
            if stale && fs::remove_file(entry.path()).is_ok() {
                removed.push(entry.path());
            }
        }
        Ok(removed)
    }

    /// Make an existing config file readable by its owner only (mode 0600 on Unix; it holds
    /// passwords). `Ok(false)` when there is no file.
    pub fn restrict_permissions(&self) -> io::Result<bool> {
        match fs::metadata(&self.path) {
            Ok(_) => set_private(&self.path).map(|()| true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Mode 0600 (owner read/write only) on Unix; nothing elsewhere.
pub fn set_private(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Create (or truncate) `path` for writing, mode 0600 on Unix from the start.
pub fn create_private(path: &Path) -> io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let f = o.open(path)?;
    // An existing file keeps its mode on open: narrow it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.into(),
        source,
    }
}

impl ConfigStore for FileStore {
    fn load(&mut self) -> Result<Option<Config>, StoreError> {
        match fs::read(&self.path) {
            Ok(bytes) => decode(&bytes, &self.path).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&self.path)(e)),
        }
    }

    fn save(&mut self, c: &Config) -> Result<(), StoreError> {
        let tmp = self.temp_path();
        let written = create_private(&tmp).and_then(|mut f| {
            f.write_all(&encode(c))?;
            f.sync_all()
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(&tmp)(e));
        }
        if let Err(e) = fs::rename(&tmp, &self.path) {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(&self.path)(e));
        }
        let dir = self.dir();
        sync_dir(&dir).map_err(io_err(&dir))
    }

    fn quarantine(&mut self, stamp: &str) -> Result<Option<String>, StoreError> {
        if !self.path.exists() {
            return Ok(None);
        }
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".corrupt-{stamp}"));
        let mut target = self.path.with_file_name(&name);
        // Two recoveries within one second: keep both.
        let mut n = 1u32;
        while target.exists() && n < 1000 {
            n = n.saturating_add(1);
            let mut again = name.clone();
            again.push(format!("-{n}"));
            target = self.path.with_file_name(again);
        }
        fs::rename(&self.path, &target).map_err(io_err(&self.path))?;
        let dir = self.dir();
        sync_dir(&dir).map_err(io_err(&dir))?;
        Ok(Some(
            target
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        ))
    }
}

/// Make a rename durable: fsync the folder (Unix; elsewhere the rename is all we can do).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// One file's contents: what the page cache holds and what is on the platter.
#[derive(Debug, Clone, Default)]
struct Inode {
    live: Vec<u8>,
    durable: Vec<u8>,
    synced: bool,
}

/// A tiny file-system model. Data reaches the disk only on `fsync`, names only on `fsync_dir`.
/// A power loss keeps the durable names; a file written but not fsynced is left torn (the first
/// half of what was written), the worst a real disk may do.
#[derive(Debug, Clone, Default)]
struct Disk {
    inodes: BTreeMap<u64, Inode>,
    next: u64,
    names: BTreeMap<String, u64>,
    durable_names: BTreeMap<String, u64>,
}

impl Disk {
    /// Create or truncate `name` and write `bytes` (into the page cache).
    fn write(&mut self, name: &str, bytes: Vec<u8>) {
        let id = match self.names.get(name) {
            Some(&id) => id,
            None => {
                // Inode numbers: 2^64 files would be needed to saturate.
                self.next = self.next.saturating_add(1);
                self.inodes.insert(self.next, Inode::default());
                self.names.insert(name.into(), self.next);
                self.next
            }
        };
        let inode = self.inodes.get_mut(&id).expect("named inode exists");
        inode.live = bytes;
        inode.synced = false;
    }

    fn fsync(&mut self, name: &str) {
        if let Some(inode) = self.names.get(name).and_then(|id| self.inodes.get_mut(id)) {
            inode.durable = inode.live.clone();
            inode.synced = true;
        }
    }

    fn rename(&mut self, from: &str, to: &str) {
        if let Some(id) = self.names.remove(from) {
            self.names.insert(to.into(), id);
        }
        self.gc();
    }

    fn fsync_dir(&mut self) {
        self.durable_names = self.names.clone();
        self.gc();
    }

    fn power_loss(&mut self) {
        for inode in self.inodes.values_mut() {
            if !inode.synced {
                inode.durable = inode.live[..inode.live.len() / 2].to_vec();
                inode.synced = true;
            }
            inode.live = inode.durable.clone();
        }
        self.names = self.durable_names.clone();
        self.gc();
    }

    /// Forget inodes no name (live or durable) points to.
    fn gc(&mut self) {
        let (a, b) = (&self.names, &self.durable_names);
        self.inodes
            .retain(|id, _| a.values().chain(b.values()).any(|x| x == id));
    }

    fn read(&self, name: &str) -> Option<&[u8]> {
        self.names
            .get(name)
            .map(|id| self.inodes[id].live.as_slice())
    }
}

const NAME: &str = "config.json";
const TEMP: &str = "config.json.tmp";

/// An in-memory store doing the `FileStore` steps on a `Disk` model, with simulated power loss.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    disk: Disk,
    fail_after: Option<usize>,
}

impl MemStore {
    /// The steps of a save: write temp, fsync temp, rename over target, fsync folder.
    pub const STEPS: usize = 4;

    pub fn new() -> Self {
        Self::default()
    }

    /// Lose power after the `n`-th step of the next save (0 = before the first; `STEPS` = after
    /// the last, before `save` returns). That save returns `PowerLoss`; afterwards the store
    /// holds only what was durable, as after a reboot. One-shot.
    pub fn fail_after(&mut self, n: usize) -> &mut Self {
        self.fail_after = Some(n);
        self
    }

    /// Lose power now.
    pub fn power_loss(&mut self) {
        self.disk.power_loss();
    }

    /// What `config.json` would hold after a power loss now (`None`: no such file).
    pub fn durable_bytes(&self) -> Option<Vec<u8>> {
        let mut d = self.disk.clone();
        d.power_loss();
        d.read(NAME).map(<[u8]>::to_vec)
    }

    /// The configuration a reboot now would load.
    pub fn durable_config(&self) -> Result<Option<Config>, StoreError> {
        self.durable_bytes()
            .map(|b| decode(&b, Path::new(NAME)))
            .transpose()
    }

    /// The file names currently visible (durable or not).
    pub fn files(&self) -> Vec<String> {
        self.disk.names.keys().cloned().collect()
    }

    /// Put raw bytes in `config.json` durably (to test loading a corrupt file).
    pub fn put_raw(&mut self, bytes: &[u8]) {
        self.disk.write(NAME, bytes.to_vec());
        self.disk.fsync(NAME);
        self.disk.fsync_dir();
    }
}

impl ConfigStore for MemStore {
    fn load(&mut self) -> Result<Option<Config>, StoreError> {
        self.disk
            .read(NAME)
            .map(|b| decode(b, Path::new(NAME)))
            .transpose()
    }

    fn quarantine(&mut self, stamp: &str) -> Result<Option<String>, StoreError> {
        if self.disk.read(NAME).is_none() {
            return Ok(None);
        }
        let name = format!("{NAME}.corrupt-{stamp}");
        self.disk.rename(NAME, &name);
        self.disk.fsync_dir();
        Ok(Some(name))
    }

    fn save(&mut self, c: &Config) -> Result<(), StoreError> {
        let bytes = encode(c);
        let fail = self.fail_after.take();
        for step in 0..=Self::STEPS {
            if fail == Some(step) {
                self.disk.power_loss();
                return Err(StoreError::PowerLoss { step });
            }
            match step {
                0 => self.disk.write(TEMP, bytes.clone()),
                1 => self.disk.fsync(TEMP),
                2 => self.disk.rename(TEMP, NAME),
                3 => self.disk.fsync_dir(),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A fresh folder under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p =
                std::env::temp_dir().join(format!("scs-store-{}-{tag}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn custom() -> Config {
        let p = json!({"MeterType": "Eastron-SDM630", "MQTT": {"Site": "s1", "Password": "pw"},
            "Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "10.1.2.3", "Netmask": "16"}}});
        super::super::config::apply_patch(&Config::default(), &p).unwrap()
    }

    #[test]
    fn file_store_round_trips_and_leaves_no_temp_file() {
        let dir = TempDir::new("roundtrip");
        let mut s = FileStore::new(dir.0.join("config.json"));
        assert!(
            s.load().unwrap().is_none(),
            "a missing file is not an error"
        );
        s.save(&Config::default()).unwrap();
        assert_eq!(s.load().unwrap(), Some(Config::default()));
        s.save(&custom()).unwrap();
        assert_eq!(s.load().unwrap(), Some(custom()));
        assert_eq!(
            FileStore::new(s.path()).load().unwrap(),
            Some(custom()),
            "a fresh store reads it"
        );
        assert!(!s.temp_path().exists());
        let names: Vec<_> = fs::read_dir(&dir.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.json"]);
    }

    #[test]
    fn file_store_names_the_file_and_json_error_of_a_corrupt_file() {
        let dir = TempDir::new("corrupt");
        let path = dir.0.join("config.json");
        let mut s = FileStore::new(&path);
        for bad in [&b""[..], b"{\"MeterType\": \"Phoe", b"\xff\xfe", b"[1, 2]"] {
            fs::write(&path, bad).unwrap();
            let e = s.load().unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(
                matches!(e, StoreError::Corrupt { .. } | StoreError::Invalid { .. }),
                "{msg}"
            );
        }
        fs::write(&path, b"{\"MeterType\": ").unwrap();
        let msg = s.load().unwrap_err().to_string();
        assert!(
            msg.ends_with("is corrupt: EOF while parsing a value at line 1 column 14"),
            "{msg}"
        );
        // Valid JSON, invalid configuration: the field is named.
        let mut j = Config::default().to_json();
        j["Ethernet"]["StaticIPv4"]["Netmask"] = json!("33");
        fs::write(&path, j.to_string()).unwrap();
        let msg = s.load().unwrap_err().to_string();
        assert!(msg.contains("/Ethernet/StaticIPv4/Netmask"), "{msg}");
        // A save repairs it.
        s.save(&custom()).unwrap();
        assert_eq!(s.load().unwrap(), Some(custom()));
    }

    #[test]
    fn file_store_ignores_and_replaces_a_stale_temp_file() {
        let dir = TempDir::new("stale");
        let mut s = FileStore::new(dir.0.join("config.json"));
        s.save(&custom()).unwrap();
        fs::write(s.temp_path(), b"{\"half").unwrap();
        assert_eq!(s.load().unwrap(), Some(custom()));
        s.save(&Config::default()).unwrap();
        assert_eq!(s.load().unwrap(), Some(Config::default()));
        assert!(!s.temp_path().exists());
    }

    #[test]
    fn file_store_reports_a_missing_folder_as_io_error() {
        let dir = TempDir::new("nofolder");
        let mut s = FileStore::new(dir.0.join("absent").join("config.json"));
        let e = s.save(&Config::default()).unwrap_err();
        assert!(matches!(e, StoreError::Io { .. }), "{e}");
        assert!(e.to_string().contains("absent"));
    }

    #[test]
    fn a_blocked_temp_path_is_an_io_error_naming_it_and_keeps_the_old_file() {
        let dir = TempDir::new("blocked");
        let mut s = FileStore::new(dir.0.join("config.json"));
        s.save(&custom()).unwrap();
        fs::create_dir(s.temp_path()).unwrap();
        let e = s.save(&Config::default()).unwrap_err();
        assert!(matches!(e, StoreError::Io { .. }), "{e}");
        assert_eq!(e.path(), Some(s.temp_path().as_path()));
        assert!(!e.cause().is_empty() && !e.is_corrupt());
        assert_eq!(s.load().unwrap(), Some(custom()), "the old file stays");
        assert!(
            s.remove_stale_temp_files().unwrap().is_empty(),
            "a folder is not removed"
        );
    }

    #[test]
    fn stale_temp_files_are_removed_and_nothing_else() {
        let dir = TempDir::new("tmpclean");
        let mut s = FileStore::new(dir.0.join("config.json"));
        s.save(&custom()).unwrap();
        for f in ["config.json.tmp", "config.json.tmp.4711", "other.tmp"] {
            fs::write(dir.0.join(f), b"{").unwrap();
        }
        let mut removed = s.remove_stale_temp_files().unwrap();
        removed.sort();
        assert_eq!(
            removed,
            [
                dir.0.join("config.json.tmp"),
                dir.0.join("config.json.tmp.4711")
            ]
        );
        assert!(dir.0.join("other.tmp").exists());
        assert_eq!(s.load().unwrap(), Some(custom()));
    }

    #[cfg(unix)]
    #[test]
    fn the_saved_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("mode");
        let mut s = FileStore::new(dir.0.join("config.json"));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        s.save(&custom()).unwrap();
        assert_eq!(mode(s.path()), 0o600);
        fs::set_permissions(s.path(), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(s.restrict_permissions().unwrap());
        assert_eq!(mode(s.path()), 0o600);
        // A stale temp file with a wide mode is narrowed when reused.
        fs::write(s.temp_path(), b"x").unwrap();
        fs::set_permissions(s.temp_path(), fs::Permissions::from_mode(0o666)).unwrap();
        s.save(&Config::default()).unwrap();
        assert_eq!(mode(s.path()), 0o600);
    }

    #[test]
    fn quarantine_moves_a_corrupt_file_aside_under_a_time_stamp() {
        assert_eq!(file_stamp(1_750_000_000_000), "20250615T150640Z");
        let dir = TempDir::new("quarantine");
        let path = dir.0.join("config.json");
        let mut s = FileStore::new(&path);
        assert_eq!(s.quarantine("x").unwrap(), None, "nothing to move");
        fs::write(&path, b"garbage").unwrap();
        assert!(s.load().unwrap_err().is_corrupt());
        let name = s.quarantine("20250615T150640Z").unwrap().unwrap();
        assert_eq!(name, "config.json.corrupt-20250615T150640Z");
        assert_eq!(fs::read(dir.0.join(&name)).unwrap(), b"garbage");
        assert!(s.load().unwrap().is_none());
        fs::write(&path, b"again").unwrap();
        let second = s.quarantine("20250615T150640Z").unwrap().unwrap();
        assert_eq!(
            second, "config.json.corrupt-20250615T150640Z-2",
            "both kept"
        );
        let mut m = MemStore::new();
        m.put_raw(b"bad");
        assert_eq!(
            m.quarantine("t").unwrap().as_deref(),
            Some("config.json.corrupt-t")
        );
        assert!(m.load().unwrap().is_none());
        assert_eq!(m.files(), ["config.json.corrupt-t"]);
    }

    #[test]
    fn mem_store_power_loss_at_every_step_leaves_old_or_new() {
        let (old, new) = (Config::default(), custom());
        for k in 0..=MemStore::STEPS + 1 {
            let mut s = MemStore::new();
            s.save(&old).unwrap();
            let r = s.fail_after(k).save(&new);
            assert_eq!(r.is_err(), k <= MemStore::STEPS, "k={k}");
            let want = if k < MemStore::STEPS { &old } else { &new };
            assert_eq!(s.durable_config().unwrap().as_ref(), Some(want), "k={k}");
            assert_eq!(s.load().unwrap().as_ref(), Some(want), "k={k}");
            s.save(&new).unwrap();
            assert_eq!(
                s.load().unwrap(),
                Some(new.clone()),
                "fail_after is one-shot"
            );
            assert_eq!(s.files(), [NAME]);
        }
        let mut s = MemStore::new();
        assert!(matches!(
            s.fail_after(2).save(&new),
            Err(StoreError::PowerLoss { step: 2 })
        ));
        assert_eq!(
            s.load().unwrap(),
            None,
            "the first save lost: still factory"
        );
    }

    #[test]
    fn the_disk_model_tears_unsynced_writes() {
        // Negative control: writing in place without fsync is broken after a power loss.
        let mut s = MemStore::new();
        s.save(&custom()).unwrap();
        s.disk.write(NAME, encode(&Config::default()));
        assert!(matches!(
            s.durable_config(),
            Err(StoreError::Corrupt { .. })
        ));
        // ... and renaming a temp file that was never fsynced is just as broken.
        let mut s = MemStore::new();
        s.save(&custom()).unwrap();
        s.disk.write(TEMP, encode(&Config::default()));
        s.disk.rename(TEMP, NAME);
        s.disk.fsync_dir();
        assert!(s.durable_config().is_err());
        s.power_loss();
        assert!(s.load().is_err());
    }

    #[test]
    fn mem_store_loads_none_then_reports_corrupt_bytes() {
        let mut s = MemStore::new();
        assert!(s.load().unwrap().is_none());
        s.put_raw(b"not json");
        let msg = s.load().unwrap_err().to_string();
        assert!(
            msg.starts_with("config file config.json is corrupt: expected"),
            "{msg}"
        );
        s.power_loss();
        assert!(s.load().is_err(), "durable corrupt bytes stay corrupt");
    }
}
