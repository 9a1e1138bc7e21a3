//! The file-descriptor limit, and how many connections it leaves room for.
//!
//! Every connection is a file descriptor. Distributions start processes with a soft
//! `RLIMIT_NOFILE` of 1024 (and a far higher hard limit); a server that accepts connections
//! until `accept` fails with `EMFILE` can then open neither its database nor its files, and
//! stops answering. So the soft limit is raised to the hard one at start-up, and connections
//! are capped below it with room kept for everything else.

use crate::limits::connections::{FD_RESERVE, MAX_CONNECTIONS};

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (what an unprivileged process may do) and
/// returns the soft limit in force afterwards; `None` where it cannot be read.
pub fn raise() -> Option<u64> {
    imp::raise()
}

/// The connections to serve at once: `requested`, else [`MAX_CONNECTIONS`], but never more than
/// `fd_limit` leaves room for: all but [`FD_RESERVE`] descriptors, and at most half of them.
pub fn connection_limit(fd_limit: Option<u64>, requested: Option<usize>) -> usize {
    let wanted = requested.unwrap_or(MAX_CONNECTIONS);
    let Some(fds) = fd_limit else {
        return wanted.max(1);
    };
    let room = usize::try_from(fds - FD_RESERVE.min(fds / 2)).unwrap_or(usize::MAX);
    wanted.min(room).max(1)
}

#[cfg(unix)]
mod imp {
    /// The most the kernel lets a soft limit be (Linux's default `fs.nr_open`); a hard limit of
    /// "unlimited" cannot be taken literally.
    const CEILING: u64 = 1 << 20;

    pub fn raise() -> Option<u64> {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct it is given, which lives on this stack.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return None;
        }
        let current: u64 = limit.rlim_cur;
        let target = limit.rlim_max.min(CEILING);
        if current >= target {
            return Some(current);
        }
        let raised = libc::rlimit {
            rlim_cur: target,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            tracing::debug!(
                from = current,
                to = target,
                "raised the file-descriptor limit"
            );
            Some(target)
        } else {
            tracing::warn!(
                limit = current,
                "could not raise the file-descriptor limit: {}",
                std::io::Error::last_os_error()
            );
            Some(current)
        }
    }
}

#[cfg(not(unix))]
mod imp {
    pub fn raise() -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_leave_room_for_the_database_and_files() {
        assert_eq!(
            connection_limit(Some(1024), None),
            1024 - FD_RESERVE as usize
        );
        assert_eq!(connection_limit(Some(256), None), 128);
        assert_eq!(connection_limit(Some(10), None), 5);
        assert_eq!(connection_limit(Some(1 << 20), None), MAX_CONNECTIONS);
        assert_eq!(connection_limit(None, None), MAX_CONNECTIONS);
    }

    #[test]
    fn a_requested_limit_is_kept_within_the_descriptors() {
        assert_eq!(connection_limit(Some(1 << 20), Some(10_000)), 10_000);
        assert_eq!(connection_limit(Some(1024), Some(10_000)), 896);
        assert_eq!(connection_limit(Some(1024), Some(50)), 50);
        assert_eq!(connection_limit(Some(1024), Some(0)), 1);
    }
}
