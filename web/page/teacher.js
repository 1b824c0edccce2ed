// The teacher's class: every student of the roster, where the lab runs, its hosts, who is
// online (a terminal open), last activity, the latest verdict of each role (a student's check
// or the teacher's « grade all », whose progress shows); refreshed every 3 s.
"use strict";

const FR = (navigator.language || "en").toLowerCase().startsWith("fr");
const T = FR ? {
  student: "Étudiant", node: "Nœud", hosts: "Hôtes", online: "En ligne", last: "Dernière activité",
  open: "ouvrir", grades_csv: "notes (CSV)", grades_html: "notes (HTML)", none: "aucun lab",
  labs: (n, on) => `${n} labs, ${on} en ligne`, ago: (s) => `il y a ${s}`, yes: "oui", no: "non",
  grade: "Tout noter", grading: (d, t) => `notation : ${d}/${t}`, graded: (t) => `notation finie (${t} vérifications)`,
  verdicts_csv: "derniers verdicts (CSV)", nofile: "pas de fichier", error: "la vérification n'a pas abouti",
  counts: (p, x, w) => `${p} réussi(s), ${x} échoué(s), ${w} avertissement(s)`,
  inlab: "Dans le lab", deadlock: "⚠ interblocage",
  reset: "réinitialiser", confirm: "confirmer ?", resetting: "réinitialisation…",
  reset_done: "réinitialisé", reset_title: "relancer les trois hôtes à neuf (les fichiers restent)",
} : {
  student: "Student", node: "Node", hosts: "Hosts", online: "Online", last: "Last activity",
  open: "open", grades_csv: "grades (CSV)", grades_html: "grades (HTML)", none: "no lab",
  labs: (n, on) => `${n} labs, ${on} online`, ago: (s) => `${s} ago`, yes: "yes", no: "no",
  grade: "Grade all", grading: (d, t) => `grading: ${d}/${t}`, graded: (t) => `grading done (${t} checks)`,
  verdicts_csv: "latest verdicts (CSV)", nofile: "no file", error: "the check did not finish",
  counts: (p, x, w) => `${p} passed, ${x} failed, ${w} warning(s)`,
  inlab: "In the lab", deadlock: "⚠ deadlock",
  reset: "reset", confirm: "confirm?", resetting: "resetting…",
  reset_done: "reset done", reset_title: "start the three hosts again, fresh (the files stay)",
};
document.documentElement.lang = FR ? "fr" : "en";
const $ = (sel) => document.querySelector(sel);
for (const k of ["student", "node", "hosts", "online", "last", "inlab"]) $(`#h-${k}`).textContent = T[k];
$("#grades-csv").textContent = T.grades_csv;
$("#verdicts-csv").textContent = T.verdicts_csv;
$("#grade").textContent = T.grade;
$("#grade").onclick = async () => {
  $("#grade").disabled = true;
  const r = await fetch(`/teacher/grade?lang=${FR ? "fr" : "en"}`, { method: "POST" });
  if (!r.ok) $("#grading").textContent = (await r.text()).trim();
  update();
};
// What runs in each lab whose probes run (programs holding TCP sockets, their states, a
// deadlock), every 10 s: asking the labs costs an exec each.
let summaries = {};
async function summarise() {
  const r = await fetch("/teacher/summaries");
  if (r.ok) summaries = await r.json();
}
summarise().then(update);
setInterval(() => summarise().catch(() => {}), 10000);

function inLab(id) {
  const s = summaries[id];
  const span = document.createElement("span");
  if (!s) return span;
  if (s.deadlock) {
    const b = document.createElement("b");
    b.className = "deadlock";
    b.textContent = T.deadlock;
    span.append(b, " ");
  }
  for (const [host, h] of Object.entries(s.hosts)) {
    if (!h.programs.length && !h.states.length) continue;
    const line = document.createElement("div");
    line.textContent = `${host}: ${h.programs.join(", ")}${h.states.length ? " · " + h.states.join(" ") : ""}`;
    span.append(line);
  }
  return span;
}

