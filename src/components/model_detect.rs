//! "Detect" beside Model: asks the server for its models (OpenAI `GET /v1/models`, Ollama
//! `GET /api/tags`) and offers them in a list. A failure is said at the field, since a
//! CORS-blocked or unreachable server is what the run would hit too.

use leptos::prelude::*;
use leptos::task::spawn_local;
use stampede_engine::{models_url, parse_models};

use crate::browser::transport::get_text;
use crate::state::AppState;

/// Fetch `url` and read its model names; every failure is a sentence for the user.
async fn fetch_models(url: String, api_key: String) -> Result<Vec<String>, String> {
    let key = api_key.trim();
    let headers: Vec<(String, String)> = if key.is_empty() {
        Vec::new()
    } else {
        vec![("Authorization".into(), format!("Bearer {key}"))]
    };
    let (status, body) = get_text(&url, &headers).await.map_err(|_| {
        format!("could not reach {url}: the server is down, or it does not allow this page (CORS)")
    })?;
    if !(200..300).contains(&status) {
        return Err(format!("the server answered {status} at {url}"));
    }
    parse_models(&body)
}

#[component]
pub fn ModelDetect() -> impl IntoView {
    let state = expect_context::<AppState>();
    let cfg = state.config;
    let found = RwSignal::new(Vec::<String>::new());
    let message = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let detect = move |_| {
        let Some(url) = cfg.with_untracked(models_url) else {
            message.set(Some("this preset's API has no model list to ask".into()));
            return;
        };
        let key = cfg.with_untracked(|c| c.api_key.clone());
        busy.set(true);
        message.set(None);
        spawn_local(async move {
            match fetch_models(url, key).await {
                Ok(names) => {
                    // An empty field takes the first model; a typed one is left as it is.
                    if let Some(first) = names.first() {
                        if cfg.with_untracked(|c| c.model.trim().is_empty()) {
                            cfg.update(|c| c.model = first.clone());
                        }
                    }
                    found.set(names);
                }
                Err(e) => {
                    found.set(Vec::new());
                    message.set(Some(e));
                }
            }
            busy.set(false);
        });
    };
    view! {
        <div class="model-detect">
            <button type="button" class="secondary" id="detect-model" prop:disabled=move || busy.get() on:click=detect>"Detect"</button>
            {move || {
                let names = found.get();
                (!names.is_empty()).then(|| view! {
                    <select id="detected-models" aria-label="Pick from the server's list" prop:value=move || cfg.with(|c| c.model.clone())
                        on:change=move |ev| cfg.update(|c| c.model = event_target_value(&ev))>
                        {names.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                    </select>
                })
            }}
            {move || message.get().map(|m| view! { <p class="field-error" id="detect-error" role="alert">{m}</p> })}
        </div>
    }
}
