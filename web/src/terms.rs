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
use tokio::sync::broadcast;
#[cfg(test)]
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::agents::{self, Agents};

/// The bytes of a terminal's screen kept for the pages that open it later.
pub const BACKLOG: usize = 32 * 1024;
/// Messages kept for a page that reads slowly, past which it misses some (and is told).
const FANOUT: usize = 512;

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
    /// Where a page's keystrokes go: the agent's exec, written by the page's own task (no
    /// other task between a key and the shell).
    input: tokio::sync::Mutex<Input>,
    state: Mutex<State>,
    out: broadcast::Sender<Out>,
    /// Woken when its last page leaves (the pump then counts [`Config::keep`]).
    alone: tokio::sync::Notify,
}

type AgentSink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    Message,
>;

/// The shell's input.
enum Input {
    Agent(AgentSink),
    /// (The tests': the frames, as the agent would get them.)
    #[cfg(test)]
    Test(mpsc::Sender<ClientFrame>),
}

impl Input {
    /// FRAME to the shell; false once it no longer reads.
    async fn send(&mut self, frame: ClientFrame) -> bool {
        match self {
            Input::Agent(sink) => {
                let msg = match frame.encode() {
                    Wire::Binary(b) => Message::Binary(b.into()),
                    Wire::Text(t) => Message::Text(t.into()),
                };
                sink.send(msg).await.is_ok()
            }
            #[cfg(test)]
            Input::Test(tx) => tx.send(frame).await.is_ok(),
        }
    }

    /// The end of the shell's input (the agent then ends the exec).
    async fn close(&mut self) {
        match self {
            Input::Agent(sink) => {
                let _ = sink.close().await;
            }
            #[cfg(test)]
            Input::Test(_) => {}
        }
    }
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
                view.send(ClientFrame::Resize(cols, rows)).await;
            }
            return Ok(view);
        }
        let (sink, stream) = agents.open(request).await?.split();
        let terminal = Arc::new(Terminal::new(Input::Agent(sink)));
        let view = terminal.attach(teacher);
        *slot = Some(Arc::clone(&terminal));
        let (terminals, keep) = (self.clone(), self.keep);
        tokio::spawn(async move {
            pump(&terminal, stream, keep).await;
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

    fn new(input: Input) -> Terminal {
        Terminal {
            input: tokio::sync::Mutex::new(input),
            alone: tokio::sync::Notify::new(),
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
        self.terminal.input.lock().await.send(frame).await
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
            self.terminal.alone.notify_one();
        }
    }
}

/// The agent's exec → the terminal's pages, until the shell ends, the agent is lost, or no page
/// has shown it for KEEP (then the agent is told: it ends the exec).
async fn pump(
    terminal: &Terminal,
    mut agent: futures_util::stream::SplitStream<
        tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    >,
    keep: Duration,
) {
    // When to look whether it is still alone: KEEP after its last page left.
    let mut deadline: Option<tokio::time::Instant> = None;
    let end = loop {
        tokio::select! {
            frame = agents::next_frame(&mut agent) => match frame {
                Some(Ok(AgentFrame::Output { data, .. })) => terminal.output(&data),
                Some(Ok(end)) => break Some(end),
                Some(Err(why)) => break Some(AgentFrame::Error(why)),
                None => break Some(AgentFrame::Error("the lab's host closed the terminal".into())),
            },
            () = terminal.alone.notified() => {
                let since = terminal.state.lock().unwrap().alone_since;
                deadline = since.map(|s| tokio::time::Instant::from_std(s) + keep);
            }
            () = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                if deadline.is_some() =>
            {
                let since = terminal.state.lock().unwrap().alone_since;
                if since.is_some_and(|s| s.elapsed() >= keep) {
                    break None;
                }
                // (A page came, and maybe went again.)
                deadline = since.map(|s| tokio::time::Instant::from_std(s) + keep);
            }
        }
    };
    terminal.input.lock().await.close().await;
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
        let (input, mut shell) = mpsc::channel(16);
        let terminal = Arc::new(Terminal::new(Input::Test(input)));
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
        let terminal = Arc::new(Terminal::new(Input::Test(mpsc::channel(1).0)));
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
