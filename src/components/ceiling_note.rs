//! The note under the stages when a plan sends more requests than a run keeps samples for.

use leptos::prelude::*;
use stampede_engine::ceiling_note;

use crate::state::AppState;

#[component]
pub fn CeilingNote() -> impl IntoView {
    let state = expect_context::<AppState>();
    let note = move || {
        state
            .validation
            .with(|v| v.as_ref().ok().and_then(ceiling_note))
    };
    move || {
        note().map(|n| view! { <p class="hint ceiling-note" id="ceiling-note" role="note">{n}</p> })
    }
}
