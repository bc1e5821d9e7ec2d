//! What a run reads about itself: the process's CPU time (every thread, a backend's
//! background compactions included), one thread's CPU time (the reader's, taken out),
//! the bytes the process had written to storage, and a directory's size on disk.

use std::path::Path;

fn seconds(t: libc::timespec) -> f64 {
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// User + system CPU seconds of every thread of the process so far.
pub fn process_cpu() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    seconds(t)
}

/// CPU seconds of the thread `thread` (a live thread of this process).
pub fn thread_cpu(thread: libc::pthread_t) -> f64 {
    let mut clock: libc::clockid_t = 0;
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: both calls write into the values they are given; `thread` is alive (the
    // caller holds its join handle and has not joined it).
    unsafe {
        if libc::pthread_getcpuclockid(thread, &mut clock) != 0 {
            return 0.0;
        }
        libc::clock_gettime(clock, &mut t);
    }
    seconds(t)
}

/// `write_bytes` less `cancelled_write_bytes` of `/proc/self/io`: what the process sent
/// (or will send, once written back) to storage, without pages of files deleted or cut
/// before they were written.
pub fn written_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
    field("write_bytes:").saturating_sub(field("cancelled_write_bytes:"))
}

/// Bytes on disk of every file under `dir` (allocated blocks, as `du`).
pub fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// Bytes free for an unprivileged user on the file system of `path`.
pub fn free_bytes(path: &Path) -> u64 {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else { return u64::MAX };
    // SAFETY: statvfs writes into the zeroed struct it is given; `c` is a valid C string.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return u64::MAX;
        }
        st.f_bavail as u64 * st.f_frsize as u64
    }
}

/// The `q` quantile (0..=1) of `sorted` values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
