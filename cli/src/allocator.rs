//! The program's allocator: mimalloc 2, without transparent huge pages.
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
