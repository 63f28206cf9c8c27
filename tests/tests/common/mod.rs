//! Helpers shared by the integration tests: locating the `reseau` binary,
//! spawning processes that are always killed, collecting their output
//! lines, waiting with deadlines, unique temporary directories.
//!
//! Every wait here is bounded: a test that would hang fails instead.

// Each test file compiles this module on its own and uses part of it.
#![allow(dead_code)]

pub mod http;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// The longest any single wait for a process or a log line may take.
pub const WAIT: Duration = Duration::from_secs(15);

/// The `reseau` binary: `$RESEAU_BIN`, or `target/<profile>/reseau` next
/// to the directory of this test executable (`target/<profile>/deps/`).
pub fn reseau_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("RESEAU_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "RESEAU_BIN={} is not a file: run `cargo build --release --workspace` first",
            path.display()
        );
        return path;
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable is in target/<profile>/deps/");
    let path = profile_dir.join(format!("reseau{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "the reseau binary is not at {}: run `cargo build --release --workspace` first \
         (or set RESEAU_BIN to its path)",
        path.display()
    );
    path
}

/// A `reseau` command with `args`.
pub fn reseau(args: &[&str]) -> Command {
    let mut command = Command::new(reseau_bin());
    command.args(args);
    // A panic would print its backtrace: tests check there is none.
    command.env("RUST_BACKTRACE", "1");
    command
}

