//! A child process (the operator binary) whose stdout and stderr are kept in one log as they
//! arrive, for assertions and for failure messages; stopped with SIGTERM as a pod is.

use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// A running (or exited) child with its output so far.
#[derive(Debug)]
pub struct Process {
    child: tokio::process::Child,
    logs: Arc<Mutex<String>>,
}

impl Process {
    /// Spawns `command`, whose stdout and stderr must be piped (as [`crate::operator::command`]
    /// sets them), and starts collecting both.
    pub fn spawn(mut command: tokio::process::Command) -> std::io::Result<Process> {
        let mut child = command.spawn()?;
        let logs = Arc::new(Mutex::new(String::new()));
        let streams: [Option<Box<dyn AsyncRead + Unpin + Send>>; 2] = [
            child.stderr.take().map(|s| Box::new(s) as _),
            child.stdout.take().map(|s| Box::new(s) as _),
        ];
        for stream in streams.into_iter().flatten() {
            let logs = logs.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut logs = logs.lock().unwrap_or_else(|e| e.into_inner());
                    logs.push_str(&line);
                    logs.push('\n');
                }
            });
        }
        Ok(Process { child, logs })
    }

    /// Its process id while it runs (the wrapper's, under `WETIX_OPERATOR_WRAPPER`).
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Everything it wrote so far, stderr and stdout interleaved by line.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits up to `within` until the log shows `needle` (the last lines of an exited process
    /// may still be on their way through the pipe); whether it did.
    pub async fn wait_log(&self, needle: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !self.logs().contains(needle) {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// Waits up to `within` until `read` finds what it looks for in the log so far.
    pub async fn wait_log_for<T>(
        &self,
        read: impl Fn(&str) -> Option<T>,
        within: Duration,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(found) = read(&self.logs()) {
                return Some(found);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGTERM and waits up to `within` for the exit; `None` if it is still running.
    pub async fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            // SAFETY: kill(2) on our own child's pid, which stays ours until we reap it.
            unsafe { kill(pid, SIGTERM) };
        }
        self.wait_exit(within).await
    }

    /// Sends SIGKILL and waits up to `within` for the exit.
    pub async fn kill(&mut self, within: Duration) -> Option<ExitStatus> {
        let _ = self.child.start_kill();
        self.wait_exit(within).await
    }

    /// Waits up to `within` for the process to exit.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Resident memory now and at its peak, from /proc: `RSS 12345 kB (peak 23456 kB)`.
    pub fn memory(&self) -> String {
        let status = self
            .child
            .id()
            .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map_or_else(|| "?".to_owned(), |v| v.trim().to_owned())
        };
        format!("RSS {} (peak {})", field("VmRSS:"), field("VmHWM:"))
    }
}

const SIGTERM: i32 = 15;

unsafe extern "C" {
    fn kill(pid: i32, signal: i32) -> i32;
}
