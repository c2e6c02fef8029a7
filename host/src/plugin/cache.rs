//! Where compiled plugin code is kept between runs, and whether that place
//! can be trusted. wasmtime files each entry under a SHA-256 of the
//! component's bytes and the engine's settings, so an entry is only ever
//! used for the exact bytes it was compiled from; what it cannot tell is an
//! entry written by someone else (wasmtime 48's cache has no hook to check
//! a MAC before it loads an entry). Compiled code runs natively in the
//! gateway, so the folder must belong to the gateway's user and be writable
//! by no one else, and so must be the way to it: the path is resolved once
//! (symlinks followed), every folder on the resolved path is checked, and
//! exactly that path is what wasmtime gets. Otherwise plugins are compiled
//! afresh and nothing is read from it.

use std::path::{Path, PathBuf};

/// The folders wasmtime writes under the cache folder, created private
/// before it does (it would create them with the process's umask).
const SUBFOLDERS: [&str; 1] = ["modules"];

/// Why the cache folder is not used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "no cache folder: HOME and XDG_CACHE_HOME are unset and [plugins].cache_dir is not set (a shared temp folder is never used: set cache_dir to a folder of the gateway's own)"
    )]
    NoFolder,
    #[error("cannot create or resolve {path}: {reason}")]
    Create { path: String, reason: String },
    #[error(
        "{path} is owned by uid {owner}, not the gateway's uid {uid}: anyone who can write there can run code in the gateway (chown it, or set [plugins].cache_dir to a folder of the gateway's own)"
    )]
    NotOurs { path: String, owner: u32, uid: u32 },
    #[error(
        "{path} is writable by group or others (mode {mode:o}): anyone who can write there can run code in the gateway (chmod go-w {path})"
    )]
    Writable { path: String, mode: u32 },
    #[error(
        "{path}, on the way to the cache folder, is owned by uid {owner} (neither root nor the gateway's uid {uid}): its owner could swap the cache folder (set [plugins].cache_dir elsewhere)"
    )]
    ParentNotOurs { path: String, owner: u32, uid: u32 },
    #[error(
        "{path}, on the way to the cache folder, is writable by group or others without the sticky bit (mode {mode:o}): anyone who can write there could swap the cache folder (chmod go-w {path}, or set [plugins].cache_dir elsewhere)"
    )]
    ParentWritable { path: String, mode: u32 },
    #[error("{path} changed while it was checked (it is not a folder now)")]
    Changed { path: String },
    #[error("wasmtime resolved the cache folder to {got}, not the checked {checked}")]
    Moved { checked: String, got: String },
}

/// Creates `dir` (mode 0700) when missing, resolves it once, checks that
/// only the gateway's user can write to it and that no one else can swap
/// any folder on the way to it, creates wasmtime's subfolders 0700, and
/// returns the resolved path: the one to hand to wasmtime.
pub fn trusted_dir(dir: &Path) -> Result<PathBuf, CacheError> {
    if dir.as_os_str().is_empty() {
        return Err(CacheError::NoFolder);
    }
    let create = |path: &Path| {
        let path = path.display().to_string();
        move |e: std::io::Error| CacheError::Create {
            path,
            reason: e.to_string(),
        }
    };
    private_dir(dir).map_err(create(dir))?;
    let real = std::fs::canonicalize(dir).map_err(create(dir))?;
    check(&real)?;
    for name in SUBFOLDERS {
        let sub = real.join(name);
        private_dir(&sub).map_err(create(&sub))?;
        check_own(&sub)?;
    }
    Ok(real)
}

