//! What the results say before the table: that most requests failed and why, and which
//! stages were too short for their concurrency to be judged.

use leptos::prelude::*;
use stampede_engine::{headline, not_judged, StageStats};

#[component]
pub fn RunSummary(#[prop(into)] stats: Signal<Vec<StageStats>>) -> impl IntoView {
    let failed = move || stats.with(|st| headline(st));
    // Stages where nothing succeeded are covered by the headline.
    let unjudged = move || {
        stats.with(|st| {
            st.iter()
                .filter(|s| s.successful > 0)
                .filter_map(|s| Some((s.stage, format!("{}: {}", s.name, not_judged(s)?))))
                .collect::<Vec<_>>()
        })
    };
    view! {
        {move || failed().map(|h| view! { <p class="headline" id="results-headline" role="alert">{h}</p> })}
        {move || {
            let list = unjudged();
            (!list.is_empty()).then(|| view! {
                <ul class="not-judged" id="not-judged">
                    {list.into_iter().map(|(i, note)| view! { <li data-stage=i>{note}</li> }).collect_view()}
                </ul>
            })
        }}
    }
}
