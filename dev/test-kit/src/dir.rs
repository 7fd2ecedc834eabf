//! Temporary directories for kubeconfigs, manifests and logs, each removed with its value.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `<tmp>/<prefix>-<pid>-<n><time>`, in hex and short: paths are printed (by the
    /// sandbox, say) next to output checked for nothing token-sized.
    ///
    /// # Panics
    /// If the directory cannot be created: nothing a test or benchmark could carry on without.
    pub fn new(prefix: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{:x}-{:x}{:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            nanos as u32
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to the file `name` in the directory and returns its path.
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_directories_never_share_a_path_and_each_goes_with_its_value() {
        let a = TempDir::new("kit-test");
        let b = TempDir::new("kit-test");
        assert_ne!(a.path(), b.path());
        let file = a.write("f", "x");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
        let gone = a.path().to_owned();
        drop(a);
        assert!(!gone.exists());
        assert!(b.path().is_dir());
    }
}
