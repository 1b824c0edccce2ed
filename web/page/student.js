// One student's lab: a terminal into each of its three hosts (xterm.js, the agent's exec
// protocol relayed by the server: binary frames are keystrokes one way and a stream tag then
// output the other; text frames are JSON: resize, exit, error), the files of work/, and the
// checker's verdicts on one of them.
"use strict";

const FR = (navigator.language || "en").toLowerCase().startsWith("fr");
const T = FR ? {
  files: "Vos fichiers (work/)", refresh: "Actualiser", create: "Nouveau", upload: "Déposer un fichier…",
  save: "Enregistrer", download: "Télécharger", saved: "enregistré", loading: "ouverture…",
  ended: "terminé, code", lost: "connexion perdue", reconnect: "rouvrir", error: "erreur",
  badname: "nom : lettres, chiffres, . _ - (64 au plus)", toolarge: "fichier trop gros",
  view: "Vue en direct du lab ↗", teacher: "l'enseignant est dans ce lab", teacher_view: "vue de l'enseignant", empty: "(aucun fichier)",
  check: "Vérifier", check_title: "Vérifier :", role_file: "(le fichier du rôle)", checking: "vérification en cours (jusqu'à 2 min)…",
  nofile: (r) => `aucun fichier ${r}.py, ${r}.sh ou ${r} dans work/`,
  summary: (f, p, x, w) => `${f} : ${p} réussi(s), ${x} échoué(s), ${w} avertissement(s)`,
  couldnot: "la vérification n'a pas pu aller au bout",
  words: { pass: "OK", fail: "ÉCHEC", warn: "ATTENTION", skip: "SAUTÉ", info: "INFO" },
  kb_teacher: "⌨ l'enseignant a le clavier", kb_watch: "lecture seule", kb_mine: "⌨ vous avez le clavier",
  take: "prendre le clavier", give: "rendre le clavier",
  noterm: "le terminal n'a pas pu être chargé : rechargez la page",
} : {
  files: "Your files (work/)", refresh: "Refresh", create: "New", upload: "Upload a file…",
  save: "Save", download: "Download", saved: "saved", loading: "opening…",
  ended: "ended, status", lost: "connection lost", reconnect: "reopen", error: "error",
  badname: "name: letters, digits, . _ - (64 at most)", toolarge: "file too large",
  view: "The lab, live ↗", teacher: "the teacher is in this lab", teacher_view: "the teacher's view", empty: "(no files)",
  check: "Check", check_title: "Check:", role_file: "(the role's file)", checking: "checking (up to 2 min)…",
  nofile: (r) => `no file ${r}.py, ${r}.sh or ${r} in work/`,
  summary: (f, p, x, w) => `${f}: ${p} passed, ${x} failed, ${w} warning(s)`,
  couldnot: "the check could not finish",
  words: { pass: "PASS", fail: "FAIL", warn: "WARN", skip: "SKIP", info: "INFO" },
  kb_teacher: "⌨ the teacher has the keyboard", kb_watch: "read-only", kb_mine: "⌨ you have the keyboard",
  take: "take the keyboard", give: "give the keyboard back",
  noterm: "the terminal could not be loaded: reload the page",
};
document.documentElement.lang = FR ? "fr" : "en";

const id = decodeURIComponent(location.pathname.split("/")[2] || "");
const base = `/lab/${encodeURIComponent(id)}`;
const $ = (sel) => document.querySelector(sel);
let me = { max_file: 262144 };

// --- When the network blinks ---------------------------------------------------------------
// A browser drops what it has in flight when its machine's network changes (Docker adding a
// container's interface does it: net::ERR_NETWORK_CHANGED). What only reads is asked again,
// a few times, a little later each; a failed script is loaded again the same way.
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

// ATTEMPT's result; when it throws, ATTEMPT again a little later, 4 tries in all.
async function again(attempt) {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (i === 4) throw e;
      await pause(300 * i);
    }
  }
}

const get = (url) => again(() => fetch(url));

function script(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = reject;
    document.head.append(s);
  });
}

// xterm.js and its fit addon (the page's <script>s), loaded again if they did not load; false
// when they never did.
const xterm = () => again(async () => {
  if (typeof Terminal === "undefined") await script("/assets/xterm.js");
  if (typeof FitAddon === "undefined") await script("/assets/addon-fit.js");
}).then(() => true, () => false);

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
  let opened = false;
  // The host's shell is kept by the server: its screen so far comes first, on a clean one.
  ws.onopen = () => {
    opened = true;
    t.failed = 0;
    term.reset();
  };
  ws.onmessage = (e) => {
    if (typeof e.data === "string") {
      const m = JSON.parse(e.data);
      if ("keyboard" in m) return keyboard(section, t, m.keyboard);
      if ("exit" in m) term.write(`\r\n\x1b[2m[${T.ended} ${m.exit}]\x1b[0m\r\n`);
      if ("error" in m) term.write(`\r\n\x1b[31m[${T.error}: ${m.error}]\x1b[0m\r\n`);
      return;
    }
    term.write(new Uint8Array(e.data, 1)); // after the stream tag
  };
  ws.onclose = () => {
    if (t.ws !== ws) return;
    t.ws = null;
    // Never opened (the network blinked, the server restarts): again by itself, 3 times.
    if (!opened && (t.failed = (t.failed || 0) + 1) <= 3) {
      return void setTimeout(() => t.ws || openTerminal(section), 500 * t.failed);
    }
    term.write(`\r\n\x1b[2m[${T.lost}]\x1b[0m\r\n`);
    button.textContent = T.reconnect;
    button.hidden = false;
  };
  term.focus();
}

