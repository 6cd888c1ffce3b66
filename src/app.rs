//! Layout only: which components, where. State lives in `state`, the run lifecycle in `session`.

use leptos::prelude::*;

use crate::components::ceiling_note::CeilingNote;
use crate::components::compare_menu::CompareMenu;
use crate::components::copy_summary::CopySummary;
use crate::components::drop_zone::DropZone;
use crate::components::handoff_menu::HandoffMenu;
use crate::components::history::HistoryPanel;
use crate::components::report_note::ReportNote;
use crate::components::request_list::RequestList;
use crate::components::share_link::ShareLink;
use crate::components::{
    charts::Charts, diagnostics::Diagnostics, endpoint_form::EndpointForm, export_menu::ExportMenu,
    results_table::ResultsTable, run_bar::RunBar, suite_editor::SuiteEditor,
};
use crate::components::{csv_export::CsvExport, slo_form::SloForm, verdicts::Verdicts};
use crate::state::AppState;

#[component]
pub fn App() -> impl IntoView {
    let state = AppState::default();
    provide_context(state);
    state.watch_page();
    state.follow_fragment();

    view! {
        <header class="top">
            <h1>"Stampede"</h1>
            <p class="tagline">"Load testing for model APIs, from your browser."</p>
        </header>
        <main>
            <ReportNote />
            <section class="setup">
                <EndpointForm />
                <SuiteEditor />
            </section>
            // Full width below the two form columns: as a third column it squeezed the stage
            // editor to 395 px at 1,366.
            <SloForm />
            <ShareLink />
            <CeilingNote />
            <RunBar />
            <Diagnostics />
            <ResultsTable stats=state.stats shown=state.shown />
            <Verdicts />
            <ExportMenu />
            <CompareMenu />
            <HandoffMenu />
            <CsvExport />
            <CopySummary />
            <Charts />
            <RequestList />
            <HistoryPanel />
        </main>
        <DropZone />
    }
}
