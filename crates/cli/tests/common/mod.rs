//! Helpers the CLI's tests share: the mock in this process on loopback, the built `stampede`
//! binary, the report and its schema.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use stampede_engine::Report;
use stampede_mock::{MockConfig, RunningMock, Stats, Tls};
use tokio::runtime::Runtime;

/// Tests that time requests run one at a time, so they do not load the machine for each other.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The mock on its own runtime (two threads), serving while the test runs the CLI.
pub struct Mock {
    pub rt: Runtime,
    pub mock: RunningMock,
    pub url: String,
    /// The PEM of its self-signed certificate, when it serves HTTPS.
    pub cert: Option<String>,
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

impl Mock {
    pub fn start(cfg: MockConfig) -> Mock {
        let rt = runtime();
        let mock = rt
            .block_on(stampede_mock::start(cfg, &["127.0.0.1:0".parse().unwrap()]))
            .expect("mock starts");
        let url = mock.url();
        Mock {
            rt,
            mock,
            url,
            cert: None,
        }
    }

    pub fn start_tls(cfg: MockConfig) -> Mock {
        let rt = runtime();
        let tls = Tls::self_signed(&[]).expect("certificate");
        let mock = rt
            .block_on(stampede_mock::start_tls(
                cfg,
                &["127.0.0.1:0".parse().unwrap()],
                &tls,
            ))
            .expect("mock starts");
        let url = mock.url();
        Mock {
            rt,
            mock,
            url,
            cert: Some(tls.cert_pem().to_string()),
        }
    }

    pub fn stats(&self) -> Stats {
        let url = format!("{}/stats", self.url);
        let text = self.rt.block_on(async {
            reqwest::get(url)
                .await
                .expect("stats")
                .text()
                .await
                .expect("stats body")
        });
        serde_json::from_str(&text).expect("stats JSON")
    }

    /// Median latency of `n` requests of the seed body from a bare reqwest loop, `c` at a
    /// time: what the same HTTP stack sees without the engine. It runs as the CLI does, on a
    /// current-thread runtime of its own thread, so its responses wake a sleeping thread as
    /// the CLI's do (on the mock's own runtime they would not, and read faster on a loaded
    /// machine).
    pub fn bare_median(&self, c: usize, n: usize) -> f64 {
        let url = format!("{}/generate", self.url);
        let mut times = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let client = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client");
            let worker = |_| {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    let mut times = Vec::new();
                    for _ in 0..n / c {
                        let t = Instant::now();
                        let resp = client
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(SEED_BODY)
                            .send()
                            .await
                            .expect("send");
                        resp.bytes().await.expect("body");
                        times.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    times
                }
            };
            let all = rt.block_on(futures::future::join_all((0..c).map(worker)));
            all.concat()
        })
        .join()
        .expect("bare loop");
        median(&mut times)
    }
}

pub const SEED_BODY: &str = r#"{"prompt": "Explain the concept of machine learning in detail.", "max_length": 50, "temperature": 0.7, "do_sample": true}"#;

/// Nearest-rank median, as the engine computes it.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[(values.len().div_ceil(2)).max(1) - 1]
}

/// Runs `stampede ARGS` to its end (bounded: a hung child fails the test).
pub fn stampede(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("stampede runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("stampede {args:?} ran over 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh temporary directory for one test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stampede-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The report at `path`: read by the engine's importer and checked against the JSON Schema.
pub fn read_report(path: &Path) -> (Report, Value) {
    let text = std::fs::read_to_string(path).expect("report written");
    let report = Report::from_json(&text).expect("the page's importer reads it");
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    let schema_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schema/report.schema.json"
    );
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("schema")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    (report, doc)
}