/// Creates `dir` and any missing parent with mode 0700.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// `real` (resolved, absolute) is the gateway's own and private, and each
/// folder above it belongs to root or the gateway's user and is writable by
/// no one else (or has the sticky bit, as `/tmp`: then others cannot
/// rename or remove what is ours in it).
#[cfg(unix)]
fn check(real: &Path) -> Result<(), CacheError> {
    use std::os::unix::fs::MetadataExt;
    check_own(real)?;
    let uid = effective_uid();
    for parent in real.ancestors().skip(1) {
        let path = parent.display().to_string();
        let meta = std::fs::symlink_metadata(parent).map_err(|e| CacheError::Create {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if !meta.is_dir() {
            return Err(CacheError::Changed { path });
        }
        if meta.uid() != 0 && meta.uid() != uid {
            return Err(CacheError::ParentNotOurs {
                path,
                owner: meta.uid(),
                uid,
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(CacheError::ParentWritable { path, mode });
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn check(_real: &Path) -> Result<(), CacheError> {
    Ok(())
}

/// `dir` (not followed if a symlink) is a folder of the gateway's user,
/// writable by no one else; a folder of ours that is wider than 0700 is
/// narrowed to it.
#[cfg(unix)]
fn check_own(dir: &Path) -> Result<(), CacheError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let path = dir.display().to_string();
    let meta = std::fs::symlink_metadata(dir).map_err(|e| CacheError::Create {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(CacheError::Changed { path });
    }
    let uid = effective_uid();
    if meta.uid() != uid {
        return Err(CacheError::NotOurs {
            path,
            owner: meta.uid(),
            uid,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(CacheError::Writable { path, mode });
    }
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            CacheError::Create {
                path,
                reason: e.to_string(),
            }
        })?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_own(_dir: &Path) -> Result<(), CacheError> {
    Ok(())
}

/// The process's effective uid.
#[cfg(unix)]
fn effective_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Checks that wasmtime kept the folder it was handed (it resolves the
/// path again itself).
pub fn same_dir(checked: &Path, got: &Path) -> Result<(), CacheError> {
    if checked == got {
        Ok(())
    } else {
        Err(CacheError::Moved {
            checked: checked.display().to_string(),
            got: got.display().to_string(),
        })
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// A private temporary folder (its parents are /tmp's: sticky).
    fn private() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        tmp
    }

    #[test]
    fn a_new_folder_and_its_subfolders_are_private_and_trusted() {
        let tmp = private();
        let dir = tmp.path().join("a/b");
        let got = trusted_dir(&dir).unwrap();
        assert_eq!(got, std::fs::canonicalize(&dir).unwrap());
        for path in [tmp.path().join("a"), dir.clone(), dir.join("modules")] {
            assert_eq!(mode(&path), 0o700, "{}", path.display());
        }
    }

    #[test]
    fn a_folder_others_can_write_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = trusted_dir(tmp.path()).unwrap_err();
        assert!(matches!(e, CacheError::Writable { mode: 0o777, .. }), "{e}");
        assert!(e.to_string().contains("chmod go-w"), "{e}");
    }

    #[test]
    fn a_private_folder_inside_one_others_can_write_is_refused() {
        // Whoever can write the parent can rename the private folder away
        // and put their own in its place between the check and the use.
        let tmp = private();
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let dir = open.join("cache");
        let e = trusted_dir(&dir).unwrap_err();
        assert!(
            matches!(&e, CacheError::ParentWritable { path, mode: 0o777 } if Path::new(path) == open),
            "{e}"
        );
        // The sticky bit (as /tmp has) stops others renaming what is ours.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(trusted_dir(&dir).is_ok());
    }

    #[test]
    fn a_symlink_is_resolved_once_and_its_target_checked() {
        let tmp = private();
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let target = open.join("cache");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
        // The link lives in a private folder; what it points into does not.
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = trusted_dir(&link).unwrap_err();
        assert!(matches!(e, CacheError::ParentWritable { .. }), "{e}");
        // Into a private folder: the resolved path is what is handed on.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o700)).unwrap();
        let got = trusted_dir(&link).unwrap();
        assert_eq!(got, std::fs::canonicalize(&target).unwrap());
    }

    #[test]
    fn subfolders_wasmtime_made_wider_are_narrowed() {
        let tmp = private();
        let modules = tmp.path().join("modules");
        std::fs::create_dir(&modules).unwrap();
        std::fs::set_permissions(&modules, std::fs::Permissions::from_mode(0o755)).unwrap();
        trusted_dir(tmp.path()).unwrap();
        assert_eq!(mode(&modules), 0o700);
    }

    #[test]
    fn no_folder_is_refused_rather_than_a_shared_one() {
        let e = trusted_dir(Path::new("")).unwrap_err();
        assert!(matches!(e, CacheError::NoFolder), "{e}");
        assert!(e.to_string().contains("never used"), "{e}");
    }
}
