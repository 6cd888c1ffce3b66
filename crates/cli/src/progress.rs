//! Progress on stderr: a bar per stage on a terminal, plain lines otherwise (CI logs). The
//! summary goes to stdout through [`Progress::print`], so a bar never garbles it.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use stampede_engine::StageSpec;

/// In plain mode, a line at most this often while a stage runs.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    terminal: bool,
    stages: usize,
    done: u64,
    total: u64,
    last_line: Instant,
}

impl Progress {
    pub fn new(terminal: bool, stages: usize) -> Progress {
        Progress {
            bar: None,
            terminal,
            stages,
            done: 0,
            total: 0,
            last_line: Instant::now(),
        }
    }

    /// `warmups` requests go out before the stage's own.
    pub fn stage_started(&mut self, index: usize, spec: &StageSpec, warmups: u32) {
        self.done = 0;
        self.total = u64::from(spec.requests) + u64::from(warmups);
        self.last_line = Instant::now();
        let shape = spec.shape_label();
        let warm = if warmups > 0 {
            format!(" (+{warmups} warm-up)")
        } else {
            String::new()
        };
        let title = format!(
            "stage {}/{}: {}, {shape}, {}{warm}",
            index + 1,
            self.stages,
            spec.name,
            spec.length_label()
        );
        if !self.terminal {
            eprintln!("{title}");
            return;
        }
        // A stage by time has no count to fill: its bar shows requests done and the clock.
        let (bar, template) = match spec.duration_s {
            Some(d) => (
                ProgressBar::new_spinner(),
                format!("{{prefix}} {{spinner}} {{pos}} done {{per_sec}} {{elapsed}}/{d}s {{msg}}"),
            ),
            None => (
                ProgressBar::new(self.total),
                "{prefix} [{bar:24}] {pos}/{len} {per_sec} {elapsed} {msg}".to_string(),
            ),
        };
        let style = ProgressStyle::with_template(&template)
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(format!("stage {}/{}", index + 1, self.stages));
        bar.println(title);
        self.bar = Some(bar);
    }

    /// A request ended; `in_flight` are still out.
    pub fn request_ended(&mut self, in_flight: u32) {
        self.done += 1;
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(format!("{in_flight} in flight"));
            }
            None if self.last_line.elapsed() >= PLAIN_EVERY => {
                self.last_line = Instant::now();
                eprintln!("  {}/{} done, {in_flight} in flight", self.done, self.total);
            }
            None => {}
        }
    }

    pub fn stage_finished(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// A line on stdout, drawn around the bar.
    pub fn print(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{text}")),
            None => println!("{text}"),
        }
    }

    /// A line on stderr, drawn around the bar.
    pub fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }
}
