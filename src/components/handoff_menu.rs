//! Hand the test to a distributed engine: download it as a Locust file or a k6 script.

use leptos::prelude::*;
use stampede_engine::{k6_script, locustfile, FieldError, RunConfig};

use crate::browser::files;
use crate::state::AppState;

/// How the engine writes one hand-off file from the config.
type Writer = fn(&RunConfig) -> Result<String, Vec<FieldError>>;

/// The two hand-offs: the button, the file's name and its writer.
const HANDOFFS: [(&str, &str, Writer); 2] = [
    ("Export Locust file", "locustfile.py", locustfile),
    ("Export k6 script", "stampede-k6.js", k6_script),
];

#[component]
pub fn HandoffMenu() -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = RwSignal::new(None::<String>);
    // The exports are written from the form as it is, so they wait for the form to be valid.
    let reason = move || {
        state.validation.with(|v| match v {
            Ok(_) => None,
            Err(errors) => Some(match errors.first() {
                Some(e) => format!("Fix the form to export the test: {}", e.message),
                None => "Fix the form to export the test.".to_string(),
            }),
        })
    };
    let buttons = HANDOFFS
        .into_iter()
        .map(|(label, name, write)| {
            let export = move |_| {
                // The key is in the config only so the file can say whether it needs one: the
                // engine writes secrets as environment variables, never into the file.
                let written = state.config.with_untracked(write);
                message.set(match written {
                    Ok(text) => files::download(name, &[text]).err(),
                    Err(errors) => errors.first().map(|e| e.message.clone()),
                });
            };
            view! {
                <button type="button" prop:disabled=move || reason().is_some()
                    aria-describedby="handoff-reason" on:click=export>{label}</button>
            }
        })
        .collect_view();
    view! {
        <section class="export handoff" aria-label="Hand-off to Locust and k6">
            {buttons}
            <p class="hint" id="handoff-reason">
                {move || reason().unwrap_or_else(|| "The same test for Locust (distributed) or k6; secrets become environment variables.".to_string())}
            </p>
            {move || message.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
        </section>
    }
}
