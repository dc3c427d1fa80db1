//! Where a run's time went, by stage: cheap counters reported in the run manifest so an
//! on-call engineer can see which stage slowed down without a profiler.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

static STAGES: Mutex<BTreeMap<&'static str, Duration>> = Mutex::new(BTreeMap::new());

pub fn add(stage: &'static str, d: Duration) {
    if let Ok(mut m) = STAGES.lock() {
        *m.entry(stage).or_default() += d;
    }
}

/// Times from now until dropped into `stage`.
pub struct Stage {
    stage: &'static str,
    started: std::time::Instant,
}

impl Stage {
    pub fn start(stage: &'static str) -> Stage {
        Stage {
            stage,
            started: std::time::Instant::now(),
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        add(self.stage, self.started.elapsed());
    }
}

/// Seconds per stage since the last call, and reset.
pub fn take() -> BTreeMap<String, f64> {
    let mut m = STAGES
        .lock()
        .map(|mut m| std::mem::take(&mut *m))
        .unwrap_or_default();
    m.iter_mut()
        .map(|(k, v)| (k.to_string(), (v.as_secs_f64() * 1000.0).round() / 1000.0))
        .collect()
}

/// Resident memory of this process in MiB (Linux; 0 elsewhere), for debug logs.
pub fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096 / (1 << 20))
}
