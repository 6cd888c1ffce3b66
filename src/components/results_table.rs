//! Per-stage results: the headline figures first, the rest a click away in column groups.
//!
//! Every group's cells are in the table, and the chosen group is shown by one attribute on it
//! (`data-view`, matched in `style/main.css`): switching groups redraws nothing, and tests and
//! copy-paste see every figure whichever group is on screen.

use leptos::prelude::*;
use stampede_engine::{Distribution, ErrorClass, StageStats};

use super::comparison::ComparisonTable;
use super::run_summary::RunSummary;
use crate::state::Shown;

fn ms(v: f64) -> String {
    format!("{v:.1}")
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn dist(d: &Option<Distribution>, f: fn(&Distribution) -> f64) -> String {
    d.as_ref().map_or("–".into(), |d| ms(f(d)))
}

fn pair(
    d: &Option<Distribution>,
    a: fn(&Distribution) -> f64,
    b: fn(&Distribution) -> f64,
) -> String {
    d.as_ref()
        .map_or("–".into(), |d| format!("{} / {}", ms(a(d)), ms(b(d))))
}

/// The column groups: value (for `data-view` and the CSS), label, and whether it applies.
#[derive(Clone, Copy, PartialEq)]
enum Group {
    Summary,
    Latency,
    Streaming,
    Tokens,
    Concurrency,
    OpenLoop,
    Errors,
}

impl Group {
    const ALL: [Group; 7] = [
        Group::Summary,
        Group::Latency,
        Group::Streaming,
        Group::Tokens,
        Group::Concurrency,
        Group::OpenLoop,
        Group::Errors,
    ];
    fn value(self) -> &'static str {
        match self {
            Group::Summary => "summary",
            Group::Latency => "latency",
            Group::Streaming => "streaming",
            Group::Tokens => "tokens",
            Group::Concurrency => "concurrency",
            Group::OpenLoop => "open-loop",
            Group::Errors => "errors",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Group::Summary => "Summary",
            Group::Latency => "Latency",
            Group::Streaming => "Streaming",
            Group::Tokens => "Tokens",
            Group::Concurrency => "Concurrency & queue",
            Group::OpenLoop => "Rate",
            Group::Errors => "Errors",
        }
    }
}

/// A header cell of group `g`.
fn th(g: Group, title: &'static str, text: &'static str) -> impl IntoView {
    view! { <th class=format!("g g-{}", g.value()) title=title>{text}</th> }
}

/// A number cell of group `g`; `col` names it for tests and scripts.
fn num(g: Group, col: &'static str, text: String) -> impl IntoView {
    view! { <td class=format!("num g g-{}", g.value()) data-col=col>{text}</td> }
}

