//! What the browser does to the measurement (DESIGN §6): warnings before and during a run, and
//! the fidelity panel, each item green / amber / red with a one-line reason.

use leptos::prelude::*;
use stampede_engine::{
    fidelity, over_http1_cap, Environment, ErrorClass, Protocol, StageStats, HTTP1_CONNECTIONS,
};

use crate::state::{AppState, Shown};

#[component]
pub fn Diagnostics() -> impl IntoView {
    let state = expect_context::<AppState>();
    // An imported or previous run is warned about from its own test, not the form's; a live
    // run's test is the form's.
    let over_cap = move || match state.shown.get() {
        Shown::Imported(_) | Shown::Previous => {
            state.session.with_value(|s| over_http1_cap(&s.config))
        }
        _ => state.config.with(over_http1_cap),
    };
    // Protocols seen so far, from the published environment (one per target).
    let seen = move |f: fn(&[Option<Protocol>]) -> bool| {
        state.environment.with(|e| {
            let p: Vec<Option<Protocol>> = e.targets.iter().map(|o| o.protocol.clone()).collect();
            f(&p)
        })
    };
    let http1 = move || seen(|p| p.contains(&Some(Protocol::Http1)));
    let multiplexed = move || {
        seen(|p| {
            !p.is_empty()
                && p.iter()
                    .all(|p| p.as_ref().is_some_and(Protocol::multiplexed))
        })
    };
    let http1_warning = move || {
        let stages = over_cap();
        if stages.is_empty() || multiplexed() {
            return None;
        }
        let lead = if http1() {
            "This endpoint speaks HTTP/1.1"
        } else {
            "If this endpoint speaks HTTP/1.1 (vLLM, Ollama and TGI do by default)"
        };
        Some(view! {
            <p class="warning" role="note" id="http1-warning">
                <strong>{lead}</strong>
                {format!(": the browser opens at most {HTTP1_CONNECTIONS} connections per origin and queues \
                    the rest, so these stages would measure that queue as latency: {}. Add host aliases \
                    (other names or addresses of the same server) or put an HTTP/2 proxy (Caddy, nginx) in \
                    front of the server.", stages.join(", "))}
            </p>
        })
    };
    let network_help = move || {
        let any_network = state.stats.with(|st| {
            st.iter()
                .any(|s| s.errors.iter().any(|e| e.class == ErrorClass::Network))
        });
        any_network.then(|| view! {
            <p class="warning" role="note" id="network-help">
                "Some requests failed without a status (network). The server may be down or unreachable, \
                 or it does not allow this page's origin (CORS). Enable CORS: Ollama "<code>"OLLAMA_ORIGINS=*"</code>
                ", vLLM "<code>"--allowed-origins '[\"*\"]'"</code>", TGI "<code>"--cors-allow-origin '*'"</code>"."
            </p>
        })
    };
    view! {
        <section class="diagnostics" aria-label="Diagnostics">
            {http1_warning}
            {network_help}
            <Show when=move || state.shown.get() != Shown::Nothing>
                <Fidelity environment=state.environment stats=state.stats />
            </Show>
        </section>
    }
}

/// The fidelity panel: one line per rating, green / amber / red with its reason. Only the list
/// follows the figures, so a panel the user closed stays closed while a run publishes.
#[component]
fn Fidelity(
    #[prop(into)] environment: Signal<Environment>,
    #[prop(into)] stats: Signal<Vec<StageStats>>,
) -> impl IntoView {
    let items = move || environment.with(|env| stats.with(|st| fidelity(env, st)));
    view! {
        <details class="fidelity" id="fidelity" open>
            <summary>"Measurement fidelity"</summary>
            <ul>
                {move || items().into_iter().map(|i| view! {
                    <li class=format!("level {}", i.level.label()) data-level=i.level.label()>
                        <span class="dot" aria-hidden="true"></span>
                        <strong>{i.name}</strong>": "{i.detail}
                        <span class="rule">{format!("Rule: {}", i.rule)}</span>
                    </li>
                }).collect_view()}
            </ul>
        </details>
    }
}
