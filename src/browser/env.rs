//! Facts about the page that go into the report's `environment`.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use super::now_ms;

pub fn user_agent() -> String {
    web_sys::window()
        .and_then(|w| w.navigator().user_agent().ok())
        .unwrap_or_default()
}

pub fn page_origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// True when the page itself is served over HTTPS (then http:// endpoints are mixed content).
pub fn page_is_https() -> bool {
    web_sys::window()
        .and_then(|w| w.location().protocol().ok())
        .is_some_and(|p| p == "https:")
}

pub fn prefers_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches())
}

pub fn device_pixel_ratio() -> f64 {
    web_sys::window()
        .map(|w| w.device_pixel_ratio())
        .filter(|r| r.is_finite() && *r > 0.0)
        .unwrap_or(1.0)
}

pub fn iso_now() -> String {
    js_sys::Date::new_0().to_iso_string().into()
}

/// Smallest positive step of `performance.now()` seen in a short busy loop (browsers coarsen it).
pub fn timer_resolution_ms() -> Option<f64> {
    let mut best = f64::INFINITY;
    let mut last = now_ms();
    let deadline = last + 20.0;
    while last < deadline {
        let t = now_ms();
        if t > last {
            best = best.min(t - last);
            last = t;
        }
    }
    best.is_finite().then_some(best)
}

pub fn tab_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.hidden())
}

/// Call `f(hidden)` on every visibility change, for the page's lifetime.
pub fn on_visibility_change(f: impl Fn(bool) + 'static) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let cb = Closure::<dyn Fn()>::new(move || f(tab_hidden()));
    let _ = doc.add_event_listener_with_callback("visibilitychange", cb.as_ref().unchecked_ref());
    cb.forget();
}

/// `window.crossOriginIsolated`: then `performance.now()` is coarsened to 5 µs, not 100 µs.
pub fn cross_origin_isolated() -> Option<bool> {
    let w = web_sys::window()?;
    js_sys::Reflect::get(&w, &"crossOriginIsolated".into())
        .ok()?
        .as_bool()
}

/// Call `f(start_ms, duration_ms)` for every main-thread task over 50 ms, for the page's
/// lifetime. Browsers without the Long Tasks API simply never call it.
pub fn on_long_task(f: impl Fn(f64, f64) + 'static) {
    let cb = Closure::<dyn Fn(web_sys::PerformanceObserverEntryList)>::new(
        move |list: web_sys::PerformanceObserverEntryList| {
            let entries = list.get_entries();
            for e in entries.iter() {
                if let Ok(e) = e.dyn_into::<web_sys::PerformanceEntry>() {
                    f(e.start_time(), e.duration());
                }
            }
        },
    );
    let Ok(observer) = web_sys::PerformanceObserver::new(cb.as_ref().unchecked_ref()) else {
        return;
    };
    let types = js_sys::Array::of1(&"longtask".into());
    let init = web_sys::PerformanceObserverInit::new(&types);
    observer.observe(&init);
    cb.forget();
}
