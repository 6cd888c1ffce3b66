//! Runs the real `stampede-mock` binary the way scripts and e2e tests will: start it, read the
//! printed listening lines from a pipe, talk to it, stop it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_stampede-mock");
/// Generous bound against hangs only (a slow machine must not fail the test).
const PATIENCE: Duration = Duration::from_secs(60);

/// Kills the child if a test fails before stopping it.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn spawn(args: &[&str]) -> Running {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn stampede-mock");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    fn line(&self) -> String {
        self.lines.recv_timeout(PATIENCE).expect("a line on stdout")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("stampede-mock did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn url_after<'a>(line: &'a str, prefix: &str) -> &'a str {
    line.strip_prefix(prefix)
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
}

#[tokio::test]
async fn binary_prints_its_address_serves_and_stops_on_sigterm() {
    let mut mock = Running::spawn(&["--listen", "127.0.0.1:0", "--latency-ms", "0"]);
    let line = mock.line();
    let base = url_after(&line, "stampede-mock listening on http://127.0.0.1:");
    let port: u16 = base.parse().expect("port");
    assert_ne!(port, 0);

    let body: Value = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "ok");

    let status = Command::new("kill")
        .args(["-TERM", &mock.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    assert!(wait(&mut mock.child).success());
}

#[tokio::test]
async fn binary_serves_the_app_dir() {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bin-app-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create dir");
    std::fs::write(dir.join("index.html"), "<p>hi</p>").expect("write index");
    let dir_arg = dir.to_str().expect("utf-8 path");

    let mock = Running::spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--app-dir",
        dir_arg,
        "--app-listen",
        "127.0.0.1:0",
    ]);
    let first = mock.line();
    url_after(&first, "stampede-mock listening on http://127.0.0.1:");
    let second = mock.line();
    let app = url_after(&second, "stampede-mock serving app on ");
    assert!(
        app.starts_with("http://127.0.0.1:") && app.ends_with('/'),
        "{app}"
    );

    let text = reqwest::get(app)
        .await
        .expect("get app")
        .text()
        .await
        .expect("text");
    assert_eq!(text, "<p>hi</p>");
    drop(mock);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_flags_exit_with_code_2() {
    let cases: [&[&str]; 5] = [
        &["--error-rate", "1.5"],
        &["--latency-ms", "-5"],
        &["--jitter-ms", "nan"],
        &["--app-listen", "127.0.0.1:0"],
        &["--app-dir", "/nonexistent/stampede-app"],
    ];
    for args in cases {
        let mut child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        assert_eq!(wait(&mut child).code(), Some(2), "{args:?}");
    }
}
