//! The run history's storage: IndexedDB, through web-sys directly (with `rexie` doing the same
//! job the page's wasm was 12.6 KB larger gzipped: it brings `idb`, tokio's sync channels and
//! indexmap for what is here two helpers). Two object stores keyed by
//! the entry id: `entries` (each `HistoryEntry` as JSON, all read when the page opens) and
//! `reports` (each report's JSON, read only to open or export that one). What to store is
//! decided in the engine (`stampede_engine::History`); every failure here becomes a message
//! for the panel (no IndexedDB in private modes or with storage disabled, a full quota), never
//! a panic.
//!
//! Each operation makes all its requests at once and then waits for its transaction to
//! complete, so no transaction can commit early while Rust code awaits between requests.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;
use futures::future::{FutureExt, LocalBoxFuture, Shared};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{IdbDatabase, IdbObjectStore, IdbRequest, IdbTransaction, IdbTransactionMode};

const DB_NAME: &str = "stampede-history";
const DB_VERSION: u32 = 1;
const ENTRIES: &str = "entries";
const REPORTS: &str = "reports";

type Opening = Shared<LocalBoxFuture<'static, Result<IdbDatabase, String>>>;

thread_local! {
    /// The database, opened once for the page: transactions are then created in call order,
    /// so IndexedDB applies them in that order.
    static DB: Opening = open().boxed_local().shared();
}

const UNAVAILABLE: &str = "History is not available: this browser does not let the page keep \
                           data (private browsing, or site storage disabled). Runs are not \
                           kept; export the ones you need.";

/// What a DOMException or Error says, for the console and the panel.
fn said(e: &JsValue) -> String {
    if let Some(d) = e.dyn_ref::<web_sys::DomException>() {
        return format!("{}: {}", d.name(), d.message());
    }
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| "unknown error".into())
}

/// Wait until `target` fires `ok` (true) or one of `fail` (false).
async fn settled(target: &web_sys::EventTarget, ok: &str, fail: &[&str]) -> bool {
    let (send, recv) = oneshot::channel::<bool>();
    let send = Rc::new(RefCell::new(Some(send)));
    let on = |value: bool| {
        let send = send.clone();
        Closure::<dyn FnMut()>::new(move || {
            if let Some(s) = send.borrow_mut().take() {
                let _ = s.send(value);
            }
        })
    };
    let (yes, no) = (on(true), on(false));
    let listen = |name: &str, f: &Closure<dyn FnMut()>| {
        let _ = target.add_event_listener_with_callback(name, f.as_ref().unchecked_ref());
    };
    listen(ok, &yes);
    fail.iter().for_each(|name| listen(name, &no));
    let result = recv.await.unwrap_or(false);
    let _ = target.remove_event_listener_with_callback(ok, yes.as_ref().unchecked_ref());
    for name in fail {
        let _ = target.remove_event_listener_with_callback(name, no.as_ref().unchecked_ref());
    }
    result
}

async fn open() -> Result<IdbDatabase, String> {
    let unavailable = |why: String| {
        web_sys::console::warn_1(&format!("history: {why}").into());
        UNAVAILABLE.to_string()
    };
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or_else(|| unavailable("no indexedDB".into()))?;
    let request = factory
        .open_with_u32(DB_NAME, DB_VERSION)
        .map_err(|e| unavailable(said(&e)))?;
    let upgrade = {
        let request = request.clone();
        Closure::<dyn FnMut()>::new(move || {
            let Some(db) = request
                .result()
                .ok()
                .and_then(|r| r.dyn_into::<IdbDatabase>().ok())
            else {
                return;
            };
            for name in [ENTRIES, REPORTS] {
                if !db.object_store_names().contains(name) {
                    let _ = db.create_object_store(name);
                }
            }
        })
    };
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let opened = settled(&request, "success", &["error", "blocked"]).await;
    request.set_onupgradeneeded(None);
    if !opened {
        let why = request.error().ok().flatten().map(|e| said(&e.into()));
        return Err(unavailable(why.unwrap_or_else(|| "blocked".into())));
    }
    request
        .result()
        .ok()
        .and_then(|r| r.dyn_into::<IdbDatabase>().ok())
        .ok_or_else(|| unavailable("no database".into()))
}

/// Whether the page has IndexedDB (the panel already says why not).
pub async fn available() -> bool {
    DB.with(Clone::clone).await.is_ok()
}

