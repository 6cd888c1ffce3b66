//! Thin browser glue: everything here talks to web-sys; nothing here decides anything.

pub mod engine;
pub mod env;
pub mod files;
pub mod transport;

use wasm_bindgen::JsCast;

/// The global `performance`, on the page or in a worker.
pub fn performance() -> Option<web_sys::Performance> {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()?
        .dyn_into()
        .ok()
}

/// `performance.now()` in ms; 0 without a Performance object (never in a real browser).
pub fn now_ms() -> f64 {
    performance().map(|p| p.now()).unwrap_or(0.0)
}

/// `performance.timeOrigin`: with `now_ms()`, a clock page and worker share.
pub fn time_origin() -> f64 {
    performance().map(|p| p.time_origin()).unwrap_or(0.0)
}
