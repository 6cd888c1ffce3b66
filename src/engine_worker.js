// The engine's Web Worker (a module worker; src/engine_worker.rs). It runs the page's own wasm:
// the page hands over its compiled WebAssembly.Module as the first message, so nothing is
// downloaded or compiled twice, and starts it as the engine instead of the page.
import init, { start_engine_worker } from './stampede.js';

self.onmessage = async (event) => {
  self.onmessage = null;
  await init({ module_or_path: event.data });
  // Replaces this handler with the engine's own and says it is ready.
  start_engine_worker();
};
