//! The SLO section: one threshold input per figure; empty means no threshold. Thresholds only
//! judge results, so they stay editable during and after a run (the verdicts re-judge at once).

use leptos::prelude::*;
use stampede_engine::{Field, SloMetric};

use super::FieldMessage;
use crate::state::AppState;

/// The input's id: "slo-ttft-p95", "slo-error-rate".
pub fn input_id(m: SloMetric) -> String {
    let name: String = m
        .name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("slo-{}", name.trim_matches('-'))
}

#[component]
pub fn SloForm() -> impl IntoView {
    let state = expect_context::<AppState>();
    let cfg = state.config;
    let input = move |m: SloMetric| {
        let field = Field::Slo(m);
        let id = input_id(m);
        let error_id = format!("{id}-error");
        view! {
            <div class="slo-input">
                <label for=id.clone()>{m.label()}</label>
                <input id=id type="text" inputmode="decimal" spellcheck="false" placeholder="none"
                    aria-invalid=move || state.error(field).is_some().to_string()
                    aria-describedby=error_id.clone()
                    prop:value=move || state.number_text(field, || cfg.with(|c| c.slo.get(m).map(|v| v.to_string()).unwrap_or_default()))
                    on:input=move |ev| state.type_number(field, event_target_value(&ev)) />
                <FieldMessage field=field id=error_id />
            </div>
        }
    };
    view! {
        <fieldset class="slo" id="slo">
            <legend>"SLO"</legend>
            <p class="hint">"Each stage is judged against the thresholds given (empty: none): latencies in ms must be at or below them, output tokens/s at or above. A percentile p needs ⌈100 ÷ (100 − p)⌉ samples to be judged (p95: 20, p99: 100). Change them after a run to re-judge it."</p>
            <div class="slo-grid">
                {SloMetric::ALL.into_iter().map(input).collect_view()}
            </div>
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_ids_follow_the_figure_names() {
        assert_eq!(input_id(SloMetric::TtftP95), "slo-ttft-p95");
        assert_eq!(input_id(SloMetric::ErrorRate), "slo-error-rate");
        assert_eq!(input_id(SloMetric::InterChunkP99), "slo-inter-chunk-p99");
        assert_eq!(input_id(SloMetric::MinTokensPerS), "slo-output-tokens-s");
    }
}
