//! `stampede`: the page's load test from the command line. The same engine (config, validation,
//! runner, parsing, statistics, report) through a native [`transport::NativeTransport`]:
//!
//! ```text
//! flags (+ --config file) ──Cli::apply──▶ RunConfig ──validate()──▶ Plan
//!   ──run(plan, &NativeTransport, commands, gauges, emit)──▶ Event ──▶ Aggregator
//!   ──▶ per-stage summary (stdout), --csv, --output (the page's report schema)
//! ```
//!
//! `stampede export locust|k6` writes the same test for a distributed engine through the
//! engine's `handoff` (what the page's export buttons write) instead of running it.
//!
//! Exit codes: 0 the run finished, 2 bad usage or config (the message names the flag), 130
//! stopped by Ctrl-C. 1 is kept for SLO failures once Stampede has SLOs.

mod args;
mod progress;
mod summary;
mod transport;

use std::cell::Cell;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use futures::channel::mpsc;
use stampede_engine::{
    Aggregator, Client, Command, Environment, Event, Gauges, Plan, Report, Verdict,
};

use args::{Action, Cli, Handoff, Usage};
use progress::Progress;
use transport::NativeTransport;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The exit code of a run stopped by Ctrl-C: 128 + SIGINT, as shells report it.
const STOPPED: u8 = 130;

/// "170 requests", "60 s", or "50 requests + 60 s" for a plan with stages by time.
fn plan_length(stages: &[stampede_engine::StageSpec]) -> String {
    let requests: u64 = stages.iter().map(|s| u64::from(s.requests)).sum();
    let seconds: u64 = stages
        .iter()
        .filter_map(|s| s.duration_s)
        .map(u64::from)
        .sum();
    match (requests, seconds) {
        (r, 0) => format!("{r} requests"),
        (0, s) => format!("{s} s"),
        (r, s) => format!("{r} requests + {s} s"),
    }
}

fn main() -> ExitCode {
    // clap prints its own usage errors and exits 2; --help and --version exit 0.
    let cli = Cli::parse_from_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let done = match cli.action {
        Some(Action::Export { engine }) => export(&cli, engine),
        None => run(&cli),
    };
    match done {
        Ok(code) => code,
        Err(Usage(message)) => {
            for line in message.lines() {
                eprintln!("stampede: {line}");
            }
            ExitCode::from(2)
        }
    }
}

/// A file named by a flag, created before the run so a bad path fails at once, not after it.
fn create(flag: &str, path: &Path) -> Result<File, Usage> {
    File::create(path).map_err(|e| Usage(format!("{flag} {}: {e}", path.display())))
}

