//! `cargo xtask <command>`: install the pinned tools, build, serve and test Stampede.
//!
//! Plain std plus `serde_json` (to read `cargo metadata`). Every command runs from the workspace
//! root, wherever it is invoked from. Tool pins (DESIGN.md section 7): trunk 0.21.14,
//! wasm-bindgen-cli equal to the `wasm-bindgen` version in Cargo.lock, wasm-opt from the npm
//! package `binaryen` (e2e/node_modules/.bin), Chromium and chromedriver from Debian.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

type Result<T, E = String> = std::result::Result<T, E>;

const TRUNK_VERSION: &str = "0.21.14";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const MOCK_PACKAGE: &str = "stampede-mock";
const MOCK_BIN: &str = "stampede-mock";
/// How the demo's mock answers: 150 ms to the first token, then 10 ms per token (about 100
/// tokens/s per stream), the same for non-streamed requests (150 ms + 10 ms × tokens), so a
/// first streaming run shows real TTFT, TPOT and inter-chunk figures, not one burst.
/// `e2e/tests/first_run.test.mjs` runs against exactly these (a test below checks).
const DEMO_MOCK_ARGS: [&str; 6] = [
    "--latency-ms",
    "150",
    "--ttft-ms",
    "150",
    "--per-token-ms",
    "10",
];
/// Locust for the hand-off test, from PyPI into a project-local virtual environment.
const LOCUST_VERSION: &str = "2.47.0";
const VENV: &str = "e2e/.venv";
const CLI_PACKAGE: &str = "stampede-cli";
const CLI_BIN: &str = "stampede";

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup [--no-browser]   install what is missing: the wasm32 target, trunk 0.21.14,
                         wasm-bindgen-cli (= Cargo.lock), e2e npm packages (incl. wasm-opt),
                         Chromium + chromedriver and Locust 2.47.0 in e2e/.venv (both
                         skipped with --no-browser)
  test                   setup, native tests, build the mock and the app, browser e2e tests
  demo [--port-api N] [--port-app N]
                         build the app and serve it with the mock API (defaults 8000 and 8080)
  site                   build the static site into dist/; print what the page loads, raw and
                         gzipped, against the 350 KB target
  bench [cli]            engine statistics benchmark; the CLI vs oha on a zero-delay mock
                         (installs oha with cargo install if missing); then (setup, build the
                         mock and the app) the bundle size and the browser benchmarks
                         (e2e/bench/browser.mjs: first paint, Stampede vs a bare fetch loop,
                         timing bias, rate ceiling, statistics in wasm, long tasks); ends with
                         one table: figure, target, pass/miss, measured. `bench cli`: only the
                         CLI vs oha
  fuzz [N]               N mutated reports, configs, plans, share links (default 1,000,000) through
                         import and validation, in release; prints the count and the panics (0)
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        print!("{USAGE}");
        return Ok(());
    };
    let ctx = Ctx::new()?;
    match command.as_str() {
        "setup" => {
            let browser = match rest {
                [] => true,
                [flag] if flag == "--no-browser" => false,
                _ => return Err(format!("unexpected arguments for setup: {rest:?}\n{USAGE}")),
            };
            setup(&ctx, browser)
        }
        "test" => no_args("test", rest).and_then(|()| test(&ctx)),
        "demo" => {
            let (port_api, port_app) = parse_demo_args(rest)?;
            demo(&ctx, port_api, port_app)
        }
        "site" => no_args("site", rest).and_then(|()| site(&ctx)),
        "bench" => match rest {
            [] => bench(&ctx),
            [only] if only == "cli" => {
                let mut timings = Vec::new();
                let result = bench_cli(&ctx, &mut timings);
                print_timings(&timings);
                result.map(|_| ())
            }
            _ => Err(format!("unexpected arguments for bench: {rest:?}\n{USAGE}")),
        },
        "fuzz" => {
            let n = match rest {
                [] => 1_000_000,
                [n] => n
                    .replace([',', '_'], "")
                    .parse::<u64>()
                    .map_err(|_| format!("fuzz takes a count, not `{n}`\n{USAGE}"))?,
                _ => return Err(format!("unexpected arguments for fuzz: {rest:?}\n{USAGE}")),
            };
            fuzz(&ctx, n)
        }
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    }
}

fn no_args(command: &str, rest: &[String]) -> Result<()> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "`{command}` takes no arguments, got {rest:?}\n{USAGE}"
        ))
    }
}

fn parse_demo_args(rest: &[String]) -> Result<(u16, u16)> {
    let (mut port_api, mut port_app) = (8000u16, 8080u16);
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let slot = match name {
            "--port-api" => &mut port_api,
            "--port-app" => &mut port_app,
            _ => return Err(format!("unknown demo argument `{arg}`\n{USAGE}")),
        };
        let value = match inline {
            Some(value) => value,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a port number"))?,
        };
        *slot = value
            .parse()
            .map_err(|_| format!("{name}: `{value}` is not a port number (1-65535)"))?;
        if *slot == 0 {
            return Err(format!("{name}: port 0 is not allowed"));
        }
    }
    if port_api == port_app {
        return Err(format!("--port-api and --port-app are both {port_api}"));
    }
    Ok((port_api, port_app))
}

// ---------------------------------------------------------------------------------------------
// Context: workspace root, PATH for child processes, cargo.

struct Ctx {
    root: PathBuf,
    /// PATH for every child: e2e/node_modules/.bin (wasm-opt), cargo's bin dir, then the caller's.
    path: OsString,
    cargo: OsString,
}

impl Ctx {
    fn new() -> Result<Ctx> {
        // `cargo run` sets CARGO_MANIFEST_DIR at run time too; prefer it over the compile-time
        // value, which goes stale when a shared CARGO_TARGET_DIR serves a clone in another
        // folder (cargo then reuses the old binary as fresh).
        let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let root = manifest_dir
            .parent()
            .ok_or("xtask's manifest directory has no parent")?
            .to_path_buf();
        if !root.join("Cargo.toml").is_file() {
            return Err(format!(
                "workspace root {} has no Cargo.toml (was xtask moved?)",
                root.display()
            ));
        }
        let mut dirs = vec![root.join("e2e").join("node_modules").join(".bin")];
        dirs.push(cargo_bin_dir()?);
        dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
        let path = env::join_paths(dirs).map_err(|e| format!("cannot build PATH: {e}"))?;
        // `cargo run` tells us which cargo started us; use the same one.
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        Ok(Ctx { root, path, cargo })
    }

