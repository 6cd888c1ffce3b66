//! Export the shown results as a JSON report, or import one to look at it again.

use leptos::prelude::*;
use leptos::task::spawn_local;
use stampede_engine::{too_big, Report, MAX_REPORT_BYTES};

use crate::browser::files;
use crate::state::{AppState, Phase, Shown};

#[component]
pub fn ExportMenu() -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = RwSignal::new(None::<String>);
    // Whether the shown report's test was put in the form (cleared by the next import or run).
    let loaded = RwSignal::new(false);
    Effect::new(move |_| {
        state.shown.track();
        loaded.set(false);
    });
    let file_input = NodeRef::<leptos::html::Input>::new();
    let can_export = move || matches!(state.phase.get(), Phase::Finished { .. });

    let export = move |_| {
        let Some((created_at, parts)) = state.export() else {
            return;
        };
        let name = format!("stampede-report-{}.json", created_at.replace(':', "-"));
        message.set(files::download(&name, &parts).err());
    };
    let import = move |_| {
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
                    state.show_imported(name, report);
                }
                Err(e) => message.set(Some(format!("Nothing was imported. {e}"))),
            }
        });
    };
    view! {
        <section class="export" aria-label="Export and import">
            <button type="button" prop:disabled=move || !can_export() on:click=export>"Export JSON"</button>
            <label class="button secondary" class:disabled=move || state.running()>
                "Import JSON"
                <input type="file" accept=".json,application/json" node_ref=file_input
                    prop:disabled=move || state.running() on:change=import />
            </label>
            <Show when=move || matches!(state.shown.get(), Shown::Imported(_) | Shown::Previous) && !state.running()>
                <button type="button" id="load-test" on:click=move |_| {
                    state.load_shown_test();
                    loaded.set(true);
                }>"Load this test into the form"</button>
            </Show>
            {move || loaded.get().then(|| view! {
                <p class="hint" id="load-note" role="status">
                    "The imported test is in the form: press Run to run it again. Reports never hold the API key: \
                     type it again if the server needs one."
                </p>
            })}
            {move || message.get().map(|m| view! { <p class="field-error" id="import-error" role="alert">{m}</p> })}
        </section>
    }
}
