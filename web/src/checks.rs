//! Checks of the students' files from the pages: a student's check button, the teacher's
//! « grade all ». Each check is the agent's (`/v1/check`: `chatlab check` in a container of its
//! own, with the student's `work/` read-only and `lab/check`'s containment, on the node of
//! their lab); this keeps the latest verdict of every student and role, for the teacher's grid,
//! in `web/verdicts.json` (kept across restarts).
//!
//! A student's checks run one at a time (a second waits for the first); the teacher's grading
//! runs [`PER_AGENT`] students at a time per node, one role after the other, and can be asked
//! again only once it has ended.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use chatlab_agent::protocol::{CheckRequest, CheckResult, ROLES};
use chatlab_report::Verdict;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::agents::Agents;
use crate::class::{csv_field, write_private};

/// Students graded at once per node (the agent runs two checks at a time on its node).
pub const PER_AGENT: usize = 2;

/// The latest verdict of one student's role, as the teacher's grid shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// `pass`, `warn` or `fail` (the checker's), `none` (no file), `error` (the check could not
    /// run: the sentence is in `error`).
    pub verdict: String,
    pub file: Option<String>,
    pub passed: usize,
    pub failed: usize,
    pub warned: usize,
    pub error: String,
    /// When (seconds since the epoch).
    pub when: u64,
}

impl Summary {
    pub fn of(result: &CheckResult) -> Summary {
        let count = |v| result.report.as_ref().map_or(0, |r| r.count(v));
        let verdict = match (&result.file, &result.report) {
            (None, _) if result.error.is_empty() => "none".to_string(),
            (_, Some(report)) => report.verdict.word().to_string(),
            _ => "error".to_string(),
        };
        Summary {
            verdict,
            file: result.file.clone(),
            passed: count(Verdict::Pass),
            failed: count(Verdict::Fail),
            warned: count(Verdict::Warn),
            error: result.error.clone(),
            when: now(),
        }
    }
}

/// Why a check gave no verdicts.
#[derive(Debug)]
pub enum Error {
    /// A check of that student runs already.
    Busy,
    /// The agent could not run it (why, in one line).
    Agent(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Busy => f.write_str("a check of this lab runs already: wait for its verdicts"),
            Error::Agent(why) => f.write_str(why),
        }
    }
}

/// Where the teacher's « grade all » is.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub running: bool,
}

/// Student → role → their latest verdict.
type Latest = BTreeMap<String, BTreeMap<String, Summary>>;

pub struct Checks {
    file: PathBuf,
    latest: Mutex<Latest>,
    /// One check at a time per student.
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    grading: Mutex<Progress>,
}