/// `stampede export ENGINE`: the test as the page's hand-off button writes it, to --output or
/// stdout. The API key and secret header values stay in the config only so the file names the
/// environment variables it reads; the engine never writes them into the text.
fn export(cli: &Cli, engine: Handoff) -> Result<ExitCode, Usage> {
    for (flag, given) in [
        ("--csv", cli.csv.is_some()),
        ("--cacert", cli.cacert.is_some()),
    ] {
        if given {
            return Err(Usage(format!(
                "{flag}: only for a run, not for `export` (the exported file runs elsewhere)"
            )));
        }
    }
    let (config, warnings) = cli.apply(cli.base_config()?)?;
    for w in warnings {
        eprintln!("stampede: warning: {w}");
    }
    let text = match engine {
        Handoff::Locust => stampede_engine::locustfile(&config),
        Handoff::K6 => stampede_engine::k6_script(&config),
    }
    .map_err(|e| args::describe(&e))?;
    match &cli.output {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|e| Usage(format!("--output {}: {e}", path.display())))?;
            eprintln!(
                "{} written to {}",
                match engine {
                    Handoff::Locust => "Locust file",
                    Handoff::K6 => "k6 script",
                },
                path.display()
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| Usage(format!("cannot write to stdout: {e}")))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run(cli: &Cli) -> Result<ExitCode, Usage> {
    let (config, warnings) = cli.apply(cli.base_config()?)?;
    for w in warnings {
        eprintln!("stampede: warning: {w}");
    }
    let plan = config.validate().map_err(|e| args::describe(&e))?;
    let output = match &cli.output {
        Some(p) => Some((p.clone(), create("--output", p)?)),
        None => None,
    };
    let csv_path = cli.csv.clone();
    if let Some(p) = &csv_path {
        create("--csv", p)?;
    }
    let client = http_client(cli.cacert.as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Usage(format!("cannot start the async runtime: {e}")))?;
    let created_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let started = Instant::now();
    println!(
        "Stampede {VERSION}: {} {} ({}), {} stage(s), {}",
        plan.shape().method,
        plan.urls().join(", "),
        config.preset.id(),
        plan.stages().len(),
        plan_length(plan.stages())
    );
    let local = tokio::task::LocalSet::new();
    let (agg, stopped) = local.block_on(&runtime, drive(&plan, NativeTransport::new(client)));
    let environment = environment();
    let report = Report::head(created_at, &config, environment, stopped, &agg);
    println!(
        "{} after {:.1} s",
        if stopped {
            "Stopped (Ctrl-C)"
        } else {
            "Finished"
        },
        started.elapsed().as_secs_f64()
    );
    if let Some((path, file)) = output {
        write_report(&path, file, &report, &agg)?;
        eprintln!("report written to {}", path.display());
    }
    if let Some(path) = csv_path {
        summary::write_csv(&path, &report.stages).map_err(Usage)?;
        eprintln!("CSV written to {}", path.display());
    }
    let failed_slo = report.slo.as_ref().map(|slo| {
        println!("SLO: {}", slo.verdict.label());
        for st in &slo.stages {
            let v = &st.verdict;
            let why = v.reasons();
            println!(
                "  stage {}: {}{}",
                st.stage + 1,
                v.verdict.label(),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({why})")
                }
            );
        }
        slo.verdict == Verdict::Fail
    });
    Ok(if stopped {
        ExitCode::from(STOPPED)
    } else if failed_slo == Some(true) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// No client-wide timeout (each request has the plan's) and no proxy from the environment,
/// which would put another hop between the load and the server.
fn http_client(cacert: Option<&Path>) -> Result<reqwest::Client, Usage> {
    let mut builder = reqwest::Client::builder()
        .user_agent(format!("stampede/{VERSION}"))
        .no_proxy()
        .tcp_nodelay(true);
    if let Some(path) = cacert {
        let fail = |e: String| Usage(format!("--cacert {}: {e}", path.display()));
        let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| fail(e.to_string()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| Usage(format!("cannot set up the HTTP client: {e}")))
}

/// Run the plan to its end or to Ctrl-C (which stops like the page's Stop: in-flight requests
/// end `aborted`, finished ones are kept). A second Ctrl-C exits at once.
async fn drive(plan: &Plan, transport: NativeTransport) -> (Aggregator, bool) {
    let (tx, rx) = mpsc::unbounded();
    let stopping = Rc::new(Cell::new(false));
    let flag = stopping.clone();
    tokio::task::spawn_local(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.set(true);
            let _ = tx.unbounded_send(Command::Stop);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(i32::from(STOPPED));
            }
        }
    });
    let gauges = Gauges::default();
    let mut agg =
        Aggregator::with_targets(plan.stages().to_vec(), plan.urls().to_vec()).native_client();
    let mut progress = Progress::new(std::io::stderr().is_terminal(), plan.stages().len());
    let mut stopped = false;
    let mut noted_stop = false;
    stampede_engine::run(plan, &transport, rx, &gauges, |event| match event {
        Event::StageStarted { stage, .. } => {
            let i = stage as usize;
            if let Some(spec) = plan.stages().get(i) {
                progress.stage_started(i, spec, plan.warmup_count(i));
            }
        }
        Event::Sample(sample) => {
            agg.push(*sample);
            if stopping.get() && !noted_stop {
                noted_stop = true;
                progress.note("stopping: aborting the requests in flight (Ctrl-C again to quit)");
            }
            progress.request_ended(gauges.in_flight().iter().sum());
        }
        Event::Protocol {
            target, protocol, ..
        } => agg.set_protocol(target as usize, protocol),
        Event::StageFinished {
            stage,
            max_in_flight,
            dropped,
            ..
        } => {
            agg.stage_ended(stage as usize, max_in_flight, dropped);
            progress.stage_finished();
            if let Some(st) = agg.stage(stage as usize) {
                progress.print(&summary::stage_text(&st));
            }
        }
        Event::RunFinished { stopped: s, .. } => stopped = s,
    })
    .await;
    (agg, stopped)
}

/// The native client in the report's terms: no page, so no origin, worker or hidden tab.
fn environment() -> Environment {
    let os = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    Environment {
        user_agent: format!("stampede/{VERSION} ({os})"),
        timer_resolution_ms: Some(timer_resolution_ms()),
        client: Some(Client {
            kind: "native".into(),
            version: format!("{VERSION} ({os})"),
        }),
        ..Environment::default()
    }
}

/// The smallest step of the monotonic clock seen in a short loop, in ms (nanoseconds on
/// Linux), as the page measures `performance.now()`.
fn timer_resolution_ms() -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..1000 {
        let a = Instant::now();
        let mut b = Instant::now();
        while b == a {
            b = Instant::now();
        }
        best = best.min((b - a).as_secs_f64() * 1000.0);
    }
    best
}

/// The report in the pieces the page also writes, so it is never one string.
fn write_report(path: &Path, file: File, report: &Report, agg: &Aggregator) -> Result<(), Usage> {
    let fail = |e: std::io::Error| Usage(format!("--output {}: {e}", path.display()));
    let mut w = BufWriter::new(file);
    for part in report.export_parts(agg.samples()) {
        w.write_all(part.as_bytes()).map_err(fail)?;
    }
    w.flush().map_err(fail)
}
