//! "Copy summary": the shown run as Markdown on the clipboard, to paste into a pull request or
//! a chat: the stage table with verdicts and goodput under the thresholds shown, the knee, and
//! the environment facts (`stampede_engine::summary_markdown` writes it).

use leptos::prelude::*;
use leptos::task::spawn_local;
use stampede_engine::{assess, summary_markdown, SummaryInput};

use crate::browser::location;
use crate::state::{AppState, Phase};

#[component]
pub fn CopySummary() -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = RwSignal::new(None::<Result<String, String>>);
    let can_copy = move || matches!(state.phase.get(), Phase::Finished { .. });
    let copy = move |_| {
        let stats = state.stats.get_untracked();
        let env = state.environment.get_untracked();
        // Judged by the thresholds in the form, as the SLO verdict on the page is.
        let slo = state.config.with_untracked(|c| c.slo.clone());
        let link = state.shown_report_link();
        let text = state.session.with_value(|s| {
            let judged = assess(&slo, &stats, s.agg.samples());
            summary_markdown(&SummaryInput {
                config: &s.config,
                env: &env,
                stats: &stats,
                slo: judged.as_ref(),
                // After an export, or for a report opened from a `#report=` link.
                report_link: link.as_deref(),
            })
        });
        spawn_local(async move {
            let done = location::copy_text(&text).await;
            message.set(Some(
                done.map(|()| "Copied the summary as Markdown".to_string()),
            ));
        });
    };
    view! {
        <section class="export copy-summary" aria-label="Copy summary">
            <button type="button" id="copy-summary" prop:disabled=move || !can_copy() on:click=copy>"Copy summary"</button>
            <p class="hint">"Markdown: the stage table, the SLO verdicts and goodput, the knee, and the environment."</p>
            {move || message.get().map(|m| match m {
                Ok(done) => view! { <p class="hint" id="copy-summary-done" role="status">{done}</p> }.into_any(),
                // The shared message speaks of a link; this copies a summary.
                Err(_) => view! { <p class="field-error" role="alert">"Not copied: the browser did not allow it (the clipboard needs an https:// or localhost page)"</p> }.into_any(),
            })}
        </section>
    }
}
