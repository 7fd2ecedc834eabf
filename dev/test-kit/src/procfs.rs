//! What a benchmark reads about a process from /proc (Linux): its CPU time from
//! `/proc/<pid>/stat` and its resident memory from `/proc/<pid>/status`. The parsing is pure;
//! each reading is one file.

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the most it was ever resident.
    pub peak_kib: u64,
}

/// The memory of process `pid` now; `None` when it is gone or /proc says nothing.
pub fn memory(pid: u32) -> Option<Memory> {
    parse_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// The CPU time process `pid` has used so far, user and system together, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let ticks = parse_stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    Some(ticks as f64 / clock_ticks_per_second() as f64)
}

/// `VmRSS` and `VmHWM` out of a `/proc/<pid>/status` text.
pub fn parse_status(text: &str) -> Option<Memory> {
    let kib = |field: &str| -> Option<u64> {
        let line = text.lines().find_map(|l| l.strip_prefix(field))?;
        line.trim().strip_suffix("kB")?.trim().parse().ok()
    };
    Some(Memory {
        rss_kib: kib("VmRSS:")?,
        peak_kib: kib("VmHWM:")?,
    })
}

/// `utime + stime` (fields 14 and 15, in clock ticks) out of a `/proc/<pid>/stat` line. The
/// command name (field 2) is in parentheses and may hold spaces and parentheses itself, so
/// fields are counted from the last `)`.
pub fn parse_stat_ticks(text: &str) -> Option<u64> {
    let after_name = &text[text.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `sysconf(_SC_CLK_TCK)`: the unit of the times in `/proc/<pid>/stat`.
fn clock_ticks_per_second() -> i64 {
    const SC_CLK_TCK: i32 = 2;
    // SAFETY: sysconf(3) only reads a configuration value.
    let ticks = unsafe { sysconf(SC_CLK_TCK) };
    if ticks > 0 { ticks } else { 100 }
}

unsafe extern "C" {
    fn sysconf(name: i32) -> i64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_gives_resident_and_peak_memory_or_nothing_when_a_field_is_missing() {
        let cases = [
            (
                "Name:\twetix-operator\nVmHWM:\t   23456 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n",
                Some(Memory {
                    rss_kib: 12345,
                    peak_kib: 23456,
                }),
            ),
            ("Name:\tx\nVmRSS:\t 1 kB\n", None),
            ("Name:\tzombie\n", None),
            ("VmHWM:\tlots kB\nVmRSS:\t1 kB\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_status(text), want, "{text:?}");
        }
    }

    #[test]
    fn stat_ticks_are_user_plus_system_counted_after_the_command_name() {
        let tail = "S 1 2 3 4 5 6 7 8 9 10 250 40 0 0 20 0 4 0 100";
        let cases = [
            (format!("4242 (wetix-operator) {tail}"), Some(290)),
            (format!("4242 (a (b) c) {tail}"), Some(290)),
            ("4242 (short) S 1 2".to_owned(), None),
            ("no name here".to_owned(), None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_stat_ticks(&text), want, "{text:?}");
        }
    }

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        let pid = std::process::id();
        let memory = memory(pid).expect("our own /proc entry");
        assert!(memory.rss_kib > 0 && memory.peak_kib >= memory.rss_kib);
        assert!(cpu_seconds(pid).is_some_and(|s| s >= 0.0));
    }
}
