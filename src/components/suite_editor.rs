//! Which stages to run: a seed suite, or custom concurrency × requests stages.

use leptos::prelude::*;
use stampede_engine::Field;
use stampede_engine::{default_stage_name, RateSpec, StageSpec, Suite};

use super::{parse_u32, FieldMessage};
use crate::state::AppState;

#[component]
pub fn SuiteEditor() -> impl IntoView {
    let state = expect_context::<AppState>();
    let cfg = state.config;
    let suite = move || cfg.with(|c| c.suite);
    let custom = move || suite() == Suite::Custom;
    let total = move || {
        cfg.with(|c| {
            c.stages()
                .iter()
                .map(|s| u64::from(s.requests))
                .sum::<u64>()
        })
    };

    view! {
        <fieldset class="suite" prop:disabled=move || state.running()>
            <legend>"Suite"</legend>
            <div class="row">
                <label for="suite">"Suite"</label>
                <select id="suite" on:change=move |ev| {
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
                    <th>"Requests"</th>
                    <th title="Empty: closed loop. A number: open loop, requests start on schedule at this rate whatever the responses do.">"Rate (req/s)"</th>
                    <th></th>
                </tr></thead>
                <tbody>
                    {move || {
                        let stages = cfg.with(|c| c.stages());
                        stages.into_iter().enumerate().map(|(i, st)| view! {
                            <StageRow index=i stage=st editable=custom() />
                        }).collect_view()
                    }}
                </tbody>
            </table>
            <Show when=custom>
                <button type="button" class="secondary" on:click=move |_| cfg.update(|c| {
                    let i = c.custom_stages.len();
                    let concurrency = c.custom_stages.last().map_or(2, |s| s.concurrency.saturating_mul(2).min(1000));
                    c.custom_stages.push(StageSpec { name: default_stage_name(i), concurrency, requests: 20, rate: None });
                })>"Add stage"</button>
            </Show>
            <FieldMessage field=Field::Stages id="stages-error" />
            <p class="hint">{move || format!("{} requests in total", total())}</p>
        </fieldset>
    }
}

#[component]
fn StageRow(index: usize, stage: StageSpec, editable: bool) -> impl IntoView {
    let state = expect_context::<AppState>();
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
            <tr><td>{stage.name}</td><td class="num">{stage.concurrency}</td><td class="num">{stage.requests}</td><td>"closed loop"</td><td></td></tr>
        }
        .into_any();
    }
    view! {
        <tr>
            <td>
                <input type="text" aria-label=format!("Stage {} name", index + 1) prop:value=stage.name
                    on:change=move |ev| { let v = event_target_value(&ev); edit(Box::new(move |s| s.name = v.clone())) } />
                <FieldMessage field=Field::StageName(index) id="stage-name-error" />
            </td>
            <td>
                <input type="number" min="1" max="1000" aria-label=format!("Stage {} concurrency", index + 1)
                    prop:value=stage.concurrency.to_string()
                    on:change=move |ev| { let v = parse_u32(&event_target_value(&ev)); edit(Box::new(move |s| s.concurrency = v)) } />
                <FieldMessage field=Field::StageConcurrency(index) id="stage-concurrency-error" />
            </td>
            <td>
                <input type="number" min="1" max="1000000" aria-label=format!("Stage {} requests", index + 1)
                    prop:value=stage.requests.to_string()
                    on:change=move |ev| { let v = parse_u32(&event_target_value(&ev)); edit(Box::new(move |s| s.requests = v)) } />
                <FieldMessage field=Field::StageRequests(index) id="stage-requests-error" />
            </td>
            <td>
                <input type="number" min="0.1" step="any" placeholder="closed loop" aria-label=format!("Stage {} rate", index + 1)
                    prop:value=stage.rate.as_ref().map(|r| r.per_s.to_string()).unwrap_or_default()
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        edit(Box::new(move |s| {
                            s.rate = if v.trim().is_empty() {
                                None
                            } else {
                                // Text that is not a number becomes 0, which validation rejects.
                                let per_s = v.trim().parse().unwrap_or(0.0);
                                let poisson = s.rate.as_ref().is_some_and(|r| r.poisson);
                                Some(RateSpec { per_s, poisson, seed: 1 })
                            }
                        }))
                    } />
                {stage.rate.as_ref().map(|r| {
                    let secs = f64::from(stage.requests) / r.per_s.max(1e-9);
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
                <FieldMessage field=Field::StageRate(index) id="stage-rate-error" />
            </td>
            <td>
                <button type="button" class="secondary" aria-label=format!("Remove stage {}", index + 1)
                    on:click=move |_| cfg.update(|c| { if index < c.custom_stages.len() { c.custom_stages.remove(index); } })>"Remove"</button>
            </td>
        </tr>
    }
    .into_any()
}
