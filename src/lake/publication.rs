//! How a run publishes its files so that the lake's ledger always balances (spec README,
//! "Atomic", "Nothing lost"; events.md §4), even when the run is killed.
//!
//! A run writes every file it publishes (table partitions, quarantine, conflicts) into a
//! staging folder inside the lake, `_tmp/stage/`, laid out like the lake itself. Nothing a
//! reader sees changes until the run **commits**: it writes a journal,
//! `_runs/open/<run-id>.commit.json`, holding its final manifest and the list of staged
//! files, and only then renames each file into place and writes `_runs/<run-id>.json`.
//!
//! - Killed before the commit: no table changed. At its start the run recorded its intent,
//!   `_runs/open/<run-id>.started.json` (the manifest that stands for it should it never
//!   commit: outcome `interrupted`, every file `interrupted`, no counts); the next run on the
//!   lake turns that into the run's manifest and throws the staging folder away. The next
//!   ingest of the same files reads them again, so every record is counted once.
//! - Killed during the commit: the journal is complete, so the next run finishes the
//!   renames and writes the manifest the journal holds (roll forward).
//!
//! Either way, after any completed run, Σ accepted − Σ replaced over all manifests equals
//! the rows of `events`, and the tables equal those of a run that was never interrupted.
//!
//! Run ids are unique: the wall-clock start to the millisecond, the command, 8 hex digits of
//! what the run read, and a counter should one exist already; manifests are created, never
//! replaced.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::manifest::RunManifest;
use super::{write_bytes_atomically, Lake};
use crate::error::{read_err, write_err, Result};

/// A run's files in the staging folder, until it commits.
pub struct Publication {
    lake: Lake,
    stage: Lake,
    run_id: String,
    /// Files of the lake the commit removes (a draft document replaced by a final one).
    removals: std::sync::Mutex<Vec<String>>,
}

/// The commit record: the manifest and every staged file, by its path inside the lake.
#[derive(Serialize, Deserialize)]
struct CommitJournal {
    manifest: RunManifest,
    files: Vec<String>,
    /// Paths inside the lake removed after the renames.
    #[serde(default)]
    removed: Vec<String>,
}

fn open_dir(lake: &Lake) -> PathBuf {
    lake.runs_dir().join("open")
}

fn stage_root(lake: &Lake) -> PathBuf {
    lake.scratch_dir().join("stage")
}

impl Publication {
    /// Begin a run (under the lake's lock): reserve a run id unique in `_runs/` and record
    /// `intent`, the manifest that stands for the run if it never commits. `digest` names
    /// what the run reads (8 hex digits of it go into the id).
    pub fn begin(lake: &Lake, command: &str, digest: &str, intent: RunManifest) -> Result<Self> {
        let run_id = new_run_id(lake, command, digest)?;
        let open = open_dir(lake);
        fs::create_dir_all(&open).map_err(write_err(&open))?;
        let intent = RunManifest {
            run_id: run_id.clone(),
            ..intent
        };
        write_json(&open.join(format!("{run_id}.started.json")), &intent)?;
        let stage = Lake::new(stage_root(lake));
        fs::create_dir_all(&stage.root).map_err(write_err(&stage.root))?;
        Ok(Publication {
            lake: lake.clone(),
            stage,
            run_id,
            removals: Default::default(),
        })
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Where the run writes what it publishes: a lake laid out like the real one.
    pub fn stage(&self) -> &Lake {
        &self.stage
    }

    /// Remove `path_in_lake` (relative, `/` separators) when the run commits, not before.
    pub fn remove_on_commit(&self, path_in_lake: String) {
        self.removals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path_in_lake);
    }