/// `tests/peers/`.
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// `python3 tests/peers/<script> args...`.
pub fn python_peer(script: &str, args: &[&str]) -> Command {
    let mut command = Command::new("python3");
    command.arg(peers_dir().join(script)).args(args);
    command.env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// A directory of its own for one test, removed when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// `$TMPDIR/reseau-tests-<pid>-<name>`, empty.
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("reseau-tests-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the test's temporary directory");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A subdirectory, created.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let path = self.path.join(name);
        std::fs::create_dir_all(&path).expect("create a subdirectory");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// What a process wrote on one of its pipes, collected by a thread: the
/// exact bytes, and the lines (decoded lossily, without their `\n` or
/// `\r\n`; an unfinished last line counts as a line once the pipe closes).
#[derive(Default)]
pub struct Lines {
    state: Mutex<LinesState>,
    changed: Condvar,
}

#[derive(Default)]
struct LinesState {
    lines: Vec<String>,
    raw: Vec<u8>,
    /// Where the unfinished line starts in `raw`.
    line_start: usize,
    closed: bool,
}

impl LinesState {
    fn push_line(&mut self, end: usize) {
        let text = String::from_utf8_lossy(&self.raw[self.line_start..end]);
        let text = text.trim_end_matches(['\n', '\r']).to_string();
        self.lines.push(text);
        self.line_start = end;
    }
}

impl Lines {
    /// Starts a thread that reads `pipe` to its end.
    fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Lines> {
        let lines = Arc::new(Lines::default());
        let sink = lines.clone();
        thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let mut state = sink.lock();
                let old = state.raw.len();
                state.raw.extend_from_slice(&buf[..n]);
                let mut at = old;
                while let Some(i) = state.raw[at..].iter().position(|&b| b == b'\n') {
                    at += i + 1;
                    state.push_line(at);
                }
                drop(state);
                sink.changed.notify_all();
            }
            let mut state = sink.lock();
            let end = state.raw.len();
            if state.line_start < end {
                state.push_line(end);
            }
            state.closed = true;
            drop(state);
            sink.changed.notify_all();
        });
        lines
    }

    fn lock(&self) -> MutexGuard<'_, LinesState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// All lines so far.
    pub fn all(&self) -> Vec<String> {
        self.lock().lines.clone()
    }

    /// How many lines so far.
    pub fn count(&self) -> usize {
        self.lock().lines.len()
    }

    /// Every byte so far, the unfinished line included.
    pub fn raw(&self) -> Vec<u8> {
        self.lock().raw.clone()
    }

    /// Waits until the bytes so far satisfy `pred` (true), or until
    /// `timeout` or the end of the pipe without that (false).
    pub fn wait_raw(&self, timeout: Duration, pred: impl Fn(&[u8]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if pred(&state.raw) {
                return true;
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The first line at index `from` or later that satisfies `pred`, with
    /// its index; waits for it until `timeout` or the end of the pipe.
    pub fn wait_for(
        &self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<(usize, String)> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        let mut checked = from;
        loop {
            while checked < state.lines.len() {
                if pred(&state.lines[checked]) {
                    return Some((checked, state.lines[checked].clone()));
                }
                checked += 1;
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until the pipe is closed (the process and its children exited).
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while !state.closed {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// A running child process, killed (by its PID) and reaped when dropped.
pub struct Proc {
    child: Child,
    what: String,
    pub stdout: Arc<Lines>,
    pub stderr: Arc<Lines>,
    /// For [`Proc::interactive`]: what to write on its stdin, in order.
    input: Option<Sender<Vec<u8>>>,
}

impl Proc {
    /// Spawns `command` with stdout and stderr piped and collected.
    /// With `stdin`, those bytes are written (from a thread) and stdin closed;
    /// without, stdin is `/dev/null`.
    pub fn spawn(command: Command, stdin: Option<Vec<u8>>) -> Proc {
        let piped = stdin.is_some();
        let mut proc = Self::spawn_with(command, piped);
        if let Some(bytes) = stdin {
            proc.write_stdin(bytes);
            proc.close_stdin();
        }
        proc
    }

    /// Spawns `command` with its stdin kept open: [`Proc::send_line`] and
    /// [`Proc::write_stdin`] write to it (from a thread, in order, so the
    /// test never blocks on a full pipe), [`Proc::close_stdin`] ends it.
    pub fn interactive(command: Command) -> Proc {
        Self::spawn_with(command, true)
    }

    fn spawn_with(mut command: Command, piped_stdin: bool) -> Proc {
        let what = format!("{command:?}");
        command
            .stdin(if piped_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let input = child.stdin.take().map(|mut pipe| {
            let (tx, rx) = mpsc::channel::<Vec<u8>>();
            thread::spawn(move || {
                for bytes in rx {
                    // The child may exit without reading it all: stop there.
                    if pipe.write_all(&bytes).and_then(|()| pipe.flush()).is_err() {
                        break;
                    }
                }
                // Dropping the pipe closes the child's stdin.
            });
            tx
        });
        let stdout = Lines::collect(child.stdout.take().expect("piped stdout"));
        let stderr = Lines::collect(child.stderr.take().expect("piped stderr"));
        Proc {
            child,
            what,
            stdout,
            stderr,
            input,
        }
    }

    /// Writes `bytes` on its stdin (queued; never blocks).
    pub fn write_stdin(&mut self, bytes: Vec<u8>) {
        let input = self
            .input
            .as_ref()
            .unwrap_or_else(|| panic!("{}: stdin is not open", self.what));
        // The writer thread stops if the child closed its stdin.
        let _ = input.send(bytes);
    }

    /// Writes `line` and a newline on its stdin.
    pub fn send_line(&mut self, line: &str) {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.write_stdin(bytes);
    }

    /// Closes its stdin once what was queued is written.
    pub fn close_stdin(&mut self) {
        self.input = None;
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Has it exited? (Does not wait.)
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits until it exits, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for it to exit and for its pipes to close; panics (after
    /// killing it) past `timeout`.
    pub fn finish(mut self, timeout: Duration) -> Output {
        let Some(status) = self.wait_exit(timeout) else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!(
                "{} did not exit within {timeout:?}; stdout: {:?}; stderr: {:?}",
                self.what,
                self.stdout.all(),
                self.stderr.all()
            );
        };
        assert!(
            self.stdout.wait_closed(WAIT) && self.stderr.wait_closed(WAIT),
            "{}: its pipes stayed open after it exited",
            self.what
        );
        Output {
            status,
            stdout: self.stdout.all(),
            stdout_raw: self.stdout.raw(),
            stderr: self.stderr.all(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.input = None;
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// What a process that ran to its end printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    /// The exact bytes of stdout.
    pub stdout_raw: Vec<u8>,
    pub stderr: Vec<String>,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `command` to its end (at most [`WAIT`]).
pub fn run(command: Command) -> Output {
    Proc::spawn(command, None).finish(WAIT)
}

/// Runs `command` with `stdin` to its end (at most [`WAIT`]).
pub fn run_with_stdin(command: Command, stdin: Vec<u8>) -> Output {
    Proc::spawn(command, Some(stdin)).finish(WAIT)
}

/// A `reseau <service> serve` process and the address it listens on.
pub struct Server {
    pub proc: Proc,
    pub addr: SocketAddr,
    /// The service's name, which starts its log lines (`adder`, `echo`).
    name: String,
}

impl Server {
    /// `reseau adder serve --bind 127.0.0.1:0 <args>`.
    pub fn start(args: &[&str]) -> Server {
        Self::start_on("127.0.0.1:0", args, None)
    }

    /// `reseau adder serve --bind <bind> <args>`, in directory `cwd` if given.
    pub fn start_on(bind: &str, args: &[&str], cwd: Option<&Path>) -> Server {
        Self::start_cmd(&["adder", "serve"], bind, args, cwd)
    }

    /// `reseau <cmd...> --bind <bind> <args>` (`cmd` as `["echo", "serve"]`),
    /// in directory `cwd` if given; waits for its `<cmd[0]>: listening on`
    /// line and reads the address there.
    pub fn start_cmd(cmd: &[&str], bind: &str, args: &[&str], cwd: Option<&Path>) -> Server {
        let mut all = cmd.to_vec();
        all.extend_from_slice(&["--bind", bind]);
        all.extend_from_slice(args);
        Self::start_args(&all, cwd)
    }

    /// `reseau <args...>` exactly as given (no `--bind` added), in
    /// directory `cwd` if given; waits for its `<args[0]>: listening on`
    /// line and reads the address there.
    pub fn start_args(args: &[&str], cwd: Option<&Path>) -> Server {
        let name = args.first().expect("a service name").to_string();
        let mut command = reseau(args);
        if let Some(dir) = cwd {
            command.current_dir(dir);
        }
        let proc = Proc::spawn(command, None);
        let prefix = format!("{name}: listening on ");
        let Some((_, line)) = proc.stderr.wait_for(0, WAIT, |l| l.starts_with(&prefix)) else {
            panic!(
                "the server did not say `{prefix}...`; its stderr: {:?}",
                proc.stderr.all()
            );
        };
        let addr: SocketAddr = line[prefix.len()..]
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"));
        assert_ne!(addr.port(), 0, "the server must print its real port");
        Server { proc, addr, name }
    }

    /// `--to` / `--bind` spelling of the address.
    pub fn addr_arg(&self) -> String {
        self.addr.to_string()
    }

    /// All log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.proc.stderr.all()
    }

    /// Log lines written so far.
    pub fn log_len(&self) -> usize {
        self.proc.stderr.count()
    }

    /// The first log line from index `from` that contains every one of
    /// `needles`; panics if none comes within [`WAIT`].
    pub fn wait_log(&self, from: usize, needles: &[&str]) -> (usize, String) {
        self.proc
            .stderr
            .wait_for(from, WAIT, |line| needles.iter().all(|n| line.contains(n)))
            .unwrap_or_else(|| {
                panic!(
                    "no log line with {needles:?} (from line {from}); the log: {:#?}",
                    self.log()
                )
            })
    }

    /// Fails if the server has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.proc.try_status() {
            panic!("the server exited ({status}); its log: {:#?}", self.log());
        }
    }

    /// The log line of the connection from local address `client`, once
    /// the server closed it.
    pub fn wait_conn_log(&self, client: SocketAddr) -> String {
        let needle = format!("{}: {client}: ", self.name);
        self.wait_log(0, &[&needle]).1
    }
}

/// The course's Python client: `adder_client.py --host H --port P <args>`.
pub fn course_client(addr: SocketAddr, args: &[&str]) -> Output {
    let host = addr.ip().to_string();
    let port = addr.port().to_string();
    let mut all = vec!["--host", &host, "--port", &port];
    all.extend_from_slice(args);
    run(python_peer("adder_client.py", &all))
}

/// Asserts the course client printed exactly `sums`, one a line, and exited 0.
pub fn assert_sums(out: &Output, sums: &[&str]) {
    assert_eq!(
        (out.code(), out.stdout.as_slice()),
        (
            Some(0),
            sums.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .as_slice()
        ),
        "course client: {out:?}"
    );
}

/// Asserts the course client saw the connection closed without a reply.
pub fn assert_closed(out: &Output) {
    assert_eq!(
        (out.code(), out.stdout.as_slice()),
        (Some(3), ["closed".to_string()].as_slice()),
        "course client should see the connection closed: {out:?}"
    );
}

/// The course's Python server, and its address.
pub struct PythonServer {
    pub proc: Proc,
    pub addr: SocketAddr,
}

impl PythonServer {
    /// `adder_server.py --host 127.0.0.1 --port 0`.
    pub fn start() -> PythonServer {
        let proc = Proc::spawn(
            python_peer("adder_server.py", &["--host", "127.0.0.1", "--port", "0"]),
            None,
        );
        let prefix = "listening on ";
        let Some((_, line)) = proc.stdout.wait_for(0, WAIT, |l| l.starts_with(prefix)) else {
            panic!(
                "the Python server did not say `{prefix}...`; stderr: {:?}",
                proc.stderr.all()
            );
        };
        let addr: SocketAddr = line[prefix.len()..]
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"));
        PythonServer { proc, addr }
    }
}

/// Sends `SIG<signal>` (`"TERM"`, `"KILL"`, ...) to process `pid` with
/// `kill(1)`; only for processes the test started.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// A port on 127.0.0.1 where nothing listens (it did a moment ago).
pub fn unused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// Connects with read and write timeouts of [`WAIT`].
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect to the server");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    stream.set_write_timeout(Some(WAIT)).expect("write timeout");
    stream
}

/// Reads until the peer closes; returns the bytes read, or the error
/// (a timeout is an error). A reset counts as closed.
pub fn read_to_close(stream: &mut TcpStream, timeout: Duration) -> Result<Vec<u8>, String> {
    stream
        .set_read_timeout(Some(timeout))
        .expect("read timeout");
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(got),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "still open after {timeout:?} (after {} bytes)",
                    got.len()
                ));
            }
            Err(e) => return Err(format!("{e} (after {} bytes)", got.len())),
        }
        if Instant::now() >= deadline {
            return Err(format!("still open after {timeout:?}"));
        }
    }
}

/// Reads exactly `n` bytes, all within `timeout`.
pub fn read_exactly(
    stream: &mut TcpStream,
    n: usize,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + timeout;
    let mut got = vec![0u8; n];
    let mut have = 0;
    while have < n {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("only {have} of {n} bytes within {timeout:?}"));
        }
        stream.set_read_timeout(Some(left)).expect("read timeout");
        match stream.read(&mut got[have..]) {
            Ok(0) => return Err(format!("closed after {have} of {n} bytes")),
            Ok(k) => have += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("only {have} of {n} bytes within {timeout:?}"));
            }
            Err(e) => return Err(format!("{e} after {have} of {n} bytes")),
        }
    }
    Ok(got)
}

