//! Helpers the mock's integration tests share. Each test file uses its own subset.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Client;
use stampede_mock::{MockConfig, RunningMock, Stats};

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("loopback address")
}

/// No delays, so tests that do not measure time run fast.
pub fn instant() -> MockConfig {
    MockConfig {
        latency_ms: 0.0,
        ttft_ms: 0.0,
        ..MockConfig::default()
    }
}

pub async fn stats(c: &Client, m: &RunningMock) -> Stats {
    c.get(format!("{}/stats", m.url()))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json")
}

/// Polls `/stats` until `ok` holds (bounded against hangs only).
pub async fn stats_until(c: &Client, m: &RunningMock, ok: impl Fn(&Stats) -> bool) -> Stats {
    let mut s = stats(c, m).await;
    for _ in 0..400 {
        if ok(&s) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        s = stats(c, m).await;
    }
    s
}
