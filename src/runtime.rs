//! Process-wide runtime settings for CPU work on small machines,
//! applied once at the start of `main` (before candle's thread pools start)
//! by the `somnium` binary and the benchmarks.
//!
//! - candle 0.11.1 runs element-wise ops on its own "barrier pool" whose
//!   workers spin 25,000 times after every op before parking. On 2 cores that
//!   spinning competes with the rayon threads that run gemm and the fused
//!   kernels; a limit of 0 parks them at once.
//! - mimalloc returns freed pages to the OS after a delay; the DiT frees and
//!   re-allocates the same multi-megabyte buffers every op, so the pages fault
//!   back in (as 2 MiB transparent huge pages, each zeroed). A purge delay of
//!   -1 keeps them.
//!
//! Both respect the environment: set `CANDLE_BARRIER_POOL_SPIN_LIMIT` or
//! `MIMALLOC_PURGE_DELAY` to override.

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (v2 and v3 headers).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Applies the settings above unless the environment already chose.
pub fn tune() {
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        // Runs first thing in main, before any other thread exists.
        std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", "0");
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: called before any other thread exists (mi_option_set is not thread safe).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}
