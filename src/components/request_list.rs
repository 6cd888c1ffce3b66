//! Every request of the run, warm-ups marked, and one request's detail in a dialog: status,
//! timings, tokens, the start of its response and its chunk arrival timeline. Reads the samples
//! outside the reactive graph on each published snapshot.

use leptos::prelude::*;
use stampede_engine::{ErrorClass, Sample, RESPONSES_PER_STAGE, RESPONSE_CHARS};

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

/// A failure the results table counts: not an abort by Stop (those are counted apart).
fn counted_failure(s: &Sample) -> bool {
    s.error_class.is_some_and(|c| c != ErrorClass::Aborted)
}

/// Which requests the list shows. "Failed only" is exactly what the results table counts as
/// failed: measured requests, so a failed warm-up is listed under warm-ups, not there.
#[derive(Clone, Copy, PartialEq)]
enum Filter {
    All,
    Measured,
    Failed,
    Warmups,
}

impl Filter {
    fn parse(v: &str) -> Filter {
        match v {
            "measured" => Filter::Measured,
            "failed" => Filter::Failed,
            "warmups" => Filter::Warmups,
            _ => Filter::All,
        }
    }
    fn keeps(self, s: &Sample) -> bool {
        match self {
            Filter::All => true,
            Filter::Measured => !s.warmup,
            Filter::Failed => !s.warmup && counted_failure(s),
            Filter::Warmups => s.warmup,
        }
    }
}

/// What the filters found: the rows shown, how many more match, and the counts by kind.
#[derive(Clone, Default, PartialEq)]
struct Found {
    rows: Vec<Sample>,
    more: usize,
    measured: usize,
    failed: usize,
    warmups: usize,
}