    /// A command run from the workspace root with our PATH.
    fn cmd(&self, program: impl AsRef<OsStr>) -> Command {
        let program = program.as_ref();
        let resolved = self
            .which(program)
            .unwrap_or_else(|| PathBuf::from(program));
        let mut cmd = Command::new(resolved);
        cmd.current_dir(&self.root).env("PATH", &self.path);
        cmd
    }

    fn cargo(&self) -> Command {
        self.cmd(&self.cargo)
    }

    /// Find an executable on our PATH (absolute or relative paths are returned as they are).
    fn which(&self, program: &OsStr) -> Option<PathBuf> {
        let as_path = Path::new(program);
        if as_path.components().count() > 1 {
            return Some(as_path.to_path_buf());
        }
        env::split_paths(&self.path)
            .map(|dir| dir.join(program))
            .find(|candidate| is_executable(candidate))
    }

    /// First line of `<program> --version`, or None when the program is absent or fails.
    fn version_of(&self, program: &str) -> Option<String> {
        let path = self.which(OsStr::new(program))?;
        let out = Command::new(path)
            .arg("--version")
            .env("PATH", &self.path)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().next().map(|l| l.trim().to_string())
    }

    fn target_dir(&self) -> Result<PathBuf> {
        let out = capture(
            self.cargo()
                .args(["metadata", "--format-version", "1", "--no-deps"]),
        )?;
        let meta: serde_json::Value = serde_json::from_str(&out)
            .map_err(|e| format!("cannot parse `cargo metadata` output: {e}"))?;
        meta.get("target_directory")
            .and_then(|v| v.as_str())
            .map(PathBuf::from)
            .ok_or_else(|| "`cargo metadata` output has no target_directory".to_string())
    }
}

fn cargo_bin_dir() -> Result<PathBuf> {
    if let Some(root) = env::var_os("CARGO_INSTALL_ROOT") {
        return Ok(PathBuf::from(root).join("bin"));
    }
    if let Some(home) = env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(home).join("bin"));
    }
    env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cargo").join("bin"))
        .ok_or_else(|| "neither CARGO_HOME nor HOME is set: cannot find cargo's bin dir".into())
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

fn describe(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program());
    let name = program.file_name().unwrap_or(program.as_os_str());
    let mut s = name.to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

fn spawn_error(cmd: &Command, err: std::io::Error) -> String {
    let what = describe(cmd);
    if err.kind() == ErrorKind::NotFound {
        format!("cannot start `{what}`: program not found (run `cargo xtask setup`?)")
    } else {
        format!("cannot start `{what}`: {err}")
    }
}

