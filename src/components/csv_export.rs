//! "Export CSV": the shown run as two files a spreadsheet opens, one row per stage (with its
//! SLO verdict and goodput under the thresholds shown) and one row per request.

use leptos::prelude::*;
use stampede_engine::{assess, requests_csv, stages_csv};

use crate::browser::{env, files};
use crate::state::{AppState, Phase};

#[component]
pub fn CsvExport() -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = RwSignal::new(None::<String>);
    let can_export = move || matches!(state.phase.get(), Phase::Finished { .. });
    let export = move |_| {
        let stats = state.stats.get_untracked();
        let slo = state.config.with_untracked(|c| c.slo.clone());
        let (stages, requests) = state.session.with_value(|s| {
            let judged = assess(&slo, &stats, s.agg.samples());
            (
                stages_csv(&stats, judged.as_ref()),
                requests_csv(s.agg.samples()),
            )
        });
        let at = env::iso_now().replace(':', "-");
        let result =
            files::download_typed(&format!("stampede-stages-{at}.csv"), "text/csv", &[stages])
                .and_then(|()| {
                    files::download_typed(
                        &format!("stampede-requests-{at}.csv"),
                        "text/csv",
                        &requests,
                    )
                });
        message.set(result.err());
    };
    view! {
        <section class="export csv-export" aria-label="Export CSV">
            <button type="button" id="export-csv" prop:disabled=move || !can_export() on:click=export>"Export CSV"</button>
            <p class="hint">"Two files: one row per stage (figures, SLO verdict, goodput) and one per request."</p>
            {move || message.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
        </section>
    }
}