#[component]
pub fn RequestList() -> impl IntoView {
    let state = expect_context::<AppState>();
    let stage_filter = RwSignal::new(String::from("all"));
    let filter = RwSignal::new(Filter::All);
    let limit = RwSignal::new(PAGE);
    // The clicked request itself: a finished sample never changes, so the detail need not
    // look it up again on every snapshot.
    let selected = RwSignal::new(None::<Sample>);
    let dialog = NodeRef::<leptos::html::Dialog>::new();

    let found = Memo::new(move |_| {
        state.chart_tick.track();
        let stage: Option<u32> = stage_filter.with(|f| f.parse().ok());
        let (filter, limit) = (filter.get(), limit.get());
        state.session.with_value(|s| {
            let mut f = Found::default();
            let mut matching = 0usize;
            for x in s
                .agg
                .samples()
                .filter(|x| stage.is_none_or(|st| x.stage == st))
            {
                f.warmups += usize::from(x.warmup);
                f.measured += usize::from(!x.warmup);
                f.failed += usize::from(!x.warmup && counted_failure(&x));
                if filter.keeps(&x) {
                    matching += 1;
                    if f.rows.len() < limit {
                        f.rows.push(x);
                    }
                }
            }
            f.more = matching - f.rows.len();
            f
        })
    });
    // The rows alone, so they are rebuilt only when the rows shown change: the counts change
    // with every snapshot, and rebuilding a page of rows each time (every attribute removed
    // and set again, every listener detached and attached) was the largest share of the
    // long main-thread tasks during a run in the DevTools profile.
    let rows = Memo::new(move |_| found.with(|f| f.rows.clone()));
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
    // The detail is a modal dialog: in the viewport wherever the clicked row was, and the
    // browser closes it on Escape (its `close` event clears the selection).
    Effect::new(move |_| {
        let open = selected.with(Option::is_some);
        if let Some(d) = dialog.get() {
            if open && !d.open() {
                let _ = d.show_modal();
            } else if !open && d.open() {
                d.close();
            }
        }
    });
    let counts = move || {
        found.with(|f| {
            let s = if f.warmups == 1 { "" } else { "s" };
            format!(
                "{} measured ({} failed) · {} warm-up{s}",
                f.measured, f.failed, f.warmups
            )
        })
    };
    let on_backdrop = move |ev: leptos::ev::MouseEvent| {
        // A click on the backdrop lands on the dialog element itself, not on its content.
        let target = ev.target();
        let is_dialog = dialog.get().is_some_and(|d| {
            let d: &wasm_bindgen::JsValue = d.as_ref();
            target.as_ref().is_some_and(|t| {
                let t: &wasm_bindgen::JsValue = t.as_ref();
                t == d
            })
        });
        if is_dialog {
            selected.set(None);
        }
    };

    view! {
        <Show when=move || state.shown.get() != Shown::Nothing>
            <section class="requests" aria-label="Requests">
                <h2>"Requests"</h2>
                <div class="filters">
                    <label>"Stage "
                        <select id="request-stage" on:change=move |ev| { stage_filter.set(event_target_value(&ev)); limit.set(PAGE); }>
                            <option value="all">"All stages"</option>
                            {move || stage_names.get().into_iter().map(|(v, label)| view! { <option value=v>{label}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"Show "
                        <select id="request-filter" on:change=move |ev| { filter.set(Filter::parse(&event_target_value(&ev))); limit.set(PAGE); }>
                            <option value="all">"All requests"</option>
                            <option value="measured">"Measured only (no warm-ups)"</option>
                            <option value="failed">"Failed only"</option>
                            <option value="warmups">"Warm-ups only"</option>
                        </select>
                    </label>
                    <p class="count" id="request-count">{counts}</p>
                </div>
                <div class="table-wrap">
                    <table id="request-table">
                        <thead><tr>
                            <th>"#"</th><th>"Stage"</th><th>"Outcome"</th><th>"Start (ms)"</th>
                            <th>"Latency (ms)"</th><th>"TTFB (ms)"</th><th>"TTFT (ms)"</th><th>"Tokens"</th>
                        </tr></thead>
                        <tbody>
                            {move || rows.get().into_iter().map(|s| view! { <Row s=s selected=selected /> }).collect_view()}
                        </tbody>
                    </table>
                </div>
                {move || {
                    let more = found.with(|f| f.more);
                    (more > 0).then(|| view! {
                        <button type="button" class="secondary" on:click=move |_| limit.update(|l| *l += PAGE)>
                            {format!("Show {} more of {more}", more.min(PAGE))}
                        </button>
                    })
                }}
                <dialog node_ref=dialog class="request-dialog" aria-label="Request detail"
                    on:close=move |_| selected.set(None) on:click=on_backdrop>
                    {move || selected.get().map(|s| view! { <RequestDetail s=s on_close=move || selected.set(None) /> })}
                </dialog>
            </section>
        </Show>
    }
}

/// One request's row; clicking it (or Enter) opens its detail.
#[component]
fn Row(s: Sample, selected: RwSignal<Option<Sample>>) -> impl IntoView {
    let index = s.index;
    let cells = view! {
        <td class="num">{index}</td>
        <td class="num">{s.stage + 1}</td>
        <td>{s.warmup.then(|| view! { <span class="badge" title="Run before the stage; in no figure">"warm-up"</span>" " })}{outcome(&s)}</td>
        <td class="num">{format!("{:.1}", s.start_ms)}</td>
        <td class="num">{format!("{:.1}", s.latency_ms())}</td>
        <td class="num">{ms(s.ttfb_ms())}</td>
        <td class="num">{ms(s.ttft_ms())}</td>
        <td class="num">{s.output_tokens.map_or("–".into(), |n| n.to_string())}</td>
    };
    let (failed, warmup) = (!s.ok(), s.warmup);
    let open = move || selected.set(Some(s.clone()));
    let open_key = open.clone();
    view! {
        <tr class="clickable" class:failed=failed class:warmup=warmup
            class:selected=move || selected.with(|x| x.as_ref().is_some_and(|x| x.index == index))
            tabindex="0" on:click=move |_| open()
            on:keydown=move |ev| if ev.key() == "Enter" { open_key() }>
            {cells}
        </tr>
    }
}

/// One request: figures, server timings beside the client's, its response and the chunk timeline.
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
    let response = s.ok().then(|| {
        let body = match s.response_text.clone() {
            Some(text) => view! { <pre class="response-text" id="response-text">{text}</pre> }.into_any(),
            None => view! { <span class="hint">{format!(
                "Not kept: the first {RESPONSES_PER_STAGE} responses of each stage keep their first {RESPONSE_CHARS} characters."
            )}</span> }
            .into_any(),
        };
        view! { <tr><th>"Response"</th><td>{body}</td></tr> }
    });
    let kind = if s.warmup {
        " · warm-up (in no figure)"
    } else {
        ""
    };
    view! {
        <div class="request-detail" id="request-detail" role="region" aria-label=format!("Request {}", s.index)>
            <h3>{format!("Request #{} · stage {}{kind}", s.index, s.stage + 1)}
                <button type="button" class="secondary close" autofocus on:click=move |_| on_close()>"Close"</button></h3>
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
                {response}
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
    let label = match (events.first(), events.last()) {
        (Some(first), Some(last)) => format!(
            "{} content events; first at {first:.1} ms, last at {last:.1} ms; the whole response took {latency:.1} ms.",
            events.len()
        ),
        _ => "No streamed content events (not a stream, or it failed before content arrived)."
            .to_string(),
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
