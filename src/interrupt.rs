//! Ctrl-C (SIGINT) and SIGTERM during a run that writes to the lake. Once `watch` is called,
//! the first signal only sets a flag: the run checks it between chunks, files and dates, and
//! stops before its commit with nothing published (see `lake::publication`), saying so in one
//! line. A second signal ends the process at once, which is just as safe: an unfinished run
//! is completed or recorded as interrupted by the next one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static REQUESTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn flag() -> &'static Arc<AtomicBool> {
    REQUESTED.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Catch SIGINT and SIGTERM from now on (the CLI calls this once, before a run).
pub fn watch() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for signal in [SIGINT, SIGTERM] {
        // The second signal exits; the first sets the flag (registration order matters).
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(flag()))?;
        signal_hook::flag::register(signal, Arc::clone(flag()))?;
    }
    Ok(())
}

/// Has the run been asked to stop?
pub fn requested() -> bool {
    REQUESTED.get().is_some_and(|f| f.load(Ordering::Relaxed))
}