impl Checks {
    /// The checks kept in FILE (none yet if it is not there, or not readable).
    pub fn open(file: PathBuf) -> Checks {
        let latest = std::fs::read(&file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Checks {
            file,
            latest: Mutex::new(latest),
            turns: Mutex::default(),
            grading: Mutex::default(),
        }
    }

    /// REQUEST checked, its verdict kept. When a check of that student runs already: after it
    /// if WAIT, else [`Error::Busy`] at once.
    pub async fn run(
        &self,
        agents: &Agents,
        request: &CheckRequest,
        wait: bool,
    ) -> Result<CheckResult, Error> {
        let turn = Arc::clone(
            self.turns
                .lock()
                .unwrap()
                .entry(request.student.clone())
                .or_default(),
        );
        let _turn = if wait {
            turn.lock_owned().await
        } else {
            turn.try_lock_owned().map_err(|_| Error::Busy)?
        };
        let result = agents.check(request).await;
        let summary = match &result {
            Ok(result) => Summary::of(result),
            Err(why) => Summary {
                verdict: "error".to_string(),
                file: request.file.clone(),
                passed: 0,
                failed: 0,
                warned: 0,
                error: why.clone(),
                when: now(),
            },
        };
        let latest = {
            let mut latest = self.latest.lock().unwrap();
            latest
                .entry(request.student.clone())
                .or_default()
                .insert(request.role.clone(), summary);
            serde_json::to_vec_pretty(&*latest)
        };
        if let Err(e) = latest
            .map_err(|e| e.to_string())
            .and_then(|bytes| write_private(&self.file, &bytes))
        {
            log::warn!("the verdicts could not be kept: {e}");
        }
        result.map_err(Error::Agent)
    }

    /// Every student's latest verdicts.
    pub fn latest(&self) -> Latest {
        self.latest.lock().unwrap().clone()
    }

    pub fn progress(&self) -> Progress {
        self.grading.lock().unwrap().clone()
    }

    /// Every role of every student of STUDENTS (each with the agent of their lab) checked, in
    /// the background; false if a grading runs already.
    pub fn grade_all(
        self: &Arc<Self>,
        agents: Agents,
        students: Vec<(String, String)>,
        lang: Option<String>,
    ) -> bool {
        {
            let mut grading = self.grading.lock().unwrap();
            if grading.running {
                return false;
            }
            *grading = Progress {
                done: 0,
                total: students.len() * ROLES.len(),
                running: true,
            };
        }
        let mut by_agent: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (student, agent) in students {
            by_agent.entry(agent).or_default().push(student);
        }
        let checks = Arc::clone(self);
        tokio::spawn(async move {
            // Each node's students, PER_AGENT at a time; the nodes side by side.
            let nodes = by_agent.into_values().map(|students| {
                let (checks, agents, lang) = (Arc::clone(&checks), agents.clone(), lang.clone());
                async move {
                    futures_util::stream::iter(students)
                        .for_each_concurrent(PER_AGENT, |student| {
                            let (checks, agents, lang) =
                                (Arc::clone(&checks), agents.clone(), lang.clone());
                            async move {
                                for role in ROLES {
                                    let request = CheckRequest {
                                        student: student.clone(),
                                        role: role.to_string(),
                                        file: None,
                                        lang: lang.clone(),
                                    };
                                    if let Err(e) = checks.run(&agents, &request, true).await {
                                        log::warn!("grading {student} {role}: {e}");
                                    }
                                    checks.grading.lock().unwrap().done += 1;
                                }
                            }
                        })
                        .await;
                }
            });
            futures_util::future::join_all(nodes).await;
            checks.grading.lock().unwrap().running = false;
            log::info!("grading done");
        });
        true
    }

    /// The latest verdicts as CSV: `student,role,verdict,passed,failed,warned,file,when`.
    pub fn csv(&self) -> String {
        let mut out = String::from("student,role,verdict,passed,failed,warned,file,when\n");
        for (student, roles) in self.latest() {
            for (role, s) in roles {
                out.push_str(&format!(
                    "{},{role},{},{},{},{},{},{}\n",
                    csv_field(&student),
                    s.verdict,
                    s.passed,
                    s.failed,
                    s.warned,
                    csv_field(s.file.as_deref().unwrap_or("")),
                    s.when
                ));
            }
        }
        out
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(file: Option<&str>, report: Option<&str>, error: &str) -> CheckResult {
        CheckResult {
            role: "q1".into(),
            file: file.map(str::to_string),
            status: report.map(|_| 1),
            report: report.map(|r| serde_json::from_str(r).unwrap()),
            error: error.into(),
        }
    }

    #[test]
    fn a_summary_counts_the_verdicts() {
        let report = r#"{"role":"q1","command":"","verdict":"fail","criteria":[
            {"id":"a","verdict":"pass","detail":""},{"id":"b","verdict":"fail","detail":""},
            {"id":"c","verdict":"pass","detail":""},{"id":"d","verdict":"warn","detail":""}]}"#;
        let s = Summary::of(&result(Some("q1.py"), Some(report), ""));
        assert_eq!(
            (s.verdict.as_str(), s.passed, s.failed, s.warned),
            ("fail", 2, 1, 1)
        );
        assert_eq!(Summary::of(&result(None, None, "")).verdict, "none");
        let s = Summary::of(&result(None, None, "the check ended before its verdicts"));
        assert_eq!(s.verdict, "error");
        let s = Summary::of(&result(Some("q1.py"), None, "cut short"));
        assert_eq!(s.verdict, "error");
    }

    #[test]
    fn verdicts_are_kept_across_a_restart() {
        let dir = std::env::temp_dir().join(format!("chatlab-web-checks-{}", std::process::id()));
        let file = dir.join("verdicts.json");
        let checks = Checks::open(file.clone());
        assert!(checks.latest().is_empty());
        let s = Summary::of(&result(None, None, ""));
        checks
            .latest
            .lock()
            .unwrap()
            .entry("alice".into())
            .or_default()
            .insert("q2".into(), s.clone());
        write_private(&file, &serde_json::to_vec(&checks.latest()).unwrap()).unwrap();
        let again = Checks::open(file);
        assert_eq!(again.latest()["alice"]["q2"], s);
        assert!(again.csv().contains("\nalice,q2,none,0,0,0,,"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