/// Run a command with inherited stdio; fail with a clear message unless it exits 0.
fn run_cmd(cmd: &mut Command) -> Result<()> {
    let what = describe(cmd);
    println!("$ {what}");
    let status = cmd.status().map_err(|e| spawn_error(cmd, e))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{what}` failed ({status})"))
    }
}

/// Run a command and return its stdout; stderr goes to the terminal.
fn capture(cmd: &mut Command) -> Result<String> {
    let what = describe(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| spawn_error(cmd, e))?;
    if !out.status.success() {
        return Err(format!("`{what}` failed ({})", out.status));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("`{what}` printed invalid UTF-8"))
}

/// Run one named step, printing its name and how long it took.
fn step<T>(
    timings: &mut Vec<(String, Duration)>,
    name: &str,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    println!("\n==> {name}");
    let start = Instant::now();
    let result = f();
    let took = start.elapsed();
    match &result {
        Ok(_) => println!("<== {name}: ok in {}", secs(took)),
        Err(_) => println!("<== {name}: FAILED after {}", secs(took)),
    }
    timings.push((name.to_string(), took));
    result
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn print_timings(timings: &[(String, Duration)]) {
    println!("\nstep timings:");
    for (name, took) in timings {
        println!("  {:>8}  {name}", secs(*took));
    }
}

// ---------------------------------------------------------------------------------------------
// setup

fn setup(ctx: &Ctx, browser: bool) -> Result<()> {
    let mut timings = Vec::new();
    let result = setup_steps(ctx, browser, &mut timings);
    if timings.iter().any(|(_, t)| t.as_secs() >= 1) {
        print_timings(&timings);
    }
    result
}

fn setup_steps(ctx: &Ctx, browser: bool, timings: &mut Vec<(String, Duration)>) -> Result<()> {
    ensure_wasm_target(ctx, timings)?;
    ensure_trunk(ctx, timings)?;
    ensure_wasm_bindgen(ctx, timings)?;
    ensure_npm_packages(ctx, timings)?;
    ensure_wasm_opt(ctx)?;
    if browser {
        ensure_chromium(ctx, timings)?;
        ensure_locust(ctx, timings)?;
    }
    println!("setup: everything is in place");
    Ok(())
}

fn ensure_wasm_target(ctx: &Ctx, timings: &mut Vec<(String, Duration)>) -> Result<()> {
    if ctx.which(OsStr::new("rustup")).is_none() {
        // No rustup (e.g. a distro toolchain): look in the sysroot instead.
        let sysroot = capture(ctx.cmd("rustc").args(["--print", "sysroot"]))?;
        let dir = Path::new(sysroot.trim())
            .join("lib/rustlib")
            .join(WASM_TARGET);
        if dir.is_dir() {
            println!("setup: rust target {WASM_TARGET}: present");
            return Ok(());
        }
        return Err(format!(
            "the rust target {WASM_TARGET} is missing and rustup is not available to add it \
             (looked in {})",
            dir.display()
        ));
    }
    let installed = capture(ctx.cmd("rustup").args(["target", "list", "--installed"]))?;
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        println!("setup: rust target {WASM_TARGET}: present");
        return Ok(());
    }
    step(
        timings,
        &format!("install rust target {WASM_TARGET}"),
        || run_cmd(ctx.cmd("rustup").args(["target", "add", WASM_TARGET])),
    )
}

fn ensure_trunk(ctx: &Ctx, timings: &mut Vec<(String, Duration)>) -> Result<()> {
    let want = format!("trunk {TRUNK_VERSION}");
    let found = ctx.version_of("trunk");
    if found.as_deref() == Some(want.as_str()) {
        println!("setup: {want}: present");
        return Ok(());
    }
    println!(
        "setup: trunk: found {}, need {TRUNK_VERSION}",
        found.as_deref().unwrap_or("none")
    );
    step(
        timings,
        &format!("install trunk {TRUNK_VERSION} (cargo install, ~12 min)"),
        || {
            run_cmd(
                ctx.cargo()
                    .args(["install", "trunk", "--version", TRUNK_VERSION, "--locked"]),
            )
        },
    )?;
    check_installed(ctx, "trunk", &want)
}

fn ensure_wasm_bindgen(ctx: &Ctx, timings: &mut Vec<(String, Duration)>) -> Result<()> {
    let version = wasm_bindgen_lock_version(ctx)?;
    check_trunk_toml_pin(
        ctx,
        "wasm_bindgen",
        &version,
        "the wasm-bindgen version in Cargo.lock",
    )?;
    let want = format!("wasm-bindgen {version}");
    let found = ctx.version_of("wasm-bindgen");
    if found.as_deref() == Some(want.as_str()) {
        println!("setup: {want}: present");
        return Ok(());
    }
    println!(
        "setup: wasm-bindgen: found {}, need {version}",
        found.as_deref().unwrap_or("none")
    );
    step(
        timings,
        &format!("install wasm-bindgen-cli {version} (cargo install)"),
        || {
            // Not --locked: the CLI's own lock file does not build with current toolchains.
            run_cmd(
                ctx.cargo()
                    .args(["install", "wasm-bindgen-cli", "--version", &version]),
            )
        },
    )?;
    check_installed(ctx, "wasm-bindgen", &want)
}

fn check_installed(ctx: &Ctx, program: &str, want: &str) -> Result<()> {
    match ctx.version_of(program) {
        Some(v) if v == want => Ok(()),
        other => Err(format!(
            "after installing, `{program} --version` reports {} instead of `{want}`; \
             another {program} earlier on PATH? (cargo's bin dir is {})",
            other.as_deref().unwrap_or("nothing"),
            cargo_bin_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )),
    }
}

/// The version of the `wasm-bindgen` package in Cargo.lock (exactly one is expected).
fn wasm_bindgen_lock_version(ctx: &Ctx) -> Result<String> {
    let lock_path = ctx.root.join("Cargo.lock");
    if !lock_path.is_file() {
        run_cmd(ctx.cargo().arg("generate-lockfile"))?;
    }
    let lock = fs::read_to_string(&lock_path)
        .map_err(|e| format!("cannot read {}: {e}", lock_path.display()))?;
    let mut versions: Vec<String> = Vec::new();
    let mut in_wasm_bindgen = false;
    for line in lock.lines().map(str::trim) {
        if line == "[[package]]" {
            in_wasm_bindgen = false;
        } else if line == "name = \"wasm-bindgen\"" {
            in_wasm_bindgen = true;
        } else if in_wasm_bindgen {
            if let Some(v) = line
                .strip_prefix("version = \"")
                .and_then(|v| v.strip_suffix('"'))
            {
                if !versions.iter().any(|x| x == v) {
                    versions.push(v.to_string());
                }
                in_wasm_bindgen = false;
            }
        }
    }
    match versions.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "{} has no `wasm-bindgen` package: the app must depend on wasm-bindgen",
            lock_path.display()
        )),
        many => Err(format!(
            "{} has several wasm-bindgen versions ({}); pin one with `wasm-bindgen = \"=X\"`",
            lock_path.display(),
            many.join(", ")
        )),
    }
}

/// If Trunk.toml's [tools] pins `key`, it must equal `want`; trunk would otherwise try to download.
fn check_trunk_toml_pin(ctx: &Ctx, key: &str, want: &str, what: &str) -> Result<()> {
    let path = ctx.root.join("Trunk.toml");
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(());
    };
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() != key {
            continue;
        }
        let pinned = v.trim().trim_matches('"');
        if pinned != want {
            return Err(format!(
                "Trunk.toml pins {key} = \"{pinned}\" but {what} is {want}: make them equal \
                 (trunk must not download tools)"
            ));
        }
    }
    Ok(())
}

