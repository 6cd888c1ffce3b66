//! Thin browser glue: everything here talks to web-sys; nothing here decides anything.

pub mod canvas;
pub mod engine;
pub mod env;
pub mod files;
pub mod history_db;
pub mod location;
pub mod storage;
pub mod transport;

use wasm_bindgen::JsCast;

/// The global `performance`, on the page or in a worker.
pub fn performance() -> Option<web_sys::Performance> {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()?
        .dyn_into()
        .ok()
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The global `performance.now()`, in a window and in a worker alike: one call across the
    /// wasm boundary, not the four it takes to look up the Performance object first (the clock
    /// is read several times per request).
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// `performance.now()` in ms.
pub fn now_ms() -> f64 {
    performance_now()
}

/// `performance.timeOrigin`: with `now_ms()`, a clock page and worker share.
pub fn time_origin() -> f64 {
    performance().map(|p| p.time_origin()).unwrap_or(0.0)
}
