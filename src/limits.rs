//! Process resource limits the long-running servers raise at start.
//!
//! A server inherits the soft `RLIMIT_NOFILE` of whoever started it, often
//! 1024 even when the hard limit is far higher; at 1,024 open sockets a
//! tracker or seeder stops accepting and good clients time out. The soft
//! limit is raised to the hard limit, which needs no privilege. Unix only;
//! elsewhere a no-op.

/// The soft open-file limit before and after [`raise_fd_limit`]
/// (`None`: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit. On failure the error
/// names the limit; callers warn and carry on with what they have.
#[cfg(unix)]
pub fn raise_fd_limit() -> std::io::Result<FdLimit> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current;
    if before == limit.maximum {
        return Ok(FdLimit {
            before,
            after: before,
        });
    }
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    if let Err(err) = setrlimit(Resource::Nofile, raised) {
        // macOS reports an unlimited hard limit but refuses it above OPEN_MAX.
        let fallback = Rlimit {
            current: Some(10_240).max(before),
            maximum: limit.maximum,
        };
        setrlimit(Resource::Nofile, fallback).map_err(|_| {
            std::io::Error::other(format!(
                "cannot raise the open-file limit (RLIMIT_NOFILE) from {} to {}: {err}",
                show(before),
                show(limit.maximum)
            ))
        })?;
    }
    Ok(FdLimit {
        before,
        after: getrlimit(Resource::Nofile).current,
    })
}

/// Raises the soft open-file limit (nothing to do on this platform).
#[cfg(not(unix))]
pub fn raise_fd_limit() -> std::io::Result<FdLimit> {
    Ok(FdLimit {
        before: None,
        after: None,
    })
}

#[cfg(unix)]
fn show(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".into(), |n| n.to_string())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_reaches_the_hard_limit() {
        let limit = raise_fd_limit().expect("raising to the hard limit needs no privilege");
        let now = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(limit.after, now.current);
        assert!(now.current >= limit.before);
        // Idempotent.
        assert_eq!(raise_fd_limit().unwrap().before, limit.after);
    }
}