/// The table of `stats`, one row per stage; `shown` says whether there is a run to show and
/// where it came from.
#[component]
pub fn ResultsTable(
    #[prop(into)] stats: Signal<Vec<StageStats>>,
    #[prop(into)] shown: Signal<Shown>,
) -> impl IntoView {
    let view_group = RwSignal::new(Group::Summary);
    // Stream-only and rate-only groups are offered once a stage has such figures.
    let streamed = move || stats.with(|st| st.iter().any(|s| s.ttft_ms.is_some()));
    let open_loop = move || stats.with(|st| st.iter().any(|s| s.requested_rate_per_s.is_some()));
    let offered = move |g: Group| match g {
        Group::Streaming => streamed(),
        Group::OpenLoop => open_loop(),
        _ => true,
    };
    // A group that stopped applying (a new run without streams) falls back to the summary.
    let current = move || {
        let g = view_group.get();
        if offered(g) {
            g
        } else {
            Group::Summary
        }
    };
    let shortfalls = move || {
        stats.with(|st| {
            st.iter()
                .filter_map(|s| Some((s.stage, s.name.clone(), s.shortfall.clone()?)))
                .collect::<Vec<_>>()
        })
    };
    let title = move || match shown.get() {
        Shown::Imported(name) => format!("Results (imported from {name})"),
        Shown::Previous => "Results (previous run)".to_string(),
        _ => "Results".to_string(),
    };
    let choices = move || {
        Group::ALL
            .into_iter()
            .filter(|&g| offered(g))
            .map(|g| {
                view! {
                    <label class="choice">
                        <input type="radio" name="results-view" value=g.value()
                            prop:checked=move || current() == g
                            on:change=move |_| view_group.set(g) />
                        {g.label()}
                    </label>
                }
            })
            .collect_view()
    };
    use Group::*;
    view! {
        <Show when=move || shown.get() != Shown::Nothing>
            <section class="results" aria-label="Results">
                <div class="results-head">
                    <h2>{title}</h2>
                    <fieldset class="views" id="results-views">
                        <legend>"Columns"</legend>
                        {choices}
                    </fieldset>
                </div>
                <RunSummary stats=stats />
                <div class="table-wrap">
                <table id="results-table" data-view=move || current().value()>
                    <thead>
                        <tr>
                            <th class="stage">"Stage"</th>
                            {th(Summary, "Requested concurrency / achieved = Σ latency ÷ wall time (Little's law); the Concurrency & queue columns say what the server saw", "Concurrency req. / achieved")}
                            {th(Summary, "Requests that ended, excluding warm-ups and ones aborted by Stop", "Total")}
                            {th(Summary, "Status in the expected set (2xx) and a body that parsed", "Successful")}
                            {th(Summary, "successful ÷ total", "Success rate")}
                            {th(Summary, "End-to-end latency of successful requests, median by nearest rank: from just before fetch() until the whole body was read", "p50 (ms)")}
                            {th(Summary, "95th percentile latency, nearest rank on the exact sorted samples", "p95 (ms)")}
                            {th(Summary, "99th percentile latency, nearest rank", "p99 (ms)")}
                            {th(Summary, "total ÷ wall time (first request start → last request end)", "Requests/s")}
                            {th(Summary, "Σ output tokens of successful requests ÷ wall time", "Tokens/s")}
                            {th(Summary, "Failed requests by class (hover for an example message; the Errors columns show them)", "Errors")}

                            {th(Latency, "Mean latency of successful requests", "Mean (ms)")}
                            {th(Latency, "Standard deviation of the latency of successful requests, sample (n − 1): √(Σ (latency − mean)² ÷ (n − 1)); 0 for one request", "Stddev (ms)")}
                            {th(Latency, "Fastest successful request", "Min (ms)")}
                            {th(Latency, "90th percentile, nearest rank", "p90 (ms)")}
                            {th(Latency, "Slowest successful request", "Max (ms)")}
                            {th(Latency, "Median time until response headers arrived (fetch() resolved)", "TTFB p50 (ms)")}

                            {th(Streaming, "Time to first token: from just before fetch() to the first event carrying non-empty text, reasoning or tool-call delta. Role-only and empty chunks do not count.", "TTFT p50 / p95 (ms)")}
                            {th(Streaming, "Time per output token (≥ 2 tokens): (latency − TTFT) ÷ (output tokens − 1)", "TPOT p50 / p95 (ms)")}
                            {th(Streaming, "Inter-chunk latency: time between consecutive content-bearing events, pooled over the stage. Not ITL: one event may carry several tokens.", "Inter-chunk p50 / p99 (ms)")}

                            {th(Tokens, "Σ output tokens of successful requests, and where the counts came from: usage (the server's count), stream-events (content-bearing events) or estimate (characters ÷ 4, rounded up)", "Output tokens (source)")}
                            {th(Tokens, "Σ prompt tokens the server reported for successful requests", "Prompt tokens")}
                            {th(Tokens, "The server's own tokens_per_second, median", "Server tok/s p50")}
                            {th(Tokens, "successful ÷ wall time", "Successful/s")}

                            {th(Concurrency, "The stage's concurrency; achieved = Σ latency ÷ wall time; sent = Σ (time past the browser queue) while work remained ÷ that span, what the server saw", "Req. / achieved / sent")}
                            {th(Concurrency, "Time requests waited in the browser before being sent: for a free connection (HTTP/1.1 allows 6 per origin) or a CORS preflight. From resource timing; needs the server's Timing-Allow-Origin.", "Browser queue p50 (ms)")}
                            {th(Concurrency, "The most requests in flight at once, per origin", "Most in flight")}
                            {th(Concurrency, "Warm-up requests before the stage, in no figure", "Warm-ups")}

                            {th(OpenLoop, "Requested arrival rate / achieved = (started − 1) ÷ (last start − first start)", "Rate req. / achieved (/s)")}
                            {th(OpenLoop, "Actual start − intended start", "Schedule lag p50 / p99 (ms)")}
                            {th(OpenLoop, "Started more than 5 ms late / dropped at the in-flight cap", "Late / dropped")}
                            {th(OpenLoop, "End − intended start: latency corrected for coordinated omission", "From intended p50 / p99 (ms)")}

                            {th(Errors, "Requests that ended in a failure (aborted ones are not failures)", "Failed")}
                            {th(Errors, "Cut short by Stop or Skip; not counted as completed", "Aborted")}
                            {th(Errors, "Each class with one example message", "Errors by class")}
                        </tr>
                    </thead>
                    <tbody>
                        {move || stats.get().into_iter().map(|s| view! { <StageRow s=s /> }).collect_view()}
                    </tbody>
                </table>
                </div>
                <ComparisonTable />
                {move || {
                    let list = shortfalls();
                    (!list.is_empty()).then(|| view! {
                        <ul class="shortfalls" id="shortfalls">
                            {list.into_iter().map(|(i, name, why)| view! {
                                <li data-stage=i><strong>{format!("{name} fell short: ")}</strong>{why}</li>
                            }).collect_view()}
                        </ul>
                    })
                }}
            </section>
        </Show>
    }
}

