//! glibc's allocator, told to keep freed memory instead of handing it back at once.
//!
//! The request path frees as much as it allocates: each 14.7 KB page comes in one HTTP/2
//! frame, and h2's read buffer is reallocated while earlier frames' bodies still share it.
//! With glibc's default trim threshold (128 KB, raised only by large mmapped blocks) the top
//! of the heap was returned to the kernel and faulted back in over and over: about one page
//! fault per request, a third of the request path's CPU time (BENCHMARKS.md, row 4a).
//! [`keep_freed_memory`] raises the threshold once at start-up; nothing else changes (no
//! other allocator is installed: plugins and the host share this one, PLUGIN-ABI.md).

/// Lets up to 4 MB of free memory stay at the top of the heap, and fixes the size from which
/// blocks are mapped on their own at 1 MB (setting one turns glibc's adaptive choice of both
/// off; 1 MB keeps what the adaptive threshold would reach for the page bodies). A no-op on
/// other C libraries.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc's <malloc.h>.
        const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
        const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
        unsafe extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        // SAFETY: mallopt only sets two of the allocator's tunables (it takes the arena
        // locks itself); valid parameters, values in range. A refusal (0) leaves the default.
        unsafe {
            mallopt(M_TRIM_THRESHOLD, 4 << 20);
            mallopt(M_MMAP_THRESHOLD, 1 << 20);
        }
    }
}
