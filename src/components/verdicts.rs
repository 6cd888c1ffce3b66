//! Each stage judged against the SLO, the run's verdict, goodput and the knee. Re-judged from
//! the shown run's samples whenever a threshold or the results change, so a finished or
//! imported run can be judged again without running it.

use leptos::prelude::*;
use stampede_engine::{assess, figure, SloReport, StageStats, Verdict};

use crate::state::AppState;

const VERDICT_RULE: &str = "pass: every threshold holds on the stage's figures. fail: a figure breaks its threshold, or requests completed and none succeeded. not enough data: a percentile p needs ⌈100 ÷ (100 − p)⌉ samples (p50: 2, p90: 10, p95: 20, p99: 100), the error rate a completed request, tokens/s a successful one. The run's verdict is the worst stage's.";
const GOOD_RULE: &str = "A good request succeeded, and its own latency, TTFT and TPOT are each ≤ the tightest threshold given on that figure (TTFT p95 ≤ 500 makes a request good only if its TTFT ≤ 500 ms; no TTFT, not good; a one-token stream has TPOT 0). Goodput as DistServe and vLLM define it.";

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Insufficient => "insufficient",
    }
}

#[component]
pub fn Verdicts() -> impl IntoView {
    let state = expect_context::<AppState>();
    let judged = Memo::new(move |_| {
        // Samples live outside the reactive graph; every published snapshot bumps the tick.
        state.chart_tick.track();
        let slo = state.config.with(|c| c.slo.clone());
        state.stats.with(|st| {
            state
                .session
                .with_value(|s| assess(&slo, st, s.agg.samples()))
        })
    });
    move || {
        let report = judged.get()?;
        let stats = state.stats.get();
        Some(view_of(report, &stats))
    }
}

fn view_of(r: SloReport, stats: &[StageStats]) -> impl IntoView {
    let name = |i: u32| {
        stats
            .iter()
            .find(|s| s.stage == i)
            .map_or(format!("Stage {}", i + 1), |s| s.name.clone())
    };
    let rows = r
        .stages
        .iter()
        .map(|j| {
            let v = j.verdict.verdict;
            let why = j.verdict.reasons();
            let g = j.goodput.clone().unwrap_or_default();
            let past_ceiling = j.goodput.is_none();
            view! {
                <tr data-stage=j.stage data-verdict=verdict_class(v)>
                    <th scope="row">{name(j.stage)}</th>
                    <td class=format!("verdict {}", verdict_class(v)) data-col="verdict">{v.label()}</td>
                    <td data-col="why">{why}</td>
                    <td class="num" data-col="good">{if past_ceiling { "–".to_string() } else { g.good_requests.to_string() }}</td>
                    <td class="num" data-col="good-per-s">{opt(g.good_per_s, 2)}</td>
                    <td class="num" data-col="goodput-share">{g.goodput_share.map_or("–".into(), |s| format!("{}%", figure(s * 100.0)))}</td>
                    <td class="num" data-col="good-tokens-per-s">{opt(g.good_tokens_per_s, 1)}</td>
                </tr>
            }
        })
        .collect_view();
    let knee = r.knee.as_ref().map(|k| k.label());
    view! {
        <section class="verdicts" id="slo-verdicts" aria-labelledby="slo-verdicts-title">
            <h2 id="slo-verdicts-title">"SLO verdict"</h2>
            <p class=format!("run-verdict {}", verdict_class(r.verdict)) id="slo-run-verdict" data-verdict=verdict_class(r.verdict) title=VERDICT_RULE>
                {format!("Run: {}", r.verdict.label())}
            </p>
            {knee.map(|k| view! { <p class="knee" id="slo-knee">{k}</p> })}
            <div class="table-scroll">
                <table class="verdict-table">
                    <thead><tr>
                        <th scope="col">"Stage"</th>
                        <th scope="col" title=VERDICT_RULE>"Verdict"</th>
                        <th scope="col">"Failing figures"</th>
                        <th scope="col" class="num" title=GOOD_RULE>"Good requests"</th>
                        <th scope="col" class="num" title="good requests ÷ wall time">"Good req/s"</th>
                        <th scope="col" class="num" title="good requests ÷ completed requests">"Goodput share"</th>
                        <th scope="col" class="num" title="Σ output tokens of good requests ÷ wall time">"Good tok/s"</th>
                    </tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}