    /// The commit: journal first, then every staged file renamed into place, then the
    /// manifest. From the journal on, the run completes even if this process dies.
    pub fn commit(self, manifest: &RunManifest) -> Result<()> {
        let mut files = Vec::new();
        collect_files(&self.stage.root, &self.stage.root, &mut files)?;
        files.sort();
        let mut removed =
            std::mem::take(&mut *self.removals.lock().unwrap_or_else(|e| e.into_inner()));
        removed.sort();
        removed.dedup();
        let journal = CommitJournal {
            manifest: RunManifest {
                run_id: self.run_id.clone(),
                ..manifest.clone()
            },
            files,
            removed,
        };
        // Everything staged reaches the disk before the journal says it is there: one flush
        // of the file system, not an fsync per file (staged files are written unsynced).
        sync_file_system(&self.stage.root)?;
        let path = open_dir(&self.lake).join(format!("{}.commit.json", self.run_id));
        write_json(&path, &journal)?;
        finish_commit(&self.lake, &journal)?;
        let _ = fs::remove_dir_all(&self.stage.root);
        // The scratch folder too, if nothing else is left in it (still under the lock).
        let _ = fs::remove_dir(self.lake.scratch_dir());
        Ok(())
    }

    /// Stop without publishing anything: `manifest` (its outcome says why) becomes the run's
    /// record, and the staged files are thrown away.
    pub fn abandon(self, manifest: &RunManifest) -> Result<()> {
        let _ = fs::remove_dir_all(&self.stage.root);
        let _ = fs::remove_dir(self.lake.scratch_dir());
        let manifest = RunManifest {
            run_id: self.run_id.clone(),
            ..manifest.clone()
        };
        create_manifest(&self.lake, &manifest)?;
        let started = open_dir(&self.lake).join(format!("{}.started.json", self.run_id));
        fs::remove_file(&started).map_err(write_err(&started))?;
        remove_open_dir_if_empty(&self.lake);
        Ok(())
    }
}

/// Complete what interrupted runs left (under the lock, before anything else touches the
/// lake): a committed run's renames and manifest are finished; a run that never committed
/// gets its `interrupted` manifest. Returns one line per run, for the log.
pub fn recover(lake: &Lake) -> Result<Vec<String>> {
    let open = open_dir(lake);
    let mut names: Vec<String> = match fs::read_dir(&open) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_err(&open)(e)),
    };
    names.sort();
    let mut said = Vec::new();
    for name in &names {
        if let Some(run_id) = name.strip_suffix(".commit.json") {
            let path = open.join(name);
            let text = fs::read_to_string(&path).map_err(read_err(&path))?;
            // Written atomically: a journal that exists is whole.
            let journal: CommitJournal =
                serde_json::from_str(&text).map_err(|e| crate::error::Error::Data {
                    path: path.clone(),
                    line: e.line() as u64,
                    message: format!("unreadable commit journal: {e}"),
                })?;
            finish_commit(lake, &journal)?;
            said.push(format!(
                "run {run_id} was interrupted while publishing: its publication is now complete"
            ));
        }
    }
    for name in &names {
        if let Some(run_id) = name.strip_suffix(".started.json") {
            let path = open.join(name);
            if !path.exists() {
                continue; // its commit, just finished, removed it
            }
            let text = fs::read_to_string(&path).map_err(read_err(&path))?;
            if let Ok(intent) = serde_json::from_str::<RunManifest>(&text) {
                create_manifest(lake, &intent)?;
            }
            fs::remove_file(&path).map_err(write_err(&path))?;
            remove_open_dir_if_empty(lake);
            said.push(format!(
                "run {run_id} was interrupted before publishing: nothing of it reached the \
                 tables; it is recorded as interrupted and its files will be read again"
            ));
        }
    }
    Ok(said)
}

/// Flush every written file of the file system holding `dir` to disk (Linux `syncfs`;
/// elsewhere `sync`).
fn sync_file_system(dir: &Path) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let d = fs::File::open(dir).map_err(read_err(dir))?;
        // SAFETY: `d` is an open descriptor for the duration of the call.
        if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
            return Err(write_err(dir)(std::io::Error::last_os_error()));
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        // SAFETY: sync takes no arguments and cannot fail.
        unsafe { libc::sync() };
    }
    Ok(())
}