const MARK = { pass: "✓", warn: "!", fail: "✗", none: "–", error: "?" };
// A lab's reset: a first click arms it (5 s), a second resets; the state outlives the redraws.
const resets = {};

function resetButton(id) {
  const r = resets[id] || {};
  const b = document.createElement("button");
  b.className = "reset";
  b.title = T.reset_title;
  const armed = r.armed && Date.now() - r.armed < 5000;
  b.textContent = r.busy ? T.resetting : r.said || (armed ? T.confirm : T.reset);
  b.disabled = !!r.busy;
  b.onclick = async () => {
    if (!(resets[id] && resets[id].armed && Date.now() - resets[id].armed < 5000)) {
      resets[id] = { armed: Date.now() };
      b.textContent = T.confirm;
      return;
    }
    resets[id] = { busy: true };
    b.textContent = T.resetting;
    b.disabled = true;
    const res = await fetch(`/teacher/reset/${encodeURIComponent(id)}`, { method: "POST" });
    resets[id] = { said: res.ok ? T.reset_done : (await res.text()).trim() };
    update();
  };
  return b;
}
let rolesShown = false;
$("#grades-html").textContent = T.grades_html;

function since(epoch) {
  if (!epoch) return "";
  const s = Math.max(0, Math.round(Date.now() / 1000 - epoch));
  return T.ago(s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h`);
}

function cell(tr, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
  tr.append(td);
  return td;
}

async function update() {
  const r = await fetch("/teacher/labs");
  if (!r.ok) { $("#summary").textContent = (await r.text()).trim(); return; }
  const { labs, roles, grading } = await r.json();
  if (!rolesShown) {
    // One column per role, before the link.
    const last = document.querySelector("thead tr th:last-child");
    for (const role of roles) {
      const th = document.createElement("th");
      th.textContent = role;
      last.before(th);
    }
    rolesShown = true;
  }
  $("#grade").disabled = grading.running;
  if (grading.running) $("#grading").textContent = T.grading(grading.done, grading.total);
  else if (grading.total) $("#grading").textContent = T.graded(grading.total);
  const body = $("#labs");
  body.replaceChildren();
  let online = 0;
  for (const lab of labs) {
    const tr = document.createElement("tr");
    tr.dataset.id = lab.id;
    cell(tr, `${lab.name} (${lab.id})`);
    cell(tr, lab.agent ?? T.none);
    const hosts = document.createElement("span");
    const order = ["server", "client", "client2"];
    lab.hosts.sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host));
    for (const h of lab.hosts) {
      const dot = document.createElement("span");
      dot.className = `dot ${h.state}`;
      dot.title = h.status;
      hosts.append(dot, `${h.host} `);
    }
    cell(tr, hosts);
    const on = document.createElement("span");
    on.className = `dot ${lab.terminals > 0 ? "online" : ""}`;
    cell(tr, on).append(lab.terminals > 0 ? `${T.yes} (${lab.terminals})` : T.no);
    if (lab.terminals > 0) online++;
    cell(tr, since(lab.last));
    cell(tr, inLab(lab.id)).className = "inlab";
    for (const role of roles) {
      const v = (lab.verdicts || {})[role];
      const span = document.createElement("span");
      if (v) {
        span.className = `v ${v.verdict}`;
        span.textContent = MARK[v.verdict] || v.verdict;
        span.title = v.verdict === "none" ? T.nofile
          : v.verdict === "error" ? `${T.error}: ${v.error}`
          : `${v.file}: ${T.counts(v.passed, v.failed, v.warned)} — ${new Date(v.when * 1000).toLocaleString()}`;
      }
      cell(tr, span).dataset.role = role;
    }
    const a = document.createElement("a");
    a.href = `/lab/${encodeURIComponent(lab.id)}/`;
    a.textContent = T.open;
    cell(tr, a).append(" ", resetButton(lab.id));
    body.append(tr);
  }
  $("#summary").textContent = T.labs(labs.length, online);
}

update();
setInterval(update, 3000);
