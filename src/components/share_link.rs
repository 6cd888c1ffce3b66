//! The test leaving the page: its share link, copying it, and starting the form over.

use leptos::prelude::*;
use leptos::task::spawn_local;
use stampede_engine::{encode_link, HARMLESS_HEADERS};

use crate::browser::location;
use crate::state::AppState;

#[component]
pub fn ShareLink() -> impl IntoView {
    let state = expect_context::<AppState>();
    let cfg = state.config;
    let page = location::page_url();
    let link = Memo::new(move |_| format!("{page}#{}", cfg.with(encode_link)));
    // "Copied" (or why not) belongs to the link it was said of.
    let copied = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        link.track();
        copied.set(None);
    });
    let copy = move |_| {
        let text = link.get_untracked();
        spawn_local(async move {
            let said = match location::copy_text(&text).await {
                Ok(()) => "Copied.".to_string(),
                Err(m) => m,
            };
            copied.set(Some(said));
        });
    };
    let note = move || {
        state.share_note.get().map(|n| match n {
            Ok(m) => view! { <p class="share-note ok" role="status">{m}</p> }.into_any(),
            Err(m) => view! { <p class="share-note field-error" role="alert">{sentence(&m)}</p> }
                .into_any(),
        })
    };

    view! {
        <fieldset class="share">
            <legend>"Share"</legend>
            {note}
            <div class="row">
                <label for="share-link">"Share link"</label>
                <input id="share-link" type="text" readonly spellcheck="false"
                    aria-describedby="share-link-hint"
                    prop:value=move || link.get()
                    on:focus=move |ev| {
                        use wasm_bindgen::JsCast;
                        if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                            input.select();
                        }
                    } />
                <p class="hint" id="share-link-hint">{move || format!(
                    "The whole test, in the link's # part (browsers never send it to the host): \
                     no API key, and header values only for {}. {} characters.",
                    HARMLESS_HEADERS.join(", "),
                    link.with(|l| l.chars().count())
                )}</p>
                <p class="actions">
                    <button type="button" on:click=copy>"Copy share link"</button>
                    " "<span role="status">{move || copied.get()}</span>
                    " "<button type="button" class="secondary" prop:disabled=move || state.running()
                        on:click=move |_| state.reset_form()>"Reset form"</button>
                    " "{move || state.save_problem.get().map(|m| view! { <span class="hint">{m}</span> })}
                </p>
            </div>
        </fieldset>
    }
}

/// The engine's messages read as clauses ("this share link is damaged …"); on its own line the
/// note is a sentence.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let first: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    let text = format!("{first}{}", chars.as_str());
    if text.ends_with('.') {
        text
    } else {
        format!("{text}.")
    }
}
