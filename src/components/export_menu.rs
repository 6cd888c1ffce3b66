//! Export the shown results as a JSON report (and copy a link that opens it once hosted), or
//! import one to look at it again.

use leptos::prelude::*;
use leptos::task::spawn_local;
use stampede_engine::{report_link, too_big, MAX_REPORT_BYTES};

use crate::browser::{files, location};
use crate::state::{AppState, Phase, Shown};

#[component]
pub fn ExportMenu() -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = state.import_note;
    // Whether the shown report's test was put in the form (cleared by the next import or run).
    let loaded = RwSignal::new(false);
    // The file name of the last export of the shown results, for "Copy report link".
    let exported = RwSignal::new(None::<String>);
    let copied = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        state.shown.track();
        loaded.set(false);
        exported.set(None);
    });
    let file_input = NodeRef::<leptos::html::Input>::new();
    let can_export = move || matches!(state.phase.get(), Phase::Finished { .. });

    let export = move |_| {
        let Some((created_at, parts)) = state.export() else {
            return;
        };
        let name = format!("stampede-report-{}.json", created_at.replace(':', "-"));
        let failed = files::download(&name, &parts).err();
        exported.set(failed.is_none().then(|| name.clone()));
        if failed.is_none() {
            let link = report_link(&location::page_url(), &name);
            state
                .report_link
                .set(Some((state.shown.get_untracked(), link)));
        }
        copied.set(None);
        message.set(failed);
    };
    // The page's own URL (any fragment dropped) + `#report=` + the file's name: relative, so
    // the link opens the file put next to the page, wherever the page is hosted.
    let link = move || {
        exported
            .get_untracked()
            .map(|name| report_link(&location::page_url(), &name))
    };
    let copy_link = move |_| {
        let Some(text) = link() else {
            return;
        };
        spawn_local(async move {
            copied.set(Some(match location::copy_text(&text).await {
                Ok(()) => "Copied.".to_string(),
                Err(m) => m,
            }));
        });
    };
    let import = move |_| {
        let Some(input) = file_input.get() else {
            return;
        };
        spawn_local(async move {
            let read = files::read_chosen(&input, MAX_REPORT_BYTES, too_big).await;
            input.set_value("");
            state.import_file(read);
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
            {move || exported.get().map(|name| {
                let hint = format!(
                    "Copies a link to this page with #report={name}: it opens this report once \
                     {name} is put next to the page on its host (the same folder as index.html)."
                );
                view! {
                    <button type="button" id="copy-report-link" class="secondary" title=hint.clone()
                        aria-describedby="report-link-hint" on:click=copy_link>"Copy report link"</button>
                    " "<span role="status">{move || copied.get()}</span>
                    <p class="hint" id="report-link-hint">{hint}</p>
                }
            })}
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
