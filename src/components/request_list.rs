//! Every request of the run, and one request's detail: status, timings, tokens and its chunk
//! arrival timeline. Reads the samples outside the reactive graph on each published snapshot.

use leptos::prelude::*;
use stampede_engine::Sample;

use crate::state::{AppState, Shown};

/// Rows shown per "Show more".
const PAGE: usize = 100;

fn ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.1}"))
}

fn outcome(s: &Sample) -> String {
    match (s.error_class, s.status) {
        (None, Some(st)) => format!("{st} ok"),
        (None, None) => "ok".into(),
        (Some(c), Some(st)) => format!("{st} {}", c.label()),
        (Some(c), None) => c.label().into(),
    }
}

#[component]
pub fn RequestList() -> impl IntoView {
    let state = expect_context::<AppState>();
    let stage_filter = RwSignal::new(String::from("all"));
    let failed_only = RwSignal::new(false);
    let limit = RwSignal::new(PAGE);
    let selected = RwSignal::new(None::<u64>);

    let rows = Memo::new(move |_| {
        state.chart_tick.track();
        let stage: Option<u32> = stage_filter.with(|f| f.parse().ok());
        let failed = failed_only.get();
        let limit = limit.get();
        state.session.with_value(|s| {
            let mut matching = s
                .agg
                .samples()
                .filter(|x| stage.is_none_or(|st| x.stage == st) && (!failed || !x.ok()));
            let shown: Vec<Sample> = matching.by_ref().take(limit).collect();
            (shown, matching.count())
        })
    });
    // A memo: the options are rebuilt only when the stages change, not with every snapshot.
    let stage_names = Memo::new(move |_| {
        state.chart_tick.track();
        state.session.with_value(|s| {
            s.agg
                .stages()
                .iter()
                .enumerate()
                .map(|(i, st)| (i.to_string(), format!("{}: {}", i + 1, st.name)))
                .collect::<Vec<_>>()
        })
    });
    let detail = move || {
        let index = selected.get()?;
        state.chart_tick.track();
        let sample = state
            .session
            .with_value(|s| s.agg.samples().find(|x| x.index == index))?;
        Some(view! { <RequestDetail s=sample on_close=move || selected.set(None) /> })
    };

    view! {
        <Show when=move || state.shown.get() != Shown::Nothing>
            <section class="requests" aria-label="Requests">
                <h2>"Requests"</h2>
                <div class="filters">
                    <label>"Stage "
                        <select on:change=move |ev| { stage_filter.set(event_target_value(&ev)); limit.set(PAGE); }>
                            <option value="all">"All stages"</option>
                            {move || stage_names.get().into_iter().map(|(v, label)| view! { <option value=v>{label}</option> }).collect_view()}
                        </select>
                    </label>
                    <label class="check">
                        <input type="checkbox" on:change=move |ev| { failed_only.set(event_target_checked(&ev)); limit.set(PAGE); } />
                        "Failed only"
                    </label>
                </div>
                {detail}
                <div class="table-wrap">
                    <table id="request-table">
                        <thead><tr>
                            <th>"#"</th><th>"Stage"</th><th>"Outcome"</th><th>"Start (ms)"</th>
                            <th>"Latency (ms)"</th><th>"TTFB (ms)"</th><th>"TTFT (ms)"</th><th>"Tokens"</th>
                        </tr></thead>
                        <tbody>
                            {move || rows.get().0.into_iter().map(|s| {
                                let index = s.index;
                                view! {
                                    <tr class="clickable" class:failed=!s.ok() class:selected=move || selected.get() == Some(index)
                                        tabindex="0" on:click=move |_| selected.set(Some(index))
                                        on:keydown=move |ev| if ev.key() == "Enter" { selected.set(Some(index)) }>
                                        <td class="num">{index}</td>
                                        <td class="num">{s.stage + 1}</td>
                                        <td>{outcome(&s)}</td>
                                        <td class="num">{format!("{:.1}", s.start_ms)}</td>
                                        <td class="num">{format!("{:.1}", s.latency_ms())}</td>
                                        <td class="num">{ms(s.ttfb_ms())}</td>
                                        <td class="num">{ms(s.ttft_ms())}</td>
                                        <td class="num">{s.output_tokens.map_or("–".into(), |n| n.to_string())}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                {move || {
                    let more = rows.with(|r| r.1);
                    (more > 0).then(|| view! {
                        <button type="button" class="secondary" on:click=move |_| limit.update(|l| *l += PAGE)>
                            {format!("Show {} more of {more}", more.min(PAGE))}
                        </button>
                    })
                }}
            </section>
        </Show>
    }
}

/// One request: figures, server timings beside the client's, and the chunk timeline.
#[component]
fn RequestDetail(s: Sample, on_close: impl Fn() + 'static) -> impl IntoView {
    let rel = |t: Option<f64>| t.map(|t| t - s.start_ms);
    let server = s.server_durations.clone().map(|d| {
        view! {
            <tr><th>"Server's own timings (Ollama)"</th><td>
                {format!("total {} · load {} · prompt eval {} · eval {} ms (client latency {:.1} ms)",
                    ms(d.total_ms), ms(d.load_ms), ms(d.prompt_eval_ms), ms(d.eval_ms), s.latency_ms())}
            </td></tr>
        }
    });
    let tokens = match (s.output_tokens, s.token_source) {
        (Some(n), Some(src)) => format!("{n} (source: {})", src.label()),
        _ => "–".into(),
    };
    view! {
        <div class="request-detail" id="request-detail" role="region" aria-label=format!("Request {}", s.index)>
            <h3>{format!("Request #{} · stage {}", s.index, s.stage + 1)}
                <button type="button" class="secondary close" on:click=move |_| on_close()>"Close"</button></h3>
            <table>
                <tr><th>"Outcome"</th><td>{outcome(&s)}</td></tr>
                {s.error_message.clone().map(|m| view! { <tr><th>"Error"</th><td class="error-body"><pre>{m}</pre></td></tr> })}
                <tr><th>"Started"</th><td>{format!("{:.1} ms after the run started", s.start_ms)}</td></tr>
                <tr><th>"Latency"</th><td>{format!("{:.1} ms", s.latency_ms())}</td></tr>
                <tr><th>"TTFB"</th><td>{ms(s.ttfb_ms())}" ms"</td></tr>
                <tr><th>"TTFT"</th><td>{ms(s.ttft_ms())}" ms"</td></tr>
                <tr><th>"TPOT"</th><td>{ms(s.tpot_ms())}" ms"</td></tr>
                <tr><th>"Output tokens"</th><td>{tokens}</td></tr>
                <tr><th>"Prompt tokens"</th><td>{s.prompt_tokens.map_or("–".into(), |n| n.to_string())}</td></tr>
                {s.server_tokens_per_s.map(|v| view! { <tr><th>"Server tokens/s"</th><td>{format!("{v:.1}")}</td></tr> })}
                {server}
            </table>
            <ChunkTimeline latency=s.latency_ms() ttfb=rel(s.headers_ms) events=s.content_ms.iter().map(|t| t - s.start_ms).collect() />
        </div>
    }
}

/// Arrival of each content-bearing event on the request's own time axis (SVG, crisp at any DPI).
#[component]
fn ChunkTimeline(latency: f64, ttfb: Option<f64>, events: Vec<f64>) -> impl IntoView {
    const W: f64 = 600.0;
    let span = latency.max(1.0);
    let x = move |t: f64| 10.0 + (t / span) * (W - 20.0);
    let label = if events.is_empty() {
        "No streamed content events (not a stream, or it failed before content arrived)."
            .to_string()
    } else {
        format!("{} content events; first at {:.1} ms, last at {:.1} ms; the whole response took {:.1} ms.",
            events.len(), events[0], events[events.len() - 1], latency)
    };
    view! {
        <figure class="timeline">
            <svg viewBox=format!("0 0 {W} 46") width="100%" height="46" role="img" aria-label=label.clone()>
                <line x1=x(0.0) x2=x(span) y1="30" y2="30" class="axis" />
                {ttfb.map(|t| view! { <line x1=x(t) x2=x(t) y1="14" y2="38" class="ttfb"><title>{format!("headers at {t:.1} ms")}</title></line> })}
                {events.iter().map(|&t| view! { <line x1=x(t) x2=x(t) y1="20" y2="30" class="event"><title>{format!("{t:.1} ms")}</title></line> }).collect_view()}
                <text x=x(0.0) y="44" class="tick">"0"</text>
                <text x=x(span) y="44" class="tick" text-anchor="end">{format!("{latency:.0} ms")}</text>
            </svg>
            <figcaption>{label}</figcaption>
        </figure>
    }
}
