//! "Compare with a report…": set a report file as the baseline the results are compared with,
//! and "Stop comparing".

use leptos::prelude::*;
use leptos::task::spawn_local;
use stampede_engine::{too_big, BaselineRef, Report, MAX_REPORT_BYTES};

use crate::browser::files;
use crate::state::AppState;

/// A report file's label: its name without `.json`.
fn label_of(name: &str) -> String {
    name.strip_suffix(".json").unwrap_or(name).to_string()
}

#[component]
pub fn CompareMenu() -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = RwSignal::new(None::<String>);
    let file_input = NodeRef::<leptos::html::Input>::new();
    let choose = move |_| {
        let Some(input) = file_input.get() else {
            return;
        };
        spawn_local(async move {
            let result = files::read_chosen(&input, MAX_REPORT_BYTES, too_big)
                .await
                .and_then(|(name, text)| {
                    Report::from_json(&text)
                        .map(|r| (name.clone(), r))
                        .map_err(|e| format!("{name}: {e}"))
                });
            input.set_value("");
            match result {
                Ok((name, report)) => {
                    message.set(None);
                    let info = BaselineRef {
                        id: format!("file:{name}"),
                        label: label_of(&name),
                        created_at: report.created_at.clone(),
                    };
                    state.set_baseline(info, report);
                }
                Err(e) => message.set(Some(format!("No baseline was set. {e}"))),
            }
        });
    };
    view! {
        <section class="compare-menu" aria-label="Compare">
            <label class="button secondary">
                "Compare with a report…"
                <input type="file" accept=".json,application/json" node_ref=file_input
                    aria-label="Compare with a report" on:change=choose />
            </label>
            <Show when=move || state.baseline.with(Option::is_some)>
                <button type="button" class="secondary" id="stop-comparing"
                    on:click=move |_| state.clear_baseline()>"Stop comparing"</button>
            </Show>
            {move || message.get().map(|m| view! { <p class="field-error" id="compare-error" role="alert">{m}</p> })}
        </section>
    }
}
