fn main() {
    stampede::start_page();
}

/// The engine worker's entry point (`src/engine_worker.js` calls it): the worker runs this
/// same wasm, so the page and the engine download as one file. Exported from the binary, where
/// wasm-bindgen sees it.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn start_engine_worker() {
    stampede::engine_worker::start();
}
