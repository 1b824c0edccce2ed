//! The labs' terminals, kept while no page shows them: one shell per host of a lab (a login
//! shell, the agent's exec with a terminal), shared by every page that opens that host — the
//! student's tabs and the teacher's. A tab closed leaves the shell and what runs in it (a
//! `chat duplex` goes on); a tab opened again gets the last [`BACKLOG`] bytes of its screen,
//! then the output as it comes.
//!
//! The keyboard: the student's, unless the teacher takes it (their pages open read-only); it
//! comes back to the student when the teacher gives it back or leaves. Every page of the
//! terminal is told who holds it.
//!
//! A shell that ends (`exit`, Ctrl-D) ends its terminal: its pages are told, and the next page
//! opened starts a new shell. A shell no page has shown for [`Config::keep`] is closed (the
//! agent then ends it).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chatlab_agent::protocol::{AgentFrame, ClientFrame, ExecRequest, STDOUT, Wire};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{broadcast, mpsc};
use tokio_tungstenite::tungstenite::Message;

use crate::agents::{self, Agents};

/// The bytes of a terminal's screen kept for the pages that open it later.
pub const BACKLOG: usize = 32 * 1024;
/// Messages kept for a page that reads slowly, past which it misses some (and is told).
const FANOUT: usize = 512;
/// Keystrokes and resizes waiting for the agent.
const INPUT: usize = 256;

/// Who holds a terminal's keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Keyboard {
    Student,
    Teacher,
}

/// What a terminal's pages are sent.
#[derive(Debug, Clone)]
pub enum Out {
    Output(Arc<[u8]>),
    Keyboard(Keyboard),
    /// The shell ended (its status) or was lost (why): the last message.
    End(AgentFrame),
}

/// One host's shell, and the pages that show it.
pub struct Terminal {
    input: mpsc::Sender<ClientFrame>,
    state: Mutex<State>,
    out: broadcast::Sender<Out>,
}

struct State {
    backlog: VecDeque<u8>,
    keyboard: Keyboard,
    /// Pages open: the student's, the teacher's.
    students: usize,
    teachers: usize,
    /// Since when no page shows it.
    alone_since: Option<Instant>,
    ended: Option<AgentFrame>,
}

/// What a page gets when it opens a terminal: the screen so far, then what follows.
pub struct View {
    pub terminal: Arc<Terminal>,
    pub backlog: Vec<u8>,
    pub keyboard: Keyboard,
    pub ended: Option<AgentFrame>,
    /// What follows (taken by the page's relay).
    pub out: Option<broadcast::Receiver<Out>>,
    teacher: bool,
}

pub struct Config {
    /// How long a shell that no page shows is kept (0: closed with its last page).
    pub keep: Duration,
}

/// Every lab's terminals, by student and host.
#[derive(Clone)]
pub struct Terminals {
    keep: Duration,
    slots: Arc<Mutex<HashMap<(String, String), Slot>>>,
}

/// A terminal, or its opening: one opening at a time per host (the others wait for it).
type Slot = Arc<tokio::sync::Mutex<Option<Arc<Terminal>>>>;

impl Terminals {
    pub fn new(config: Config) -> Terminals {
        Terminals {
            keep: config.keep,
            slots: Arc::default(),
        }
    }

    /// The terminal of REQUEST's host (its shell opened through the agents if it has none, of
    /// REQUEST's size), seen by a page of the student or the TEACHER.
    pub async fn open(
        &self,
        agents: &Agents,
        request: &ExecRequest,
        teacher: bool,
    ) -> Result<View, String> {
        let key = (request.student.clone(), request.host.clone());
        let slot = Arc::clone(self.slots.lock().unwrap().entry(key.clone()).or_default());
        let mut slot = slot.lock().await;
        if let Some(terminal) = &*slot
            && terminal.state.lock().unwrap().ended.is_none()
        {
            let view = terminal.attach(teacher);
            if let (Some((cols, rows)), false) = (request.size, teacher) {
                let _ = terminal.input.try_send(ClientFrame::Resize(cols, rows));
            }
            return Ok(view);
        }
        let agent = agents.open(request).await?;
        let (input, input_rx) = mpsc::channel(INPUT);
        let terminal = Arc::new(Terminal::new(input));
        let view = terminal.attach(teacher);
        *slot = Some(Arc::clone(&terminal));
        let (terminals, keep) = (self.clone(), self.keep);
        tokio::spawn(async move {
            pump(&terminal, agent, input_rx, keep).await;
            terminals.forget(&key, &terminal);
        });
        Ok(view)
    }

