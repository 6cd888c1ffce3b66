//! Run and Stop, with progress for the current stage and the whole run, why Run is disabled,
//! what a run that mostly failed says first, and the way back to the previous run.

use leptos::prelude::*;
use stampede_engine::{fix_fields, headline, Command};

use crate::state::{AppState, Phase, Shown};

/// A progress bar's value from a fraction the engine computed.
fn percent(fraction: f64) -> f64 {
    100.0 * fraction
}

#[component]
pub fn RunBar() -> impl IntoView {
    let state = expect_context::<AppState>();
    let p = state.progress;
    let can_run = move || !state.running() && state.validation.with(|v| v.is_ok());
    // A disabled Run says why, naming the inputs to fix.
    let blocked = move || {
        if state.running() {
            return None;
        }
        state
            .validation
            .with(|v| v.as_ref().err().map(|e| fix_fields(e)))
    };
    let failed = move || {
        matches!(state.phase.get(), Phase::Finished { .. })
            .then(|| state.stats.with(|st| headline(st)))
            .flatten()
    };
    let status = move || match state.phase.get() {
        Phase::Idle => "Ready".to_string(),
        Phase::Running => "Running…".to_string(),
        Phase::Finished { stopped: true } => "Stopped".to_string(),
        Phase::Finished { stopped: false } => "Finished".to_string(),
    };
    view! {
        <section class="run-bar" aria-label="Run">
            <button type="button" class="primary" prop:disabled=move || !can_run()
                aria-describedby="run-blocked"
                on:click=move |_| state.start()>"Run"</button>
            <button type="button" prop:disabled=move || !state.running()
                on:click=move |_| state.send(Command::Stop)>"Stop"</button>
            <span class="status" role="status" data-phase=move || match state.phase.get() {
                Phase::Idle => "idle",
                Phase::Running => "running",
                Phase::Finished { stopped: true } => "stopped",
                Phase::Finished { stopped: false } => "finished",
            }>{status}</span>
            <Show when=move || state.has_previous.get() && !state.running()>
                <button type="button" class="secondary" id="previous-run"
                    on:click=move |_| state.swap_previous()>
                    {move || if state.shown.get() == Shown::Previous { "Back to the latest run" } else { "Show previous run" }}
                </button>
            </Show>
            {move || blocked().map(|m| view! { <p class="field-error run-blocked" id="run-blocked">{m}</p> })}
            {move || failed().map(|h| view! { <p class="headline" id="run-headline" role="alert">{h}</p> })}
            <Show when=move || state.phase.get() != Phase::Idle && p.with(|p| p.figures.total > 0 || p.figures.timed)>
                <div class="progress">
                    <label>
                        {move || p.with(|p| { let f = &p.figures; match f.stage_clock {
                            Some((elapsed, duration)) => format!("Stage {}: {} — {} requests, {elapsed:.0} / {duration} s",
                                f.stage.map_or(0, |s| s + 1), f.stage_name, f.stage_done),
                            None => format!("Stage {}: {} — {} / {}",
                                f.stage.map_or(0, |s| s + 1), f.stage_name, f.stage_done, f.stage_total),
                        } })}
                        <progress max="100" value=move || p.with(|p| percent(p.figures.stage_fraction))></progress>
                    </label>
                    <label>
                        {move || p.with(|p| if p.figures.timed {
                            format!("Run: {} requests, {:.1} s", p.figures.done, p.elapsed_ms / 1000.0)
                        } else {
                            format!("Run: {} / {} requests, {:.1} s", p.figures.done, p.figures.total, p.elapsed_ms / 1000.0)
                        })}
                        <progress id="run-progress" max="100" value=move || p.with(|p| percent(p.figures.run_fraction))></progress>
                    </label>
                    <p class="in-flight" id="in-flight">
                        {move || p.with(|p| {
                            let parts: Vec<String> = p.figures.in_flight.iter().map(|(o, n)| format!("{o}: {n}")).collect();
                            format!("In flight — {}", parts.join(" · "))
                        })}
                    </p>
                </div>
            </Show>
        </section>
    }
}
