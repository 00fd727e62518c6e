//! The measured server process, seen through `/proc`: CPU time (`/proc/<pid>/stat` utime +
//! stime), resident memory (`/proc/<pid>/status` VmRSS), and finding the process that listens
//! on a port (`/proc/net/tcp` → socket inode → `/proc/*/fd`).

use std::fs;
use std::process::Command;
use std::sync::OnceLock;

/// A snapshot of one process's resource use.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// User + system CPU time, in microseconds (clock-tick resolution, usually 10 ms).
    pub cpu_us: u64,
    /// Resident set size, in KiB.
    pub rss_kib: u64,
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux unless told otherwise).
fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100)
    })
}

/// Reads the CPU time and RSS of `pid` (or of this process with `None`).
pub fn usage(pid: Option<u32>) -> Option<Usage> {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}"),
        None => "/proc/self".to_string(),
    };
    let stat = fs::read_to_string(format!("{dir}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = fs::read_to_string(format!("{dir}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0);
    Some(Usage {
        cpu_us: ticks * 1_000_000 / clock_ticks(),
        rss_kib,
    })
}

/// The pid of the process listening on TCP `port` (IPv4 or IPv6), if it can be found.
pub fn pid_listening_on(port: u16) -> Option<u32> {
    let wanted = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is column 1, state column 3 (0A = LISTEN), inode column 9.
            if cols.len() > 9 && cols[1].ends_with(&wanted) && cols[3] == "0A" {
                inodes.push(format!("socket:[{}]", cols[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = fs::read_link(fd.path())
                && inodes
                    .iter()
                    .any(|inode| link.as_os_str() == inode.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}

/// Raises this process's open-files soft limit to its hard limit; returns the new limit.
/// Children started afterwards inherit it.
pub fn raise_nofile_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024),
    }
}
