//! The History panel: the runs kept in this browser, newest first, each with its headline
//! figures, an editable label, and Open, Set as baseline, Overlay, Export and Delete.

use leptos::prelude::*;
use stampede_engine::{HistoryEntry, MAX_HISTORY_BYTES, MAX_HISTORY_RUNS, MAX_LABEL_CHARS};

use crate::history::HistoryState;
use crate::state::{AppState, Shown};

fn opt(v: Option<f64>, digits: usize, unit: &str) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}{unit}"))
}

#[component]
pub fn HistoryPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let history = state.history;
    // Rows read the entries through this, not the whole app state.
    provide_context(history);
    let ids = move || {
        history
            .list
            .with(|l| l.entries().iter().map(|e| e.id.clone()).collect::<Vec<_>>())
    };
    let can_keep = move || {
        matches!(state.shown.get(), Shown::Imported(_))
            && !state.running()
            && history.loaded.get()
            && !state.shown_import_in_history()
    };
    let kept_note =
        move || matches!(state.shown.get(), Shown::Imported(_)) && state.shown_import_in_history();
    let usage = move || {
        history.list.with(|l| {
            format!(
                "{} of {MAX_HISTORY_RUNS} runs, {:.1} of {} MB. Kept in this browser only; \
                 no API key or header value outside the export allow-list is kept.",
                l.entries().len(),
                l.total_bytes() as f64 / 1e6,
                MAX_HISTORY_BYTES / 1_000_000
            )
        })
    };
    view! {
        <section class="history" id="history" aria-labelledby="history-title">
            <div class="history-head">
                <h2 id="history-title">"History"</h2>
                <span class="hint" id="history-usage">{usage}</span>
                // Which run is the baseline, beside the list the user picks it from.
                {move || state.baseline.get().map(|b| view! {
                    <span id="history-baseline" role="status">{format!("Baseline: {}", b.label)}</span>
                })}
            </div>
            {move || history.problem.get().map(|m| view! {
                <p class="field-error" id="history-problem" role="alert">{m}</p>
            })}
            {move || history.notice.get().map(|m| view! {
                <p class="warning" id="history-notice" role="status">{m}</p>
            })}
            <Show when=can_keep>
                <p class="actions">
                    <button type="button" on:click=move |_| state.keep_import_in_history()>
                        "Keep in history"
                    </button>
                </p>
            </Show>
            <Show when=kept_note>
                <p class="hint" id="history-kept">"This report is in the history."</p>
            </Show>
            <Show
                when=move || history.list.with(|l| !l.entries().is_empty())
                fallback=move || view! {
                    <p class="info" id="history-empty">{move || if history.loaded.get() {
                        "Every finished or stopped run is kept here; imported reports too, with Keep in history."
                    } else {
                        "Reading the history…"
                    }}</p>
                }
            >
                <div class="table-wrap">
                    <table id="history-table">
                        <thead><tr>
                            <th>"Date"</th><th>"Label"</th><th>"Endpoint"</th><th>"Preset"</th><th>"Suite"</th>
                            <th title="Completed requests over every stage">"Requests"</th>
                            <th title="Successful ÷ completed requests over every stage">"Success"</th>
                            <th title="Median (nearest rank) latency of every successful request">"p50 latency"</th>
                            <th title="The best stage's completed requests ÷ its wall time">"Peak req/s"</th>
                            <th><span class="visually-hidden">"Actions"</span></th>
                        </tr></thead>
                        <tbody>
                            <For each=ids key=|id| id.clone() let:id>
                                <HistoryRow id=id />
                            </For>
                        </tbody>
                    </table>
                </div>
            </Show>
        </section>
    }
}

/// One kept run. Its figures never change; its label can.
#[component]
fn HistoryRow(id: String) -> impl IntoView {
    let state = expect_context::<AppState>();
    let history = expect_context::<HistoryState>();
    let Some(entry) = history.list.with_untracked(|l| l.get(&id).cloned()) else {
        return ().into_any();
    };
    let HistoryEntry {
        host,
        preset,
        suite,
        figures,
        stopped,
        imported,
        ..
    } = entry.clone();
    let label = {
        let id = id.clone();
        move || {
            history
                .list
                .with(|l| l.get(&id).map(|e| e.label.clone()).unwrap_or_default())
        }
    };
    let error = RwSignal::new(None::<String>);
    let input_id = format!("history-label-{}", entry.seq);
    let error_id = format!("{input_id}-error");
    let rename = {
        let id = id.clone();
        move |ev: leptos::ev::Event| {
            error.set(history.rename(&id, &event_target_value(&ev)).err());
        }
    };
    let (open_id, base_id, export_id, delete_id) = (id.clone(), id.clone(), id.clone(), id.clone());
    let (overlay_id, drawn_id) = (id.clone(), id.clone());
    let drawn = Memo::new(move |_| state.overlaid(&drawn_id));
    let note = match (stopped, imported) {
        (true, true) => " (stopped; imported)",
        (true, false) => " (stopped)",
        (false, true) => " (imported)",
        (false, false) => "",
    };
    view! {
        <tr data-id=id.clone()>
            <td data-col="date">{entry.date()}<span class="hint">{note}</span></td>
            <td data-col="label">
                <label class="visually-hidden" for=input_id.clone()>{format!("Label of the run of {}", entry.date())}</label>
                <input type="text" id=input_id.clone() maxlength=MAX_LABEL_CHARS.to_string()
                    prop:value=label
                    aria-invalid=move || error.get().is_some().to_string()
                    aria-describedby=error_id.clone()
                    on:change=rename />
                {move || error.get().map(|m| view! { <p class="field-error" id=error_id.clone() role="alert">{m}</p> })}
            </td>
            <td data-col="host">{host}</td>
            <td data-col="preset">{preset}</td>
            <td data-col="suite">{suite}</td>
            <td class="num" data-col="requests">{figures.requests.to_string()}</td>
            <td class="num" data-col="success">{opt(figures.success_rate.map(|r| r * 100.0), 1, " %")}</td>
            <td class="num" data-col="p50">{opt(figures.median_latency_ms, 1, " ms")}</td>
            <td class="num" data-col="rps">{opt(figures.peak_requests_per_s, 1, "")}</td>
            <td class="actions">
                <button type="button" prop:disabled=move || state.running()
                    on:click=move |_| history.open(state, open_id.clone())>"Open"</button>
                " "<button type="button" class="secondary"
                    on:click=move |_| history.set_baseline(state, base_id.clone())>"Set as baseline"</button>
                " "<button type="button" class="secondary" aria-pressed=move || drawn.get().to_string()
                    title="Draw this run on the scaling charts beside the baseline (up to 5 runs in all)"
                    on:click=move |_| history.toggle_overlay(state, overlay_id.clone())>
                    {move || if drawn.get() { "Remove overlay" } else { "Overlay" }}</button>
                " "<button type="button" class="secondary"
                    on:click=move |_| history.export(export_id.clone())>"Export"</button>
                " "<button type="button" class="secondary"
                    on:click=move |_| history.delete(delete_id.clone())>"Delete"</button>
            </td>
        </tr>
    }
    .into_any()
}
