//! The store's open files for reading, at most [`MAX_OPEN_FILES`] at once (the least
//! recently used is closed first), so that a data directory with many partitions cannot
//! use up the descriptors the HTTP server keeps for connections.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pipeline::sync::MutexExt as _;

/// Store files kept open for reading at once; `pipeline up` keeps this many file
/// descriptors (plus one per shard for the value file it appends to, and a merge's
/// inputs) out of its connection cap.
pub const MAX_OPEN_FILES: usize = 256;
/// Descriptors the store may hold beyond the read cache: each shard's value file, and a
/// merge's inputs and output.
pub const WORKING_FILES: usize = 32;

#[derive(Default, Debug)]
struct Open {
    files: HashMap<PathBuf, (Arc<File>, u64)>,
    clock: u64,
}

/// Open read handles by path.
#[derive(Default, Debug)]
pub struct FileCache {
    open: Mutex<Open>,
}

impl FileCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock_ignoring_poison()
    }

    /// A read handle on `path`, opened if it is not open yet.
    pub fn get(&self, path: &Path) -> std::io::Result<Arc<File>> {
        {
            let mut open = self.lock();
            open.clock += 1;
            let now = open.clock;
            if let Some((file, used)) = open.files.get_mut(path) {
                *used = now;
                return Ok(Arc::clone(file));
            }
        }
        let file = Arc::new(File::open(path)?);
        let mut open = self.lock();
        if open.files.len() >= MAX_OPEN_FILES {
            let oldest = open.files.iter().min_by_key(|(_, (_, used))| *used).map(|(p, _)| p.clone());
            if let Some(p) = oldest {
                open.files.remove(&p);
            }
        }
        let now = open.clock;
        open.files.insert(path.to_path_buf(), (Arc::clone(&file), now));
        Ok(file)
    }

    /// Closes the handle on `path` (the file is being deleted or replaced).
    pub fn forget(&self, path: &Path) {
        self.lock().files.remove(path);
    }

    /// Closes every handle on a file under `dir`.
    pub fn forget_dir(&self, dir: &Path) {
        self.lock().files.retain(|p, _| !p.starts_with(dir));
    }

    /// Files held open.
    pub fn len(&self) -> usize {
        self.lock().files.len()
    }

    /// Whether none is held open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_the_limit_stays_open_and_the_least_recent_goes_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::default();
        let path = |i: usize| dir.path().join(format!("f{i}"));
        for i in 0..MAX_OPEN_FILES + 10 {
            std::fs::write(path(i), b"x").unwrap();
            cache.get(&path(i)).unwrap();
            // File 0 is used all the time: it is never the least recent.
            cache.get(&path(0)).unwrap();
        }
        assert_eq!(cache.len(), MAX_OPEN_FILES);
        assert!(cache.lock().files.contains_key(&path(0)));
        assert!(!cache.lock().files.contains_key(&path(1)));
        cache.forget_dir(dir.path());
        assert!(cache.is_empty());
    }
}