fn ensure_npm_packages(ctx: &Ctx, timings: &mut Vec<(String, Duration)>) -> Result<()> {
    let e2e = ctx.root.join("e2e");
    let lock = e2e.join("package-lock.json");
    let installed_marker = e2e.join("node_modules").join(".package-lock.json");
    let mtime = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    let up_to_date = match (mtime(&lock), mtime(&installed_marker)) {
        (Some(lock_time), Some(installed_time)) => installed_time >= lock_time,
        (None, _) => return Err(format!("{} is missing", lock.display())),
        (Some(_), None) => false,
    };
    if up_to_date {
        println!("setup: e2e npm packages: present");
        return Ok(());
    }
    if ctx.which(OsStr::new("npm")).is_none() {
        return Err("npm is not installed: install Node.js 20+ with npm (e.g. `apt-get install nodejs npm`)".into());
    }
    step(timings, "install e2e npm packages (npm ci)", || {
        run_cmd(
            ctx.cmd("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&e2e),
        )
    })
}

/// trunk runs the wasm-opt found on PATH only if its version equals the Trunk.toml pin.
fn ensure_wasm_opt(ctx: &Ctx) -> Result<()> {
    let local = ctx.root.join("e2e/node_modules/.bin/wasm-opt");
    if !is_executable(&local) {
        return Err(format!(
            "{} is missing after npm ci (the e2e package.json must list binaryen)",
            local.display()
        ));
    }
    // `wasm-opt version 132 (version_132)`; trunk compares `version_` + the third word.
    let found = ctx
        .version_of("wasm-opt")
        .ok_or("`wasm-opt --version` failed (is node on PATH?)")?;
    let version = found
        .split(' ')
        .nth(2)
        .map(|v| format!("version_{v}"))
        .ok_or_else(|| format!("unexpected `wasm-opt --version` output: {found}"))?;
    check_trunk_toml_pin(
        ctx,
        "wasm_opt",
        &version,
        "the wasm-opt from e2e/node_modules",
    )?;
    println!("setup: wasm-opt {version} (npm binaryen): present");
    Ok(())
}

fn ensure_chromium(ctx: &Ctx, timings: &mut Vec<(String, Duration)>) -> Result<()> {
    if is_executable(Path::new(CHROMIUM)) && is_executable(Path::new(CHROMEDRIVER)) {
        println!("setup: chromium + chromedriver: present");
        return Ok(());
    }
    let root = capture(ctx.cmd("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0");
    let sudo = !root && ctx.which(OsStr::new("sudo")).is_some();
    if !root && !sudo {
        return Err(format!(
            "{CHROMIUM} or {CHROMEDRIVER} is missing and we are neither root nor have sudo: \
             install the Debian packages `chromium chromium-driver`"
        ));
    }
    let apt = |args: &[&str]| {
        let mut cmd = if sudo {
            let mut c = ctx.cmd("sudo");
            c.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
            c
        } else {
            let mut c = ctx.cmd("apt-get");
            c.env("DEBIAN_FRONTEND", "noninteractive");
            c
        };
        run_cmd(cmd.args(args))
    };
    step(timings, "install chromium + chromedriver (apt-get)", || {
        apt(&["update"])?;
        apt(&[
            "install",
            "-y",
            "--no-install-recommends",
            "chromium",
            "chromium-driver",
        ])
    })?;
    for path in [CHROMIUM, CHROMEDRIVER] {
        if !is_executable(Path::new(path)) {
            return Err(format!("{path} is still missing after apt-get install"));
        }
    }
    Ok(())
}

/// The Locust the hand-off test runs: `e2e/.venv/bin/locust`, made with `python3 -m venv` and
/// pip when it is missing or another version.
fn ensure_locust(ctx: &Ctx, timings: &mut Vec<(String, Duration)>) -> Result<()> {
    let venv = ctx.root.join(VENV);
    let locust = locust_path(&venv);
    let want = format!("locust {LOCUST_VERSION} ");
    if ctx
        .version_of(&locust.to_string_lossy())
        .is_some_and(|v| v.starts_with(&want))
    {
        println!("setup: locust {LOCUST_VERSION} ({VENV}): present");
        return Ok(());
    }
    if ctx.which(OsStr::new("python3")).is_none() {
        return Err(
            "python3 is not installed: the Locust test needs Python 3.10+ with venv \
             (e.g. `apt-get install python3 python3-venv`)"
                .into(),
        );
    }
    step(
        timings,
        &format!("install locust {LOCUST_VERSION} into {VENV} (python3 -m venv, pip)"),
        || {
            if !venv.join("bin").join("pip").is_file() {
                run_cmd(ctx.cmd("python3").arg("-m").arg("venv").arg(&venv))?;
            }
            run_cmd(
                ctx.cmd(venv.join("bin").join("pip"))
                    .args(["install", "--quiet", "--disable-pip-version-check"])
                    .arg(format!("locust=={LOCUST_VERSION}")),
            )
        },
    )?;
    if !is_executable(&locust) {
        return Err(format!(
            "{} is still missing after pip install",
            locust.display()
        ));
    }
    Ok(())
}

fn locust_path(venv: &Path) -> PathBuf {
    venv.join("bin").join("locust")
}

// ---------------------------------------------------------------------------------------------
// build steps

/// `trunk build --release` into <root>/dist, offline so a tool mismatch fails instead of
/// downloading. `cargo fetch` first, since offline also makes trunk's cargo build offline.
fn build_app(ctx: &Ctx) -> Result<PathBuf> {
    run_cmd(ctx.cargo().arg("fetch"))?;
    run_cmd(ctx.cmd("trunk").args(["build", "--release", "--offline"]))?;
    let dist = ctx.root.join("dist");
    if !dist.join("index.html").is_file() {
        return Err(format!(
            "trunk finished but {} has no index.html",
            dist.display()
        ));
    }
    Ok(dist)
}

/// Always an optimised build: a debug mock spends several times the CPU per request, and on a
/// small machine that CPU is taken from the browser whose timing the tests and benchmark judge.
fn build_mock(ctx: &Ctx) -> Result<PathBuf> {
    build_release_bin(ctx, MOCK_PACKAGE, MOCK_BIN)
}

/// Optimised, like the mock: the benchmark measures the client's own cost per request.
fn build_cli(ctx: &Ctx) -> Result<PathBuf> {
    build_release_bin(ctx, CLI_PACKAGE, CLI_BIN)
}

/// `cargo build --release -p package`, and the path of its binary `bin`.
fn build_release_bin(ctx: &Ctx, package: &str, bin: &str) -> Result<PathBuf> {
    run_cmd(ctx.cargo().args(["build", "--release", "-p", package]))?;
    let path = ctx
        .target_dir()?
        .join("release")
        .join(format!("{bin}{}", env::consts::EXE_SUFFIX));
    if !is_executable(&path) {
        return Err(format!(
            "built {package} but {} is not there",
            path.display()
        ));
    }
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// commands

fn test(ctx: &Ctx) -> Result<()> {
    let mut timings = Vec::new();
    let prepared = test_prepare(ctx, &mut timings);
    print_timings(&timings);
    let e2e = prepared?;
    // Last, with nothing printed after it on success: node's summary closes the output.
    println!("\n==> browser e2e tests (node --test)");
    run_cmd(&mut e2e.command(ctx))
}

struct E2e {
    tests: Vec<PathBuf>,
    dist: PathBuf,
    mock: PathBuf,
    schema: PathBuf,
    chromium: OsString,
    locust: PathBuf,
    /// The command line as the native tests built it (debug): browser-vs-native e2e tests.
    cli: PathBuf,
}

impl E2e {
    fn command(&self, ctx: &Ctx) -> Command {
        let mut cmd = ctx.cmd("node");
        // WebSocket: the hidden-tab test speaks the DevTools protocol itself (node 20 has it behind a flag).
        cmd.args(["--experimental-websocket", "--test", "--test-concurrency=1"])
            .args(&self.tests)
            .env("STAMPEDE_DIST", &self.dist)
            .env("STAMPEDE_MOCK_BIN", &self.mock)
            .env("CHROMIUM_PATH", &self.chromium)
            .env("STAMPEDE_SCHEMA", &self.schema)
            .env("STAMPEDE_LOCUST", &self.locust)
            .env("STAMPEDE_CLI_BIN", &self.cli);
        cmd
    }
}

fn test_prepare(ctx: &Ctx, timings: &mut Vec<(String, Duration)>) -> Result<E2e> {
    step(timings, "setup", || setup(ctx, true))?;
    step(
        timings,
        "native tests (cargo test -p stampede-engine -p stampede-mock -p stampede-cli -p stampede --lib)",
        || {
            run_cmd(ctx.cargo().args([
                "test",
                "-p",
                "stampede-engine",
                "-p",
                MOCK_PACKAGE,
                "-p",
                CLI_PACKAGE,
            ]))?;
            // The page's own pure helpers (e.g. the stage editor's ids) test natively too.
            run_cmd(ctx.cargo().args(["test", "-p", "stampede", "--lib"]))
        },
    )?;
    let mock = step(
        timings,
        "build the mock (cargo build --release -p stampede-mock)",
        || build_mock(ctx),
    )?;
    let dist = step(timings, "build the app (trunk build --release)", || {
        build_app(ctx)
    })?;
    let schema = ctx.root.join("schema").join("report.schema.json");
    if !schema.is_file() {
        return Err(format!("{} is missing", schema.display()));
    }
    let chromium = env::var_os("CHROMIUM_PATH").unwrap_or_else(|| CHROMIUM.into());
    let tests = e2e_test_files(&ctx.root)?;
    // Setup installed it; the hand-off test runs it as master and workers.
    let locust = locust_path(&ctx.root.join(VENV));
    // `cargo test -p stampede-cli` above built it for its own tests.
    let cli = ctx
        .target_dir()?
        .join("debug")
        .join(format!("{CLI_BIN}{}", env::consts::EXE_SUFFIX));
    Ok(E2e {
        tests,
        dist,
        mock,
        schema,
        chromium,
        locust,
        cli,
    })
}

/// Test files under e2e/tests, chosen by node's default test-file names (so helpers in the same
/// folder are not run as tests). Listed explicitly: node 20 and 22 read a bare directory argument
/// differently.
fn e2e_test_files(root: &Path) -> Result<Vec<PathBuf>> {
    fn is_test_name(name: &str) -> bool {
        let Some((stem, ext)) = name.rsplit_once('.') else {
            return false;
        };
        if !matches!(ext, "js" | "mjs" | "cjs") {
            return false;
        }
        stem == "test"
            || stem.starts_with("test-")
            || stem.ends_with(".test")
            || stem.ends_with("-test")
            || stem.ends_with("_test")
    }
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let entries =
            fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "node_modules" {
                    walk(&path, out)?;
                }
            } else if is_test_name(&name) {
                out.push(path);
            }
        }
        Ok(())
    }
    let dir = root.join("e2e").join("tests");
    if !dir.is_dir() {
        return Err(format!("no e2e tests: {} does not exist", dir.display()));
    }
    let mut files = Vec::new();
    walk(&dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "no e2e test files (*.test.js / *.test.mjs) in {}",
            dir.display()
        ));
    }
    Ok(files
        .into_iter()
        .map(|p| p.strip_prefix(root).map(Path::to_path_buf).unwrap_or(p))
        .collect())
}

