// One student's lab: a terminal into each of its three hosts (xterm.js, the agent's exec
// protocol relayed by the server: binary frames are keystrokes one way and a stream tag then
// output the other; text frames are JSON: resize, exit, error), and the files of work/.
"use strict";

const FR = (navigator.language || "en").toLowerCase().startsWith("fr");
const T = FR ? {
  files: "Vos fichiers (work/)", refresh: "Actualiser", create: "Nouveau", upload: "Déposer un fichier…",
  save: "Enregistrer", download: "Télécharger", saved: "enregistré", loading: "ouverture…",
  ended: "terminé, code", lost: "connexion perdue", reconnect: "rouvrir", error: "erreur",
  badname: "nom : lettres, chiffres, . _ - (64 au plus)", toolarge: "fichier trop gros",
  view: "Vue en direct du lab ↗", teacher: "l'enseignant est dans ce lab", teacher_view: "vue de l'enseignant", empty: "(aucun fichier)",
} : {
  files: "Your files (work/)", refresh: "Refresh", create: "New", upload: "Upload a file…",
  save: "Save", download: "Download", saved: "saved", loading: "opening…",
  ended: "ended, status", lost: "connection lost", reconnect: "reopen", error: "error",
  badname: "name: letters, digits, . _ - (64 at most)", toolarge: "file too large",
  view: "The lab, live ↗", teacher: "the teacher is in this lab", teacher_view: "the teacher's view", empty: "(no files)",
};
document.documentElement.lang = FR ? "fr" : "en";

const id = decodeURIComponent(location.pathname.split("/")[2] || "");
const base = `/lab/${encodeURIComponent(id)}`;
const $ = (sel) => document.querySelector(sel);
let me = { max_file: 262144 };

// --- Terminals ---------------------------------------------------------------------------
window.terms = {};

function openTerminal(section) {
  const host = section.dataset.host;
  const screen = section.querySelector(".screen");
  const button = section.querySelector(".reconnect");
  let t = window.terms[host];
  if (!t) {
    const term = new Terminal({ cursorBlink: true, fontSize: 13, scrollback: 2000 });
    const fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(screen);
    fit.fit();
    t = window.terms[host] = { term, fit, ws: null };
    term.onData((d) => send(t, new TextEncoder().encode(d)));
    term.onBinary((d) => send(t, Uint8Array.from(d, (c) => c.charCodeAt(0))));
    term.onResize(({ cols, rows }) => send(t, JSON.stringify({ resize: [cols, rows] })));
    new ResizeObserver(() => fit.fit()).observe(screen);
  }
  button.hidden = true;
  const { term } = t;
  const ws = new WebSocket(`wss://${location.host}${base}/term/${host}?cols=${term.cols}&rows=${term.rows}`);
  ws.binaryType = "arraybuffer";
  t.ws = ws;
  ws.onmessage = (e) => {
    if (typeof e.data === "string") {
      const m = JSON.parse(e.data);
      if ("exit" in m) term.write(`\r\n\x1b[2m[${T.ended} ${m.exit}]\x1b[0m\r\n`);
      if ("error" in m) term.write(`\r\n\x1b[31m[${T.error}: ${m.error}]\x1b[0m\r\n`);
      return;
    }
    term.write(new Uint8Array(e.data, 1)); // after the stream tag
  };
  ws.onclose = () => {
    if (t.ws !== ws) return;
    t.ws = null;
    term.write(`\r\n\x1b[2m[${T.lost}]\x1b[0m\r\n`);
    button.textContent = T.reconnect;
    button.hidden = false;
  };
  term.focus();
}

function send(t, data) {
  if (t.ws && t.ws.readyState === WebSocket.OPEN) t.ws.send(data);
}

// --- Files ---------------------------------------------------------------------------------
let open = null;

function status(text) { $("#status").textContent = text; }

async function refresh() {
  const r = await fetch(`${base}/files`);
  if (!r.ok) return status(`${T.error}: ${(await r.text()).trim()}`);
  const list = await r.json();
  const ul = $("#file-list");
  ul.replaceChildren();
  for (const f of list) {
    const li = document.createElement("li");
    li.textContent = `${f.name}  (${f.size} o)`;
    li.dataset.name = f.name;
    if (f.name === open) li.className = "open";
    li.onclick = () => openFile(f.name);
    ul.append(li);
  }
  if (!list.length) ul.textContent = T.empty;
}

async function openFile(name) {
  status(T.loading);
  const r = await fetch(`${base}/files/${encodeURIComponent(name)}`);
  if (!r.ok) return status(`${T.error}: ${(await r.text()).trim()}`);
  const text = new TextDecoder().decode(await r.arrayBuffer());
  open = name;
  $("#editor").value = text;
  $("#editor").disabled = false;
  $("#save").disabled = false;
  $("#open-name").textContent = name;
  const a = $("#download");
  a.href = `${base}/files/${encodeURIComponent(name)}?download=1`;
  a.textContent = T.download;
  a.hidden = false;
  status("");
  refresh();
}

async function save(name, body) {
  const r = await fetch(`${base}/files/${encodeURIComponent(name)}`, { method: "PUT", body });
  status(r.ok ? `${name} : ${T.saved}` : `${T.error}: ${(await r.text()).trim()}`);
  if (r.ok) refresh();
  return r.ok;
}

const validName = (n) => /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(n);

function setup() {
  $("#view-link").href = `${base}/view/`;
  $("#view-link").textContent = T.view;
  $("#files-title").textContent = T.files;
  $("#refresh").textContent = T.refresh;
  $("#new").textContent = T.create;
  $("#upload-label").textContent = T.upload;
  $("#save").textContent = T.save;
  $("#refresh").onclick = refresh;
  $("#save").onclick = () => open && save(open, $("#editor").value);
  $("#new").onclick = async () => {
    const name = $("#new-name").value.trim();
    if (!validName(name)) return status(T.badname);
    if (await save(name, "")) openFile(name);
  };
  $("#upload").onchange = async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    if (!validName(file.name)) return status(T.badname);
    if (file.size > me.max_file) return status(T.toolarge);
    if (await save(file.name, await file.arrayBuffer())) openFile(file.name);
    e.target.value = "";
  };
  for (const section of document.querySelectorAll("section.term")) {
    section.querySelector(".reconnect").onclick = () => openTerminal(section);
    openTerminal(section);
  }
  refresh();
}

// Who this page is for; and, every 5 s, whether the teacher has a terminal in this lab (the
// student sees it: the teacher is there).
async function whoami() {
  const m = await (await fetch(`${base}/me`)).json();
  me = m;
  $("#who").textContent = `${m.name} (${m.id})`;
  document.title = `chatlab — ${m.name}`;
  $("#teacher-here").textContent = m.teacher ? T.teacher_view : T.teacher;
  $("#teacher-here").hidden = !(m.teacher || m.teacher_here);
}
whoami().finally(setup);
setInterval(() => whoami().catch(() => {}), 5000);
