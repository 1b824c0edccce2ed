//! browserkit: a real headless Chromium (Debian's `chromium`), driven as a person uses a page:
//! open it, click, press keys, wait for what it shows, take a screenshot.
//!
//! It speaks the DevTools protocol over a pipe (`--remote-debugging-pipe`: JSON messages on
//! Chromium's fds 3 and 4, each ended by a NUL byte), so no port is opened and no websocket
//! is needed; the shell gives Chromium our pipes as its fds 3 and 4.
//!
//! ```text
//! let Some(mut b) = Browser::open("view", &url, "en") else { return }; // skipped: no chromium
//! b.click("#next");
//! b.wait_for("document.querySelector('#replay-step').textContent.includes('1/')");
//! let text: String = b.text("#replay-summary");
//! ```
//!
//! A failure panics with what the page said (its summary, when it has one). Chromium is
//! killed when the Browser is dropped.

#![allow(dead_code)] // each test binary uses a part of the kit

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::kit::skip_unless_ci;

/// How long one protocol call may take.
const CALL: Duration = Duration::from_secs(30);

pub struct Browser {
    child: Child,
    to: ChildStdin,
    from: Receiver<Value>,
    next: u64,
    session: String,
    /// Responses that came while waiting for another.
    early: HashMap<u64, Value>,
    /// What the page said went wrong (its exceptions, console errors, failed loads), the
    /// last [`LOGGED`]: a failure shows them.
    logged: Vec<String>,
    /// Requests to fail once each (a URL's end), as a network that blinks does.
    failing: Vec<String>,
    /// Commands sent without waiting: their answers are dropped.
    unawaited: HashSet<u64>,
    /// The network changed under a load since [`Browser::goto`] began (a load failed with
    /// net::ERR_NETWORK_CHANGED).
    blinked: bool,
}

/// How many of the page's errors a Browser keeps.
const LOGGED: usize = 40;

impl Browser {
    /// Chromium, headless, with LANG as the browser's language, showing URL in a 1300×900
    /// window. None when chromium is missing and this is not CI (TEST is then skipped, said).
    pub fn open(test: &str, url: &str, lang: &str) -> Option<Browser> {
        Self::open_failing(test, url, lang, &[])
    }

    /// [`Browser::open`], where the first request for each URL ending in one of FAIL fails
    /// (the connection reset), as when the network blinks while the page loads.
    pub fn open_failing(test: &str, url: &str, lang: &str, fail: &[&str]) -> Option<Browser> {
        if Command::new("chromium").arg("--version").output().is_err() {
            skip_unless_ci(test, "chromium is not installed (apt-get install chromium)");
            return None;
        }
        let mut child = Command::new("bash")
            .arg("-c")
            // Our stdin pipe becomes its fd 3 (commands), our stdout pipe its fd 4 (answers).
            .arg(r#"exec chromium "$@" 3<&0 4>&1 0</dev/null 1>&2"#)
            .arg("chromium")
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--remote-debugging-pipe",
                // The class's web server's certificate is self-signed (made for the test).
                "--ignore-certificate-errors",
                "--window-size=1300,900",
            ])
            .arg(format!("--lang={lang}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let to = child.stdin.take().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, from) = channel();
        thread::spawn(move || {
            let mut r = BufReader::new(out);
            loop {
                let mut msg = Vec::new();
                match r.read_until(0, &mut msg) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                msg.pop();
                if let Ok(v) = serde_json::from_slice::<Value>(&msg)
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        });
        let mut b = Browser {
            child,
            to,
            from,
            next: 0,
            session: String::new(),
            early: HashMap::new(),
            logged: Vec::new(),
            failing: fail.iter().map(|f| f.to_string()).collect(),
            unawaited: HashSet::new(),
            blinked: false,
        };
        let target = b.call("Target.createTarget", json!({ "url": "about:blank" }));
        let id = target["targetId"].as_str().expect("a target").to_string();
        let attached = b.call(
            "Target.attachToTarget",
            json!({ "targetId": id, "flatten": true }),
        );
        b.session = attached["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
        b.call("Page.enable", json!({}));
        // Its exceptions, console errors and failed loads, from the first byte on.
        b.call("Runtime.enable", json!({}));
        b.call("Log.enable", json!({}));
        if !fail.is_empty() {
            let patterns: Vec<Value> = fail
                .iter()
                .map(|f| json!({ "urlPattern": format!("*{f}") }))
                .collect();
            b.call("Fetch.enable", json!({ "patterns": patterns }));
        }
        // The browser's language, as the page reads it (navigator.language, Accept-Language).
        let ua = b.call("Browser.getVersion", json!({}))["userAgent"].clone();
        b.call(
            "Emulation.setUserAgentOverride",
            json!({ "userAgent": ua, "acceptLanguage": lang }),
        );
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1300, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        );
        b.goto(url);
        Some(b)
    }

    /// Send METHOD (in the page's session once attached); its id.
    fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).expect("chromium takes commands");
        id
    }