fn demo(ctx: &Ctx, port_api: u16, port_app: u16) -> Result<()> {
    let mut timings = Vec::new();
    step(&mut timings, "setup", || setup(ctx, false))?;
    let dist = step(
        &mut timings,
        "build the app (trunk build --release)",
        || build_app(ctx),
    )?;
    let mock = step(
        &mut timings,
        "build the mock (cargo build --release)",
        || build_mock(ctx),
    )?;
    let api: SocketAddr = ([127, 0, 0, 1], port_api).into();
    let app: SocketAddr = ([127, 0, 0, 1], port_app).into();
    // Also on 127.0.0.2–4, so the app's "Suggest loopback aliases" works against the demo.
    let listen: Vec<SocketAddr> = (1..=4u8)
        .map(|host| ([127, 0, 0, host], port_api).into())
        .collect();
    // Another server on these ports would answer the readiness check below and the demo would
    // announce itself before failing: find out first.
    for addr in listen.iter().chain([&app]) {
        if let Err(e) = std::net::TcpListener::bind(addr) {
            return Err(format!(
                "cannot listen on {addr}: {e}. Is a demo already running? \
                 Stop it, or choose other ports with --port-api N / --port-app N"
            ));
        }
    }
    let mut cmd = ctx.cmd(&mock);
    for addr in &listen {
        cmd.arg("--listen").arg(addr.to_string());
    }
    cmd.args(DEMO_MOCK_ARGS)
        .arg("--app-dir")
        .arg(&dist)
        .arg("--app-listen")
        .arg(app.to_string())
        .arg("--exit-on-stdin-close");
    println!("$ {}", describe(&cmd));
    // The mock stops when this pipe closes, which the kernel does when xtask ends however it
    // ends: Ctrl-C (the mock gets that SIGINT too), SIGTERM or SIGKILL. Without it a killed
    // xtask left the mock serving.
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| spawn_error(&cmd, e))?;
    let _lifeline = child.stdin.take();
    wait_listening(&mut child, &[api, app])?;
    println!();
    println!("Open http://{app}/ — the app's default endpoint is the mock at http://{api}");
    println!("(the mock also answers on 127.0.0.2–4:{port_api}, for host aliases)");
    println!("(Ctrl-C to stop; stopping this command stops the mock)");
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {MOCK_BIN}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{MOCK_BIN} exited ({status})"))
    }
}

/// Wait until every address accepts connections, or fail if the server exits or takes too long.
fn wait_listening(child: &mut Child, addrs: &[SocketAddr]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| format!("checking on {MOCK_BIN}: {e}"))?
        {
            return Err(format!(
                "{MOCK_BIN} exited during startup ({status}); ports in use?"
            ));
        }
        let ready = addrs
            .iter()
            .all(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok());
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            // Not fatal: the server may still come up; say so and keep waiting on it.
            println!("warning: {MOCK_BIN} is not accepting connections on {addrs:?} after 30s");
            return Ok(());
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn site(ctx: &Ctx) -> Result<()> {
    let mut timings = Vec::new();
    step(&mut timings, "setup", || setup(ctx, false))?;
    let dist = step(
        &mut timings,
        "build the app (trunk build --release)",
        || build_app(ctx),
    )?;
    let assets = bundle_sizes(&dist)?;
    print_size_report(&assets);
    println!();
    println!("Static site built in {}", dist.display());
    println!(
        "Copy that folder to any static host; it works under any sub-path \
         (Trunk.toml sets public_url = \"./\", so every asset URL is relative)."
    );
    Ok(())
}

