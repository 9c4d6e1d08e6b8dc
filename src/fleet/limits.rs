//! File descriptors: every device's connection is one. The fleet raises its soft limit to the
//! hard limit at start and refuses, naming the numbers, a shard that cannot fit — rather than
//! failing connections one by one with "Too many open files" half-way through a ramp.

/// Descriptors kept for everything but device connections (runtime, stdio, tap, files).
pub const SPARE_FDS: u64 = 64;

/// Why a shard does not fit the descriptor limit.
#[derive(Debug, thiserror::Error)]
#[error(
    "{devices} devices need {need} file descriptors (one connection each + {SPARE_FDS}); this \
     process may open {limit} (hard limit {hard}): raise it (`ulimit -n {need}`, \
     LimitNOFILE=, the container runtime's nofile) or run fewer devices per shard (--shard)"
)]
pub struct FdLimitError {
    pub devices: u64,
    pub need: u64,
    pub limit: u64,
    pub hard: u64,
}

/// Raise the soft `RLIMIT_NOFILE` to the hard one if `devices` need it; the limit now.
pub fn ensure_fds(devices: u64) -> Result<u64, FdLimitError> {
    let need = devices.saturating_add(SPARE_FDS);
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we pass and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Ok(u64::MAX);
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every target
    let (soft, hard) = (lim.rlim_cur as u64, lim.rlim_max as u64);
    if soft < need && hard > soft {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct; raising the soft limit up to the hard one
        // needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return check(devices, need, hard, hard);
        }
    }
    check(devices, need, soft, hard)
}

fn check(devices: u64, need: u64, limit: u64, hard: u64) -> Result<u64, FdLimitError> {
    if limit < need {
        return Err(FdLimitError {
            devices,
            need,
            limit,
            hard,
        });
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_shard_that_cannot_fit_is_refused_with_the_numbers() {
        let e = super::ensure_fds(u64::MAX / 2).unwrap_err().to_string();
        assert!(
            e.contains("file descriptors") && e.contains("ulimit -n"),
            "{e}"
        );
        assert!(super::ensure_fds(10).unwrap() >= 10 + super::SPARE_FDS);
    }
}
