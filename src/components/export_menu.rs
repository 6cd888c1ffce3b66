//! Export the shown results as a JSON report, or import one to look at it again.

use leptos::prelude::*;
use leptos::task::spawn_local;
use stampede_engine::{too_big, Report, MAX_REPORT_BYTES};

use crate::browser::files;
use crate::state::{AppState, Phase};

#[component]
pub fn ExportMenu() -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = RwSignal::new(None::<String>);
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
            {move || message.get().map(|m| view! { <p class="field-error" id="import-error" role="alert">{m}</p> })}
        </section>
    }
}
