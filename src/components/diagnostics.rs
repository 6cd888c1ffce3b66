//! What the browser does to the measurement (DESIGN §6): warnings before and during a run, and
//! the fidelity panel, each item green / amber / red with a one-line reason.

use leptos::prelude::*;
use stampede_engine::ErrorClass;
use stampede_engine::{Environment, Protocol, StageStats, HTTP1_CONNECTIONS};

use crate::state::{AppState, Shown};

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Green,
    Amber,
    Red,
}

impl Level {
    fn class(self) -> &'static str {
        match self {
            Level::Green => "green",
            Level::Amber => "amber",
            Level::Red => "red",
        }
    }
}

struct Item {
    what: &'static str,
    level: Level,
    reason: String,
}

fn item(what: &'static str, level: Level, reason: String) -> Item {
    Item {
        what,
        level,
        reason,
    }
}

/// The fidelity items for a run's environment and stage figures.
fn fidelity(env: &Environment, stats: &[StageStats]) -> Vec<Item> {
    let mut items = Vec::new();
    let origins = env.targets.len().max(1);
    let top = stats
        .iter()
        .map(|s| s.requested_concurrency)
        .max()
        .unwrap_or(0);
    let protocols: Vec<String> = env
        .targets
        .iter()
        .map(|o| {
            let host = o.url.split('/').nth(2).unwrap_or(&o.url);
            format!(
                "{host} {}",
                o.protocol.as_ref().map_or("unknown", Protocol::label)
            )
        })
        .collect();
    let http1 = env
        .targets
        .iter()
        .any(|o| o.protocol == Some(Protocol::Http1));
    let unknown = env.targets.iter().any(|o| o.protocol.is_none());
    items.push(if http1 && top > HTTP1_CONNECTIONS * origins as u32 {
        item("Protocol", Level::Red, format!(
            "{}: HTTP/1.1 carries at most {} in flight over {origins} origin(s), stages ask for up to {top}",
            protocols.join(", "), HTTP1_CONNECTIONS * origins as u32))
    } else if unknown {
        item("Protocol", Level::Amber, format!(
            "{}: the server sends no Timing-Allow-Origin, so the browser hides protocol and queue time",
            protocols.join(", ")))
    } else {
        item("Protocol", Level::Green, protocols.join(", "))
    });
    let queue = stats
        .iter()
        .filter_map(|s| {
            s.browser_queue_ms
                .as_ref()
                .map(|q| (q.p50, s.name.as_str()))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    items.push(match queue {
        None => item(
            "Browser queue",
            Level::Amber,
            "not measured (no resource timing for these requests)".into(),
        ),
        Some((q, name)) if q >= 10.0 => item(
            "Browser queue",
            Level::Red,
            format!("p50 {q:.1} ms in {name}: requests waited in the browser before being sent"),
        ),
        Some((q, name)) if q >= 1.0 => item(
            "Browser queue",
            Level::Amber,
            format!("p50 {q:.1} ms in {name}"),
        ),
        Some((q, _)) => item(
            "Browser queue",
            Level::Green,
            format!("p50 at most {q:.2} ms"),
        ),
    });
    items.push(match env.timer_resolution_ms {
        Some(r) if r <= 0.01 => item(
            "Timer resolution",
            Level::Green,
            format!("{:.0} µs", r * 1000.0),
        ),
        Some(r) if r <= 0.1 => item(
            "Timer resolution",
            Level::Amber,
            format!(
                "{:.0} µs: fine for ms figures; cross-origin isolation would give 5 µs",
                r * 1000.0
            ),
        ),
        Some(r) => item(
            "Timer resolution",
            Level::Red,
            format!("{r:.2} ms: sub-ms figures are noise"),
        ),
        None => item("Timer resolution", Level::Amber, "not measured".into()),
    });
    items.push(match env.cross_origin_isolated {
        Some(true) => item(
            "Cross-origin isolation",
            Level::Green,
            "on (COOP/COEP): finest timers".into(),
        ),
        _ => item(
            "Cross-origin isolation",
            Level::Amber,
            "off: the host sends no COOP/COEP headers; timers are coarser".into(),
        ),
    });
    let open_loop = stats.iter().any(|s| s.requested_rate_per_s.is_some());
    items.push(if env.hidden_periods.is_empty() {
        item("Hidden tab", Level::Green, "the tab stayed visible".into())
    } else {
        let total: f64 = env
            .hidden_periods
            .iter()
            .map(|p| p.end_ms - p.start_ms)
            .sum();
        let (level, why) = match env.engine_in_worker {
            Some(true) => (
                Level::Green,
                "the engine's worker is not throttled with the tab",
            ),
            _ if open_loop => (
                Level::Red,
                "the engine ran on the page, whose timers the browser throttles: rate stages slip",
            ),
            _ => (
                Level::Amber,
                "closed-loop stages run on fetch completions, which the browser does not throttle",
            ),
        };
        item(
            "Hidden tab",
            level,
            format!(
                "hidden {} time(s), {:.1} s in all: {why}",
                env.hidden_periods.len(),
                total / 1000.0
            ),
        )
    });
    let long: f64 = env.long_tasks.iter().map(|p| p.end_ms - p.start_ms).sum();
    let in_worker = env.engine_in_worker == Some(true);
    items.push(match env.long_tasks.len() {
        0 => item("Main-thread long tasks", Level::Green, "none over 50 ms".into()),
        n if in_worker => item("Main-thread long tasks", Level::Green, format!(
            "{n} task(s) over 50 ms, {long:.0} ms in all: they delayed the page's drawing, not the worker's timing")),
        n => item("Main-thread long tasks", if long > 500.0 { Level::Red } else { Level::Amber }, format!(
            "{n} task(s) over 50 ms, {long:.0} ms in all: responses that ended then were stamped late")),
    });
    items.push(match (env.engine_in_worker, &env.worker_lag_ms) {
        (Some(true), Some(lag)) if lag.p99 >= 20.0 => item("Engine worker", Level::Red, format!(
            "event-loop lag p99 {:.1} ms, max {:.1} ms: the worker itself was too busy to start requests on time", lag.p99, lag.max)),
        (Some(true), Some(lag)) if lag.p99 >= 5.0 => item("Engine worker", Level::Amber, format!(
            "event-loop lag p99 {:.1} ms, max {:.1} ms", lag.p99, lag.max)),
        (Some(true), Some(lag)) => item("Engine worker", Level::Green, format!(
            "in a Web Worker; event-loop lag p99 {:.1} ms", lag.p99)),
        (Some(true), None) => item("Engine worker", Level::Green, "in a Web Worker".into()),
        (Some(false), _) => item("Engine worker", Level::Amber,
            "the worker could not start, so the engine ran on the page's main thread: redraws and hidden-tab throttling can delay it".into()),
        (None, _) => item("Engine worker", Level::Amber, "not recorded".into()),
    });
    for s in stats {
        let name: &'static str = "Stage";
        let figure = match (s.requested_rate_per_s, s.achieved_rate_per_s) {
            (Some(r), a) => format!(
                "{}: rate {r:.1}/s asked, {} achieved",
                s.name,
                a.map_or("–".into(), |a| format!("{a:.2}/s"))
            ),
            _ => format!(
                "{}: {} in flight asked, {} sent",
                s.name,
                s.requested_concurrency,
                s.sent_concurrency
                    .or(s.achieved_concurrency)
                    .map_or("–".into(), |a| format!("{a:.2}"))
            ),
        };
        items.push(match &s.shortfall {
            Some(why) => item(name, Level::Red, format!("{figure}. {why}")),
            None => item(name, Level::Green, figure),
        });
    }
    items
}

#[component]
pub fn Diagnostics() -> impl IntoView {
    let state = expect_context::<AppState>();
    let over_cap = move || {
        state.config.with(|c| {
            let origins = 1 + c.alias_list().len() as u32;
            c.stages()
                .into_iter()
                .filter(|s| s.concurrency > HTTP1_CONNECTIONS * origins)
                .map(|s| format!("{} ({})", s.name, s.concurrency))
                .collect::<Vec<_>>()
        })
    };
    // Protocols seen so far, from the published environment (one per origin).
    let seen = move |f: fn(&[Option<Protocol>]) -> bool| {
        state.environment.with(|e| {
            let p: Vec<Option<Protocol>> = e.targets.iter().map(|o| o.protocol.clone()).collect();
            f(&p)
        })
    };
    let http1 = move || seen(|p| p.contains(&Some(Protocol::Http1)));
    let multiplexed = move || {
        seen(|p| {
            !p.is_empty()
                && p.iter()
                    .all(|p| p.as_ref().is_some_and(Protocol::multiplexed))
        })
    };
    let http1_warning = move || {
        let stages = over_cap();
        if stages.is_empty() || multiplexed() {
            return None;
        }
        let lead = if http1() {
            "This endpoint speaks HTTP/1.1"
        } else {
            "If this endpoint speaks HTTP/1.1 (vLLM, Ollama and TGI do by default)"
        };
        Some(view! {
            <p class="warning" role="note" id="http1-warning">
                <strong>{lead}</strong>
                {format!(": the browser opens at most {HTTP1_CONNECTIONS} connections per origin and queues \
                    the rest, so these stages would measure that queue as latency: {}. Add host aliases \
                    (other names or addresses of the same server) or put an HTTP/2 proxy (Caddy, nginx) in \
                    front of the server.", stages.join(", "))}
            </p>
        })
    };
    let network_help = move || {
        let any_network = state.stats.with(|st| {
            st.iter()
                .any(|s| s.errors.iter().any(|e| e.class == ErrorClass::Network))
        });
        any_network.then(|| view! {
            <p class="warning" role="note" id="network-help">
                "Some requests failed without a status (network). The server may be down or unreachable, \
                 or it does not allow this page's origin (CORS). Enable CORS: Ollama "<code>"OLLAMA_ORIGINS=*"</code>
                ", vLLM "<code>"--allowed-origins '[\"*\"]'"</code>", TGI "<code>"--cors-allow-origin '*'"</code>"."
            </p>
        })
    };
    let panel = move || {
        if state.shown.get() == Shown::Nothing {
            return None;
        }
        let items = state
            .environment
            .with(|env| state.stats.with(|st| fidelity(env, st)));
        Some(view! {
            <details class="fidelity" id="fidelity" open>
                <summary>"Measurement fidelity"</summary>
                <ul>
                    {items.into_iter().map(|i| view! {
                        <li class=format!("level {}", i.level.class()) data-level=i.level.class()>
                            <span class="dot" aria-hidden="true"></span>
                            <strong>{i.what}</strong>": "{i.reason}
                        </li>
                    }).collect_view()}
                </ul>
            </details>
        })
    };
    view! {
        <section class="diagnostics" aria-label="Diagnostics">
            {http1_warning}
            {network_help}
            {panel}
        </section>
    }
}
