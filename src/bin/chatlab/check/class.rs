//! `chatlab check-report DIR`: the grid of a class, from the checks `lab/check --class` ran.
//!
//! DIR holds one folder per student; `lab/check --class` leaves each check's JSON report in
//! `DIR/.check/STUDENT/ROLE.json` (no file: the student handed in nothing for that role).
//! This writes `DIR/report.csv` (one row per student, one column per role:criterion, the
//! verdict in each cell) and `DIR/report.html` (the same grid, coloured, each cell's detail
//! on hover), and prints one summary line per student.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use super::Role;
use super::quote;
use super::report::Criterion;
use crate::lang::{Lang, msg};

/// One cell: a verdict and its detail.
type Cell = (String, String);

pub fn run(dir: &Path, lang: Lang) -> io::Result<()> {
    let mut students: Vec<String> = fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.path().is_dir())
        // As `lab/check --class` does, which skips them (and says so): no hidden folder, no
        // name that is not UTF-8 or holds control characters.
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| !n.starts_with('.') && !n.chars().any(char::is_control))
        .collect();
    students.sort();
    let columns: Vec<(Role, &str)> = Role::ALL
        .iter()
        .flat_map(|&r| r.ids().iter().map(move |&id| (r, id)))
        .collect();
    let mut grid: Vec<Vec<Cell>> = Vec::new();
    for student in &students {
        let mut row = Vec::new();
        for &role in &Role::ALL {
            let file = dir
                .join(".check")
                .join(student)
                .join(format!("{}.json", role.name()));
            let criteria = fs::read_to_string(&file).ok().map(|j| criteria(&j));
            for &id in role.ids() {
                let cell = match &criteria {
                    None => (
                        "skip".to_string(),
                        msg!(
                            lang,
                            "pas de fichier pour cette question",
                            "no file for this question"
                        ),
                    ),
                    Some(cs) => cs
                        .iter()
                        .find(|c| c.id == id)
                        .map(|c| (c.verdict.word().to_string(), c.detail.clone()))
                        .unwrap_or_else(|| {
                            ("skip".to_string(), msg!(lang, "non jugé", "not judged"))
                        }),
                };
                row.push(cell);
            }
        }
        grid.push(row);
    }
    // CSV: verdict words only (no comma or quote in them); names quoted.
    let mut csv = String::from("student");
    for (role, id) in &columns {
        let _ = write!(csv, ",{}:{id}", role.name());
    }
    csv.push('\n');
    for (student, row) in students.iter().zip(&grid) {
        csv.push_str(&csv_field(student));
        for (verdict, _) in row {
            let _ = write!(csv, ",{verdict}");
        }
        csv.push('\n');
    }
    fs::write(dir.join("report.csv"), csv)?;
    fs::write(
        dir.join("report.html"),
        html(&students, &columns, &grid, lang),
    )?;
    for (student, row) in students.iter().zip(&grid) {
        let count = |v: &str| row.iter().filter(|(w, _)| w == v).count();
        let (pass, fail, warn, skip) = (count("pass"), count("fail"), count("warn"), count("skip"));
        // A folder's name is the student's: shown, not obeyed, on the teacher's terminal.
        let student = quote::safe(student.as_bytes()).replace('\n', "\\n");
        println!(
            "{}",
            msg!(
                lang,
                "{student} : {pass} réussis, {fail} échecs, {warn} avertissements, {skip} non jugés",
                "{student}: {pass} passed, {fail} failed, {warn} warnings, {skip} not judged"
            )
        );
    }
    Ok(())
}