/// One transaction over `stores`: `make` issues every request on it at once; then wait for it
/// to complete. `what` names the operation in a failure's message.
async fn transact<T>(
    stores: &[&str],
    mode: IdbTransactionMode,
    what: &str,
    make: impl FnOnce(&[IdbObjectStore]) -> Result<T, JsValue>,
) -> Result<T, String> {
    let db = DB.with(Clone::clone).await?;
    let failed = |why: String| {
        let quota = why.contains("Quota");
        format!(
            "The browser refused to {what}{}: {why}",
            if quota { " (its storage is full)" } else { "" }
        )
    };
    let names: js_sys::Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
    let tx: IdbTransaction = db
        .transaction_with_str_sequence_and_mode(&names, mode)
        .map_err(|e| failed(said(&e)))?;
    let objects = stores
        .iter()
        .map(|s| tx.object_store(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(said(&e)))?;
    let out = match make(&objects) {
        Ok(out) => out,
        Err(e) => {
            let _ = tx.abort();
            return Err(failed(said(&e)));
        }
    };
    if settled(&tx, "complete", &["error", "abort"]).await {
        Ok(out)
    } else {
        let why = tx.error().map(|e| said(&e.into()));
        Err(failed(
            why.unwrap_or_else(|| "the change was abandoned".into()),
        ))
    }
}

fn store(stores: &[IdbObjectStore], i: usize) -> Result<&IdbObjectStore, JsValue> {
    stores
        .get(i)
        .ok_or_else(|| JsValue::from_str("no such store"))
}

/// Every stored entry record (`HistoryEntry` JSON), in key order.
pub async fn entries() -> Result<Vec<String>, String> {
    let read: IdbRequest = transact(
        &[ENTRIES],
        IdbTransactionMode::Readonly,
        "read the history",
        |s| store(s, 0)?.get_all(),
    )
    .await?;
    let all = read.result().unwrap_or(JsValue::UNDEFINED);
    Ok(js_sys::Array::from(&all)
        .iter()
        .filter_map(|v| v.as_string())
        .collect())
}

/// Store a report (its JSON in `parts`, joined by the browser, never in one Rust string) with
/// its entry, and delete the entries and reports of `dropped`, in one transaction: all of it
/// happens or none.
pub async fn keep(
    id: &str,
    entry: &str,
    parts: &[String],
    dropped: &[String],
) -> Result<(), String> {
    let report: js_sys::Array = parts.iter().map(|p| JsValue::from_str(p)).collect();
    let report = JsValue::from(report.join(""));
    let what = "keep this run in the history";
    transact(
        &[ENTRIES, REPORTS],
        IdbTransactionMode::Readwrite,
        what,
        |s| {
            let (entries, reports) = (store(s, 0)?, store(s, 1)?);
            for gone in dropped {
                let key = JsValue::from_str(gone);
                entries.delete(&key)?;
                reports.delete(&key)?;
            }
            let key = JsValue::from_str(id);
            reports.put_with_key(&report, &key)?;
            entries.put_with_key(&JsValue::from_str(entry), &key)?;
            Ok(())
        },
    )
    .await
}

/// Replace the entry record of `id` (a new label).
pub async fn put_entry(id: &str, entry: &str) -> Result<(), String> {
    transact(
        &[ENTRIES],
        IdbTransactionMode::Readwrite,
        "save the label",
        |s| {
            store(s, 0)?.put_with_key(&JsValue::from_str(entry), &JsValue::from_str(id))?;
            Ok(())
        },
    )
    .await
}

/// The stored report JSON of `id`.
pub async fn report(id: &str) -> Result<String, String> {
    let what = "read this run from the history";
    let read: IdbRequest = transact(&[REPORTS], IdbTransactionMode::Readonly, what, |s| {
        store(s, 0)?.get(&JsValue::from_str(id))
    })
    .await?;
    read.result()
        .ok()
        .and_then(|v| v.as_string())
        .ok_or_else(|| "This run's report is missing from the history.".to_string())
}

/// Delete `id`'s entry and report.
pub async fn delete(id: &str) -> Result<(), String> {
    let what = "delete this run from the history";
    transact(
        &[ENTRIES, REPORTS],
        IdbTransactionMode::Readwrite,
        what,
        |s| {
            let key = JsValue::from_str(id);
            store(s, 0)?.delete(&key)?;
            store(s, 1)?.delete(&key)?;
            Ok(())
        },
    )
    .await
}