/// Write a file into a run's staging folder: no temporary name and no fsync, because no
/// reader sees the stage and the commit flushes it whole before its journal
/// ([`Publication::commit`]). The folder must exist.
pub fn write_staged(dest: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(dest, bytes).map_err(write_err(dest))
}

/// Rename every staged file into place (those already moved are skipped), write the
/// manifest, drop the journal and the intent.
fn finish_commit(lake: &Lake, journal: &CommitJournal) -> Result<()> {
    let stage = stage_root(lake);
    let mut dirs = std::collections::BTreeSet::new();
    for rel in &journal.files {
        let from = stage.join(rel);
        let to = lake.root.join(rel);
        if !from.exists() {
            continue; // moved before the interruption
        }
        let dir = to.parent().unwrap_or(&lake.root).to_path_buf();
        if !dirs.contains(&dir) {
            if rel.starts_with("_restricted") {
                lake.restricted_dir()?;
            }
            fs::create_dir_all(&dir).map_err(write_err(&dir))?;
        }
        fs::rename(&from, &to).map_err(write_err(&to))?;
        dirs.insert(dir);
    }
    for rel in &journal.removed {
        let path = lake.root.join(rel);
        match fs::remove_file(&path) {
            Ok(()) => {
                dirs.insert(path.parent().unwrap_or(&lake.root).to_path_buf());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {} // removed before
            Err(e) => return Err(write_err(&path)(e)),
        }
    }
    for dir in dirs {
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
    }
    create_manifest(lake, &journal.manifest)?;
    let open = open_dir(lake);
    for suffix in ["commit", "started"] {
        let path = open.join(format!("{}.{suffix}.json", journal.manifest.run_id));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(write_err(&path)(e)),
        }
    }
    remove_open_dir_if_empty(lake);
    Ok(())
}

/// `_runs/open/` exists only while a run is open (or was left open by a crash).
fn remove_open_dir_if_empty(lake: &Lake) {
    let _ = fs::remove_dir(open_dir(lake));
}

/// `20251010T061512.345Z-ingest-1a2b3c4d`: sortable by when the run started, unique in
/// `_runs/` (a counter is added in the rare case the name is taken: two runs within one
/// millisecond reading the same inputs).
pub fn new_run_id(lake: &Lake, command: &str, digest: &str) -> Result<String> {
    let base = format!(
        "{}-{command}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        &digest[..8.min(digest.len())]
    );
    let taken = |id: &str| {
        lake.runs_dir().join(format!("{id}.json")).exists()
            || open_dir(lake).join(format!("{id}.started.json")).exists()
            || open_dir(lake).join(format!("{id}.commit.json")).exists()
    };
    let mut id = base.clone();
    let mut n = 1;
    while taken(&id) {
        n += 1;
        id = format!("{base}-{n}");
    }
    Ok(id)
}

/// Create `_runs/<run-id>.json`, never replacing one: the record of a run is never lost to
/// another's. An identical manifest already there (a journal finished twice) is fine.
pub fn create_manifest(lake: &Lake, manifest: &RunManifest) -> Result<()> {
    let dir = lake.runs_dir();
    fs::create_dir_all(&dir).map_err(write_err(&dir))?;
    let dest = dir.join(format!("{}.json", manifest.run_id));
    if dest.exists() {
        return Ok(());
    }
    let tmp = dir.join(format!(
        ".{}.json.new-{}",
        manifest.run_id,
        std::process::id()
    ));
    write_json(&tmp, manifest)?;
    // A hard link creates `dest` only if no file has that name (create-new, atomically).
    let linked = fs::hard_link(&tmp, &dest);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A file system without hard links: under the lake's lock nothing else writes here.
        Err(_) => write_json(&dest, manifest),
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(value).expect("manifests serialise");
    json.push(b'\n');
    write_bytes_atomically(path, &json)
}

/// Every file under `dir`, as its path relative to `root` with `/` separators.
fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(read_err(dir)(e)),
    };
    for entry in entries {
        let path = entry.map_err(read_err(dir))?.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).expect("under the staging root");
            out.push(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    Ok(())
}
