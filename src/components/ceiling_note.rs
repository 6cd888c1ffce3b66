//! The notes under the stages: a plan that sends more requests than a run keeps samples for,
//! and a rate stage that asks for more than this browser sent in the last run on this page.

use leptos::prelude::*;
use stampede_engine::{ceiling_note, client_top_rate, top_rate_note};

use crate::state::{AppState, Shown};

#[component]
pub fn CeilingNote() -> impl IntoView {
    let state = expect_context::<AppState>();
    let note = move || {
        state
            .validation
            .with(|v| v.as_ref().ok().and_then(ceiling_note))
    };
    // Only a finished run made on this page measured this browser (an imported report did not).
    let top = Memo::new(move |_| {
        (state.shown.get() == Shown::Live && !state.running())
            .then(|| state.stats.with(|s| client_top_rate(s)))
            .flatten()
    });
    let rate_note = move || {
        let top = top.get();
        state
            .validation
            .with(|v| v.as_ref().ok().and_then(|p| top_rate_note(p, top.as_ref())))
    };
    view! {
        {move || note().map(|n| view! { <p class="hint ceiling-note" id="ceiling-note" role="note">{n}</p> })}
        {move || rate_note().map(|n| view! { <p class="hint ceiling-note" id="top-rate-note" role="note">{n}</p> })}
    }
}