/// The bundle target: what the page loads (both wasm files and the JS), gzipped. KB = 1,000 bytes.
const BUNDLE_TARGET_BYTES: u64 = 350_000;

/// One file the page loads, raw and gzipped.
struct Asset {
    name: String,
    raw: u64,
    gzip: u64,
}

/// Gzip size at level 9 (as a static host precompresses): the deflate stream plus gzip's
/// 10-byte header and 8-byte trailer.
fn gzip_len(bytes: &[u8]) -> u64 {
    miniz_oxide::deflate::compress_to_vec(bytes, 9).len() as u64 + 18
}

/// Every `.wasm` and `.js` file in `dist` (the page's and the worker's), by name.
fn bundle_sizes(dist: &Path) -> Result<Vec<Asset>> {
    let entries = fs::read_dir(dist).map_err(|e| format!("cannot read {}: {e}", dist.display()))?;
    let mut assets = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", dist.display()))?
            .path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !(name.ends_with(".wasm") || name.ends_with(".js")) {
            continue;
        }
        let bytes = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        assets.push(Asset {
            name,
            raw: bytes.len() as u64,
            gzip: gzip_len(&bytes),
        });
    }
    if assets.is_empty() {
        return Err(format!("no .wasm or .js files in {}", dist.display()));
    }
    assets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(assets)
}

fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

/// Each file raw and gzipped, the total, the target and pass/miss.
fn print_size_report(assets: &[Asset]) {
    let gzip: u64 = assets.iter().map(|a| a.gzip).sum();
    let raw: u64 = assets.iter().map(|a| a.raw).sum();
    println!("\nWhat the page loads (KB = 1,000 bytes; gzip level 9):");
    println!("  {:<24} {:>12} {:>12}", "file", "raw", "gzipped");
    for a in assets {
        println!("  {:<24} {:>12} {:>12}", a.name, kb(a.raw), kb(a.gzip));
    }
    println!("  {:<24} {:>12} {:>12}", "total", kb(raw), kb(gzip));
    println!(
        "  target: <= {} gzipped: {}",
        kb(BUNDLE_TARGET_BYTES),
        verdict(gzip <= BUNDLE_TARGET_BYTES)
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "pass"
    } else {
        "miss"
    }
}

/// The engine's fuzz test with a larger count, optimised (the default test run does 5,000).
fn fuzz(ctx: &Ctx, n: u64) -> Result<()> {
    run_cmd(
        ctx.cargo()
            .args([
                "test",
                "--release",
                "-p",
                "stampede-engine",
                "--test",
                "fuzz",
            ])
            .args(["--", "--nocapture"])
            .env("STAMPEDE_FUZZ_ITERATIONS", n.to_string()),
    )
}

/// One row of the bench table. `pass` is `None` for a figure without a target.
struct Figure {
    name: String,
    target: String,
    measured: String,
    pass: Option<bool>,
}

impl Figure {
    /// Judged from the target's `<= N` / `>= N` against the first number in `measured`.
    fn judged(name: &str, target: &str, measured: &str) -> Figure {
        let number = |s: &str| -> Option<f64> {
            let start = s.find(|c: char| c.is_ascii_digit() || c == '-' || c == '+')?;
            let rest = &s[start..];
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | ',')))
                .unwrap_or(rest.len());
            rest[..end].replace(',', "").parse().ok()
        };
        let t = target.trim();
        let pass = match (t.get(..2), number(t), number(measured)) {
            (Some("<="), Some(limit), Some(m)) => Some(m <= limit),
            (Some(">="), Some(limit), Some(m)) => Some(m >= limit),
            _ => None,
        };
        Figure {
            name: name.into(),
            target: target.into(),
            measured: measured.into(),
            pass,
        }
    }
}

/// `figure: NAME; target: T; measured: M` lines (the engine benchmark prints them; the target
/// may be missing).
fn figure_lines(out: &str) -> Vec<Figure> {
    out.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("figure: ")?;
            let (head, measured) = rest.split_once("; measured: ").unwrap_or((rest, ""));
            let (name, target) = head.split_once("; target: ").unwrap_or((head, "(info)"));
            Some(Figure::judged(name, target, measured))
        })
        .collect()
}

/// The browser benchmark's JSON: `[{ figure, target, measured, pass }]`.
fn browser_figures(text: &str) -> Result<Vec<Figure>> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("the browser benchmark wrote no JSON: {e}"))?;
    let rows = v
        .as_array()
        .ok_or("the browser benchmark's JSON is not a list")?;
    let text = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    Ok(rows
        .iter()
        .map(|r| Figure {
            name: text(r, "figure"),
            target: text(r, "target"),
            measured: text(r, "measured"),
            pass: r["pass"].as_bool(),
        })
        .collect())
}

fn print_figures(figures: &[Figure]) {
    let w = |f: fn(&Figure) -> usize| figures.iter().map(f).max().unwrap_or(0);
    let (wn, wt) = (
        w(|f| f.name.chars().count()).max(6),
        w(|f| f.target.chars().count()).max(6),
    );
    let pad = |s: &str, n: usize| format!("{s}{}", " ".repeat(n.saturating_sub(s.chars().count())));
    println!(
        "\n{}  {}  {:<9}  measured",
        pad("figure", wn),
        pad("target", wt),
        "pass/miss"
    );
    println!("{}", "-".repeat(wn + wt + 24));
    for f in figures {
        let verdict = match f.pass {
            Some(true) => "pass",
            Some(false) => "MISS",
            None => "-",
        };
        println!(
            "{}  {}  {verdict:<9}  {}",
            pad(&f.name, wn),
            pad(&f.target, wt),
            f.measured
        );
    }
    let missed = figures.iter().filter(|f| f.pass == Some(false)).count();
    let judged = figures.iter().filter(|f| f.pass.is_some()).count();
    println!("{} of {judged} figures with a target met", judged - missed);
}

