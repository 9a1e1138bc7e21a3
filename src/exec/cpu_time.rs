//! CPU time, as the compute account of a job counts it: each thread's own clock
//! (`CLOCK_THREAD_CPUTIME_ID`), so work done for one job is never charged with what other
//! workers or the API did in the same process meanwhile.

/// CPU seconds the calling thread has used so far (user and system).
pub fn thread_seconds() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write to; the clock id is a constant the kernel
    // knows. It cannot fail for the calling thread's own clock, so no error is checked.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

/// Runs `f` and returns its result with the CPU seconds the calling thread spent on it.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = thread_seconds();
    let value = f();
    (value, thread_seconds() - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_work_is_counted_and_sleep_is_not() {
        let (_, busy) = measure(|| {
            let start = std::time::Instant::now();
            let mut x = 0u64;
            while start.elapsed() < std::time::Duration::from_millis(50) {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            x
        });
        assert!(busy > 0.02, "50 ms of spinning counted as {busy} s");
        let (_, asleep) = measure(|| std::thread::sleep(std::time::Duration::from_millis(50)));
        assert!(asleep < 0.02, "50 ms of sleep counted as {asleep} s");
    }
}
