//! The run history's storage: IndexedDB through `rexie`. Two object stores keyed by the entry
//! id: `entries` (each `HistoryEntry` as JSON, all read when the page opens) and `reports`
//! (each report's JSON, read only to open or export that one). What to store is decided in the
//! engine (`stampede_engine::History`); every failure here becomes a message for the panel
//! (no IndexedDB in private modes or with storage disabled, a full quota), never a panic.

use std::rc::Rc;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use rexie::{ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::JsValue;

const DB_NAME: &str = "stampede-history";
const DB_VERSION: u32 = 1;
const ENTRIES: &str = "entries";
const REPORTS: &str = "reports";

type Opening = Shared<LocalBoxFuture<'static, Result<Rc<Rexie>, String>>>;

thread_local! {
    /// The database, opened once for the page: transactions are then created in call order,
    /// so IndexedDB applies them in that order.
    static DB: Opening = open().boxed_local().shared();
}

async fn open() -> Result<Rc<Rexie>, String> {
    Rexie::builder(DB_NAME)
        .version(DB_VERSION)
        .add_object_store(ObjectStore::new(ENTRIES))
        .add_object_store(ObjectStore::new(REPORTS))
        .build()
        .await
        .map(Rc::new)
        .map_err(|e| {
            web_sys::console::warn_1(&format!("history: {}", said(e)).into());
            "History is not available: this browser does not let the page keep data \
             (private browsing, or site storage disabled). Runs are not kept; export the \
             ones you need."
                .to_string()
        })
}

async fn db() -> Result<Rc<Rexie>, String> {
    DB.with(Clone::clone).await
}

/// Whether the page has IndexedDB (the panel already says why not).
pub async fn available() -> bool {
    db().await.is_ok()
}

/// What the browser said, for the console and the panel.
fn said(e: rexie::Error) -> String {
    match e {
        rexie::Error::IdbError(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

/// A failed step of `what`, as the panel shows it.
fn failed(what: &str) -> impl Fn(rexie::Error) -> String + '_ {
    move |e| {
        let why = said(e);
        let quota = why.contains("Quota");
        format!(
            "The browser refused to {what}{}: {why}",
            if quota { " (its storage is full)" } else { "" }
        )
    }
}

/// Wait for `tx` to commit; an aborted one (a quota error aborts it) failed.
async fn done(
    tx: rexie::Transaction,
    fail: &impl Fn(rexie::Error) -> String,
) -> Result<(), String> {
    if tx.done().await.map_err(fail)?.is_committed() {
        Ok(())
    } else {
        Err(fail(rexie::Error::TransactioncommitFailed))
    }
}

/// Every stored entry record (`HistoryEntry` JSON), in key order.
pub async fn entries() -> Result<Vec<String>, String> {
    let db = db().await?;
    let fail = failed("read the history");
    let tx = db
        .transaction(&[ENTRIES], TransactionMode::ReadOnly)
        .map_err(&fail)?;
    let all = tx.store(ENTRIES).map_err(&fail)?.get_all(None, None).await;
    let all = all.map_err(&fail)?;
    Ok(all.into_iter().filter_map(|v| v.as_string()).collect())
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
    let db = db().await?;
    let fail = failed("keep this run in the history");
    let tx = db
        .transaction(&[ENTRIES, REPORTS], TransactionMode::ReadWrite)
        .map_err(&fail)?;
    let entries = tx.store(ENTRIES).map_err(&fail)?;
    let reports = tx.store(REPORTS).map_err(&fail)?;
    let report: js_sys::Array = parts.iter().map(|p| JsValue::from_str(p)).collect();
    let key = JsValue::from_str(id);
    for gone in dropped {
        entries.delete(gone.into()).await.map_err(&fail)?;
        reports.delete(gone.into()).await.map_err(&fail)?;
    }
    reports
        .put(&JsValue::from(report.join("")), Some(&key))
        .await
        .map_err(&fail)?;
    entries
        .put(&JsValue::from_str(entry), Some(&key))
        .await
        .map_err(&fail)?;
    done(tx, &fail).await
}

/// Replace the entry record of `id` (a new label).
pub async fn put_entry(id: &str, entry: &str) -> Result<(), String> {
    let db = db().await?;
    let fail = failed("save the label");
    let tx = db
        .transaction(&[ENTRIES], TransactionMode::ReadWrite)
        .map_err(&fail)?;
    tx.store(ENTRIES)
        .map_err(&fail)?
        .put(&JsValue::from_str(entry), Some(&JsValue::from_str(id)))
        .await
        .map_err(&fail)?;
    done(tx, &fail).await
}

/// The stored report JSON of `id`.
pub async fn report(id: &str) -> Result<String, String> {
    let db = db().await?;
    let fail = failed("read this run from the history");
    let tx = db
        .transaction(&[REPORTS], TransactionMode::ReadOnly)
        .map_err(&fail)?;
    let got = tx.store(REPORTS).map_err(&fail)?.get(id.into()).await;
    got.map_err(&fail)?
        .and_then(|v| v.as_string())
        .ok_or_else(|| "This run's report is missing from the history.".to_string())
}

/// Delete `id`'s entry and report.
pub async fn delete(id: &str) -> Result<(), String> {
    let db = db().await?;
    let fail = failed("delete this run from the history");
    let tx = db
        .transaction(&[ENTRIES, REPORTS], TransactionMode::ReadWrite)
        .map_err(&fail)?;
    tx.store(ENTRIES)
        .map_err(&fail)?
        .delete(id.into())
        .await
        .map_err(&fail)?;
    tx.store(REPORTS)
        .map_err(&fail)?
        .delete(id.into())
        .await
        .map_err(&fail)?;
    done(tx, &fail).await
}
