//! Where compiled plugin code is kept between runs, and whether that place
//! can be trusted. wasmtime files each entry under a SHA-256 of the
//! component's bytes and the engine's settings, so an entry is only ever
//! used for the exact bytes it was compiled from; what it cannot tell is an
//! entry written by someone else. Compiled code runs natively in the
//! gateway, so the folder must belong to the gateway's user and be writable
//! by no one else; otherwise plugins are compiled afresh and nothing is read
//! from it.

use std::path::{Path, PathBuf};

/// Why the cache folder is not used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot create {path}: {reason}")]
    Create { path: String, reason: String },
    #[error(
        "{path} is owned by uid {owner}, not the gateway's uid {uid}: anyone who can write there can run code in the gateway (chown it, or set [plugins].cache_dir to a folder of the gateway's own)"
    )]
    NotOurs { path: String, owner: u32, uid: u32 },
    #[error(
        "{path} is writable by group or others (mode {mode:o}): anyone who can write there can run code in the gateway (chmod go-w {path})"
    )]
    Writable { path: String, mode: u32 },
}

/// Creates `dir` (mode 0700) when missing and checks that only the
/// gateway's user can write to it; returns its absolute path.
pub fn trusted_dir(dir: &Path) -> Result<PathBuf, CacheError> {
    let shown = dir.display().to_string();
    let create = |e: std::io::Error| CacheError::Create {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(create)?;
    let dir = std::path::absolute(dir).map_err(create)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&dir).map_err(create)?;
        // /proc/self belongs to the process's effective uid.
        if let Ok(me) = std::fs::metadata("/proc/self")
            && meta.uid() != me.uid()
        {
            return Err(CacheError::NotOurs {
                path: shown,
                owner: meta.uid(),
                uid: me.uid(),
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(CacheError::Writable { path: shown, mode });
        }
    }
    Ok(dir)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_folder_is_private_and_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        let got = trusted_dir(&dir).unwrap();
        assert!(got.is_absolute());
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    }

    #[test]
    fn a_folder_others_can_write_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = trusted_dir(tmp.path()).unwrap_err();
        assert!(matches!(e, CacheError::Writable { mode: 0o777, .. }), "{e}");
        assert!(e.to_string().contains("chmod go-w"), "{e}");
    }
}
