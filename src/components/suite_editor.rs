//! Which stages to run: a seed suite, or custom stages by request count or by time (with an
//! optional ramp).

use leptos::prelude::*;
use stampede_engine::{default_stage_name, Field, StageSpec, Suite};

use super::FieldMessage;
use crate::state::AppState;

#[component]
pub fn SuiteEditor() -> impl IntoView {
    let state = expect_context::<AppState>();
    let cfg = state.config;
    let suite = move || cfg.with(|c| c.suite);
    let custom = move || suite() == Suite::Custom;
    let total = move || {
        cfg.with(|c| {
            let stages = c.stages();
            let requests: u64 = stages.iter().map(|s| u64::from(s.requests)).sum();
            let seconds: u64 = stages
                .iter()
                .filter_map(|s| s.duration_s)
                .map(u64::from)
                .sum();
            match seconds {
                0 => format!("{requests} requests in total"),
                s if requests == 0 => format!("{s} s in total"),
                s => format!("{requests} requests and {s} s in total"),
            }
        })
    };

    view! {
        <fieldset class="suite" prop:disabled=move || state.running()>
            <legend>"Suite"</legend>
            <div class="row">
                <label for="suite">"Suite"</label>
                <select id="suite" prop:value=move || suite().id() on:change=move |ev| {
                    if let Some(s) = Suite::from_id(&event_target_value(&ev)) {
                        cfg.update(|c| c.suite = s);
                    }
                }>
                    {Suite::ALL.into_iter().map(|s| view! {
                        <option value=s.id() selected=move || suite() == s>{s.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <table class="stages">
                <thead><tr>
                    <th>"Stage"</th>
                    <th title="Closed loop: keep this many in flight. Rate stage: the cap on requests in flight (arrivals beyond it are dropped and counted).">"Concurrency / cap"</th>
                    <th title="Requests: send this many. Duration: start requests for this many seconds; those in flight at the end finish and count. Ramp from: concurrency (or rate) at the start, going linearly to the stage's over the duration.">"Requests / duration"</th>
                    <th title="Empty: closed loop. A number: open loop, requests start on schedule at this rate whatever the responses do.">"Rate (req/s)"</th>
                    <th></th>
                </tr></thead>
                <tbody>
                    {move || {
                        let stages = cfg.with(|c| c.stages());
                        stages.into_iter().enumerate().map(|(i, st)| view! {
                            <StageRow state=state index=i stage=st editable=custom() />
                        }).collect_view()
                    }}
                </tbody>
            </table>
            <Show when=custom>
                <button type="button" class="secondary" on:click=move |_| cfg.update(|c| {
                    let i = c.custom_stages.len();
                    let concurrency = c.custom_stages.last().map_or(2, |s| s.concurrency.saturating_mul(2).min(1000));
                    c.custom_stages.push(StageSpec { name: default_stage_name(i), concurrency, requests: 20, rate: None, duration_s: None, ramp_from: None });
                })>"Add stage"</button>
            </Show>
            <FieldMessage field=Field::Stages id="stages-error" />
            <p class="hint">{total}</p>
        </fieldset>
    }
}

/// The id of row `index`'s input for `what`, numbered from 1 like the row's labels ("Stage 1
/// concurrency"). Each row needs its own: an id names one element, and each input's
/// `aria-describedby` points at its own row's message (`{id}-error`).
fn stage_input_id(index: usize, what: &str) -> String {
    format!("stage-{}-{what}", index + 1)
}

/// One stage of the suite; editable only for custom stages, which are all it changes in the
/// form. Number inputs keep their text as typed (`AppState::type_number`).
#[component]
fn StageRow(state: AppState, index: usize, stage: StageSpec, editable: bool) -> impl IntoView {
    let cfg = state.config;
    let edit = move |f: Box<dyn Fn(&mut StageSpec)>| {
        cfg.update(|c| {
            if let Some(s) = c.custom_stages.get_mut(index) {
                f(s)
            }
        })
    };
    if !editable {
        return view! {
            <tr><td>{stage.name.clone()}</td><td class="num">{stage.concurrency}</td><td class="num">{stage.length_label()}</td><td>"closed loop"</td><td></td></tr>
        }
        .into_any();
    }
    let invalid = move |f: Field| state.error(f).is_some();
    let (concurrency, requests) = (stage.concurrency, stage.requests);
    let duration = stage.duration_s.unwrap_or(0);
    let by_time = stage.duration_s.is_some();
    let ramp = stage.ramp_from.map(|r| r.to_string()).unwrap_or_default();
    let rate = stage
        .rate
        .as_ref()
        .map(|r| r.per_s.to_string())
        .unwrap_or_default();
    let id = |what| stage_input_id(index, what);
    let error = |what| format!("{}-error", stage_input_id(index, what));
    view! {
        <tr>
            <td>
                <input type="text" id=id("name") aria-label=format!("Stage {} name", index + 1)
                    aria-describedby=error("name") prop:value=stage.name
                    on:change=move |ev| { let v = event_target_value(&ev); edit(Box::new(move |s| s.name = v.clone())) } />
                <FieldMessage field=Field::StageName(index) id=error("name") />
            </td>
            <td>
                <input type="text" inputmode="numeric" spellcheck="false" id=id("concurrency") aria-label=format!("Stage {} concurrency", index + 1)
                    aria-invalid=move || invalid(Field::StageConcurrency(index)).to_string()
                    aria-describedby=error("concurrency")
                    prop:value=move || state.number_text(Field::StageConcurrency(index), || concurrency.to_string())
                    on:change=move |ev| state.type_number(Field::StageConcurrency(index), event_target_value(&ev)) />
                <FieldMessage field=Field::StageConcurrency(index) id=error("concurrency") />
            </td>
            <td>
                <select id=id("length") aria-label=format!("Stage {} runs for", index + 1)
                    on:change=move |ev| { let t = event_target_value(&ev) == "duration"; cfg.update(|c| c.set_stage_by_time(index, t)) }>
                    <option value="requests" selected=!by_time>"requests"</option>
                    <option value="duration" selected=by_time>"duration (s)"</option>
                </select>
                {if by_time {
                    view! {
                        <input type="text" inputmode="numeric" spellcheck="false" id=id("duration") aria-label=format!("Stage {} duration", index + 1)
                            aria-invalid=move || invalid(Field::StageDuration(index)).to_string()
                            aria-describedby=error("duration")
                            prop:value=move || state.number_text(Field::StageDuration(index), || duration.to_string())
                            on:change=move |ev| state.type_number(Field::StageDuration(index), event_target_value(&ev)) />
                        <FieldMessage field=Field::StageDuration(index) id=error("duration") />
                        <input type="text" inputmode="decimal" spellcheck="false" placeholder="ramp from" id=id("ramp") aria-label=format!("Stage {} ramp from", index + 1)
                            aria-invalid=move || invalid(Field::StageRampFrom(index)).to_string()
                            aria-describedby=error("ramp")
                            prop:value=move || state.number_text(Field::StageRampFrom(index), || ramp.clone())
                            on:change=move |ev| state.type_number(Field::StageRampFrom(index), event_target_value(&ev)) />
                        <FieldMessage field=Field::StageRampFrom(index) id=error("ramp") />
                    }.into_any()
                } else {
                    view! {
                        <input type="text" inputmode="numeric" spellcheck="false" id=id("requests") aria-label=format!("Stage {} requests", index + 1)
                            aria-invalid=move || invalid(Field::StageRequests(index)).to_string()
                            aria-describedby=error("requests")
                            prop:value=move || state.number_text(Field::StageRequests(index), || requests.to_string())
                            on:change=move |ev| state.type_number(Field::StageRequests(index), event_target_value(&ev)) />
                        <FieldMessage field=Field::StageRequests(index) id=error("requests") />
                    }.into_any()
                }}
            </td>
            <td>
                <input type="text" inputmode="decimal" spellcheck="false" placeholder="closed loop" id=id("rate") aria-label=format!("Stage {} rate", index + 1)
                    aria-invalid=move || invalid(Field::StageRate(index)).to_string()
                    aria-describedby=error("rate")
                    prop:value=move || state.number_text(Field::StageRate(index), || rate.clone())
                    on:change=move |ev| state.type_number(Field::StageRate(index), event_target_value(&ev)) />
                {stage.rate.as_ref().map(|r| {
                    let secs = match stage.duration_s {
                        Some(d) => f64::from(d),
                        None => f64::from(stage.requests) / r.per_s.max(1e-9),
                    };
                    let poisson = r.poisson;
                    view! {
                        <label class="check small">
                            <input type="checkbox" prop:checked=poisson aria-label=format!("Stage {} Poisson arrivals", index + 1)
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    edit(Box::new(move |s| if let Some(r) = &mut s.rate { r.poisson = on }))
                                } />
                            "Poisson"
                        </label>
                        <span class="hint">{format!("≈ {secs:.1} s")}</span>
                    }
                })}
                <FieldMessage field=Field::StageRate(index) id=error("rate") />
            </td>
            <td>
                <button type="button" class="secondary" aria-label=format!("Remove stage {}", index + 1)
                    on:click=move |_| state.remove_stage(index)>"Remove"</button>
            </td>
        </tr>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::stage_input_id;

    #[test]
    fn every_stage_row_has_its_own_ids() {
        let fields = [
            "name",
            "concurrency",
            "requests",
            "rate",
            "length",
            "duration",
            "ramp",
        ];
        let mut ids: Vec<String> = (0..3)
            .flat_map(|i| fields.map(|f| stage_input_id(i, f)))
            .collect();
        // Row 0 is "Stage 1" in its labels, so its ids say 1 as well.
        assert_eq!(ids[1], "stage-1-concurrency");
        assert_eq!(ids[8], "stage-2-concurrency");
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "3 rows × 7 inputs, 21 distinct ids");
    }
}
