//! Gives back the pages of code and read-only data that only start-up
//! used: once the gateway is ready, every mapping of a program file it
//! runs (the executable and its shared libraries) is dropped from the
//! process's page tables, and what serves requests maps its pages again
//! on first use, from the page cache, without reading the disk. The code
//! that ran only at start (the command line, config, TLS and plugin
//! set-up), and the pages the kernel mapped around it with each fault (64
//! KB at a time), no longer count in the gateway's resident memory: about
//! 7 MB at 256 callers (docs/performance.md, peak RSS). The pages stay in
//! the page cache, which the kernel reclaims when memory runs short.
//!
//! Only a private file mapping that nothing wrote is given back (read-only
//! or executable, and no anonymous page in `/proc/self/smaps`): dropping it
//! loses nothing, as the file holds every byte of it.

use std::ptr::NonNull;

use nix::sys::mman::{MmapAdvise, madvise};

/// Drops the program files' clean mappings from the page tables (see the
/// module's note), returning the bytes that were resident in them. Linux
/// only; elsewhere, or when `/proc/self/smaps` cannot be read, nothing is
/// done.
pub fn release() -> u64 {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut released = 0;
    for mapping in clean_file_mappings(&smaps) {
        let Some(start) = NonNull::new(mapping.start as *mut std::ffi::c_void) else {
            continue;
        };
        // SAFETY: a private mapping of a file with no anonymous page, so
        // no byte of it exists only in memory: after MADV_DONTNEED each
        // page reads from the file again, as it read before. Nothing
        // writes to it (it is read-only or executable, not writable).
        if unsafe { madvise(start, mapping.len, MmapAdvise::MADV_DONTNEED) }.is_ok() {
            released += mapping.resident;
        }
    }
    tracing::debug!(
        released_kb = released / 1024,
        "start-up's pages of code given back"
    );
    released
}

/// One mapping of `/proc/self/smaps`.
#[derive(Debug, PartialEq)]
struct Mapping {
    start: usize,
    len: usize,
    /// Resident bytes.
    resident: u64,
}

/// The mappings of `smaps` that are private, not writable, of a file (a
/// path, not `[vdso]` or an anonymous mapping) and hold no anonymous page.
fn clean_file_mappings(smaps: &str) -> Vec<Mapping> {
    let mut found = Vec::new();
    // The current mapping when it qualifies by its head, with its Rss and
    // Anonymous fields as they come.
    let mut current: Option<(Mapping, Option<u64>)> = None;
    let mut finish = |current: Option<(Mapping, Option<u64>)>| {
        if let Some((mapping, Some(0))) = current {
            found.push(mapping);
        }
    };
    for line in smaps.lines() {
        if let Some(head) = head(line) {
            finish(current.take());
            current = head.map(|m| (m, None));
            continue;
        }
        let Some((mapping, anonymous)) = current.as_mut() else {
            continue;
        };
        if let Some(kb) = field(line, "Rss:") {
            mapping.resident = kb * 1024;
        } else if let Some(kb) = field(line, "Anonymous:") {
            *anonymous = Some(kb);
        }
    }
    finish(current);
    found
}

/// A mapping's head line (`start-end perms offset dev inode path`):
/// `Some(Some(mapping))` when it qualifies, `Some(None)` when not, `None`
/// for a field line.
fn head(line: &str) -> Option<Option<Mapping>> {
    let mut parts = line.split_ascii_whitespace();
    let (start, end) = parts.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = parts.next()?;
    let path = parts.nth(3).unwrap_or("");
    let clean_file = matches!(perms, "r-xp" | "r--p") && path.starts_with('/');
    Some(clean_file.then_some(Mapping {
        start,
        len: end.saturating_sub(start),
        resident: 0,
    }))
}

/// The kB of `line` when it is the field `name`.
fn field(line: &str, name: &str) -> Option<u64> {
    line.strip_prefix(name)?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0000000-55d0c0100000 r--p 00000000 fd:01 123 /usr/bin/twoway
Rss:                 400 kB
Anonymous:             0 kB
55d0c0100000-55d0c0900000 r-xp 00100000 fd:01 123 /usr/bin/twoway
Rss:                6000 kB
Anonymous:             0 kB
55d0c0900000-55d0c0a00000 r--p 00900000 fd:01 123 /usr/bin/twoway
Rss:                1024 kB
Anonymous:          1024 kB
55d0c0a00000-55d0c0a10000 rw-p 00a00000 fd:01 123 /usr/bin/twoway
Rss:                  64 kB
Anonymous:            64 kB
7f0000000000-7f0000200000 rw-p 00000000 00:00 0 
Rss:                  40 kB
Anonymous:            40 kB
7f0000200000-7f0000210000 rw-p 00000000 00:01 77 /memfd:wasm-memory-image (deleted)
Rss:                  32 kB
Anonymous:             0 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
Rss:                   8 kB
Anonymous:             0 kB
7f1000000000-7f1000180000 r-xp 00028000 fd:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1100 kB
Anonymous:             4 kB
";

    /// Only read-only or executable private file mappings with no
    /// anonymous page qualify: not the relocated read-only data (written at
    /// load), data, the heap, a memory image, the vDSO, or a library a
    /// debugger or loader wrote into.
    #[test]
    fn only_clean_read_only_file_mappings_are_given_back() {
        assert_eq!(
            clean_file_mappings(SMAPS),
            [
                Mapping {
                    start: 0x55d0c0000000,
                    len: 0x100000,
                    resident: 400 * 1024,
                },
                Mapping {
                    start: 0x55d0c0100000,
                    len: 0x800000,
                    resident: 6000 * 1024,
                },
            ]
        );
    }

    /// A mapping whose Anonymous field is missing (an older kernel, a
    /// truncated read) is left alone.
    #[test]
    fn a_mapping_without_its_anonymous_count_is_kept() {
        let smaps =
            "55d0c0100000-55d0c0900000 r-xp 00100000 fd:01 123 /usr/bin/twoway\nRss: 6000 kB\n";
        assert!(clean_file_mappings(smaps).is_empty());
    }

    /// In this process: what is given back was resident, and the code and
    /// the read-only data read back as they were.
    #[test]
    fn the_code_runs_on_after_its_pages_are_given_back() {
        static TABLE: [u8; 4] = [7, 1, 8, 2];
        let sum = || {
            std::hint::black_box(&TABLE)
                .iter()
                .map(|b| u32::from(*b))
                .sum::<u32>()
        };
        assert_eq!(sum(), 18);
        if std::path::Path::new("/proc/self/smaps").exists() {
            assert!(release() > 0, "the test binary's code was resident");
        }
        assert_eq!(sum(), 18);
        assert!(clean_file_mappings("").is_empty());
    }
}
