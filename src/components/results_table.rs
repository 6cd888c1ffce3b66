//! Per-stage results: the seed's figures plus percentiles, achieved concurrency and errors.

use leptos::prelude::*;
use stampede_engine::{Distribution, StageStats};

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

/// The table of `stats`, one row per stage; `shown` says whether there is a run to show and
/// where it came from.
#[component]
pub fn ResultsTable(
    #[prop(into)] stats: Signal<Vec<StageStats>>,
    #[prop(into)] shown: Signal<Shown>,
) -> impl IntoView {
    // Stream-only columns appear once any stage has streamed figures.
    let streamed = move || stats.with(|st| st.iter().any(|s| s.ttft_ms.is_some()));
    let open_loop = move || stats.with(|st| st.iter().any(|s| s.requested_rate_per_s.is_some()));
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
    view! {
        <Show when=move || shown.get() != Shown::Nothing>
            <section class="results" aria-label="Results">
                <h2>{title}</h2>
                <RunSummary stats=stats />
                <div class="table-wrap">
                <table id="results-table">
                    <thead>
                        <tr>
                            <th>"Stage"</th>
                            <th title="Requested concurrency / achieved = Σ latency ÷ wall time (Little's law)">"Concurrency (req. / achieved)"</th>
                            <th title="Requests that ended, excluding ones aborted by Stop">"Total"</th>
                            <th>"Successful"</th>
                            <th title="successful ÷ total">"Success rate"</th>
                            <th title="End-to-end latency over successful requests: from just before fetch() until the whole body was read">"Avg (ms)"</th>
                            <th title="p50 by nearest rank">"Median (ms)"</th>
                            <th>"Min (ms)"</th>
                            <th>"Max (ms)"</th>
                            <th title="Nearest rank on the exact sorted samples">"p90 (ms)"</th>
                            <th>"p95 (ms)"</th>
                            <th>"p99 (ms)"</th>
                            <th title="Median time until response headers arrived (fetch() resolved)">"TTFB p50 (ms)"</th>
                            <Show when=streamed>
                            <th title="Time to first token (streams): from just before fetch() to the first event carrying non-empty text, reasoning or tool-call delta. Role-only and empty chunks do not count.">"TTFT p50 / p95 (ms)"</th>
                            <th title="Time per output token (streams, ≥ 2 tokens): (latency − TTFT) ÷ (output tokens − 1)">"TPOT p50 / p95 (ms)"</th>
                            <th title="Inter-chunk latency (streams): time between consecutive content-bearing events, pooled over the stage. Not ITL: one event may carry several tokens.">"Inter-chunk p50 / p99 (ms)"</th>
                            </Show>
                            <th title="Σ output tokens of successful requests, and where the counts came from: usage (the server's count), stream-events (content-bearing events) or estimate (characters ÷ 4, rounded up)">"Output tokens (source)"</th>
                            <th title="total ÷ wall time (first request start → last request end)">"Requests/s"</th>
                            <th title="Σ output tokens of successful requests ÷ wall time. Token source: usage (server count), stream-events (content-bearing events) or estimate (characters ÷ 4, rounded up)">"Tokens/s"</th>
                            <th title="The server's own tokens_per_second, median">"Server tok/s"</th>
                            <th title="Time requests waited in the browser before being sent: for a free connection (HTTP/1.1 allows 6 per origin) or a CORS preflight. From resource timing; needs the server's Timing-Allow-Origin.">"Browser queue p50 (ms)"</th>
                            <Show when=open_loop>
                                <th title="Open-loop stages: requested arrival rate / achieved = (started − 1) ÷ (last start − first start)">"Rate req. / achieved (/s)"</th>
                                <th title="Actual start − intended start">"Schedule lag p50 / p99 (ms)"</th>
                                <th title="Started more than 5 ms late / dropped at the in-flight cap">"Late / dropped"</th>
                                <th title="End − intended start: latency corrected for coordinated omission">"Latency from intended p50 / p99 (ms)"</th>
                            </Show>
                            <th>"Errors"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            let (streamed, open_loop) = (streamed(), open_loop());
                            stats.get().into_iter().map(|s| view! { <StageRow s=s streamed=streamed open_loop=open_loop /> }).collect_view()
                        }}
                    </tbody>
                </table>
                </div>
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
fn StageRow(s: StageStats, streamed: bool, open_loop: bool) -> impl IntoView {
    let short = s.shortfall.is_some();
    let achieved = match (s.sent_concurrency, &s.sent_concurrency_unknown) {
        (Some(sent), _)
            if (sent - s.achieved_concurrency.unwrap_or(sent)).abs() > 0.05 * sent.max(1.0) =>
        {
            format!("{} (sent {sent:.2})", opt(s.achieved_concurrency, 2))
        }
        // Without resource timing the achieved figure includes time queued in the browser.
        (None, Some(_)) => format!(
            "{} incl. browser queue (sent unknown)",
            opt(s.achieved_concurrency, 2)
        ),
        _ => opt(s.achieved_concurrency, 2),
    };
    let concurrency_title = match (&s.shortfall, &s.sent_concurrency_unknown) {
        (Some(_), _) => "Fell short of what the stage asked for: see below the table".to_string(),
        (None, Some(why)) => format!("Sent concurrency {why}"),
        (None, None) => "Achieved = Σ latency ÷ wall time; sent = Σ (time past the browser queue) while work remained ÷ that span, what the server saw".to_string(),
    };
    let sources = s
        .token_sources
        .iter()
        .map(|t| t.source.label())
        .collect::<Vec<_>>()
        .join(", ");
    let lat = s.latency_ms.clone();
    let errors = s
        .errors
        .iter()
        .map(|e| {
            let label = e.class.label();
            view! { <li title=e.example.clone()><span class="class">{label}</span>" × "{e.count}<span class="example">{e.example.clone()}</span></li> }
        })
        .collect_view();
    view! {
        <tr data-stage=s.stage>
            <td>{s.name.clone()}</td>
            <td class="num" class:shortfall=short
                data-col="concurrency"
                title=concurrency_title>
                {s.requested_concurrency}" / "{achieved}
            </td>
            <td class="num" data-col="total">{s.completed}</td>
            <td class="num" data-col="successful">{s.successful}</td>
            <td class="num" data-col="success-rate">{opt(s.success_rate.map(|r| r * 100.0), 1)}"%"</td>
            <td class="num">{dist(&lat, |d| d.mean)}</td>
            <td class="num" data-col="median">{dist(&lat, |d| d.p50)}</td>
            <td class="num">{dist(&lat, |d| d.min)}</td>
            <td class="num">{dist(&lat, |d| d.max)}</td>
            <td class="num">{dist(&lat, |d| d.p90)}</td>
            <td class="num">{dist(&lat, |d| d.p95)}</td>
            <td class="num">{dist(&lat, |d| d.p99)}</td>
            <td class="num">{dist(&s.ttfb_ms, |d| d.p50)}</td>
            {streamed.then(|| view! {
                <td class="num" data-col="ttft">{pair(&s.ttft_ms, |d| d.p50, |d| d.p95)}</td>
                <td class="num" data-col="tpot">{pair(&s.tpot_ms, |d| d.p50, |d| d.p95)}</td>
                <td class="num" data-col="gaps">{pair(&s.inter_chunk_ms, |d| d.p50, |d| d.p99)}</td>
            })}
            <td class="num" data-col="tokens">{s.output_tokens}" ("{sources.clone()}")"</td>
            // Failures per second are not throughput: a stage where nothing succeeded shows none.
            <td class="num" data-col="rps">{opt(s.requests_per_s.filter(|_| s.successful > 0), 2)}</td>
            <td class="num" title=format!("token source: {sources}")>{opt(s.output_tokens_per_s, 1)}</td>
            <td class="num">{dist(&s.server_tokens_per_s, |d| d.p50)}</td>
            <td class="num" data-col="queue">{dist(&s.browser_queue_ms, |d| d.p50)}</td>
            {open_loop.then(|| view! {
                <td class="num" data-col="rate">{format!("{} / {}", opt(s.requested_rate_per_s, 1), opt(s.achieved_rate_per_s, 2))}</td>
                <td class="num" data-col="lag">{pair(&s.schedule_lag_ms, |d| d.p50, |d| d.p99)}</td>
                <td class="num" data-col="late">{format!("{} / {}", s.late, s.dropped)}</td>
                <td class="num">{pair(&s.latency_from_intended_ms, |d| d.p50, |d| d.p99)}</td>
            })}
            <td class="errors">
                {(s.aborted > 0).then(|| view! { <p class="aborted">{s.aborted}" aborted by Stop"</p> })}
                <ul>{errors}</ul>
            </td>
        </tr>
    }
}
