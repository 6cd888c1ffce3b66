//! One file per thing the user sees.

pub mod ceiling_note;
pub mod chart_png;
pub mod charts;
pub mod compare_menu;
pub mod comparison;
pub mod copy_summary;
pub mod csv_export;
pub mod diagnostics;
pub mod drop_zone;
pub mod endpoint_form;
pub mod export_menu;
pub mod handoff_menu;
pub mod history;
pub mod model_detect;
pub mod report_note;
pub mod request_list;
pub mod results_table;
pub mod run_bar;
pub mod run_summary;
pub mod share_link;
pub mod slo_form;
pub mod suite_editor;
pub mod verdicts;

use leptos::prelude::*;
use stampede_engine::Field;

use crate::state::AppState;

/// The inline message under an input, shown while that input is invalid. `id` is what the
/// input's `aria-describedby` names, so it must be unique in the page.
#[component]
pub fn FieldMessage(field: Field, #[prop(into)] id: String) -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        state
            .error(field)
            .map(|m| view! { <p class="field-error" id=id.clone() role="alert">{m}</p> })
    }
}