/// Machine load as the benchmark starts and ends: its figures are only as quiet as the machine.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn bench(ctx: &Ctx) -> Result<()> {
    let mut timings = Vec::new();
    let mut figures = Vec::new();
    let load_before = load_average();
    let native = step(
        &mut timings,
        "engine benchmarks (cargo bench -p stampede-engine)",
        || {
            let out = capture(ctx.cargo().args(["bench", "-p", "stampede-engine"]))?;
            print!("{out}");
            Ok(out)
        },
    )?;
    figures.extend(figure_lines(&native));
    figures.extend(bench_cli(ctx, &mut timings)?);
    // The browser benchmarks need what the e2e tests need (not the native tests).
    let prepared = bench_prepare(ctx, &mut timings);
    print_timings(&timings);
    let (mock, dist) = prepared?;
    let assets = bundle_sizes(&dist)?;
    print_size_report(&assets);
    let gzip: u64 = assets.iter().map(|a| a.gzip).sum();
    figures.push(Figure {
        name: format!(
            "bundle: the page's wasm + JS, gzipped ({} files)",
            assets.len()
        ),
        target: format!("<= {}", kb(BUNDLE_TARGET_BYTES)),
        measured: kb(gzip),
        pass: Some(gzip <= BUNDLE_TARGET_BYTES),
    });
    let chromium = env::var_os("CHROMIUM_PATH").unwrap_or_else(|| CHROMIUM.into());
    let out = env::temp_dir().join(format!("stampede-bench-{}.json", std::process::id()));
    println!("\n==> browser benchmarks (node e2e/bench/browser.mjs)");
    run_cmd(
        ctx.cmd("node")
            .arg(Path::new("e2e").join("bench").join("browser.mjs"))
            .env("STAMPEDE_DIST", &dist)
            .env("STAMPEDE_MOCK_BIN", &mock)
            .env("CHROMIUM_PATH", &chromium)
            .env("STAMPEDE_BENCH_OUT", &out),
    )?;
    let text =
        fs::read_to_string(&out).map_err(|e| format!("cannot read {}: {e}", out.display()))?;
    let _ = fs::remove_file(&out);
    figures.extend(browser_figures(&text)?);
    println!(
        "\nall figures (machine load average {load_before} at the start, {} at the end; \
         2 cores):",
        load_average()
    );
    print_figures(&figures);
    Ok(())
}

/// The CLI against oha (`bench cli` runs only this): oha, both release builds, the rounds.
fn bench_cli(ctx: &Ctx, timings: &mut Vec<(String, Duration)>) -> Result<Vec<Figure>> {
    let oha = step(
        timings,
        "oha (cargo install oha --locked, if missing)",
        || ensure_oha(ctx),
    )?;
    let (mock, cli) = step(
        timings,
        "build the mock and the CLI (cargo build --release)",
        || Ok((build_mock(ctx)?, build_cli(ctx)?)),
    )?;
    step(timings, "CLI vs oha (zero-delay mock, c=64)", || {
        cli_vs_oha(ctx, &mock, &cli, &oha)
    })
}

/// Setup (with the browser), the mock and the app, as `test` builds them: (mock binary, dist).
fn bench_prepare(ctx: &Ctx, timings: &mut Vec<(String, Duration)>) -> Result<(PathBuf, PathBuf)> {
    step(timings, "setup", || setup(ctx, true))?;
    let mock = step(
        timings,
        "build the mock (cargo build --release -p stampede-mock)",
        || build_mock(ctx),
    )?;
    let dist = step(timings, "build the app (trunk build --release)", || {
        build_app(ctx)
    })?;
    Ok((mock, dist))
}

// ---------------------------------------------------------------------------------------------
// CLI vs oha

/// Requests per client per round, the concurrency, and the rounds (alternating which client
/// goes first, so neither always meets a warmer or a busier machine).
const VS_OHA_REQUESTS: u32 = 20_000;
const VS_OHA_CONCURRENCY: u32 = 64;
const VS_OHA_ROUNDS: usize = 2;
/// What the CLI should reach against oha: this share of its requests/s, and a median within
/// this many ms of its.
const VS_OHA_RATIO_TARGET: f64 = 0.9;
const VS_OHA_MEDIAN_TARGET_MS: f64 = 1.0;
const SEED_BODY: &str = r#"{"prompt": "Explain the concept of machine learning in detail.", "max_length": 50, "temperature": 0.7, "do_sample": true}"#;

/// oha from crates.io with its default rustls: 1.16 does not build without a TLS feature.
/// Only the benchmark installs it.
fn ensure_oha(ctx: &Ctx) -> Result<PathBuf> {
    if let Some(path) = ctx.which(OsStr::new("oha")) {
        return Ok(path);
    }
    run_cmd(ctx.cargo().args(["install", "oha", "--locked"]))?;
    ctx.which(OsStr::new("oha"))
        .ok_or_else(|| "cargo install oha finished but oha is not on PATH".into())
}

/// Ends the child (a server we started) when dropped, on every path out.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One client's figures for one round.
struct Round {
    per_s: f64,
    p50_ms: f64,
}

fn json_number(v: &serde_json::Value, pointer: &str, what: &str) -> Result<f64> {
    v.pointer(pointer)
        .and_then(|n| n.as_f64())
        .ok_or_else(|| format!("{what} has no number at {pointer}"))
}

fn run_oha(ctx: &Ctx, oha: &Path, url: &str) -> Result<Round> {
    let out = capture(
        ctx.cmd(oha)
            .args(["-n", &VS_OHA_REQUESTS.to_string()])
            .args(["-c", &VS_OHA_CONCURRENCY.to_string()])
            .args(["--no-tui", "--output-format", "json", "-m", "POST"])
            .args(["-H", "content-type: application/json", "-d", SEED_BODY])
            .arg(url),
    )?;
    let v: serde_json::Value =
        serde_json::from_str(&out).map_err(|e| format!("oha printed no JSON: {e}"))?;
    let ok = json_number(&v, "/summary/successRate", "oha's output")?;
    if ok < 1.0 {
        return Err(format!(
            "oha: only {:.1}% of requests succeeded",
            ok * 100.0
        ));
    }
    Ok(Round {
        per_s: json_number(&v, "/summary/requestsPerSec", "oha's output")?,
        p50_ms: json_number(&v, "/metrics/latency_ms/p50", "oha's output")?,
    })
}

