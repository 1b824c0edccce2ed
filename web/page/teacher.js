// The teacher's class: every student of the roster, where the lab runs, its hosts, who is
// online (a terminal open), last activity; refreshed every 3 s.
"use strict";

const FR = (navigator.language || "en").toLowerCase().startsWith("fr");
const T = FR ? {
  student: "Étudiant", node: "Nœud", hosts: "Hôtes", online: "En ligne", last: "Dernière activité",
  open: "ouvrir", grades_csv: "notes (CSV)", grades_html: "notes (HTML)", none: "aucun lab",
  labs: (n, on) => `${n} labs, ${on} en ligne`, ago: (s) => `il y a ${s}`, yes: "oui", no: "non",
} : {
  student: "Student", node: "Node", hosts: "Hosts", online: "Online", last: "Last activity",
  open: "open", grades_csv: "grades (CSV)", grades_html: "grades (HTML)", none: "no lab",
  labs: (n, on) => `${n} labs, ${on} online`, ago: (s) => `${s} ago`, yes: "yes", no: "no",
};
document.documentElement.lang = FR ? "fr" : "en";
const $ = (sel) => document.querySelector(sel);
for (const k of ["student", "node", "hosts", "online", "last"]) $(`#h-${k}`).textContent = T[k];
$("#grades-csv").textContent = T.grades_csv;
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
  const { labs } = await r.json();
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
    const a = document.createElement("a");
    a.href = `/lab/${encodeURIComponent(lab.id)}/`;
    a.textContent = T.open;
    cell(tr, a);
    body.append(tr);
  }
  $("#summary").textContent = T.labs(labs.length, online);
}

update();
setInterval(update, 3000);