    /// KEY's slot emptied, if it still holds TERMINAL (ended).
    fn forget(&self, key: &(String, String), terminal: &Arc<Terminal>) {
        let mut slots = self.slots.lock().unwrap();
        let Some(slot) = slots.get(key).map(Arc::clone) else {
            return;
        };
        // (Busy: a page is opening it again, and will find it ended.)
        let gone = slot
            .try_lock()
            .is_ok_and(|held| held.as_ref().is_none_or(|t| Arc::ptr_eq(t, terminal)));
        if gone {
            slots.remove(key);
        }
    }
}

impl Terminal {
    fn attach(self: &Arc<Self>, teacher: bool) -> View {
        let mut state = self.state.lock().unwrap();
        if teacher {
            state.teachers += 1;
        } else {
            state.students += 1;
        }
        state.alone_since = None;
        // (Subscribed under the lock the pump appends under: nothing between the two.)
        View {
            terminal: Arc::clone(self),
            backlog: state.backlog.iter().copied().collect(),
            keyboard: state.keyboard,
            ended: state.ended.clone(),
            out: Some(self.out.subscribe()),
            teacher,
        }
    }

    fn new(input: mpsc::Sender<ClientFrame>) -> Terminal {
        Terminal {
            input,
            out: broadcast::channel(FANOUT).0,
            state: Mutex::new(State {
                backlog: VecDeque::new(),
                keyboard: Keyboard::Student,
                students: 0,
                teachers: 0,
                alone_since: None,
                ended: None,
            }),
        }
    }

    /// DATA from the shell: to the pages, and the last [`BACKLOG`] bytes kept.
    fn output(&self, data: &[u8]) {
        let mut state = self.state.lock().unwrap();
        state.backlog.extend(data);
        let over = state.backlog.len().saturating_sub(BACKLOG);
        state.backlog.drain(..over);
        let _ = self.out.send(Out::Output(data.into()));
    }

    fn set_keyboard(&self, keyboard: Keyboard) {
        let mut state = self.state.lock().unwrap();
        if state.keyboard != keyboard {
            state.keyboard = keyboard;
            let _ = self.out.send(Out::Keyboard(keyboard));
        }
    }
}

impl View {
    /// Whether this page's keystrokes reach the shell.
    pub fn may_type(&self) -> bool {
        let holder = self.terminal.state.lock().unwrap().keyboard;
        holder
            == if self.teacher {
                Keyboard::Teacher
            } else {
                Keyboard::Student
            }
    }

    /// FRAME from this page: to the shell if this page holds the keyboard; false once the
    /// shell no longer reads.
    pub async fn send(&self, frame: ClientFrame) -> bool {
        if !self.may_type() {
            return true;
        }
        self.terminal.input.send(frame).await.is_ok()
    }

