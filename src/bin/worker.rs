//! The engine's Web Worker (built by Trunk as `worker_loader.js` + `worker.js` + wasm).
fn main() {
    stampede::engine_worker::start();
}
