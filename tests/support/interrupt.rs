//! Interrupting terraform the way users do: Ctrl-C, which a terminal sends as SIGINT to the
//! whole foreground process group (terraform and the provider it started), and a provider
//! process killed outright (`kill -9`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::Workspace;

/// What the provider logs when StopProvider reaches it.
pub const STOP_LOGGED: &str = "stop requested";

/// A terraform command running in the background, in its own process group.
pub struct Running {
    child: Child,
    output: PathBuf,
}

impl Workspace {
    /// Starts terraform in its own process group, its output in a file, and the provider's log
    /// (info level) in [`Workspace::provider_log`].
    pub fn spawn(&self, args: &[&str]) -> Running {
        use std::os::unix::process::CommandExt;
        let output = self.path().join(format!("terraform-{}.out", args.first().copied().unwrap_or("run")));
        let file = std::fs::File::create(&output).expect("output file");
        let child = self
            .command(args)
            .env("TF_LOG_PROVIDER", "INFO")
            .env("TF_LOG_PATH", self.provider_log())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("output file"))
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("terraform must be installed and on PATH");
        Running { child, output }
    }

    pub fn provider_log(&self) -> PathBuf {
        self.path().join("provider.log")
    }
}

impl Running {
    /// Ctrl-C: SIGINT to every process of terraform's group, provider included.
    pub fn interrupt(&self) {
        signal("-INT", &format!("-{}", self.child.id()));
    }

    /// The provider plugins terraform started and still runs: its children, found through /proc.
    pub fn providers(&self) -> Vec<u32> {
        children_named(self.child.id(), "terraform-provi")
    }

    /// Waits for terraform to exit; returns its status and everything it printed.
    pub fn wait(mut self, timeout: Duration) -> (ExitStatus, String) {
        let exited = wait_until(timeout, || matches!(self.child.try_wait(), Ok(Some(_))));
        if !exited {
            let _ = self.child.kill();
        }
        let status = self.child.wait().expect("terraform status");
        let output = std::fs::read_to_string(&self.output).unwrap_or_default();
        assert!(exited, "terraform did not exit within {timeout:?}:\n{output}");
        (status, output)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `kill -9`.
pub fn kill_hard(pid: u32) {
    signal("-KILL", &pid.to_string());
}

fn signal(signal: &str, target: &str) {
    let status = Command::new("kill").args([signal, "--", target]).status().expect("kill");
    assert!(status.success(), "kill {signal} {target} failed");
}

/// Processes whose parent is `parent` and whose command name starts with `name` (the kernel
/// keeps 15 characters of it).
fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // "<pid> (<comm>) <state> <ppid> …"; comm may hold spaces and parentheses.
            let (head, tail) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1;
            let mut fields = tail.split_whitespace();
            let alive = fields.next()? != "Z";
            let ppid: u32 = fields.next()?.parse().ok()?;
            (alive && ppid == parent && comm.starts_with(name)).then_some(pid)
        })
        .collect()
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the file at `path` contains `needle`.
pub fn wait_for_text(path: &Path, needle: &str, timeout: Duration) -> bool {
    wait_until(timeout, || std::fs::read_to_string(path).is_ok_and(|text| text.contains(needle)))
}
