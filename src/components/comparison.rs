//! The shown run against the baseline: per matched stage, baseline / current / Δ / Δ% of each
//! figure, coloured better or worse, and whether the latency difference is real. The figures
//! come from the engine's `compare`; this file only draws them.

use leptos::prelude::*;
use stampede_engine::{
    metric_label, Change, LatencyTest, MetricDelta, StageComparison, TestVerdict,
};

use crate::state::AppState;

/// A figure as the results table shows it: success rates in %, the rest with one decimal
/// (two for small rates).
fn value(metric: &str, v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if metric == "success_rate" => format!("{:.1}%", v * 100.0),
        Some(v) if v.abs() < 10.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.1}"),
    }
}

/// Δ with its sign; success rates in percentage points.
fn delta(metric: &str, d: Option<f64>) -> String {
    match d {
        None => "–".into(),
        Some(d) if metric == "success_rate" => format!("{:+.1} pp", d * 100.0),
        Some(d) if d.abs() < 10.0 => format!("{d:+.2}"),
        Some(d) => format!("{d:+.1}"),
    }
}

fn pct(p: Option<f64>) -> String {
    p.map_or("–".into(), |p| format!("{p:+.1}%"))
}

fn p_value(p: f64) -> String {
    if p < 0.0001 {
        "p < 0.0001".into()
    } else {
        format!("p = {p:.4}")
    }
}

/// The latency test as one line: the verdict, then its p-value or why it did not run.
fn verdict_text(t: &LatencyTest) -> String {
    match (t.verdict, t.p_value, &t.note) {
        (TestVerdict::Significant | TestVerdict::WithinNoise, Some(p), _) => format!(
            "{} ({}, Mann–Whitney U, n = {} vs {})",
            t.verdict.label(),
            p_value(p),
            t.n_baseline,
            t.n_current
        ),
        (v, _, Some(note)) => format!("{}: {note}", v.label()),
        (v, _, None) => v.label().to_string(),
    }
}

fn change_class(c: Option<Change>) -> &'static str {
    match c {
        Some(Change::Better) => "better",
        Some(Change::Worse) => "worse",
        _ => "same",
    }
}

#[component]
fn MetricRow(m: MetricDelta) -> impl IntoView {
    let class = change_class(m.change);
    let metric = m.metric.clone();
    view! {
        <tr data-metric=m.metric.clone() data-change=class>
            <td class="figure">{metric_label(&metric)}</td>
            <td class="num" data-col="baseline">{value(&metric, m.baseline)}</td>
            <td class="num" data-col="current">{value(&metric, m.current)}</td>
            <td class=format!("num delta {class}") data-col="delta">{delta(&metric, m.delta)}</td>
            <td class=format!("num delta {class}") data-col="delta-pct">{pct(m.delta_pct)}</td>
        </tr>
    }
}

#[component]
fn StageBlock(c: StageComparison) -> impl IntoView {
    let test = c.latency_test.clone();
    let verdict = test.as_ref().map(|t| t.verdict.label().replace(' ', "-"));
    let head = view! {
        <tr class="stage-head">
            <th colspan="5" scope="rowgroup">
                <span class="stage-name">{c.name.clone()}</span>
                {test.map(|t| view! {
                    <span class="verdict" data-col="verdict" data-verdict=verdict.clone()>{verdict_text(&t)}</span>
                })}
                {c.unmatched.clone().map(|why| view! { <span class="unmatched" data-col="unmatched">{why}</span> })}
                {c.client_note.clone().map(|n| view! { <span class="client-note" data-col="client-note">{n}</span> })}
            </th>
        </tr>
    };
    let rows = c
        .metrics
        .into_iter()
        .map(|m| view! { <MetricRow m=m /> })
        .collect_view();
    view! { <tbody data-stage=c.stage>{head}{rows}</tbody> }
}

/// Drawn under the results table while a baseline is set.
#[component]
pub fn ComparisonTable() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        let info = state.baseline.get()?;
        let cmp = state.comparison.get()?;
        Some(view! {
            <div class="comparison" id="comparison">
                <p class="compared-with" id="compared-with">
                    {format!("Compared with {} ({})", info.label, info.created_at)}
                </p>
                {cmp.client_note.clone().map(|n| view! { <p class="client-note" id="compare-client-note">{n}</p> })}
                <div class="table-wrap">
                    <table id="comparison-table">
                        <thead>
                            <tr>
                                <th>"Figure"</th>
                                <th title="The baseline's matching stage (same position and concurrency, and rate for open-loop stages)">"Baseline"</th>
                                <th>"Current"</th>
                                <th title="current − baseline; green is better, red worse">"Δ"</th>
                                <th title="Δ ÷ baseline × 100">"Δ%"</th>
                            </tr>
                        </thead>
                        {cmp.stages.into_iter().map(|c| view! { <StageBlock c=c /> }).collect_view()}
                    </table>
                </div>
                <p class="hint" title=cmp.method.clone()>
                    "Significance: Mann–Whitney U on the two stages' successful latencies (two-sided, normal \
                     approximation with tie correction): significant when p < 0.05, else within noise. It needs \
                     10 successful requests on each side and every sample."
                </p>
            </div>
        })
    }
}
