//! `process_*` metrics read from `/proc/self` (Linux). On other systems only the start time
//! is known; the rest are left out rather than faked.

/// The process figures Prometheus client libraries conventionally export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessStats {
    /// `process_cpu_seconds_total`.
    pub cpu_seconds: Option<f64>,
    /// `process_resident_memory_bytes`.
    pub resident_memory_bytes: Option<f64>,
    /// `process_virtual_memory_bytes`.
    pub virtual_memory_bytes: Option<f64>,
    /// `process_open_fds`.
    pub open_fds: Option<f64>,
    /// `process_max_fds`.
    pub max_fds: Option<f64>,
    /// `process_start_time_seconds`.
    pub start_time_seconds: f64,
}

/// Reads the current figures. `start_time_seconds` is passed in: it is recorded at startup.
pub fn read(start_time_seconds: f64) -> ProcessStats {
    let mut s = ProcessStats { start_time_seconds, ..Default::default() };
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name, which is in parentheses and may contain spaces.
        if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = 100.0; // USER_HZ is 100 on every Linux architecture Prometheus runs on
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
            // utime is field 14 and stime 15 of stat(5); `f` starts at field 3.
            if let (Some(u), Some(st)) = (num(11), num(12)) {
                s.cpu_seconds = Some((u + st) / ticks);
            }
            s.virtual_memory_bytes = num(20);
            s.resident_memory_bytes = num(21).map(|pages| pages * 4096.0);
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        {
            s.resident_memory_bytes = Some(kb * 1024.0);
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        s.open_fds = Some(dir.count() as f64);
    }
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
        s.max_fds = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse().ok());
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process() {
        let s = super::read(1.0);
        assert!(s.resident_memory_bytes.unwrap() > 1024.0 * 1024.0);
        assert!(s.open_fds.unwrap() >= 3.0);
        assert!(s.max_fds.unwrap() >= s.open_fds.unwrap());
        assert!(s.cpu_seconds.unwrap() >= 0.0);
        assert!(s.virtual_memory_bytes.unwrap() >= s.resident_memory_bytes.unwrap());
    }
}
