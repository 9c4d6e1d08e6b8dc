//! Persistence of the configuration across power cycles and soft resets (API-10): the
//! `ConfigStore` trait and `MemStore`, an in-memory disk model that runs the steps of an atomic
//! replace (write a temp file, fsync, rename over the target, fsync the folder) one by one and
//! can lose power after any of them, to show that a save leaves either the old or the new
//! configuration, never a broken one. The real file, `FileStore`, is I/O and lives in
//! `adapters::file_store`; the device core touches no file system.
//!
//! Hardening (issue "Hardening under abuse"):
//! - A failed save is an error with the file and the OS error (`StoreError::Io`); the host
//!   then keeps the old settings in memory and the API answers 500 (see `adapters::host`).
//! - A corrupt or invalid file is not overwritten: `ConfigStore::quarantine` renames it to
//!   `config.json.corrupt-<UTC time>` (e.g. `config.json.corrupt-20261203T123410Z`), and the
//!   device boots on factory settings and says so in its status (`Config.Recovered`).
//! - `adapters::file_store::FileStore::remove_stale_temp_files` deletes `config.json.tmp*` left by a kill during a
//!   save (run at start; a temp file is never read).
//! - On Unix the temp file, and so `config.json` after the rename, is created with mode 0600
//!   (it holds the Wi-Fi and MQTT passwords); `FileStore::restrict_permissions` fixes an
//!   existing file.

use super::config::{Config, ConfigErrors};
use std::collections::BTreeMap;
use std::io;
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
    fn quarantine(&mut self, stamp: &str) -> Result<Option<String>, StoreError>;
    /// The device lost power: what was not yet durable is gone (a model of a disk does
    /// something; a real file system already did it).
    fn power_lost(&mut self) {}
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
    Invalid { path: PathBuf, source: ConfigErrors },
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
pub(crate) fn encode(c: &Config) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(&c.to_json()).expect("JSON value serialises");
    b.push(b'\n');
    b
}

/// Parse saved bytes: a JSON error or an invalid configuration is an error naming the file.
pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<Config, StoreError> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        path: path.into(),
        message: e.to_string(),
    })?;
    Config::from_json(&v).map_err(|source| StoreError::Invalid {
        path: path.into(),
        source,
    })
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
    fn power_lost(&mut self) {
        self.power_loss();
    }

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
#[path = "store_tests.rs"]
mod tests;