#[component]
fn StageRow(s: StageStats) -> impl IntoView {
    use Group::*;
    let short = s.shortfall.is_some();
    let sent = match (s.sent_concurrency, &s.sent_concurrency_unknown) {
        (Some(sent), _) => format!("{sent:.2}"),
        // Without resource timing the achieved figure includes time queued in the browser.
        (None, Some(_)) => "unknown".into(),
        (None, None) => "–".into(),
    };
    let concurrency_title = match (&s.shortfall, &s.sent_concurrency_unknown) {
        (Some(_), _) => "Fell short of what the stage asked for: see below the table".to_string(),
        (None, Some(why)) => format!("Sent concurrency {why}"),
        (None, None) => "Achieved = Σ latency ÷ wall time; the Concurrency & queue columns say what the server saw".to_string(),
    };
    let sources = s
        .token_sources
        .iter()
        .map(|t| t.source.label())
        .collect::<Vec<_>>()
        .join(", ");
    let lat = s.latency_ms.clone();
    let failures = || s.errors.iter().filter(|e| e.class != ErrorClass::Aborted);
    let brief = failures()
        .map(|e| view! { <li title=e.example.clone()><span class="class">{e.class.label()}</span>{format!(" × {}", e.count)}</li> })
        .collect_view();
    let full = failures()
        .map(|e| {
            view! {
                <li><span class="class">{e.class.label()}</span>{format!(" × {}", e.count)}
                    <span class="example">{e.example.clone()}</span></li>
            }
        })
        .collect_view();
    let in_flight = s
        .max_in_flight
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" + ");
    view! {
        <tr data-stage=s.stage>
            <td class="stage">{s.name.clone()}</td>
            <td class="num g g-summary" class:shortfall=short data-col="concurrency" title=concurrency_title.clone()>
                {format!("{} / {}", s.requested_concurrency, opt(s.achieved_concurrency, 2))}
                // Without resource timing the achieved figure includes time queued in the browser.
                {s.sent_concurrency_unknown.is_some().then(|| view! { <span class="note">" incl. browser queue"</span> })}
            </td>
            {num(Summary, "total", s.completed.to_string())}
            {num(Summary, "successful", s.successful.to_string())}
            {num(Summary, "success-rate", format!("{}%", opt(s.success_rate.map(|r| r * 100.0), 1)))}
            {num(Summary, "median", dist(&lat, |d| d.p50))}
            {num(Summary, "p95", dist(&lat, |d| d.p95))}
            {num(Summary, "p99", dist(&lat, |d| d.p99))}
            // Failures per second are not throughput: a stage where nothing succeeded shows none.
            {num(Summary, "rps", opt(s.requests_per_s.filter(|_| s.successful > 0), 2))}
            <td class="num g g-summary" data-col="tps" title=format!("token source: {sources}")>{opt(s.output_tokens_per_s, 1)}</td>
            <td class="errors g g-summary" data-col="errors" data-failed=s.failed>
                {(s.failed == 0).then_some("none")}
                <ul>{brief}</ul>
                {(s.aborted > 0).then(|| view! { <p class="aborted">{s.aborted}" aborted by Stop"</p> })}
            </td>

            {num(Latency, "mean", dist(&lat, |d| d.mean))}
            {num(Latency, "stddev", dist(&lat, |d| d.stddev))}
            {num(Latency, "min", dist(&lat, |d| d.min))}
            {num(Latency, "p90", dist(&lat, |d| d.p90))}
            {num(Latency, "max", dist(&lat, |d| d.max))}
            {num(Latency, "ttfb", dist(&s.ttfb_ms, |d| d.p50))}

            {num(Streaming, "ttft", pair(&s.ttft_ms, |d| d.p50, |d| d.p95))}
            {num(Streaming, "tpot", pair(&s.tpot_ms, |d| d.p50, |d| d.p95))}
            {num(Streaming, "gaps", pair(&s.inter_chunk_ms, |d| d.p50, |d| d.p99))}

            {num(Tokens, "tokens", format!("{} ({sources})", s.output_tokens))}
            {num(Tokens, "prompt-tokens", s.prompt_tokens.to_string())}
            {num(Tokens, "server-tps", dist(&s.server_tokens_per_s, |d| d.p50))}
            {num(Tokens, "successful-per-s", opt(s.successful_per_s, 2))}

            <td class="num g g-concurrency" class:shortfall=short data-col="sent" title=concurrency_title>
                {format!("{} / {} / {sent}", s.requested_concurrency, opt(s.achieved_concurrency, 2))}
            </td>
            {num(Concurrency, "queue", dist(&s.browser_queue_ms, |d| d.p50))}
            {num(Concurrency, "max-in-flight", if in_flight.is_empty() { "–".into() } else { in_flight })}
            {num(Concurrency, "warmups", s.warmups.to_string())}

            {num(OpenLoop, "rate", format!("{} / {}", opt(s.requested_rate_per_s, 1), opt(s.achieved_rate_per_s, 2)))}
            {num(OpenLoop, "lag", pair(&s.schedule_lag_ms, |d| d.p50, |d| d.p99))}
            {num(OpenLoop, "late", format!("{} / {}", s.late, s.dropped))}
            {num(OpenLoop, "from-intended", pair(&s.latency_from_intended_ms, |d| d.p50, |d| d.p99))}

            {num(Errors, "failed", s.failed.to_string())}
            {num(Errors, "aborted", s.aborted.to_string())}
            <td class="errors g g-errors" data-col="error-examples"><ul>{full}</ul></td>
        </tr>
    }
}
