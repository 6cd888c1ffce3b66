//! The run history on the page: the list the History panel shows, kept in step with IndexedDB
//! (`browser::history_db`). What an entry says, what to drop and what a label may be are the
//! engine's (`stampede_engine::History`); this file moves reports between the session, the
//! browser's storage and the panel. The list changes at once; should the browser then refuse
//! the write, the panel says so and the list is read back from storage.

use leptos::prelude::*;
use leptos::task::spawn_local;
use stampede_engine::{
    dropped_notice, history_config, history_report, too_many_samples_to_keep, BaselineRef,
    HeadlineFigures, History, Report, RunConfig,
};

use crate::browser::{env, files, history_db};
use crate::state::{AppState, Shown};

/// The panel's signals: a narrow context for the History panel and its rows.
#[derive(Clone, Copy)]
pub struct HistoryState {
    pub list: RwSignal<History>,
    /// Whether the stored list has been read (before that, nothing is kept or shown).
    pub loaded: RwSignal<bool>,
    /// Why history is unavailable or the last change failed; the page works on without it.
    pub problem: RwSignal<Option<String>>,
    /// The entries the last kept run pushed out, named.
    pub notice: RwSignal<Option<String>>,
}

impl HistoryState {
    /// Empty, and read from storage in the background.
    pub fn load() -> HistoryState {
        let h = HistoryState {
            list: RwSignal::new(History::default()),
            loaded: RwSignal::new(false),
            problem: RwSignal::new(None),
            notice: RwSignal::new(None),
        };
        spawn_local(async move { h.reload().await });
        h
    }

    /// Read the list from storage again.
    async fn reload(self) {
        match history_db::entries().await {
            Ok(records) => {
                let (list, unreadable) = History::from_records(records);
                self.list.set(list);
                if unreadable > 0 {
                    self.problem.set(Some(format!(
                        "{unreadable} stored run(s) could not be read (made by another \
                         version of Stampede?) and are not listed."
                    )));
                }
            }
            Err(m) => {
                // What storage holds is unknown: list nothing rather than what may be gone.
                self.list.set(History::default());
                self.problem.set(Some(m));
            }
        }
        self.loaded.set(true);
    }

    /// The report of entry `id` as stored, parsed: what Open and Set as baseline show.
    async fn report(id: &str) -> Result<Report, String> {
        let text = history_db::report(id).await?;
        Report::from_json(&text)
    }

    /// Show entry `id` as an import is shown.
    pub fn open(self, state: AppState, id: String) {
        let Some(label) = self
            .list
            .with_untracked(|l| l.get(&id).map(|e| e.label.clone()))
        else {
            return;
        };
        spawn_local(async move {
            match HistoryState::report(&id).await {
                Ok(report) => {
                    self.problem.set(None);
                    state.show_imported(format!("history, “{label}”"), report);
                }
                Err(m) => self.problem.set(Some(m)),
            }
        });
    }

    /// Make entry `id` the baseline the shown run is compared with.
    pub fn set_baseline(self, state: AppState, id: String) {
        let Some(e) = self.list.with_untracked(|l| l.get(&id).cloned()) else {
            return;
        };
        spawn_local(async move {
            match HistoryState::report(&id).await {
                Ok(report) => {
                    self.problem.set(None);
                    let info = BaselineRef {
                        id: e.id,
                        label: e.label,
                        created_at: e.created_at,
                    };
                    state.set_baseline(info, report);
                }
                Err(m) => self.problem.set(Some(m)),
            }
        });
    }

    /// Draw entry `id` on the scaling charts beside the baseline, or stop drawing it.
    pub fn toggle_overlay(self, state: AppState, id: String) {
        let Some(e) = self.list.with_untracked(|l| l.get(&id).cloned()) else {
            return;
        };
        if state.overlaid(&id) {
            self.problem
                .set(state.toggle_overlay(&id, &e.label, None).err());
            return;
        }
        spawn_local(async move {
            match HistoryState::report(&id).await {
                Ok(report) => self
                    .problem
                    .set(state.toggle_overlay(&id, &e.label, Some(report)).err()),
                Err(m) => self.problem.set(Some(m)),
            }
        });
    }

    /// Download entry `id`'s stored report, byte for byte.
    pub fn export(self, id: String) {
        let Some(created_at) = self
            .list
            .with_untracked(|l| l.get(&id).map(|e| e.created_at.clone()))
        else {
            return;
        };
        spawn_local(async move {
            let result = history_db::report(&id).await.and_then(|text| {
                let name = format!("stampede-report-{}.json", created_at.replace(':', "-"));
                files::download(&name, &[text])
            });
            self.problem.set(result.err());
        });
    }

