//! The operator's logs (and the emulator's and the fake server's) go to a file in the sandbox
//! directory, so the terminal shows only the sandbox's own account.

use std::{fs::File, path::Path, sync::Mutex};

use tracing_subscriber::EnvFilter;

/// The log file's name inside the sandbox directory.
pub const FILE: &str = "operator.log";

/// Sends every tracing event in the process to `dir/operator.log` (truncated first), filtered
/// by `filter` (RUST_LOG syntax). Does nothing when a subscriber is already installed.
pub fn install(dir: &Path, filter: EnvFilter) -> std::io::Result<()> {
    let file = File::create(dir.join(FILE))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init();
    Ok(())
}