/// S as one CSV cell a spreadsheet reads as text: a leading `=`, `+`, `-`, `@` (a formula
/// to Excel, LibreOffice, Sheets), tab or CR gets a `'` before it; quoted when it holds a
/// comma, a quote or a line end.
fn csv_field(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let s = format!("{}{s}", if formula { "'" } else { "" });
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(students: &[String], columns: &[(Role, &str)], grid: &[Vec<Cell>], lang: Lang) -> String {
    let mut h = String::new();
    let title = msg!(
        lang,
        "Vérification des programmes du TD",
        "Checks of the TD's programs"
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\
         body{{font-family:sans-serif}} table{{border-collapse:collapse}} \
         td,th{{border:1px solid #ccc;padding:2px 4px;font-size:12px}} \
         th.role{{background:#eee}} th.id{{writing-mode:vertical-rl;white-space:nowrap}} \
         .pass{{background:#b6e3b6}} .fail{{background:#f1a8a8}} .warn{{background:#f7dc8c}} \
         .skip{{background:#e4e4e4;color:#777}} .info{{background:#bcd7f5}}\
         </style></head><body>\n<h1>{title}</h1>\n<p>{}</p>\n<table>\n<tr><th></th>",
        msg!(lang, "fr", "en"),
        msg!(
            lang,
            "Survolez une case pour lire le détail du critère.",
            "Hover over a cell to read the criterion's detail."
        ),
    );
    for role in Role::ALL {
        let _ = write!(
            h,
            "<th class=\"role\" colspan=\"{}\">{}</th>",
            role.ids().len(),
            role.name()
        );
    }
    h.push_str("</tr>\n<tr><th></th>");
    for (_, id) in columns {
        let _ = write!(h, "<th class=\"id\">{}</th>", escape(id));
    }
    h.push_str("</tr>\n");
    for (student, row) in students.iter().zip(grid) {
        let _ = write!(h, "<tr><th>{}</th>", escape(student));
        for (verdict, detail) in row {
            let _ = write!(
                h,
                "<td class=\"{verdict}\" title=\"{}\">{verdict}</td>",
                escape(detail)
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

/// The criteria of one JSON report written by `chatlab check --json` (or by `lab/check` for a
/// check that was cut off); none when it is not such a report.
pub fn criteria(json: &str) -> Vec<Criterion> {
    serde_json::from_str::<chatlab_report::Report>(json).map_or_else(|_| Vec::new(), |r| r.criteria)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::report::{Report, Verdict};

    #[test]
    fn a_report_reads_back() {
        let mut r = Report::new("q1", "python3 \"s\".py".into(), Lang::En);
        r.add("start", Verdict::Pass, "listens".into());
        r.add("lines", Verdict::Fail, "b'…' \"quoted\" \\ \n\u{1}".into());
        let back = criteria(&r.json());
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].id, "lines");
        assert_eq!(back[1].verdict, Verdict::Fail);
        // Made one terminal-safe line when added.
        assert_eq!(back[1].detail, "b'…' \"quoted\" \\  ^A");
    }

    /// Read as JSON, not by position: keys in another order, spaces, an unknown key, a detail
    /// holding the words "id" and "verdict"; and not a report at all.
    #[test]
    fn a_report_is_read_as_json() {
        let json = r#"{ "criteria": [ {"detail": "\"id\", \"verdict\" ", "verdict": "warn", "id": "listen-all", "extra": 1},
            {"id":"lines","verdict":"fail","detail":"x"} ], "role": "q1", "verdict": "fail", "command": "" }"#;
        let back = criteria(json);
        assert_eq!(back.len(), 2);
        assert_eq!(
            (&*back[0].id, back[0].verdict),
            ("listen-all", Verdict::Warn)
        );
        assert_eq!(back[0].detail, "\"id\", \"verdict\" ");
        assert_eq!((&*back[1].id, back[1].verdict), ("lines", Verdict::Fail));
        assert!(criteria("\"criteria\" \"id\" \"start\"").is_empty());
    }

    #[test]
    fn csv_cells_are_never_formulas() {
        let cells = [
            ("=1+1", "'=1+1"),
            ("+33 6", "'+33 6"),
            ("-x", "'-x"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            (
                "=HYPERLINK(\"x\",\"y\")",
                "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"",
            ),
            ("Élodie Martin", "Élodie Martin"),
            ("a,b", "\"a,b\""),
        ];
        for (cell, csv) in cells {
            assert_eq!(csv_field(cell), csv, "{cell}");
        }
    }
}