    /// Call METHOD (in the page's session once attached); its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        let deadline = Instant::now() + CALL;
        loop {
            if let Some(v) = self.early.remove(&id) {
                return Self::result(method, v);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from.recv_timeout(left) {
                Ok(v) => match v["id"].as_u64() {
                    Some(i) if i == id => return Self::result(method, v),
                    Some(i) if self.unawaited.remove(&i) => {}
                    Some(i) => {
                        self.early.insert(i, v);
                    }
                    None => self.event(&v),
                },
                Err(RecvTimeoutError::Timeout) => panic!("chromium did not answer {method}"),
                Err(RecvTimeoutError::Disconnected) => panic!("chromium ended during {method}"),
            }
        }
    }

    /// An event: kept when it says something went wrong in the page.
    fn event(&mut self, v: &Value) {
        let p = &v["params"];
        let line = match v["method"].as_str() {
            Some("Fetch.requestPaused") => {
                let url = p["request"]["url"].as_str().unwrap_or_default();
                let request = json!(p["requestId"]);
                let id = match self.failing.iter().position(|end| url.ends_with(end)) {
                    Some(i) => {
                        self.failing.remove(i);
                        self.send(
                            "Fetch.failRequest",
                            json!({ "requestId": request, "errorReason": "ConnectionReset" }),
                        )
                    }
                    None => self.send("Fetch.continueRequest", json!({ "requestId": request })),
                };
                self.unawaited.insert(id);
                return;
            }
            Some("Runtime.exceptionThrown") => {
                let d = &p["exceptionDetails"];
                let what = d["exception"]["description"]
                    .as_str()
                    .or(d["text"].as_str())
                    .unwrap_or("?");
                format!("exception: {what}")
            }
            Some("Runtime.consoleAPICalled") if p["type"] == "error" => {
                let args: Vec<String> = p["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        a["value"]
                            .as_str()
                            .or(a["description"].as_str())
                            .map_or_else(|| a["value"].to_string(), str::to_string)
                    })
                    .collect();
                format!("console.error: {}", args.join(" "))
            }
            Some("Log.entryAdded") if p["entry"]["level"] != "verbose" => format!(
                "{}: {} {}",
                p["entry"]["level"].as_str().unwrap_or("?"),
                p["entry"]["text"].as_str().unwrap_or("?"),
                p["entry"]["url"].as_str().unwrap_or("")
            ),
            _ => return,
        };
        self.blinked |= line.contains("ERR_NETWORK_CHANGED");
        if self.logged.len() == LOGGED {
            self.logged.remove(0);
        }
        self.logged.push(line);
    }

    /// What the page said went wrong so far, a line each ("" when nothing).
    pub fn logged(&self) -> String {
        self.logged.iter().map(|l| format!("\n  {l}")).collect()
    }

    fn result(method: &str, v: Value) -> Value {
        if let Some(e) = v.get("error") {
            panic!("{method}: {e}");
        }
        v["result"].clone()
    }

    /// Load URL and wait until its document is complete. When the machine's network changed
    /// meanwhile (Docker adding an interface: Chromium drops what is in flight,
    /// net::ERR_NETWORK_CHANGED), load it again, as a person would; 3 times at most.
    pub fn goto(&mut self, url: &str) {
        for attempt in 1.. {
            self.blinked = false;
            let nav = if attempt == 1 {
                self.call("Page.navigate", json!({ "url": url }))
            } else {
                self.call("Page.reload", json!({}))
            };
            let failed = nav["errorText"].as_str().unwrap_or_default().to_string();
            if failed.is_empty() {
                self.wait_for(
                    "document.readyState === 'complete'",
                    Duration::from_secs(20),
                );
            }
            let blinked = failed.contains("NETWORK_CHANGED") || self.blinked;
            if !blinked || attempt == 3 {
                assert!(failed.is_empty(), "{url}: {failed}");
                return;
            }
            eprintln!("browserkit: the network changed while {url} loaded: loading it again");
        }
    }

    /// The value of the JavaScript expression JS (a promise is awaited).
    pub fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": js, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{js}: {e}\nthe page's errors:{}", self.logged());
        }
        r["result"]["value"].clone()
    }

    /// Wait until the expression JS is true, at most TIMEOUT; panics with the page's text.
    pub fn wait_for(&mut self, js: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.eval(js) != json!(true) {
            if Instant::now() > deadline {
                let text = self.eval("document.body ? document.body.innerText : ''");
                panic!(
                    "the page never showed `{js}` within {timeout:?}; it shows:\n{}\nits errors:{}",
                    text.as_str().unwrap_or_default(),
                    self.logged()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The text of the element SELECTOR ("" when there is none).
    pub fn text(&mut self, selector: &str) -> String {
        let js = format!(
            "document.querySelector({}) ? document.querySelector({}).textContent : ''",
            json!(selector),
            json!(selector)
        );
        self.eval(&js).as_str().unwrap_or_default().to_string()
    }

    /// Click the element SELECTOR, as a person would (it must exist).
    pub fn click(&mut self, selector: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
            json!(selector)
        );
        assert_eq!(self.eval(&js), json!(true), "no {selector} to click");
    }

    /// Choose VALUE in the select SELECTOR (and tell the page, as a person's choice does).
    pub fn select(&mut self, selector: &str, value: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.value = {}; \
             e.dispatchEvent(new Event('change')); return e.value === {}; }})()",
            json!(selector),
            json!(value),
            json!(value)
        );
        assert_eq!(
            self.eval(&js),
            json!(true),
            "{selector} has no option {value}"
        );
    }

    /// Press KEY (a KeyboardEvent key: "ArrowRight", " "…) on the page.
    pub fn press(&mut self, key: &str) {
        let js = format!(
            "document.dispatchEvent(new KeyboardEvent('keydown', {{ key: {}, bubbles: true }}))",
            json!(key)
        );
        self.eval(&js);
    }

    /// Type TEXT where the focus is, as a keyboard's input would (an IME commit: any
    /// Unicode, « ça » included).
    pub fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({ "text": text }));
    }

    /// Press and release a key on the focused element as the keyboard does: "Enter", "Tab",
    /// "ArrowUp", or a letter with Ctrl ("ctrl+c", "ctrl+d").
    pub fn key(&mut self, key: &str) {
        let (modifiers, key) = match key.strip_prefix("ctrl+") {
            Some(k) => (2, k),
            None => (0, key),
        };
        let (code, vk, text) = match key {
            "Enter" => ("Enter".to_string(), 13, "\r".to_string()),
            "Tab" => ("Tab".to_string(), 9, "\t".to_string()),
            "ArrowUp" => ("ArrowUp".to_string(), 38, String::new()),
            "ArrowDown" => ("ArrowDown".to_string(), 40, String::new()),
            k if k.len() == 1 && k.as_bytes()[0].is_ascii_lowercase() => (
                format!("Key{}", k.to_ascii_uppercase()),
                i64::from(k.to_ascii_uppercase().as_bytes()[0]),
                if modifiers == 0 {
                    k.to_string()
                } else {
                    String::new()
                },
            ),
            _ => panic!("browserkit: no such key {key}"),
        };
        let mut down = json!({ "type": "keyDown", "key": key, "code": code,
            "windowsVirtualKeyCode": vk, "modifiers": modifiers });
        if !text.is_empty() {
            down["text"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", down);
        self.call(
            "Input.dispatchKeyEvent",
            json!({ "type": "keyUp", "key": key, "code": code,
                "windowsVirtualKeyCode": vk, "modifiers": modifiers }),
        );
    }

    // --- The class's tab (web/page/student.*): its terminals and its editor ------------------

    /// The text of HOST's terminal on the class's tab (its xterm.js buffer).
    pub fn terminal_text(&mut self, host: &str) -> String {
        let js = format!(
            "(() => {{ const t = window.terms && window.terms[{host:?}]; if (!t) return ''; \
             const b = t.term.buffer.active; let s = ''; \
             for (let i = 0; i < b.length; i++) s += b.getLine(i).translateToString(true) + '\\n'; \
             return s; }})()"
        );
        self.eval(&js).as_str().unwrap_or_default().to_string()
    }

    /// Wait until HOST's terminal shows NEEDLE (COUNT times at least); else panic with what it
    /// and the page show.
    pub fn wait_terminal(&mut self, host: &str, needle: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.terminal_text(host).matches(needle).count() < count {
            if Instant::now() > deadline {
                let page = self.eval(
                    "JSON.stringify({ at: location.href, terms: Object.keys(window.terms || {}), \
                     ws: Object.fromEntries(Object.entries(window.terms || {}).map(([h, t]) => [h, t.ws && t.ws.readyState])), \
                     text: document.body.innerText.slice(0, 500) })",
                );
                panic!(
                    "{host}'s terminal never showed {needle:?} ({count}×); it shows:\n{}\nthe page: {page}\nits errors:{}",
                    self.terminal_text(host),
                    self.logged()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Type LINE then Enter in HOST's terminal.
    pub fn type_line(&mut self, host: &str, line: &str) {
        self.eval(&format!("window.terms[{host:?}].term.focus()"));
        if !line.is_empty() {
            self.type_text(line);
        }
        self.key("Enter");
    }

    /// TEXT in the tab's editor, saved; the status then says SAVED (the page's language).
    pub fn save_editor(&mut self, text: &str, saved: &str) {
        let text = serde_json::to_string(text).expect("a string is JSON");
        self.eval(&format!("document.querySelector('#editor').value = {text}"));
        self.click("#save");
        self.wait_for(
            &format!("document.querySelector('#status').textContent.includes({saved:?})"),
            Duration::from_secs(20),
        );
    }

    /// A PNG of the page as shown into FILE (the whole page when FULL).
    pub fn screenshot(&mut self, file: &Path, full: bool) {
        let shot = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": full }),
        );
        let data = shot["data"].as_str().expect("a screenshot");
        std::fs::write(file, base64(data)).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 decoded (what the protocol gives screenshots in).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes_as_the_protocol_encodes() {
    assert_eq!(base64("aGVsbG8="), b"hello");
    assert_eq!(base64("aGk="), b"hi");
    assert_eq!(base64("AAEC/w=="), [0, 1, 2, 255]);
}
