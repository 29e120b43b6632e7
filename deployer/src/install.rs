//! The install root on an instance: immutable `releases/<version>/` directories and the
//! `current` symlink that the units run from. Flipping `current` is one atomic rename, so a
//! crash leaves it pointing at either the old or the new release, never at nothing.

use std::path::{Path, PathBuf};

use owp_release::Version;

use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct InstallRoot {
    root: PathBuf,
}

impl InstallRoot {
    pub fn new(root: &Path) -> Result<Self> {
        let releases = root.join("releases");
        std::fs::create_dir_all(&releases)
            .map_err(|err| Error::io(format!("cannot create {}", releases.display()), err))?;
        Ok(Self { root: root.to_owned() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn releases_dir(&self) -> PathBuf {
        self.root.join("releases")
    }

    pub fn release_dir(&self, version: &Version) -> PathBuf {
        self.releases_dir().join(version.as_str())
    }

    /// The release `current` points to, if it points to one.
    pub fn current(&self) -> Option<Version> {
        let target = std::fs::read_link(self.root.join("current")).ok()?;
        let name = target.file_name()?.to_str()?;
        let version: Version = name.parse().ok()?;
        self.release_dir(&version).is_dir().then_some(version)
    }

    /// Points `current` at an installed release, atomically (a new symlink renamed over the old).
    pub fn flip(&self, version: &Version) -> Result<()> {
        if !self.release_dir(version).is_dir() {
            return Err(Error::Process(format!("release {version} is not installed; cannot switch to it")));
        }
        let link = self.root.join("current");
        let temporary = self.root.join(format!(".current-{}", uuid::Uuid::new_v4()));
        // Relative, so the tree can be moved or inspected from a chroot.
        std::os::unix::fs::symlink(Path::new("releases").join(version.as_str()), &temporary)
            .map_err(|err| Error::io(format!("cannot create {}", temporary.display()), err))?;
        std::fs::rename(&temporary, &link).map_err(|err| {
            let _ = std::fs::remove_file(&temporary);
            Error::io(format!("cannot replace {}", link.display()), err)
        })?;
        // The rename is durable only once the directory is synced.
        if let Ok(dir) = std::fs::File::open(&self.root) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Removes old releases, keeping the newest `keep` by modification time and never one in
    /// `protect` (the current and the previous release).
    pub fn prune(&self, keep: usize, protect: &[&Version]) -> Result<Vec<String>> {
        let dir = self.releases_dir();
        let entries = std::fs::read_dir(&dir)
            .map_err(|err| Error::io(format!("cannot list {}", dir.display()), err))?;
        let mut releases: Vec<(std::time::SystemTime, String)> = entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().is_dir())
            .filter_map(|entry| {
                let name = entry.file_name().to_str()?.to_owned();
                let modified = entry.metadata().ok()?.modified().ok()?;
                Some((modified, name))
            })
            .collect();
        releases.sort_by_key(|release| std::cmp::Reverse(release.0));
        let mut removed = Vec::new();
        for (_, name) in releases.into_iter().skip(keep) {
            // Staging directories of an interrupted download start with a dot: always stale here.
            let protected = protect.iter().any(|version| version.as_str() == name);
            if !protected {
                let path = dir.join(&name);
                std::fs::remove_dir_all(&path)
                    .map_err(|err| Error::io(format!("cannot remove {}", path.display()), err))?;
                removed.push(name);
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flip_switches_current_atomically_and_prune_keeps_what_is_protected() {
        let dir = tempfile::tempdir().unwrap();
        let root = InstallRoot::new(dir.path()).unwrap();
        let (v1, v2, v3): (Version, Version, Version) =
            ("v1".parse().unwrap(), "v2".parse().unwrap(), "v3".parse().unwrap());
        assert_eq!(root.current(), None);
        assert!(root.flip(&v1).is_err(), "not installed yet");
        for v in [&v1, &v2, &v3] {
            std::fs::create_dir_all(root.release_dir(v)).unwrap();
        }
        root.flip(&v1).unwrap();
        assert_eq!(root.current(), Some(v1.clone()));
        root.flip(&v2).unwrap();
        assert_eq!(root.current(), Some(v2.clone()));
        let removed = root.prune(1, &[&v2, &v1]).unwrap();
        assert_eq!(removed.len(), 1, "{removed:?}");
        assert!(root.release_dir(&v1).is_dir() && root.release_dir(&v2).is_dir());
    }
}
