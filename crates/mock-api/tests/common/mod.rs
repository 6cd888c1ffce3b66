//! Helpers the mock's integration tests share. Each test file uses its own subset.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Client;
use serde::Deserialize;
use stampede_mock::{Faults, MockConfig, RequestLog, RunningMock, Stats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

#[derive(Deserialize)]
struct WithFaults {
    faults: Faults,
}

/// The `faults` object of `GET /stats`.
pub async fn faults(c: &Client, m: &RunningMock) -> Faults {
    let body: WithFaults = c
        .get(format!("{}/stats", m.url()))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json with faults");
    body.faults
}

/// `GET /stats/requests`.
pub async fn request_log(c: &Client, m: &RunningMock) -> RequestLog {
    c.get(format!("{}/stats/requests", m.url()))
        .send()
        .await
        .expect("request log")
        .json()
        .await
        .expect("request log json")
}

/// How a raw read of a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawEnd {
    /// The server closed the connection (FIN).
    Eof,
    /// The read failed (e.g. a TCP reset).
    Error(io::ErrorKind),
    /// Nothing more came within the time limit.
    TimedOut,
}

/// What a raw HTTP/1.1 client read from one connection.
#[derive(Debug)]
pub struct Raw {
    /// Everything before the blank line, lowercased (empty when none came).
    pub head: String,
    /// Every byte after the blank line, exactly as sent (chunk framing included).
    pub body: Vec<u8>,
    pub end: RawEnd,
}

impl Raw {
    /// The value of header `name` (lowercase), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            (n.trim() == name).then(|| v.trim())
        })
    }
}

/// Sends `request` (a whole HTTP/1.1 request) on a new connection and reads until the server
/// closes it, the read fails, or `limit` passes with nothing new. No HTTP library in between,
/// so a truncated body or an abort is seen as it is on the wire.
pub async fn raw(addr: SocketAddr, request: &str, limit: Duration) -> Raw {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    let end = loop {
        match tokio::time::timeout(limit, tcp.read(&mut buf)).await {
            Err(_) => break RawEnd::TimedOut,
            Ok(Ok(0)) => break RawEnd::Eof,
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => break RawEnd::Error(e.kind()),
        }
    };
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = match split {
        Some(i) => (&bytes[..i], bytes[i + 4..].to_vec()),
        None => (&bytes[..], Vec::new()),
    };
    Raw {
        head: String::from_utf8_lossy(head).to_lowercase(),
        body,
        end,
    }
}

/// A POST of JSON `body` to `path` that asks the server to close the connection after the
/// response, so a complete response also ends in EOF and only its framing tells the two apart.
pub fn raw_post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}