    /// The teacher takes the keyboard (true) or gives it back; a student's page cannot.
    pub fn keyboard(&self, take: bool) {
        if self.teacher {
            self.terminal.set_keyboard(if take {
                Keyboard::Teacher
            } else {
                Keyboard::Student
            });
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        let mut state = self.terminal.state.lock().unwrap();
        if self.teacher {
            state.teachers -= 1;
        } else {
            state.students -= 1;
        }
        if state.teachers == 0 && state.keyboard == Keyboard::Teacher {
            // The teacher gone: the keyboard back to the student.
            state.keyboard = Keyboard::Student;
            let _ = self.terminal.out.send(Out::Keyboard(Keyboard::Student));
        }
        if state.students + state.teachers == 0 {
            state.alone_since = Some(Instant::now());
        }
    }
}

/// The agent's exec ↔ the terminal's pages, until the shell ends, the agent is lost, or no page
/// has shown it for KEEP.
async fn pump(
    terminal: &Terminal,
    agent: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    mut input: mpsc::Receiver<ClientFrame>,
    keep: Duration,
) {
    let (mut tx, mut rx) = agent.split();
    let mut tick =
        tokio::time::interval(Duration::from_secs(1).min(keep.max(Duration::from_millis(100))));
    let end = loop {
        tokio::select! {
            frame = input.recv() => {
                let Some(frame) = frame else { break None };
                let msg = match frame.encode() {
                    Wire::Binary(b) => Message::Binary(b.into()),
                    Wire::Text(t) => Message::Text(t.into()),
                };
                if tx.send(msg).await.is_err() {
                    break Some(AgentFrame::Error("the lab's host is not reachable any more".into()));
                }
            }
            frame = agents::next_frame(&mut rx) => match frame {
                Some(Ok(AgentFrame::Output { data, .. })) => terminal.output(&data),
                Some(Ok(end)) => break Some(end),
                Some(Err(why)) => break Some(AgentFrame::Error(why)),
                None => break Some(AgentFrame::Error("the lab's host closed the terminal".into())),
            },
            _ = tick.tick() => {
                let alone = terminal.state.lock().unwrap().alone_since;
                if alone.is_some_and(|since| since.elapsed() >= keep) {
                    break None;
                }
            }
        }
    };
    let _ = tx.close().await;
    let mut state = terminal.state.lock().unwrap();
    let end = end.unwrap_or(AgentFrame::Error("closed: no page showed it".into()));
    state.ended = Some(end.clone());
    let _ = terminal.out.send(Out::End(end));
}

/// What a page is sent of a terminal's output: the stream tag, then the bytes.
pub fn output_frame(data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(STDOUT);
    bytes.extend_from_slice(data);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(rx: &mut broadcast::Receiver<Out>) -> Option<Out> {
        rx.try_recv().ok()
    }

    #[tokio::test]
    async fn the_keyboard_is_the_students_unless_the_teacher_takes_it() {
        let (input, mut shell) = mpsc::channel(INPUT);
        let terminal = Arc::new(Terminal::new(input));
        let mut student = terminal.attach(false);
        let teacher = terminal.attach(true);
        let mut out = student.out.take().unwrap();
        assert!(student.may_type() && !teacher.may_type());
        // The teacher's keys, read-only, go nowhere; the student's reach the shell.
        assert!(teacher.send(ClientFrame::Stdin(b"prof".to_vec())).await);
        assert!(student.send(ClientFrame::Stdin(b"eleve".to_vec())).await);
        assert_eq!(
            shell.try_recv().unwrap(),
            ClientFrame::Stdin(b"eleve".to_vec())
        );
        assert!(shell.try_recv().is_err());
        // A student cannot take it; the teacher can, and every page is told.
        student.keyboard(false);
        student.keyboard(true);
        assert!(next(&mut out).is_none());
        teacher.keyboard(true);
        assert!(matches!(
            next(&mut out),
            Some(Out::Keyboard(Keyboard::Teacher))
        ));
        assert!(!student.may_type() && teacher.may_type());
        assert!(student.send(ClientFrame::Resize(80, 24)).await);
        assert!(shell.try_recv().is_err());
        // The teacher gone: the keyboard is the student's again.
        drop(teacher);
        assert!(matches!(
            next(&mut out),
            Some(Out::Keyboard(Keyboard::Student))
        ));
        assert!(student.may_type());
        assert!(terminal.state.lock().unwrap().alone_since.is_none());
        drop(student);
        assert!(terminal.state.lock().unwrap().alone_since.is_some());
    }

    #[test]
    fn a_page_opened_later_gets_the_last_of_the_screen() {
        let terminal = Arc::new(Terminal::new(mpsc::channel(1).0));
        let early = terminal.attach(false);
        terminal.output(b"avant ");
        for _ in 0..BACKLOG {
            terminal.output(b"x");
        }
        terminal.output(b" fin");
        let late = terminal.attach(false);
        assert_eq!(late.backlog.len(), BACKLOG);
        assert!(late.backlog.ends_with(b"x fin"));
        assert!(early.backlog.is_empty());
    }
}
