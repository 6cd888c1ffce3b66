//! Warnings about what the browser does to the measurement (DESIGN §6).

use leptos::prelude::*;

use crate::app::AppState;

/// Chromium and Firefox open at most this many HTTP/1.1 connections per origin.
pub const HTTP1_CONNECTIONS: u32 = 6;

#[component]
pub fn Diagnostics() -> impl IntoView {
    let state = expect_context::<AppState>();
    let over_cap = move || {
        state.config.with(|c| {
            c.stages()
                .into_iter()
                .filter(|s| s.concurrency > HTTP1_CONNECTIONS)
                .map(|s| format!("{} ({})", s.name, s.concurrency))
                .collect::<Vec<_>>()
        })
    };
    let http1 = move || state.protocols.with(|p| p.iter().any(|p| p == "http/1.1"));
    let multiplexed = move || {
        state
            .protocols
            .with(|p| !p.is_empty() && p.iter().all(|p| p != "http/1.1"))
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
                    the rest, so stages above {HTTP1_CONNECTIONS} concurrent requests — {} — measure that queue \
                    as latency. The achieved concurrency column shows what the server really saw. \
                    Put an HTTP/2 proxy (Caddy, nginx) in front of the server to lift the cap.",
                    stages.join(", "))}
            </p>
        })
    };
    let protocols = move || {
        let p = state.protocols.get();
        (!p.is_empty())
            .then(|| view! { <p class="info" id="protocols">"Protocol seen: "{p.join(", ")}</p> })
    };
    let network_help = move || {
        let all_network = state.stats.with(|st| {
            st.iter().any(|s| {
                s.errors
                    .iter()
                    .any(|e| e.class == stampede_engine::ErrorClass::Network)
            })
        });
        all_network.then(|| view! {
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
            {protocols}
            {network_help}
        </section>
    }
}
