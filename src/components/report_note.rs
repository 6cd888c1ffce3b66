//! What became of the report link (`#report=`) the page was opened with: loading, opened, or
//! why it could not be opened.

use leptos::prelude::*;

use crate::state::AppState;

#[component]
pub fn ReportNote() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        state.report_note.get().map(|note| match note {
            Ok(m) => view! { <p class="report-note ok" id="report-note" role="status">{m}</p> }
                .into_any(),
            Err(m) => view! {
                <p class="report-note field-error" id="report-note" role="alert">{m}</p>
            }
            .into_any(),
        })
    }
}
