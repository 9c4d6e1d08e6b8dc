//! The configuration file on a real file system (`FileStore`, API-10): a JSON file replaced
//! atomically (write `<name>.tmp` with mode 0600, fsync, rename over the target, fsync the
//! folder); a corrupt file is moved aside, never overwritten; temp files a kill left behind
//! are removed at start. The pure parts (the trait, the codec, the in-memory disk model) are
//! in `device::store`.

use crate::device::config::Config;
use crate::device::store::{decode, encode, ConfigStore, StoreError};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
#[path = "file_store_tests.rs"]
mod tests;