// Who holds this terminal's keyboard: the student's, unless the teacher takes it (the
// teacher's pages are read-only until then).
function keyboard(section, t, holder) {
  t.keyboard = holder;
  const label = section.querySelector(".keyboard");
  const take = section.querySelector(".take");
  if (me.teacher) {
    label.textContent = holder === "teacher" ? T.kb_mine : T.kb_watch;
    take.textContent = holder === "teacher" ? T.give : T.take;
    take.hidden = false;
    take.onclick = () => send(t, JSON.stringify({ keyboard: holder === "teacher" ? "give" : "take" }));
  } else {
    label.textContent = holder === "teacher" ? T.kb_teacher : "";
  }
  label.className = `keyboard ${holder}`;
}

function send(t, data) {
  if (t.ws && t.ws.readyState === WebSocket.OPEN) t.ws.send(data);
}

// --- Files ---------------------------------------------------------------------------------
let open = null;

function status(text) { $("#status").textContent = text; }

async function refresh() {
  const r = await get(`${base}/files`);
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
  // The check's file choice: the role's own, or any file of work/.
  const pick = $("#check-file");
  const chosen = pick.value;
  pick.replaceChildren(new Option(T.role_file, ""));
  for (const f of list) pick.append(new Option(f.name, f.name));
  pick.value = list.some((f) => f.name === chosen) ? chosen : "";
}

// --- Checks: the checker's verdicts on the student's own program, failing ones first ------
const ROLES = ["q1", "q2", "q3-client", "q3-server", "q4-client", "q4-server"];
const RANK = { fail: 0, warn: 1, pass: 2, info: 3, skip: 4 };

async function check() {
  const role = $("#check-role").value;
  const file = $("#check-file").value;
  const q = new URLSearchParams({ role, lang: FR ? "fr" : "en" });
  if (file) q.set("file", file);
  $("#check").disabled = true;
  $("#check-status").textContent = T.checking;
  $("#verdicts").replaceChildren();
  try {
    const r = await fetch(`${base}/check?${q}`, { method: "POST" });
    if (!r.ok) return void ($("#check-status").textContent = `${T.error}: ${(await r.text()).trim()}`);
    showVerdicts(await r.json());
  } catch (e) {
    $("#check-status").textContent = `${T.error}: ${e}`;
  } finally {
    $("#check").disabled = false;
  }
}

function showVerdicts(result) {
  const ul = $("#verdicts");
  ul.replaceChildren();
  if (!result.file && !result.error) return void ($("#check-status").textContent = T.nofile(result.role));
  const criteria = (result.report && result.report.criteria) || [];
  const n = (v) => criteria.filter((c) => c.verdict === v).length;
  let line = criteria.length ? T.summary(result.file, n("pass"), n("fail"), n("warn")) : T.couldnot;
  if (result.error) line += ` — ${result.error}`;
  $("#check-status").textContent = line;
  const sorted = criteria.map((c, i) => [c, i]).sort(([a, i], [b, j]) => (RANK[a.verdict] - RANK[b.verdict]) || (i - j));
  for (const [c] of sorted) {
    const li = document.createElement("li");
    li.className = c.verdict;
    const word = document.createElement("b");
    word.textContent = T.words[c.verdict] || c.verdict;
    li.append(word, ` ${c.id} — ${c.detail}`);
    ul.append(li);
  }
}

async function openFile(name) {
  status(T.loading);
  const r = await get(`${base}/files/${encodeURIComponent(name)}`);
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

async function setup() {
  $("#view-link").href = `${base}/view/`;
  $("#view-link").textContent = T.view;
  $("#files-title").textContent = T.files;
  $("#refresh").textContent = T.refresh;
  $("#new").textContent = T.create;
  $("#upload-label").textContent = T.upload;
  $("#save").textContent = T.save;
  $("#refresh").onclick = refresh;
  $("#check-title").textContent = T.check_title;
  $("#check").textContent = T.check;
  for (const r of ROLES) $("#check-role").append(new Option(r, r));
  $("#check").onclick = check;
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
  refresh();
  const loaded = await xterm();
  for (const section of document.querySelectorAll("section.term")) {
    if (!loaded) {
      section.querySelector(".screen").textContent = T.noterm;
      continue;
    }
    section.querySelector(".reconnect").onclick = () => openTerminal(section);
    openTerminal(section);
  }
}

// Who this page is for; and, every 5 s, whether the teacher has a terminal in this lab (the
// student sees it: the teacher is there).
async function whoami() {
  const m = await (await get(`${base}/me`)).json();
  me = m;
  $("#who").textContent = `${m.name} (${m.id})`;
  document.title = `chatlab — ${m.name}`;
  $("#teacher-here").textContent = m.teacher ? T.teacher_view : T.teacher;
  $("#teacher-here").hidden = !(m.teacher || m.teacher_here);
}
whoami().finally(setup);
setInterval(() => whoami().catch(() => {}), 5000);
