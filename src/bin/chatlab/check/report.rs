//! Verdicts, criterion by criterion, as text for a student or one JSON object for a tool.

use std::fmt::Write as _;

use super::quote;
use crate::lang::{Lang, msg};

/// A verdict and a criterion judged are the report's data, shared with its readers (the
/// class's agent and web server, `--class`).
pub use chatlab_report::{Criterion, Verdict};

/// The verdicts of one check, in the order the criteria were judged.
pub struct Report {
    pub role: &'static str,
    pub command: String,
    pub criteria: Vec<Criterion>,
    lang: Lang,
}

impl Report {
    pub fn new(role: &'static str, command: String, lang: Lang) -> Report {
        Report {
            role,
            command,
            criteria: Vec::new(),
            lang,
        }
    }

    /// A verdict. Its detail is made one terminal-safe line of at most [`quote::DETAIL`] bytes
    /// (what it quotes of the program is already so; this guards every sentence).
    pub fn add(&mut self, id: &'static str, verdict: Verdict, detail: String) {
        let line = quote::safe(detail.as_bytes()).replace('\n', " ");
        self.criteria.push(Criterion {
            id: id.to_string(),
            verdict,
            detail: quote::cap(self.lang, &line, quote::DETAIL),
        });
    }

    pub fn has(&self, id: &str) -> bool {
        self.criteria.iter().any(|c| c.id == id)
    }

    /// The verdict of ID, if judged.
    pub fn verdict(&self, id: &str) -> Option<Verdict> {
        self.criteria.iter().find(|c| c.id == id).map(|c| c.verdict)
    }

    /// Every criterion of IDS not judged yet: skip, with REASON.
    pub fn skip_rest(&mut self, ids: &[&'static str], reason: &str) {
        for id in ids {
            if !self.has(id) {
                self.add(id, Verdict::Skip, reason.to_string());
            }
        }
    }

    /// ID not judged because OTHER, judged before, did not pass: « see OTHER ».
    pub fn skip_see(&mut self, id: &'static str, other: &str) {
        let lang = self.lang;
        let reason = msg!(lang, "non jugé : voir {other}", "not judged: see {other}");
        self.add(id, Verdict::Skip, reason);
    }

    pub fn failed(&self) -> bool {
        self.criteria.iter().any(|c| c.verdict == Verdict::Fail)
    }

    pub fn text(&self, lang: Lang) -> String {
        let mut out = String::new();
        let width = self.criteria.iter().map(|c| c.id.len()).max().unwrap_or(0);
        for c in &self.criteria {
            let _ = writeln!(
                out,
                "{:<4}  {:<width$}  {}",
                c.verdict.word(),
                c.id,
                c.detail
            );
        }
        let count = |v| self.criteria.iter().filter(|c| c.verdict == v).count();
        let (pass, fail, warn, skip) = (
            count(Verdict::Pass),
            count(Verdict::Fail),
            count(Verdict::Warn),
            count(Verdict::Skip),
        );
        let role = self.role;
        let summary = if self.failed() {
            msg!(
                lang,
                "{role} : échec — {fail} en échec, {pass} réussis, {warn} avertissements, {skip} non jugés",
                "{role}: fail — {fail} failed, {pass} passed, {warn} warnings, {skip} not judged"
            )
        } else {
            msg!(
                lang,
                "{role} : réussi — {pass} réussis, {warn} avertissements, {skip} non jugés",
                "{role}: pass — {pass} passed, {warn} warnings, {skip} not judged"
            )
        };
        let _ = writeln!(out, "{summary}");
        out
    }

    /// `{"role", "command", "verdict": "pass"|"fail", "criteria": [{"id", "verdict",
    /// "detail"}…]}` on one line (what `lab/check --class` collects, and the grid reads).
    pub fn json(&self) -> String {
        let mut out = serde_json::to_string(&chatlab_report::Report {
            role: self.role.to_string(),
            command: self.command.clone(),
            verdict: if self.failed() {
                Verdict::Fail
            } else {
                Verdict::Pass
            },
            criteria: self.criteria.clone(),
        })
        .expect("a report is plain data");
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_does_not_fail() {
        let mut r = Report::new("q1", "python3 s.py".into(), Lang::En);
        r.add("start", Verdict::Pass, "ok".into());
        r.add("next-client", Verdict::Warn, "one client".into());
        assert!(!r.failed());
        assert!(r.json().contains(r#""verdict":"pass""#));
        r.add("lines", Verdict::Fail, "x".into());
        assert!(r.failed());
        assert!(r.text(Lang::En).contains("q1: fail"));
    }

    /// What `lab/check --class` and the grid read: these names, in this order, on one line.
    #[test]
    fn the_json_report_is_one_line() {
        let mut r = Report::new("q2", "python3 \"c.py\"".into(), Lang::En);
        r.add("start", Verdict::Pass, "ok".into());
        r.add("lines", Verdict::Fail, "no '\\n'\tat the end".into());
        assert_eq!(
            r.json(),
            concat!(
                r#"{"role":"q2","command":"python3 \"c.py\"","verdict":"fail","criteria":["#,
                r#"{"id":"start","verdict":"pass","detail":"ok"},"#,
                r#"{"id":"lines","verdict":"fail","detail":"no '\\n'\tat the end"}]}"#,
                "\n"
            )
        );
    }
}
