//! `msgmeter demo`: the main job on generated sample traffic (see `crate::demo`).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{Context, Outcome};
use crate::error::Result;

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  msgmeter demo --out reports/demo")]
pub struct DemoArgs {
    /// Folder for the demo's landing files and lake (recreated)
    #[arg(long, default_value = "reports/demo")]
    pub out: PathBuf,
}

pub fn run(a: DemoArgs, ctx: Context, stdout: &mut dyn Write) -> Result<Outcome> {
    let settings = ctx.settings(|_| {})?;
    Ok(Outcome::from_success(crate::demo::run(
        &a.out, &settings, stdout,
    )?))
}