fn run_cli(ctx: &Ctx, cli: &Path, base: &str, report: &Path) -> Result<Round> {
    let stages = format!("{VS_OHA_CONCURRENCY}x{VS_OHA_REQUESTS}");
    capture(
        ctx.cmd(cli)
            .args(["--stages", &stages, "--warmup", "0", "--url", base])
            .arg("--output")
            .arg(report),
    )?;
    let text =
        fs::read_to_string(report).map_err(|e| format!("cannot read {}: {e}", report.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("the CLI's report is not JSON: {e}"))?;
    let ok = json_number(&v, "/stages/0/successful", "the CLI's report")?;
    if ok < f64::from(VS_OHA_REQUESTS) {
        return Err(format!(
            "the CLI: only {ok} of {VS_OHA_REQUESTS} requests succeeded"
        ));
    }
    Ok(Round {
        per_s: json_number(&v, "/stages/0/requests_per_s", "the CLI's report")?,
        p50_ms: json_number(&v, "/stages/0/latency_ms/p50", "the CLI's report")?,
    })
}

/// The same requests (the seed body to `/generate`) from both clients to one zero-delay mock.
fn cli_vs_oha(ctx: &Ctx, mock: &Path, cli: &Path, oha: &Path) -> Result<Vec<Figure>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))?
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut cmd = ctx.cmd(mock);
    cmd.args([
        "--listen",
        &addr.to_string(),
        "--latency-ms",
        "0",
        "--ttft-ms",
        "0",
    ])
    .stdout(Stdio::null());
    println!("$ {}", describe(&cmd));
    let mut server = KillOnDrop(cmd.spawn().map_err(|e| spawn_error(&cmd, e))?);
    wait_listening(&mut server.0, &[addr])?;
    let base = format!("http://{addr}");
    let url = format!("{base}/generate");
    let report = env::temp_dir().join(format!("stampede-vs-oha-{}.json", std::process::id()));
    let mut rounds = Vec::new();
    for round in 0..VS_OHA_ROUNDS {
        let (c, o) = if round % 2 == 0 {
            let o = run_oha(ctx, oha, &url)?;
            (run_cli(ctx, cli, &base, &report)?, o)
        } else {
            let c = run_cli(ctx, cli, &base, &report)?;
            (c, run_oha(ctx, oha, &url)?)
        };
        println!(
            "round {}: CLI {:.0} req/s, median {:.3} ms; oha {:.0} req/s, median {:.3} ms",
            round + 1,
            c.per_s,
            c.p50_ms,
            o.per_s,
            o.p50_ms
        );
        rounds.push((c, o));
    }
    let _ = fs::remove_file(&report);
    drop(server);
    let n = rounds.len() as f64;
    let ratio = rounds.iter().map(|(c, o)| c.per_s / o.per_s).sum::<f64>() / n;
    let diff = rounds.iter().map(|(c, o)| c.p50_ms - o.p50_ms).sum::<f64>() / n;
    let figures = vec![
        Figure {
            name: format!("CLI / oha requests/s, c={VS_OHA_CONCURRENCY}, zero-delay mock"),
            target: format!(">= {VS_OHA_RATIO_TARGET:.2}"),
            measured: format!("{ratio:.2} (mean of {VS_OHA_ROUNDS} alternating rounds)"),
            pass: Some(ratio >= VS_OHA_RATIO_TARGET),
        },
        Figure {
            name: "CLI - oha median latency".into(),
            target: format!("<= {VS_OHA_MEDIAN_TARGET_MS:.1} ms"),
            measured: format!("{diff:+.3} ms"),
            pass: Some(diff <= VS_OHA_MEDIAN_TARGET_MS),
        },
    ];
    println!(
        "\nCLI vs oha, {VS_OHA_REQUESTS} requests at concurrency {VS_OHA_CONCURRENCY}, \
         zero-delay mock, mean of {VS_OHA_ROUNDS} alternating rounds:"
    );
    print_figures(&figures);
    Ok(figures)
}
#[cfg(test)]
mod tests {
    use super::{figure_lines, gzip_len, Figure, DEMO_MOCK_ARGS};

    #[test]
    fn bench_figures_are_judged_from_their_target() {
        let lines = "stats over 5 rounds\n\
            figure: statistics, native; target: (info: wasm); measured: 106.2 ms (median of 5)\n\
            figure: bytes per kept sample; target: <= 64; measured: 41.2 (a plain Sample is 200)\n\
            figure: 1,000,000-request export; measured: 100.1 MB in 3 parts\n";
        let f = figure_lines(lines);
        let got: Vec<(&str, &str, &str, Option<bool>)> = f
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    f.target.as_str(),
                    f.measured.as_str(),
                    f.pass,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "statistics, native",
                    "(info: wasm)",
                    "106.2 ms (median of 5)",
                    None
                ),
                (
                    "bytes per kept sample",
                    "<= 64",
                    "41.2 (a plain Sample is 200)",
                    Some(true)
                ),
                (
                    "1,000,000-request export",
                    "(info)",
                    "100.1 MB in 3 parts",
                    None
                ),
            ]
        );
        assert_eq!(
            Figure::judged("r", ">= 0.95", "0.94 (median)").pass,
            Some(false)
        );
        assert_eq!(
            Figure::judged("b", "<= 350.0 KB", "1,200.5 KB").pass,
            Some(false)
        );
        // An empty input still has gzip's 18 bytes of header and trailer around its deflate.
        assert!(gzip_len(b"") > 18);
    }

    /// The e2e test of the demo's first run must run against the mock the demo starts.
    #[test]
    fn the_first_run_test_uses_the_demo_mock_flags() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../e2e/tests/first_run.test.mjs"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let quoted: Vec<String> = DEMO_MOCK_ARGS.iter().map(|a| format!("'{a}'")).collect();
        let expected = format!("const DEMO_MOCK_ARGS = [{}];", quoted.join(", "));
        assert!(text.contains(&expected), "{path} should have: {expected}");
    }
}
