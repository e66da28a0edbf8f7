//! Size of the compute thread pool from the container's CPU quota.
//!
//! Candle (through `gemm` and rayon) sizes its pool from `RAYON_NUM_THREADS` or else from
//! the host's cores, so a pod limited to 2 CPUs on a 64-core node would run 64 threads
//! and thrash. When `RAYON_NUM_THREADS` is not set, the binary reads the cgroup quota and
//! re-executes itself with the variable set (setting it in-process would need `unsafe`).

use std::path::Path;

use crate::env_vars;

/// Where the thread count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadSource {
    /// `RAYON_NUM_THREADS` was set by the operator.
    Env,
    /// The cgroup CPU quota (`cpu.max`, or `cpu.cfs_quota_us` on cgroup v1).
    CgroupQuota,
    /// No quota: every core the process may run on.
    Host,
}

/// Parses cgroup v2 `cpu.max` (`"<quota> <period>"` or `"max <period>"`) into CPUs.
#[must_use]
pub fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut parts = text.split_whitespace();
    let quota = parts.next()?;
    let period: f64 = parts.next()?.parse().ok()?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    let quota: f64 = quota.parse().ok()?;
    (quota > 0.0).then_some(quota / period)
}

/// Threads for a quota of `cpus` CPUs on a host that offers `host` cores: the quota
/// rounded up, at least 1 and at most `host`.
#[must_use]
pub fn threads_for(host: usize, cpus: Option<f64>) -> usize {
    let host = host.max(1);
    match cpus {
        // The quota is a small positive number of CPUs: the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(c) => (c.ceil() as usize).clamp(1, host),
        None => host,
    }
}

/// The CPU quota of this process's cgroup, in CPUs, if it has one.
#[must_use]
pub fn cgroup_cpus(root: &Path) -> Option<f64> {
    if let Ok(text) = std::fs::read_to_string(root.join("cpu.max")) {
        return parse_cpu_max(&text);
    }
    let quota = std::fs::read_to_string(root.join("cpu/cpu.cfs_quota_us")).ok()?;
    let period = std::fs::read_to_string(root.join("cpu/cpu.cfs_period_us")).ok()?;
    let (quota, period): (f64, f64) = (quota.trim().parse().ok()?, period.trim().parse().ok()?);
    (quota > 0.0 && period > 0.0).then(|| quota / period)
}

/// Decides the thread count from the environment and `/sys/fs/cgroup`.
#[must_use]
pub fn decide() -> (usize, ThreadSource) {
    if let Some(n) = std::env::var(env_vars::RAYON_NUM_THREADS)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return (n, ThreadSource::Env);
    }
    let host = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    match cgroup_cpus(Path::new("/sys/fs/cgroup")) {
        Some(cpus) => (threads_for(host, Some(cpus)), ThreadSource::CgroupQuota),
        None => (host, ThreadSource::Host),
    }
}

/// When `RAYON_NUM_THREADS` is unset, re-executes the current binary with it set to the
/// decided count, so candle and rayon size their pools from it. Returns only when no
/// re-execution was needed, or when it failed (the error says why; the caller goes on).
///
/// # Errors
/// The binary could not be found or executed again.
pub fn reexec_with_thread_env() -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    let (n, source) = decide();
    if source == ThreadSource::Env {
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(env_vars::RAYON_NUM_THREADS, n.to_string())
        .env(THREAD_SOURCE_VAR, source_name(source))
        .exec();
    Err(err)
}

/// Set by [`reexec_with_thread_env`] so the re-executed process can log where its thread
/// count came from.
pub const THREAD_SOURCE_VAR: &str = "AKIDB_THREADS_FROM";

fn source_name(s: ThreadSource) -> &'static str {
    match s {
        ThreadSource::Env => "RAYON_NUM_THREADS",
        ThreadSource::CgroupQuota => "cgroup cpu quota",
        ThreadSource::Host => "host cores",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_parses_quota_and_unlimited() {
        assert_eq!(parse_cpu_max("200000 100000\n"), Some(2.0));
        assert_eq!(parse_cpu_max("150000 100000"), Some(1.5));
        assert_eq!(parse_cpu_max("max 100000"), None);
        assert_eq!(parse_cpu_max("garbage"), None);
        assert_eq!(parse_cpu_max(""), None);
    }

    #[test]
    fn threads_round_up_and_stay_within_the_host() {
        assert_eq!(threads_for(64, Some(1.5)), 2);
        assert_eq!(threads_for(64, Some(0.25)), 1);
        assert_eq!(threads_for(4, Some(16.0)), 4);
        assert_eq!(threads_for(8, None), 8);
    }

    #[test]
    fn cgroup_v1_and_v2_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cgroup_cpus(dir.path()), None);
        std::fs::create_dir(dir.path().join("cpu")).unwrap();
        std::fs::write(dir.path().join("cpu/cpu.cfs_quota_us"), "300000\n").unwrap();
        std::fs::write(dir.path().join("cpu/cpu.cfs_period_us"), "100000\n").unwrap();
        assert_eq!(cgroup_cpus(dir.path()), Some(3.0));
        std::fs::write(dir.path().join("cpu.max"), "50000 100000\n").unwrap();
        assert_eq!(cgroup_cpus(dir.path()), Some(0.5));
    }
}
