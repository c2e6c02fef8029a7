//! The program's allocator: mimalloc 2, without transparent huge pages,
//! giving freed memory back at once.
//!
//! Every gateway request allocates and frees across the runtime's worker
//! threads (bodies, headers, the plugin's lifted values); glibc's malloc
//! spent about a tenth of the gateway's CPU there, mostly consolidating
//! free lists (docs/performance.md). mimalloc asks for transparent huge
//! pages on its arenas by default, which doubled the gateway's resident
//! memory; the `no_thp` feature leaves them out. Built without the
//! `mimalloc` feature (`--no-default-features`), the program keeps the
//! system's malloc, which a heap profiler (heaptrack) can follow.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 2's `mimalloc.h` (the bindings do
/// not name it): milliseconds between freeing a page and giving it back
/// to the system (`MADV_DONTNEED`), 10 by default.
#[cfg(feature = "mimalloc")]
const PURGE_DELAY: std::ffi::c_int = 15;

#[cfg(feature = "mimalloc")]
unsafe extern "C" {
    #[cfg(test)]
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Emptied pages go back to the system at once instead of after 10 ms
/// (100 for an arena's), unless `MIMALLOC_PURGE_DELAY` says otherwise:
/// under 256 callers, pages that one thread's heap had emptied stayed
/// resident while other threads took fresh ones, 2 to 4 MB of the
/// gateway's peak RSS; no CPU per request measurable (docs/performance.md).
pub(crate) fn configure() {
    #[cfg(feature = "mimalloc")]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options, read at each purge.
        unsafe { mi_option_set(PURGE_DELAY, 0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option's number is the purge delay's: mimalloc's default for
    /// it is 10 ms, and it reads 0 once configured.
    #[test]
    #[cfg(feature = "mimalloc")]
    fn the_purge_delay_is_zero_once_configured() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads one of mimalloc's options.
        let purge_delay = || unsafe { mi_option_get(PURGE_DELAY) };
        assert_eq!(purge_delay(), 10, "mimalloc's default purge delay");
        configure();
        assert_eq!(purge_delay(), 0);
    }
}
