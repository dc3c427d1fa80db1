//! How the allocator (mimalloc, set in `main.rs`) treats freed memory.
//!
//! By default mimalloc returns freed pages to the OS after 10 ms. Ingest's parse phase
//! frees and reallocates frames constantly, and re-faulting zeroed pages cost a quarter of
//! its CPU time (measured: 1M webhook events, system time 1.4–2.1 s → 0.5 s, wall −12 %),
//! so it keeps them ([`keep_freed_memory`]). Kept pages stay with the threads that freed
//! them, so between parse and publish [`release_freed_memory`] hands them back and turns
//! purging on again (measured: 10M webhook events, peak RSS 1.76 → 1.36 GB, the 1M
//! ingest's time unchanged within this machine's noise).
//!
//! The build's analytics, which allocate and free vectors of millions of rows, keep freed
//! memory from their start to their end, then release it the same way (`perf` on the 10M
//! build: the kernel zeroing fresh pages was a fifth of all CPU samples). So does ingest's
//! publishing while every date it publishes is small (`KEEP_FREED_MAX_DATE_ROWS` in
//! `ingest::dedupe`); with a large date it gives memory back (kept, the 10M webhook run's
//! peak rose from 0.94 to 1.19 GiB, and 100k late events into that lake peaked at 1.30 GiB).
//!
//! mimalloc is built without transparent huge pages (the `no_thp` feature): with them a
//! first touch zeroed a whole 2 MB page, and on 1M webhook events ingest's system time
//! fell from 2.7 to 1.2 s and its peak RSS from 701 to 537–543 MiB without.

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (include/mimalloc.h, v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// mimalloc's default purge delay, in ms.
const DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Keep freed memory in the process (`true`) or return it after mimalloc's delay.
pub fn keep_freed_memory(keep: bool) {
    let delay = if keep { -1 } else { DEFAULT_PURGE_DELAY_MS };
    // SAFETY: sets a process-wide allocator option (a plain value mimalloc reads when it
    // next considers purging); valid whether or not mimalloc is the global allocator.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay) };
}

/// Keep freed memory until the returned guard is dropped, then [`release_freed_memory`].
#[must_use = "freed memory is kept only while the guard lives"]
pub fn keep_freed_memory_while_alive() -> KeptMemory {
    keep_freed_memory(true);
    KeptMemory
}

/// See [`keep_freed_memory_while_alive`].
pub struct KeptMemory;

impl Drop for KeptMemory {
    fn drop(&mut self) {
        release_freed_memory();
    }
}

/// Return every thread's freed memory to the OS now (rayon's workers', polars' and this
/// one's),
/// and from now on after mimalloc's delay (kept memory is never purged, even on request).
pub fn release_freed_memory() {
    keep_freed_memory(false);
    // SAFETY: mi_collect only frees pages no allocation uses; each thread collects its
    // own heap.
    rayon::broadcast(|_| unsafe { libmimalloc_sys::mi_collect(true) });
    polars_core::runtime::THREAD_POOL.broadcast(|_| unsafe { libmimalloc_sys::mi_collect(true) });
    unsafe { libmimalloc_sys::mi_collect(true) };
}
