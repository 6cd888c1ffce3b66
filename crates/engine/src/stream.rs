//! Chunk-boundary-safe decoding of streamed responses: SSE framing and NDJSON lines.
//!
//! Both parsers are push-based: feed bytes as they arrive, get complete events out. Bytes are
//! buffered until a line ends, so a chunk may split a line, a CRLF pair or a UTF-8 character
//! anywhere. No SSE crate fits this push shape without a runtime, so the parser is small and
//! tested at every byte boundary instead.

/// One complete SSE event: its `event:` type (empty when absent) and its joined `data:` lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Server-sent events per the WHATWG event-stream format (data/event fields, comments, any of
/// CRLF, LF or CR as line end, an optional leading BOM). `id` and `retry` are ignored.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    data: String,
    has_data: bool,
    event: String,
    started: bool,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) {
        self.buf.extend_from_slice(bytes);
        if !self.started && self.buf.len() >= 3 {
            if self.buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.buf.drain(..3);
            }
            self.started = true;
        }
        let mut start = 0;
        let mut i = 0;
        while i < self.buf.len() {
            match self.buf[i] {
                b'\n' => {
                    let line = self.buf[start..i].to_vec();
                    self.line(&line, out);
                    i += 1;
                    start = i;
                }
                b'\r' => {
                    // A CR at the end of the buffer may be the first half of CRLF: wait.
                    if i + 1 == self.buf.len() {
                        break;
                    }
                    let line = self.buf[start..i].to_vec();
                    self.line(&line, out);
                    i += if self.buf[i + 1] == b'\n' { 2 } else { 1 };
                    start = i;
                }
                _ => i += 1,
            }
        }
        self.buf.drain(..start);
    }

    /// End of body. Returns true when an event was left incomplete (no blank line after it);
    /// per the format such an event is discarded.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) -> bool {
        if self.buf.ends_with(b"\r") {
            let line = self.buf[..self.buf.len() - 1].to_vec();
            self.buf.clear();
            self.line(&line, out);
        }
        let pending = !self.buf.is_empty() || self.has_data;
        self.buf.clear();
        self.data.clear();
        self.has_data = false;
        pending
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        let line = String::from_utf8_lossy(line);
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    event: std::mem::take(&mut self.event),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.data.clear();
            self.event.clear();
            self.has_data = false;
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = value.to_string(),
            _ => {}
        }
    }
}

/// Newline-delimited JSON (Ollama): one value per line; blank lines are skipped.
#[derive(Debug, Default)]
pub struct NdjsonParser {
    buf: Vec<u8>,
}

impl NdjsonParser {
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<String>) {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            Self::emit(&self.buf[start..end], out);
            start = end + 1;
        }
        self.buf.drain(..start);
    }

    /// End of body: a last line without a newline still counts.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        let rest = std::mem::take(&mut self.buf);
        Self::emit(&rest, out);
    }

    fn emit(line: &[u8], out: &mut Vec<String>) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r').trim();
        if !line.is_empty() {
            out.push(line.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `input` split at every possible pair of boundaries; all results must be equal.
    fn sse_all_splits(input: &[u8]) -> (Vec<SseEvent>, bool) {
        let whole = {
            let mut p = SseParser::default();
            let mut out = Vec::new();
            p.push(input, &mut out);
            let pending = p.finish(&mut out);
            (out, pending)
        };
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let mut p = SseParser::default();
                let mut out = Vec::new();
                p.push(&input[..a], &mut out);
                p.push(&input[a..b], &mut out);
                p.push(&input[b..], &mut out);
                let pending = p.finish(&mut out);
                assert_eq!((out, pending), whole, "split at {a}, {b}");
            }
        }
        whole
    }

    fn ev(data: &str) -> SseEvent {
        SseEvent {
            event: String::new(),
            data: data.into(),
        }
    }

    #[test]
    fn sse_fields_comments_and_line_ends() {
        let input = "\u{feff}: keep-alive\r\ndata: a\r\n\r\nevent: error\rdata:b\rdata:  c\r\rid: 7\nretry: 10\ndata\n\n";
        let (out, pending) = sse_all_splits(input.as_bytes());
        assert_eq!(
            out,
            vec![
                ev("a"),
                SseEvent {
                    event: "error".into(),
                    data: "b\n c".into()
                },
                ev(""),
            ]
        );
        assert!(!pending);
    }

    #[test]
    fn sse_incomplete_last_event_is_reported_not_emitted() {
        let (out, pending) = sse_all_splits(b"data: 1\n\ndata: 2\n");
        assert_eq!(out, vec![ev("1")]);
        assert!(pending);
        let (out, pending) = sse_all_splits(b"data: 1\n\ndata: 2");
        assert_eq!(out, vec![ev("1")]);
        assert!(pending);
    }

    #[test]
    fn sse_multibyte_text_survives_any_split() {
        let input = "data: {\"t\": \"héllo — 世界 🚀\"}\n\n";
        let (out, _) = sse_all_splits(input.as_bytes());
        assert_eq!(out, vec![ev("{\"t\": \"héllo — 世界 🚀\"}")]);
    }

    #[test]
    fn ndjson_any_split() {
        let input = b"{\"a\":1}\r\n\n{\"b\":\"\xc3\xa9\"}\n{\"c\":3}";
        let mut whole = Vec::new();
        let mut p = NdjsonParser::default();
        p.push(input, &mut whole);
        p.finish(&mut whole);
        assert_eq!(whole, vec!["{\"a\":1}", "{\"b\":\"é\"}", "{\"c\":3}"]);
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let mut p = NdjsonParser::default();
                let mut out = Vec::new();
                p.push(&input[..a], &mut out);
                p.push(&input[a..b], &mut out);
                p.push(&input[b..], &mut out);
                p.finish(&mut out);
                assert_eq!(out, whole, "split at {a}, {b}");
            }
        }
    }
}
