//! The checker's report as data, one type for its writer and its readers.
//!
//! `chatlab check --json` writes a [`Report`] (one JSON line), `lab/check` writes one for a
//! check it had to cut off, and three programs read them: `chatlab check --class` (the
//! teacher's grid), the class's agent (a check run for the browser) and the class's web server
//! (the verdicts' grid, the counts). Before this crate, each reader had its own idea of the
//! fields (strings compared by hand, an untyped JSON value); now a change of the report is a
//! change of this type, and every reader follows it or stops compiling.

use serde::{Deserialize, Serialize};

/// A criterion's verdict, written as its [`Verdict::word`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Warn,
    Skip,
    Info,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Warn => "warn",
            Verdict::Skip => "skip",
            Verdict::Info => "info",
        }
    }
}

/// One criterion judged: its id (the checker's table names them), its verdict, one line
/// saying why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    pub id: String,
    pub verdict: Verdict,
    pub detail: String,
}

/// `{"role", "command", "verdict": "pass"|"fail", "criteria": [{"id", "verdict",
/// "detail"}…]}`: the verdicts of one check, in the order the criteria were judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub role: String,
    /// The command the checker ran ("" when none ran).
    pub command: String,
    /// `Fail` when a criterion failed, else `Pass` (a warning does not fail).
    pub verdict: Verdict,
    pub criteria: Vec<Criterion>,
}

impl Report {
    /// How many criteria have VERDICT.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.criteria
            .iter()
            .filter(|c| c.verdict == verdict)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_back_as_written() {
        let line = r#"{"role":"q1","command":"python3 q1.py","verdict":"fail","criteria":[{"id":"start","verdict":"pass","detail":"listens"},{"id":"print","verdict":"fail","detail":"« é »"}]}"#;
        let report: Report = serde_json::from_str(line).unwrap();
        assert_eq!(report.verdict, Verdict::Fail);
        assert_eq!(
            (report.count(Verdict::Pass), report.count(Verdict::Fail)),
            (1, 1)
        );
        assert_eq!(serde_json::to_string(&report).unwrap(), line);
    }

    #[test]
    fn a_verdict_is_its_word() {
        for v in [
            Verdict::Pass,
            Verdict::Fail,
            Verdict::Warn,
            Verdict::Skip,
            Verdict::Info,
        ] {
            assert_eq!(
                serde_json::to_string(&v).unwrap(),
                format!("\"{}\"", v.word())
            );
        }
        assert!(serde_json::from_str::<Verdict>("\"maybe\"").is_err());
    }
}