    pub fn delete(self, id: String) {
        self.list.update(|l| l.remove(&id));
        spawn_local(async move { self.write(history_db::delete(&id).await).await });
    }

    /// Give entry `id` the label `text`; a message when it is not a label (nothing changes).
    pub fn rename(self, id: &str, text: &str) -> Result<(), String> {
        let entry = self.list.with_untracked(|l| l.renamed(id, text))?;
        if self.list.with_untracked(|l| l.get(id) == Some(&entry)) {
            return Ok(());
        }
        self.list.update(|l| l.replace(entry.clone()));
        spawn_local(async move {
            let done = history_db::put_entry(&entry.id, &entry.to_json()).await;
            self.write(done).await;
        });
        Ok(())
    }

    /// After a write: on failure, say why and show what storage really holds.
    async fn write(self, done: Result<(), String>) {
        match done {
            Ok(()) => {}
            Err(m) => {
                self.reload().await;
                self.problem.set(Some(m));
            }
        }
    }

    /// Keep a report: `head` (its stages and config; samples may be left out) stored as
    /// `parts` of JSON, listed with `figures`. Waits for the stored list, so the new entry
    /// comes after everything in it.
    fn keep(
        self,
        head: Report,
        figures: HeadlineFigures,
        parts: Vec<String>,
        label: String,
        imported: bool,
    ) {
        spawn_local(async move {
            if !self.loaded.get_untracked() {
                self.reload().await;
            }
            if !history_db::available().await {
                return;
            }
            let bytes: usize = parts.iter().map(String::len).sum();
            let dropped = match self.list.with_untracked(|l| l.room_for(bytes)) {
                Ok(d) => d,
                Err(m) => {
                    self.problem.set(Some(m));
                    return;
                }
            };
            let entry = self
                .list
                .with_untracked(|l| l.new_entry(&head, figures, &label, imported, bytes));
            self.list.update(|l| l.keep(entry.clone(), &dropped));
            self.notice.set(dropped_notice(&dropped));
            let gone: Vec<String> = dropped.into_iter().map(|e| e.id).collect();
            let done = history_db::keep(&entry.id, &entry.to_json(), &parts, &gone).await;
            self.write(done).await;
        });
    }
}

impl AppState {
    /// Keep the run that just ended in the history (a run without a single sample is nothing to
    /// look at again). Its report is the export's, under the history policy: no API key and no
    /// header value outside the allow-list, whatever the export opt-in says.
    pub fn keep_run_in_history(&self) {
        let slo = self.config.with_untracked(|c| c.slo.clone());
        let too_many = self
            .session
            .with_value(|s| too_many_samples_to_keep(s.agg.len()));
        if let Some(m) = too_many {
            self.history.problem.set(Some(m));
            return;
        }
        let kept = self.session.with_value(|s| {
            s.agg.samples().next()?;
            let config = history_config(&RunConfig {
                slo,
                ..s.config.clone()
            });
            let head = Report::head(env::iso_now(), &config, s.env.clone(), s.stopped, &s.agg);
            let parts = head.export_parts(s.agg.samples());
            let figures = HeadlineFigures::of(&head.stages, s.agg.samples());
            let label = format!("{} run", config.suite.label());
            Some((head, figures, parts, label))
        });
        if let Some((head, figures, parts, label)) = kept {
            self.history.keep(head, figures, parts, label, false);
        }
    }

    /// "Keep in history" for the imported report shown, named after its file.
    pub fn keep_import_in_history(&self) {
        let Shown::Imported(name) = self.shown.get_untracked() else {
            return;
        };
        let kept = self.session.with_value(|s| {
            let report = history_report(s.imported.as_ref()?);
            let parts = report.export_parts(std::iter::empty());
            let figures = HeadlineFigures::of(&report.stages, report.samples.iter().cloned());
            let head = Report {
                samples: Vec::new(),
                ..report
            };
            Some((head, figures, parts))
        });
        if let Some((head, figures, parts)) = kept {
            let label = name.strip_suffix(".json").unwrap_or(&name).to_string();
            self.history.keep(head, figures, parts, label, true);
        }
    }

    /// Whether the imported report shown is one the history holds (opened from it, or kept).
    pub fn shown_import_in_history(&self) -> bool {
        let created = self
            .session
            .with_value(|s| s.imported.as_ref().map(|r| r.created_at.clone()));
        let Some(created) = created else {
            return false;
        };
        self.history
            .list
            .with(|l| l.entries().iter().any(|e| e.created_at == created))
    }
}
