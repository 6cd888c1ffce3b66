//! Where the user says what to load: endpoint, preset, credentials, request shape.

use leptos::prelude::*;
use stampede_engine::{Field, Framing, Preset, HARMLESS_HEADERS};

use super::FieldMessage;
use crate::state::AppState;

#[component]
pub fn EndpointForm() -> impl IntoView {
    let state = expect_context::<AppState>();
    let cfg = state.config;
    let disabled = move || state.running();
    let preset = move || cfg.with(|c| c.preset);
    let invalid = move |f: Field| state.error(f).is_some();

    view! {
        <fieldset class="endpoint" prop:disabled=disabled>
            <legend>"Endpoint"</legend>
            <div class="row">
                <label for="endpoint-url">"Endpoint URL"</label>
                <input id="endpoint-url" type="url" spellcheck="false" autocomplete="url"
                    placeholder="http://127.0.0.1:8000"
                    aria-invalid=move || invalid(Field::Endpoint).to_string()
                    aria-describedby="endpoint-url-error endpoint-url-hint"
                    prop:value=move || cfg.with(|c| c.endpoint.clone())
                    on:input=move |ev| cfg.update(|c| c.endpoint = event_target_value(&ev)) />
                <p class="hint" id="endpoint-url-hint">{move || {
                    let c = cfg.get();
                    if c.preset == Preset::Custom {
                        "The full URL requests go to.".to_string()
                    } else {
                        format!("Base URL; requests go to {}", c.request_url())
                    }
                }}</p>
                <FieldMessage field=Field::Endpoint id="endpoint-url-error" />
            </div>
            <div class="row">
                <label for="preset">"Preset"</label>
                <select id="preset" prop:value=move || preset().id()
                    on:change=move |ev| {
                        let id = event_target_value(&ev);
                        if let Some(p) = Preset::from_id(&id) {
                            cfg.update(|c| c.preset = p);
                        }
                    }>
                    {Preset::ALL.into_iter().map(|p| view! {
                        <option value=p.id() selected=move || preset() == p>{p.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <Show when=move || preset().needs_model() || preset() == Preset::Custom>
                <div class="row">
                    <label for="model">"Model"</label>
                    <input id="model" type="text" spellcheck="false" placeholder="e.g. meta-llama/Llama-3.1-8B-Instruct"
                        prop:value=move || cfg.with(|c| c.model.clone())
                        on:input=move |ev| cfg.update(|c| c.model = event_target_value(&ev)) />
                    <super::model_detect::ModelDetect />
                    <FieldMessage field=Field::Model id="model-error" />
                </div>
            </Show>
            <div class="row">
                <label for="api-key">"API key (optional)"</label>
                <input id="api-key" type="password" autocomplete="off" spellcheck="false"
                    prop:value=move || cfg.with(|c| c.api_key.clone())
                    on:input=move |ev| cfg.update(|c| c.api_key = event_target_value(&ev)) />
                <p class="hint">"Sent as Authorization: Bearer …; never shared or exported, and kept in this browser only if you tick Remember."</p>
                <FieldMessage field=Field::ApiKey id="api-key-error" />
                <label class="check">
                    <input id="remember-key" type="checkbox"
                        prop:checked=move || state.remember_key.get()
                        on:change=move |ev| state.remember_key.set(event_target_checked(&ev)) />
                    "Remember API key on this device"
                </label>
            </div>
            <div class="row pair">
                <div>
                    <label for="max-tokens">"Max output tokens"</label>
                    <input id="max-tokens" type="text" inputmode="numeric" spellcheck="false"
                        aria-invalid=move || invalid(Field::MaxTokens).to_string()
                        aria-describedby="max-tokens-error"
                        prop:value=move || state.number_text(Field::MaxTokens, || cfg.with(|c| c.max_tokens.to_string()))
                        on:input=move |ev| state.type_number(Field::MaxTokens, event_target_value(&ev)) />
                    <FieldMessage field=Field::MaxTokens id="max-tokens-error" />
                </div>
                <div>
                    <label for="timeout">"Timeout (s)"</label>
                    <input id="timeout" type="text" inputmode="numeric" spellcheck="false"
                        aria-invalid=move || invalid(Field::Timeout).to_string()
                        aria-describedby="timeout-error"
                        prop:value=move || state.number_text(Field::Timeout, || cfg.with(|c| c.timeout_s.to_string()))
                        on:input=move |ev| state.type_number(Field::Timeout, event_target_value(&ev)) />
                    <FieldMessage field=Field::Timeout id="timeout-error" />
                </div>
            </div>
            <div class="row">
                <label for="prompts">"Prompts (one per line, used in turn)"</label>
                <textarea id="prompts" rows="2" spellcheck="false"
                    placeholder="Empty: the seed's prompts, \"Explain the concept of {topic} in detail.\" with a topic per stage"
                    prop:value=move || cfg.with(|c| c.prompts.clone())
                    on:input=move |ev| cfg.update(|c| c.prompts = event_target_value(&ev))></textarea>
                <p class="hint">{move || match cfg.with(|c| c.prompt_list().len()) {
                    0 => "Using the seed's topic prompts.".to_string(),
                    1 => "1 prompt.".to_string(),
                    n => format!("{n} prompts, used in turn."),
                }}</p>
            </div>
            <div class="row">
                <label for="aliases">"Host aliases (optional)"</label>
                <textarea id="aliases" rows="2" spellcheck="false"
                    placeholder="http://127.0.0.2:8000 — other names or addresses of the same server"
                    prop:value=move || cfg.with(|c| c.aliases.clone())
                    on:input=move |ev| cfg.update(|c| c.aliases = event_target_value(&ev))></textarea>
                <p class="hint">
                    "One base URL per line. Requests are spread so no origin carries more than its share: \
                     over HTTP/1.1 the browser allows 6 connections per origin."
                    {move || cfg.with(|c| c.suggested_aliases()).map(|list| view! {
                        " "<button type="button" class="link" on:click=move |_| cfg.update(|c| c.aliases = list.join("\n"))>
                            "Suggest loopback aliases"</button>
                    })}
                </p>
                <FieldMessage field=Field::Aliases id="aliases-error" />
            </div>
            <div class="row">
                <label for="warmup">"Warm-up requests per stage"</label>
                <input id="warmup" type="text" inputmode="numeric" spellcheck="false" placeholder="one per concurrent slot"
                    aria-invalid=move || invalid(Field::Warmup).to_string()
                    aria-describedby="warmup-error"
                    prop:value=move || state.number_text(Field::Warmup, || cfg.with(|c| c.warmup.map(|w| w.to_string()).unwrap_or_default()))
                    on:input=move |ev| state.type_number(Field::Warmup, event_target_value(&ev)) />
                <p class="hint">"They open connections and prime the CORS preflight cache; not counted in the figures, listed in the report."</p>
                <FieldMessage field=Field::Warmup id="warmup-error" />
            </div>
            <div class="row">
                <label for="headers">"Extra headers"</label>
                <textarea id="headers" rows="2" spellcheck="false" placeholder="X-Team: ml-platform"
                    prop:value=move || cfg.with(|c| c.headers.clone())
                    on:input=move |ev| cfg.update(|c| c.headers = event_target_value(&ev))></textarea>
                <p class="hint">{format!(
                    "One Name: value per line. Exports show only the values of {}; every other value reads [redacted].",
                    HARMLESS_HEADERS.join(", ")
                )}</p>
                <FieldMessage field=Field::Headers id="headers-error" />
                <label class="check">
                    <input id="include-header-values" type="checkbox"
                        prop:checked=move || cfg.with(|c| c.include_header_values)
                        on:change=move |ev| cfg.update(|c| c.include_header_values = event_target_checked(&ev)) />
                    "Include header values in exports"
                </label>
            </div>
            <Show when=move || preset() == Preset::Custom>
                <CustomRequest />
            </Show>
        </fieldset>
    }
}

/// The Custom preset's request shape: method, body template and response pointers.
#[component]
fn CustomRequest() -> impl IntoView {
    let state = expect_context::<AppState>();
    let cfg = state.config;
    let streaming = move || cfg.with(|c| c.custom.framing != Framing::Json);
    view! {
        <div class="custom">
            <div class="row">
                <label for="method">"Method"</label>
                <select id="method" prop:value=move || cfg.with(|c| c.custom.method.clone()) on:change=move |ev| cfg.update(|c| c.custom.method = event_target_value(&ev))>
                    {["POST", "PUT", "PATCH", "GET"].into_iter().map(|m| view! {
                        <option value=m selected=move || cfg.with(|c| c.custom.method == m)>{m}</option>
                    }).collect_view()}
                </select>
                <FieldMessage field=Field::Method id="method-error" />
            </div>
            <div class="row">
                <label for="body-template">"Body template (JSON)"</label>
                <textarea id="body-template" rows="4" spellcheck="false"
                    prop:value=move || cfg.with(|c| c.custom.body_template.clone())
                    on:input=move |ev| cfg.update(|c| c.custom.body_template = event_target_value(&ev))></textarea>
                <p class="hint">"Placeholders: {{prompt}} and {{model}} (inside quotes), {{max_tokens}}, {{i}} (request number)."</p>
                <FieldMessage field=Field::BodyTemplate id="body-template-error" />
            </div>
            <div class="row">
                <label for="streaming">"Streaming"</label>
                <select id="streaming" prop:value=move || cfg.with(|c| match c.custom.framing {
                    Framing::Json => "json",
                    Framing::Sse => "sse",
                    Framing::Ndjson => "ndjson",
                }) on:change=move |ev| {
                    let framing = match event_target_value(&ev).as_str() {
                        "sse" => Framing::Sse,
                        "ndjson" => Framing::Ndjson,
                        _ => Framing::Json,
                    };
                    cfg.update(|c| c.custom.framing = framing);
                }>
                    {[(Framing::Json, "json", "Off: one JSON body"), (Framing::Sse, "sse", "Server-sent events (SSE)"), (Framing::Ndjson, "ndjson", "NDJSON lines")]
                        .into_iter().map(|(f, id, label)| view! {
                            <option value=id selected=move || cfg.with(|c| c.custom.framing == f)>{label}</option>
                        }).collect_view()}
                </select>
            </div>
            <div class="row pair">
                <div>
                    <label for="text-pointer">{move || if streaming() { "Content delta at (JSON pointer, per event)" } else { "Generated text at (JSON pointer)" }}</label>
                    <input id="text-pointer" type="text" spellcheck="false"
                        prop:value=move || cfg.with(|c| c.custom.text_pointer.clone())
                        on:input=move |ev| cfg.update(|c| c.custom.text_pointer = event_target_value(&ev)) />
                    <FieldMessage field=Field::TextPointer id="text-pointer-error" />
                </div>
                <div>
                    <label for="tokens-pointer">"Output token count at (JSON pointer)"</label>
                    <input id="tokens-pointer" type="text" spellcheck="false" placeholder="empty: estimate chars / 4"
                        prop:value=move || cfg.with(|c| c.custom.tokens_pointer.clone())
                        on:input=move |ev| cfg.update(|c| c.custom.tokens_pointer = event_target_value(&ev)) />
                    <FieldMessage field=Field::TokensPointer id="tokens-pointer-error" />
                </div>
            </div>
            <Show when=streaming>
                <div class="row pair">
                    <div>
                        <label for="reasoning-pointer">"Reasoning delta at (optional)"</label>
                        <input id="reasoning-pointer" type="text" spellcheck="false" placeholder="/choices/0/delta/reasoning_content"
                            prop:value=move || cfg.with(|c| c.custom.reasoning_pointer.clone())
                            on:input=move |ev| cfg.update(|c| c.custom.reasoning_pointer = event_target_value(&ev)) />
                        <FieldMessage field=Field::ReasoningPointer id="reasoning-pointer-error" />
                    </div>
                    <div>
                        <label for="done-pointer">"Terminal event marked by (optional)"</label>
                        <input id="done-pointer" type="text" spellcheck="false" placeholder="empty: data: [DONE]"
                            prop:value=move || cfg.with(|c| c.custom.done_pointer.clone())
                            on:input=move |ev| cfg.update(|c| c.custom.done_pointer = event_target_value(&ev)) />
                        <FieldMessage field=Field::DonePointer id="done-pointer-error" />
                    </div>
                </div>
                <label class="check">
                    <input type="checkbox" prop:checked=move || cfg.with(|c| c.custom.require_terminal)
                        on:change=move |ev| cfg.update(|c| c.custom.require_terminal = event_target_checked(&ev)) />
                    "A stream that ends without its terminal event is an error (truncated)"
                </label>
            </Show>
        </div>
    }
}
