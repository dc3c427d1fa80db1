//! The one background writer of table files: threads of their own encode, compress and
//! write while the caller computes the next frames (writing is mostly encoding and
//! compression). Every stage that writes in the background uses it, with one failure rule:
//! the first failed write stops all writing; the caller's next `send` says so (it should
//! stop producing), and the run reports that write's error, the cause, before any error of
//! the caller's.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Condvar, Mutex};

use polars::prelude::DataFrame;

use crate::error::{Error, Result};

/// The caller's end: hand frames to the writers, wait for them.
pub struct Writes<'a> {
    to_writers: SyncSender<(PathBuf, DataFrame)>,
    failed: &'a AtomicBool,
    sent: AtomicUsize,
    written: &'a (Mutex<usize>, Condvar),
}

impl Writes<'_> {
    /// Queue a table file (written with `lake::write_table_file`). `Err` when an earlier
    /// write failed: stop producing; `in_background` returns that write's error.
    pub fn send(&self, path: PathBuf, frame: DataFrame) -> Result<()> {
        if self.failed.load(Ordering::Relaxed) || self.to_writers.send((path, frame)).is_err() {
            return Err(stopped());
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Block until every file sent so far is written (or writing stopped).
    pub fn wait_all(&self) {
        let sent = self.sent.load(Ordering::Relaxed);
        let (count, changed) = self.written;
        let mut written = count.lock().unwrap_or_else(|p| p.into_inner());
        while *written < sent && !self.failed.load(Ordering::Relaxed) {
            written = changed.wait(written).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Runs its closure if the thread unwinds (a panic) past it.
struct OnPanic<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnPanic<F> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            (self.0)();
        }
    }
}

fn stopped() -> Error {
    Error::Failed {
        what: "writing tables".into(),
        message: "an earlier write failed".into(),
    }
}

/// Run `produce` with `threads` writers behind it, at most `queued` frames waiting between
/// them (0: each send waits for a writer to take the frame). `timing` names the writes'
/// stage in the run's timings. Returns when every file is written.
pub fn in_background<T>(
    threads: usize,
    queued: usize,
    timing: &'static str,
    produce: impl FnOnce(&Writes<'_>) -> Result<T>,
) -> Result<T> {
    let (to_writers, frames) = sync_channel::<(PathBuf, DataFrame)>(queued);
    // `None` once writing is over for good (a writer panicked): the producer's sends fail.
    let frames: Mutex<Option<Receiver<(PathBuf, DataFrame)>>> = Mutex::new(Some(frames));
    let failed = AtomicBool::new(false);
    let written = (Mutex::new(0usize), Condvar::new());
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    // A writer that panics stops all writing on its way out, so that the
                    // producer is never left waiting for it.
                    let _on_panic = OnPanic(|| {
                        // Under the count's lock, so that `wait_all` cannot miss it; then
                        // the queue is closed (after a wait for a frame another writer
                        // may be taking), so that the producer's next send fails.
                        {
                            let _count = written.0.lock().unwrap_or_else(|p| p.into_inner());
                            failed.store(true, Ordering::Relaxed);
                            written.1.notify_all();
                        }
                        frames.lock().unwrap_or_else(|p| p.into_inner()).take();
                    });
                    let mut outcome = Ok(());
                    // Until the producer is done; after a failure, frames are drained
                    // unwritten (so the producer never blocks) and the error kept. The
                    // queue is locked only to take a frame, not while writing it.
                    loop {
                        let next = match frames.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                            Some(queue) => queue.recv(),
                            None => break,
                        };
                        let Ok((path, mut df)) = next else { break };
                        if outcome.is_ok() && !failed.load(Ordering::Relaxed) {
                            let t = std::time::Instant::now();
                            outcome = super::write_table_file(&path, &mut df);
                            crate::timing::add(timing, t.elapsed());
                            if outcome.is_err() {
                                failed.store(true, Ordering::Relaxed);
                            }
                        }
                        drop(df);
                        let (count, changed) = &written;
                        *count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                        changed.notify_all();
                    }
                    outcome
                })
            })
            .collect();
        let writes = Writes {
            to_writers,
            failed: &failed,
            sent: AtomicUsize::new(0),
            written: &written,
        };
        let produced = produce(&writes);
        drop(writes);
        let mut write_error = Ok(());
        for writer in writers {
            let w = writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            write_error = write_error.and(w);
        }
        write_error.and(produced)
    })
}
