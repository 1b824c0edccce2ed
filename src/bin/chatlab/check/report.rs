//! Verdicts, criterion by criterion, as text for a student or one JSON object for a tool.

use std::fmt::Write as _;

use crate::lang::Lang;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

#[derive(Clone, Debug)]
pub struct Criterion {
    pub id: &'static str,
    pub verdict: Verdict,
    pub detail: String,
}

/// The verdicts of one check, in the order the criteria were judged.
pub struct Report {
    pub role: &'static str,
    pub command: String,
    pub criteria: Vec<Criterion>,
}

impl Report {
    pub fn new(role: &'static str, command: String) -> Report {
        Report {
            role,
            command,
            criteria: Vec::new(),
        }
    }

    pub fn add(&mut self, id: &'static str, verdict: Verdict, detail: String) {
        self.criteria.push(Criterion {
            id,
            verdict,
            detail,
        });
    }

    pub fn has(&self, id: &str) -> bool {
        self.criteria.iter().any(|c| c.id == id)
    }

    /// Every criterion of IDS not judged yet: skip, with REASON.
    pub fn skip_rest(&mut self, ids: &[&'static str], reason: &str) {
        for id in ids {
            if !self.has(id) {
                self.add(id, Verdict::Skip, reason.to_string());
            }
        }
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
        let _ = writeln!(
            out,
            "{}",
            match (lang, self.failed()) {
                (Lang::Fr, false) => format!(
                    "{role} : réussi — {pass} réussis, {warn} avertissements, {skip} non jugés"
                ),
                (Lang::Fr, true) => format!(
                    "{role} : échec — {fail} en échec, {pass} réussis, {warn} avertissements, {skip} non jugés"
                ),
                (Lang::En, false) => {
                    format!("{role}: pass — {pass} passed, {warn} warnings, {skip} not judged")
                }
                (Lang::En, true) => format!(
                    "{role}: fail — {fail} failed, {pass} passed, {warn} warnings, {skip} not judged"
                ),
            }
        );
        out
    }

    pub fn json(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "{{\"role\":{},\"command\":{},\"verdict\":\"{}\",\"criteria\":[",
            quote(self.role),
            quote(&self.command),
            if self.failed() { "fail" } else { "pass" }
        );
        for (i, c) in self.criteria.iter().enumerate() {
            let _ = write!(
                out,
                "{}{{\"id\":{},\"verdict\":\"{}\",\"detail\":{}}}",
                if i > 0 { "," } else { "" },
                quote(c.id),
                c.verdict.word(),
                quote(&c.detail)
            );
        }
        out.push_str("]}\n");
        out
    }
}

/// S as a JSON string (RFC 8259: `"` `\` and control characters escaped).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(quote("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn a_warning_does_not_fail() {
        let mut r = Report::new("q1", "python3 s.py".into());
        r.add("start", Verdict::Pass, "ok".into());
        r.add("next-client", Verdict::Warn, "one client".into());
        assert!(!r.failed());
        assert!(r.json().contains(r#""verdict":"pass""#));
        r.add("lines", Verdict::Fail, "x".into());
        assert!(r.failed());
        assert!(r.text(Lang::En).contains("q1: fail"));
    }
}