/// `pickle.dumps(ints, protocol=2)` for small non-negative ints, as
/// CPython writes it for lists of 2 to 1000 of them.
pub fn pickle_p2(ints: &[u16]) -> Vec<u8> {
    let mut payload = b"\x80\x02]q\x00(".to_vec();
    for &value in ints {
        if let Ok(small) = u8::try_from(value) {
            payload.extend_from_slice(&[b'K', small]);
        } else {
            payload.push(b'M');
            payload.extend_from_slice(&value.to_le_bytes());
        }
    }
    payload.extend_from_slice(b"e.");
    payload
}

/// A frame: the 4-byte little-endian length, then `payload`.
pub fn framed(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("payload under 4 GiB");
    let mut bytes = len.to_le_bytes().to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

/// Is OpenBSD netcat (`nc`, package netcat-openbsd) there? When it is
/// not, the netcat tests are skipped with a note, except in CI (`CI=true`),
/// where its absence fails the test: the test command installs it.
pub fn netcat_available(test: &str) -> bool {
    let help = Command::new("nc")
        .arg("-h")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output();
    let found = match &help {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            text.contains("OpenBSD netcat")
        }
        Err(_) => false,
    };
    if found {
        return true;
    }
    let why = match help {
        Ok(_) => "`nc` is not OpenBSD netcat",
        Err(_) => "`nc` is not installed",
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {why} (CI must run the netcat tests: apt-get install netcat-openbsd)");
    }
    // Straight to stderr, not through `eprintln!`, which the test harness
    // captures and hides for a test that passes.
    let _ = writeln!(
        std::io::stderr(),
        "note: {test} skipped: {why} (apt-get install netcat-openbsd to run it)"
    );
    false
}

/// `nc <args>`.
pub fn netcat(args: &[&str]) -> Command {
    let mut command = Command::new("nc");
    command.args(args);
    command
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn unused_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind UDP port 0");
    socket.local_addr().expect("local addr").port()
}

/// Waits until a UDP socket is bound to 127.0.0.1:`port` (Linux:
/// `/proc/net/udp`); false after `timeout`.
pub fn wait_udp_bound(port: u16, timeout: Duration) -> bool {
    let needle = format!("0100007F:{port:04X} ");
    let deadline = Instant::now() + timeout;
    loop {
        let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
        if table.contains(&needle) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}
