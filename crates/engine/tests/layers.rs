//! The import rules of ARCHITECTURE.md, checked on the source text: no engine module imports a
//! module of its own layer or above (so there are no cycles), and no UI component imports `app`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The engine's layers, bottom up. A module may import only modules of a lower layer.
const LAYERS: &[&[&str]] = &[
    &["model"],
    &[
        "http",
        "secrets",
        "store",
        "suite",
        "template",
        "stream",
        "thresholds",
    ],
    &["preset"],
    &["plan"],
    &["config", "parse"],
    &["runner", "stats", "detect"],
    // Judging a run: it reads the statistics; the report carries its verdicts. Comparing a
    // run with a baseline: it reads both runs' statistics; the report carries the deltas.
    &["slo", "compare"],
    &["report", "messages", "table_csv"],
    // What the page shows: it reads the report's environment beside the statistics. The
    // hand-off files: the test written for Locust and k6. How a test leaves the page (share
    // link, saved form): it reads the config. The run history: it lists reports. Hosted
    // reports (`#report=` links): they read the report.
    &["views", "handoff", "share", "history", "report_link"],
    // The run as Markdown: the stage figures, verdicts and the fidelity warnings of `views`.
    &["summary_md"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The code before the unit tests: test modules may use anything.
fn non_test_code(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

/// Every engine module named after `crate::` (`use crate::a::…`, `use crate::{a, b::…}`).
fn crate_imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for part in inner.split(',') {
                let name = ident(part.trim());
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn no_engine_module_imports_its_own_layer_or_above() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut seen = 0;
    let mut broken = Vec::new();
    for path in rust_files(&src) {
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        if module == "lib" {
            continue;
        }
        let Some(mine) = layer_of(&module) else {
            panic!("{module}.rs is in no layer: add it to LAYERS and ARCHITECTURE.md");
        };
        seen += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        for used in crate_imports(non_test_code(&text)) {
            match layer_of(&used) {
                Some(theirs) if theirs < mine => {}
                // Re-exports at the crate root (`crate::Sample`) would hide the real edge.
                _ => broken.push(format!("{module} (layer {mine}) imports crate::{used}")),
            }
        }
    }
    assert!(
        seen >= 12,
        "only {seen} modules found under {}",
        src.display()
    );
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_checker_sees_grouped_and_inline_imports() {
    let code = "use crate::{model::Sample, stats};\nfn f() { crate::plan::check_url(\"\"); }";
    let got: Vec<String> = crate_imports(code).into_iter().collect();
    assert_eq!(got, ["model", "plan", "stats"]);
    assert_eq!(non_test_code("a\n#[cfg(test)]\nuse crate::x;"), "a\n");
}

#[test]
fn no_component_imports_app() {
    let components = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../src/components");
    let offenders: Vec<String> = rust_files(&components)
        .into_iter()
        .filter(|p| crate_imports(&std::fs::read_to_string(p).unwrap()).contains("app"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "components import crate::app: {offenders:?}"
    );
}
