//! The `reseau` command line: one function per command (`run` only
//! dispatches), and one error type, [`CliError`], whose `exit_code()`
//! follows the table of [`reseau_host::exit`].

use std::fmt;
use std::io::{self, Read as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use reseau_core::adder::{AdderConfig, Format};
use reseau_core::frame::DEFAULT_MAX_FRAME;
use reseau_host::adder::{self, AdderCounts, AdderService, SumError};
use reseau_host::bench::{self, Workload};
use reseau_host::chat::{self, Chat};
use reseau_host::echo::{self, EchoCounts, EchoError, EchoService};
use reseau_host::exit;
use reseau_host::explain;
use reseau_host::metrics::{Count, Counted, EventOf, Registry};
use reseau_host::net::{self, Limits, Server};
use reseau_host::nic::{self, NicError};
use reseau_host::resolve::{self, LookupError};
use reseau_host::tls::cert::{self, CertError, CertRequest};
use reseau_host::tls::client::{CaError, TlsClient};
use reseau_host::tls::server::{ServerTls, TlsError, TlsFiles};
use reseau_host::trace::{Trace, Traced};
use reseau_host::web::{
    self,
    config::{ConfigError, HttpLimits, Settings},
    log::SiteLog,
    serve::WebServer,
};

/// The programs of a network-programming course, in Rust.
#[derive(Parser)]
#[command(name = "reseau", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole course at once: the web site, the echo server and the
    /// adder server, each on its default port; Ctrl-C (or SIGTERM) stops
    /// them all gracefully: new connections are refused, requests already
    /// received are answered, then the process exits (10 s at most; a
    /// second Ctrl-C stops at once).
    Serve(ServeArgs),
    /// The course's web site (its CherryPy application): pages, a form,
    /// static files, JSON routes and a REST API over SQLite, on
    /// http://127.0.0.1:8080/ by default.
    Web(WebArgs),
    /// The integer adder: a client sends ints, the server answers their sum.
    #[command(subcommand)]
    Adder(AdderCommand),
    /// Echo (TCP): the server sends back every byte it receives.
    #[command(subcommand)]
    Echo(EchoCommand),
    /// The UDP chat: commands from stdin, messages printed as they arrive.
    Chat(ChatArgs),
    /// The course's four host-name look-ups, for a name or an address.
    Resolve(ResolveArgs),
    /// Load generators that measure a server.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The adder (TCP 6001), echo (TCP 6000) and the chat (UDP 5000) on
    /// smoltcp's TCP/IP stack over a Linux TAP device.
    Nic(NicArgs),
    /// Writes a self-signed certificate and its key, for development:
    /// servers take them with `--tls-cert` and `--tls-key`, clients trust
    /// the certificate with `--tls --ca`.
    Cert(CertArgs),
    /// Shows an adder message byte by byte (like Python's
    /// `pickletools.dis`, for the whole frame): each field's offset, bytes
    /// and meaning, then what the server does with it.
    Explain(ExplainArgs),
}

#[derive(Args)]
struct ExplainArgs {
    /// The bytes, as hex (`0c000000 8002...`) or as Python prints them
    /// (`b'\x80\x03K\x0c.'`); without them, --file or stdin is read.
    #[arg(conflicts_with = "file")]
    bytes: Vec<String>,
    /// Read the bytes from this file.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// The input is the server's replies, not requests.
    #[arg(long, conflicts_with = "payload")]
    reply: bool,
    /// The input is a payload alone (`pickle.dumps(...)`), without its
    /// 4-byte length; by default its first bytes tell.
    #[arg(long)]
    payload: bool,
    /// The input is request frames, even if it looks like a payload.
    #[arg(long, conflicts_with_all = ["payload", "reply"])]
    frame: bool,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Counts of each field instead of the rows (for long messages: read
    /// as a stream, in constant memory).
    #[arg(long)]
    summary: bool,
}

/// `--tls-cert` and `--tls-key`: TLS on a server (both or neither).
#[derive(Args)]
struct TlsArgs {
    /// Serve TLS with this certificate (PEM; intermediates after it).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl TlsArgs {
    fn files(&self) -> Option<TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                chain: None,
            }),
            _ => None,
        }
    }
}

#[derive(Args)]
struct CertArgs {
    /// A name or address the certificate is for (repeat for more); IP
    /// addresses become IP SANs.
    #[arg(long = "host", value_name = "HOST", default_value = "localhost")]
    hosts: Vec<String>,
    /// The folder to write cert.pem and key.pem in.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["cert", "key"])]
    out: Option<PathBuf>,
    /// The certificate's file (default: cert.pem).
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The key's file, written mode 0600 (default: key.pem).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Days the certificate is valid from now.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36500))]
    days: u32,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    web: WebArgs,
    /// The echo server's address.
    #[arg(long, default_value = echo::DEFAULT_ADDR)]
    echo: String,
    /// The adder server's address.
    #[arg(long, default_value = adder::DEFAULT_ADDR)]
    adder: String,
}

#[derive(Args)]
struct ChatArgs {
    /// Address to receive on (IPv6: `[::1]:5000`).
    #[arg(long, default_value = chat::DEFAULT_ADDR)]
    bind: String,
    /// Print each datagram sent and received on stderr, with its time and
    /// peer.
    #[arg(long)]
    trace: bool,
}

#[derive(Args)]
struct ResolveArgs {
    /// A host name (`localhost`) or an address (`127.0.0.1`, `::1`).
    name: String,
}

#[derive(Args)]
struct NicArgs {
    /// The TAP device (e.g. made by `ip tuntap add dev tap0 mode tap`).
    #[arg(long)]
    tap: String,
    /// This stack's address and prefix, e.g. `192.168.69.2/24`.
    #[arg(long)]
    address: String,
    /// The default gateway, e.g. `192.168.69.1`.
    #[arg(long)]
    gateway: Option<String>,
}

#[derive(Subcommand)]
enum AdderCommand {
    /// Serves the adder to many clients at once.
    Serve(AdderServeArgs),
    /// Sends ints to an adder server and prints their sum.
    Sum(SumArgs),
}

#[derive(Args)]
struct AdderServeArgs {
    /// Address to listen on (IPv6: `[::1]:6001`).
    #[arg(long, default_value = adder::DEFAULT_ADDR)]
    bind: String,
    /// Largest request payload, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_FRAME)]
    max_frame: u32,
    /// Answer several pickle requests per connection. Without it, as in
    /// the course, a pickle request is its connection's last: the server
    /// replies and closes first. Native requests always share a
    /// connection.
    #[arg(long)]
    keep_alive: bool,
    /// Print each message on stderr as it passes: time, peer, direction,
    /// and each field's bytes and meaning (as `reseau explain` shows them).
    #[arg(long)]
    trace: bool,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
}

#[derive(Args)]
struct MetricsArgs {
    /// Also serve `GET /metrics` (Prometheus text format) and `GET
    /// /healthz` over HTTP on this address, e.g. `127.0.0.1:9101`.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
}

#[derive(Args)]
struct SumArgs {
    /// The server.
    #[arg(long, default_value = adder::DEFAULT_ADDR)]
    to: String,
    /// `pickle` is the course's format (sums from 0 to 2^32-1);
    /// `native` carries 64-bit sums and error replies.
    #[arg(long, value_enum, default_value_t = Encoding::Pickle)]
    encoding: Encoding,
    #[command(flatten)]
    tls: ClientTlsArgs,
    /// Print the request and the reply on stderr, field by field.
    #[arg(long)]
    trace: bool,
    /// The ints; with none, whitespace-separated ints are read from stdin.
    #[arg(allow_negative_numbers = true)]
    ints: Vec<String>,
}

/// How a client speaks TLS: `--ca` implies `--tls` (a CA to trust means
/// a TLS server to check; forgetting `--tls` must not send in clear).
#[derive(Args)]
struct ClientTlsArgs {
    /// Connect over TLS (1.2 or 1.3), checking the server's certificate
    /// against the system's trust roots (or --ca) and the host of --to.
    #[arg(long)]
    tls: bool,
    /// A PEM file of the CA certificates to trust (one or more), instead of
    /// the system's roots; implies --tls.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
}

impl ClientTlsArgs {
    /// The TLS settings asked for, if any.
    fn client(&self) -> Result<Option<TlsClient>, CliError> {
        if !self.tls && self.ca.is_none() {
            return Ok(None);
        }
        TlsClient::new(self.ca.as_deref())
            .map(Some)
            .map_err(CliError::Ca)
    }
}

#[derive(Subcommand)]
enum EchoCommand {
    /// Serves echo to many clients at once; prints each message.
    Serve(EchoServeArgs),
    /// Sends a message, then prints what comes back.
    Send(SendArgs),
}

#[derive(Args)]
struct EchoServeArgs {
    /// Address to listen on (IPv6: `[::1]:6000`).
    #[arg(long, default_value = echo::DEFAULT_ADDR)]
    bind: String,
    /// Print each piece of a message on stderr as it passes (time, peer,
    /// direction, the bytes as escaped text).
    #[arg(long)]
    trace: bool,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
}

#[derive(Args)]
struct SendArgs {
    /// The server.
    #[arg(long, default_value = echo::DEFAULT_ADDR)]
    to: String,
    #[command(flatten)]
    tls: ClientTlsArgs,
    /// Print what is sent and received on stderr, with time and direction.
    #[arg(long)]
    trace: bool,
    /// The message; without it, stdin is sent.
    message: Option<String>,
}

/// The most event loops `--threads` and `reseau.threads` accept.
const MAX_THREADS: u16 = 1024;

#[derive(Args)]
struct WebArgs {
    /// A config file in CherryPy's format (see web/server.conf).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on, over the config's server.socket_host and
    /// server.socket_port (IPv6: `[::1]:8080`).
    #[arg(long)]
    bind: Option<String>,
    /// The database, over the config's reseau.db: a SQLite file path, or a
    /// PostgreSQL URL (postgresql://USER:PASSWORD@HOST:PORT/DB).
    #[arg(long)]
    db: Option<String>,
    /// Event loops that share the connections, 0 to 1024 (0: one per
    /// available core), over the config's reseau.threads. Under `serve`,
    /// the echo and adder servers' too.
    #[arg(long, value_parser = clap::value_parser!(u16).range(0..=i64::from(MAX_THREADS)))]
    threads: Option<u16>,
    /// TLS, over the config's server.ssl_* keys; under `serve`, for the
    /// echo and adder servers too.
    #[command(flatten)]
    tls: TlsArgs,
}

impl WebArgs {
    /// The config file's settings with the flags over them.
    fn settings(&self) -> Result<Settings, CliError> {
        let mut settings = Settings::load(self.config.as_deref()).map_err(CliError::Config)?;
        if let Some(bind) = &self.bind {
            settings.set_address(bind).map_err(CliError::Usage)?;
        }
        if let Some(db) = &self.db {
            settings.db = reseau_host::web::db::Location::parse(db);
        }
        if let Some(threads) = self.threads {
            settings.limits.threads = threads.into();
        }
        if let Some(files) = self.tls.files() {
            settings.ssl.certificate = Some(files.cert);
            settings.ssl.private_key = Some(files.key);
            settings.ssl.chain = None;
        }
        settings.limits.max_connections = fit_connections(settings.limits.max_connections);
        Ok(settings)
    }
}

#[derive(Args)]
struct LimitArgs {
    /// Connections served at once; more are closed as they arrive.
    #[arg(long, default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// Seconds a connection may stay silent before it is closed.
    #[arg(long, default_value_t = Limits::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// Event loops that share the connections, 0 to 1024 (0: one per
    /// available core).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=i64::from(MAX_THREADS)))]
    threads: u16,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections,
            idle_timeout: Duration::from_secs(self.idle_timeout),
            request_timeout: None,
            threads: self.threads.into(),
        }
    }
}

#[derive(Args)]
struct LoadArgs {
    /// Clients at once.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// A new connection per request, as the course's client does (with
    /// --tls, a full handshake each: new TLS connections per second).
    #[arg(long)]
    connect_per_request: bool,
    /// How each connection is closed with --connect-per-request: fin, as
    /// the course's client does (`close()` once it has read the reply), or
    /// reset (SO_LINGER 0, no TIME_WAIT).
    #[arg(long, value_enum, default_value_t = CloseArg::Fin)]
    close: CloseArg,
    /// Adder requests each persistent connection sends before it reads
    /// their replies (1 to 16): pipelining costs the generator less per
    /// request, to load a server on several cores.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    #[command(flatten)]
    tls: ClientTlsArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum CloseArg {
    Fin,
    Reset,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Measures an adder server: requests/s and latency.
    Adder(BenchAdderArgs),
    /// Measures an echo server: round trips/s, latency and MB/s.
    Echo(BenchEchoArgs),
}

#[derive(Args)]
struct BenchAdderArgs {
    /// The server.
    #[arg(long, default_value = adder::DEFAULT_ADDR)]
    to: String,
    #[command(flatten)]
    load: LoadArgs,
    /// Ints per request.
    #[arg(long, default_value_t = 10)]
    ints: u32,
    /// Payload format.
    #[arg(long, value_enum, default_value_t = Encoding::Pickle)]
    encoding: Encoding,
}

#[derive(Args)]
struct BenchEchoArgs {
    /// The server.
    #[arg(long, default_value = echo::DEFAULT_ADDR)]
    to: String,
    #[command(flatten)]
    load: LoadArgs,
    /// Bytes per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Encoding {
    Pickle,
    Native,
}

impl From<Encoding> for Format {
    fn from(encoding: Encoding) -> Format {
        match encoding {
            Encoding::Pickle => Format::Pickle,
            Encoding::Native => Format::Native,
        }
    }
}

/// Why a command failed: a command's own error, or a failure of the
/// start-up and run that the servers share. One line on stderr, and
/// [`CliError::exit_code`], from the table of [`reseau_host::exit`].
#[derive(Debug)]
enum CliError {
    /// `adder sum`.
    Sum(SumError),
    /// `echo send`.
    Echo(EchoError),
    /// `--ca`: the CA file (or the system's roots) cannot be used.
    Ca(CaError),
    /// `resolve`.
    Lookup(LookupError),
    /// `nic`.
    Nic(NicError),
    /// `web`, `serve`: the config file.
    Config(ConfigError),
    /// `web`, `serve`: the site's database, static folder, logs or address.
    Site(web::StartError),
    /// A server's certificate or key.
    Tls(TlsError),
    /// `cert`.
    Cert(CertError),
    /// A flag's value that clap cannot check (`--bind`, `--duration`).
    Usage(String),
    /// A server's address cannot be bound.
    Listen { addr: String, error: io::Error },
    /// The chat's address cannot be bound.
    ChatBind { addr: String, error: io::Error },
    /// SIGINT and SIGTERM cannot be handled.
    Signals(io::Error),
    /// A server's event loop or the chat stopped on an error.
    Run(io::Error),
    /// One of `serve`'s server threads panicked.
    ServerThread,
    /// The load generator could not start.
    Bench(io::Error),
    /// Requests failed under load.
    RequestsFailed(u64),
    /// `explain`: the server refuses requests of the input.
    Refused(u64),
}

impl CliError {
    /// The process exit code: [`reseau_host::exit`] lists them all.
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Sum(error) => error.exit_code(),
            CliError::Echo(error) => error.exit_code(),
            CliError::Lookup(error) => error.exit_code(),
            CliError::Nic(error) => error.exit_code(),
            CliError::Config(error) => error.exit_code(),
            CliError::Site(error) => error.exit_code(),
            CliError::Tls(error) => error.exit_code(),
            CliError::Cert(error) => error.exit_code(),
            CliError::Usage(_)
            | CliError::Ca(_)
            | CliError::Listen { .. }
            | CliError::ChatBind { .. }
            | CliError::Signals(_)
            | CliError::Bench(_) => exit::SETUP,
            CliError::Run(_)
            | CliError::ServerThread
            | CliError::RequestsFailed(_)
            | CliError::Refused(_) => exit::FAILED,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Sum(error) => error.fmt(f),
            CliError::Echo(error) => error.fmt(f),
            CliError::Ca(error) => error.fmt(f),
            CliError::Lookup(error) => error.fmt(f),
            CliError::Nic(error) => error.fmt(f),
            CliError::Config(error) => error.fmt(f),
            CliError::Site(error) => error.fmt(f),
            CliError::Tls(error) => error.fmt(f),
            CliError::Cert(error) => error.fmt(f),
            CliError::Usage(message) => f.write_str(message),
            CliError::Listen { addr, error } => write!(f, "cannot listen on {addr}: {error}"),
            CliError::ChatBind { addr, error } => write!(f, "cannot bind {addr}: {error}"),
            CliError::Signals(error) => write!(f, "cannot handle signals: {error}"),
            CliError::Run(error) | CliError::Bench(error) => error.fmt(f),
            CliError::ServerThread => f.write_str("a server thread failed"),
            CliError::RequestsFailed(count) => write!(f, "{count} requests failed"),
            CliError::Refused(count) => {
                let plural = if *count == 1 { " is" } else { "s are" };
                write!(
                    f,
                    "{count} request{plural} refused (the verdicts above say why)"
                )
            }
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("reseau: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Runs the command: one function each.
fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve(&args),
        Command::Web(args) => web(&args),
        Command::Adder(AdderCommand::Serve(args)) => adder_serve(&args),
        Command::Adder(AdderCommand::Sum(args)) => adder_sum(&args),
        Command::Echo(EchoCommand::Serve(args)) => echo_serve(&args),
        Command::Echo(EchoCommand::Send(args)) => echo_send(&args),
        Command::Chat(args) => chat(&args),
        Command::Resolve(args) => resolve(&args),
        Command::Bench(BenchCommand::Adder(args)) => bench_adder(args),
        Command::Bench(BenchCommand::Echo(args)) => bench_echo(args),
        Command::Nic(args) => nic(args),
        Command::Cert(args) => write_cert(&args),
        Command::Explain(args) => explain_bytes(&args),
    }
}

/// `reseau web`.
fn web(args: &WebArgs) -> Result<(), CliError> {
    let mut server = web::bind(&args.settings()?).map_err(CliError::Site)?;
    server.stop_on_signals().map_err(CliError::Signals)?;
    server.announce();
    server.run().map_err(CliError::Run)
}

/// `reseau adder serve`.
fn adder_serve(args: &AdderServeArgs) -> Result<(), CliError> {
    let service = Traced {
        service: AdderService {
            config: AdderConfig {
                max_frame: args.max_frame,
                keep_alive: args.keep_alive,
            },
        },
        trace: args.trace.then(Trace::stderr),
    };
    let registry = Arc::new(Registry::default());
    let server = listen_counted::<_, AdderCounts>(
        &args.bind,
        service,
        args.limits.limits(),
        args.tls.files().as_ref(),
        &registry,
    )?;
    run_with_metrics(server, &args.metrics, registry)
}

/// `reseau explain`: the rows and verdicts on stdout; exit 1 when a
/// request is refused (as `adder sum` exits when the server refuses).
fn explain_bytes(args: &ExplainArgs) -> Result<(), CliError> {
    let style = match (args.json, args.summary) {
        (false, false) => explain::Style::Table,
        (true, false) => explain::Style::Json,
        (false, true) => explain::Style::Summary,
        (true, true) => explain::Style::JsonSummary,
    };
    let mut input: Box<dyn io::Read> = if !args.bytes.is_empty() {
        let bytes = explain::parse_bytes(&args.bytes.join(" "))
            .map_err(|error| CliError::Usage(format!("explain: {error}")))?;
        Box::new(io::Cursor::new(bytes))
    } else if let Some(path) = &args.file {
        let file = std::fs::File::open(path).map_err(|error| {
            CliError::Usage(format!("explain: cannot read {}: {error}", path.display()))
        })?;
        Box::new(io::BufReader::with_capacity(64 * 1024, file))
    } else {
        Box::new(io::stdin().lock())
    };
    // The first bytes tell a frame from a bare payload, unless told.
    let mut start = Vec::new();
    (&mut input)
        .take(16)
        .read_to_end(&mut start)
        .map_err(CliError::Run)?;
    let side = if args.reply {
        explain::Side::Reply
    } else if args.payload {
        explain::Side::Payload
    } else if args.frame {
        explain::Side::Request
    } else {
        explain::guess_side(&start)
    };
    if side == explain::Side::Payload && !args.payload {
        eprintln!(
            "explain: no 4-byte length first: read as a bare payload (--frame reads it as a frame)"
        );
    }
    let mut whole = io::Cursor::new(start).chain(input);
    let refused = explain::explain(&mut whole, side, style, &mut io::stdout().lock())
        .map_err(CliError::Run)?;
    if refused > 0 {
        return Err(CliError::Refused(refused));
    }
    Ok(())
}

/// `reseau adder sum`: prints the sum.
fn adder_sum(args: &SumArgs) -> Result<(), CliError> {
    let ints = (!args.ints.is_empty()).then_some(&args.ints[..]);
    let tls = args.tls.client()?;
    let trace = args.trace.then(Trace::stderr);
    let sum = adder::sum(
        &args.to,
        args.encoding.into(),
        ints,
        tls.as_ref(),
        trace.as_ref(),
    )
    .map_err(CliError::Sum)?;
    println!("{sum}");
    Ok(())
}

/// `reseau echo serve`.
fn echo_serve(args: &EchoServeArgs) -> Result<(), CliError> {
    let registry = Arc::new(Registry::default());
    let service = Traced {
        service: EchoService,
        trace: args.trace.then(Trace::stderr),
    };
    let server = listen_counted::<_, EchoCounts>(
        &args.bind,
        service,
        args.limits.limits(),
        args.tls.files().as_ref(),
        &registry,
    )?;
    run_with_metrics(server, &args.metrics, registry)
}

/// `reseau echo send`: the echo on stdout; an echo shorter than the
/// message is said on stderr, and is no failure.
fn echo_send(args: &SendArgs) -> Result<(), CliError> {
    let message = args.message.as_deref().map(str::as_bytes);
    let tls = args.tls.client()?;
    let trace = args.trace.then(Trace::stderr);
    let sent = echo::send_to_stdout(&args.to, message, tls.as_ref(), trace.as_ref())
        .map_err(CliError::Echo)?;
    if sent.echoed > 0 && sent.echoed < sent.sent {
        eprintln!(
            "reseau: the server echoed {} of the {} bytes sent",
            sent.echoed, sent.sent
        );
    } else if sent.echoed == 0 && sent.sent > 0 {
        eprintln!("reseau: the server closed without echoing");
    }
    Ok(())
}

/// `reseau cert`: the files written, and how a client trusts them.
fn write_cert(args: &CertArgs) -> Result<(), CliError> {
    let (cert_file, key_file) = match &args.out {
        Some(dir) => (dir.join("cert.pem"), dir.join("key.pem")),
        None => (
            args.cert
                .clone()
                .unwrap_or_else(|| PathBuf::from("cert.pem")),
            args.key.clone().unwrap_or_else(|| PathBuf::from("key.pem")),
        ),
    };
    let request = CertRequest {
        hosts: args.hosts.clone(),
        days: args.days,
        cert: cert_file,
        key: key_file,
        force: args.force,
    };
    cert::write(&request).map_err(CliError::Cert)?;
    println!(
        "reseau: wrote {} (certificate for {}, {} days) and {} (its key, mode 0600)",
        request.cert.display(),
        request.hosts.join(", "),
        request.days,
        request.key.display()
    );
    println!(
        "reseau: serve with --tls-cert {} --tls-key {}; clients trust it with --tls --ca {}",
        request.cert.display(),
        request.key.display(),
        request.cert.display()
    );
    Ok(())
}

/// `reseau chat`.
fn chat(args: &ChatArgs) -> Result<(), CliError> {
    let mut chat = Chat::bind(&args.bind).map_err(|error| CliError::ChatBind {
        addr: args.bind.clone(),
        error,
    })?;
    if args.trace {
        chat = chat.with_trace(Trace::stderr());
    }
    let local = chat.local_addr().map_err(CliError::Run)?;
    eprintln!("chat: listening on {local}; /help lists the commands");
    chat::run(chat).map_err(CliError::Run)
}

/// `reseau resolve`.
fn resolve(args: &ResolveArgs) -> Result<(), CliError> {
    let lookups = resolve::lookup(&args.name).map_err(CliError::Lookup)?;
    println!("{lookups}");
    Ok(())
}

/// `reseau bench adder`.
fn bench_adder(args: BenchAdderArgs) -> Result<(), CliError> {
    let workload = Workload::Adder {
        ints: args.ints,
        format: args.encoding.into(),
    };
    load_test(args.to, &args.load, workload)
}

/// `reseau bench echo`.
fn bench_echo(args: BenchEchoArgs) -> Result<(), CliError> {
    load_test(args.to, &args.load, Workload::Echo { size: args.size })
}

/// `reseau nic`.
fn nic(args: NicArgs) -> Result<(), CliError> {
    let config = nic::NicConfig {
        address: nic::parse_address(&args.address).map_err(CliError::Nic)?,
        gateway: args
            .gateway
            .as_deref()
            .map(nic::parse_gateway)
            .transpose()
            .map_err(CliError::Nic)?,
        tap: args.tap,
    };
    nic::run(&config).map_err(CliError::Nic)
}

/// Runs the load generator and prints its report; requests that failed
/// fail the command.
fn load_test(to: String, load: &LoadArgs, workload: Workload) -> Result<(), CliError> {
    let duration = load.duration;
    if !(duration > 0.0 && duration <= 86_400.0) {
        return Err(CliError::Usage(format!(
            "--duration {duration} must be between 0 and 86400 seconds"
        )));
    }
    let config = bench::Config {
        to,
        clients: load.clients,
        duration: Duration::from_secs_f64(duration),
        connect_per_request: load.connect_per_request,
        close: match load.close {
            CloseArg::Fin => bench::Close::Fin,
            CloseArg::Reset => bench::Close::Reset,
        },
        workload,
        pipeline: load.pipeline,
        tls: load.tls.client()?,
    };
    let report = bench::run(config).map_err(CliError::Bench)?;
    println!("{report}");
    if report.errors > 0 {
        return Err(CliError::RequestsFailed(report.errors));
    }
    Ok(())
}

/// Raises the open-file limit and returns how many connections fit in it
/// (at most `wanted`), saying so when fewer.
fn fit_connections(wanted: usize) -> usize {
    let fds = net::raise_fd_limit();
    // Keep some descriptors for the listener, logs, the event loop and the
    // database.
    let fit = usize::try_from(fds.saturating_sub(32)).unwrap_or(usize::MAX);
    if wanted > fit {
        eprintln!(
            "reseau: the open-file limit is {fds}: serving at most {fit} connections instead of {wanted}"
        );
    }
    wanted.min(fit)
}

/// Binds `service` on `bind`, with TLS if `tls` names files (no ALPN: the
/// adder and echo are no HTTP), stopped by SIGINT and SIGTERM (SIGHUP
/// reloads the certificate), and says where.
fn listen<S: net::Service>(
    bind: &str,
    service: S,
    mut limits: Limits,
    tls: Option<&TlsFiles>,
) -> Result<Server<S>, CliError> {
    let tls = tls
        .map(|files| ServerTls::load(files, &[]))
        .transpose()
        .map_err(CliError::Tls)?;
    limits.max_connections = fit_connections(limits.max_connections);
    let name = service.name();
    let mut server = Server::bind(bind, service, limits).map_err(|error| CliError::Listen {
        addr: bind.to_owned(),
        error,
    })?;
    if let Some(tls) = tls {
        eprintln!("{name}: tls: {}", tls.about());
        server = server.with_tls(tls);
    }
    server.stop_on_signals().map_err(CliError::Signals)?;
    eprintln!("{name}: listening on {}", server.local_addr());
    Ok(server)
}

/// [`listen`], with the service's events and the server's connections
/// counted in `registry`.
fn listen_counted<S: net::Service, C: Count<EventOf<S>>>(
    bind: &str,
    service: S,
    limits: Limits,
    tls: Option<&TlsFiles>,
    registry: &Registry,
) -> Result<Server<Counted<S, C>>, CliError> {
    let name = service.name();
    let counted = Counted::<S, C>::new(service);
    let counts = counted.counts.clone();
    let server = listen(bind, counted, limits, tls)?;
    registry.add_server(name, server.stats());
    registry.add(counts);
    Ok(server)
}

/// Runs `server`; with `--metrics ADDR`, also `/metrics` and `/healthz`
/// on ADDR (the web front end with a handler of two routes), which stops
/// when `server` does.
fn run_with_metrics<S: net::Service>(
    server: Server<S>,
    args: &MetricsArgs,
    registry: Arc<Registry>,
) -> Result<(), CliError> {
    let Some(addr) = &args.metrics else {
        return server.run().map_err(CliError::Run);
    };
    let limits = HttpLimits {
        threads: 1,
        workers: 1,
        ..HttpLimits::default()
    };
    // The metrics port's own counts stay out of the page: it shows the
    // service's.
    let page = WebServer::bind(
        addr,
        web::metrics::handler(registry),
        limits,
        Arc::new(SiteLog::default()),
        Arc::default(),
        None,
    )
    .map_err(|error| CliError::Listen {
        addr: addr.clone(),
        error,
    })?;
    eprintln!("metrics: listening on http://{}/metrics", page.local_addr());
    let stopper = page.stopper();
    let pages = thread::spawn(move || page.run());
    let result = server.run().map_err(CliError::Run);
    stopper.stop();
    match pages.join() {
        Ok(Ok(())) => result,
        Ok(Err(error)) => result.and(Err(CliError::Run(error))),
        Err(_) => result.and(Err(CliError::ServerThread)),
    }
}

/// Runs a server on a thread of its own; says on `done` when it returns.
fn spawn_run(
    done: &std::sync::mpsc::Sender<io::Result<()>>,
    run: impl FnOnce() -> io::Result<()> + Send + 'static,
) -> thread::JoinHandle<()> {
    let done = done.clone();
    thread::spawn(move || {
        let _ = done.send(run());
    })
}

/// `reseau serve`: every server binds first (any failure stops the
/// start), then each runs on its own thread. Each one stops on SIGINT and
/// SIGTERM, so one Ctrl-C stops them all, each draining its connections
/// (see `net`'s "Stopping"); the process exits once the three have
/// drained, [`net::SHUTDOWN_DEADLINE`] after the signal at most. The
/// `--threads` flag sets the loops of all three; without it the site
/// takes its config's `reseau.threads`, echo and the adder one loop per
/// core.
fn serve(args: &ServeArgs) -> Result<(), CliError> {
    let settings = args.web.settings()?;
    let tls = settings
        .ssl
        .files()
        .map_err(|message| CliError::Site(web::StartError::SslKeys(message)))?;
    let mut site = web::bind(&settings).map_err(CliError::Site)?;
    site.stop_on_signals().map_err(CliError::Signals)?;
    let limits = Limits {
        threads: args.web.threads.map_or(0, usize::from),
        ..Limits::default()
    };
    let registry = site.registry().clone();
    let echo =
        listen_counted::<_, EchoCounts>(&args.echo, EchoService, limits, tls.as_ref(), &registry)?;
    let adder = listen_counted::<_, AdderCounts>(
        &args.adder,
        AdderService::default(),
        limits,
        tls.as_ref(),
        &registry,
    )?;
    site.announce();
    eprintln!(
        "reseau: serving the course: {}://{}/, echo on {}, adder on {}{}; Ctrl-C stops",
        if tls.is_some() { "https" } else { "http" },
        site.local_addr(),
        echo.local_addr(),
        adder.local_addr(),
        if tls.is_some() { ", all over TLS" } else { "" }
    );
    // Whichever stops first (a signal stops all three at once; an error
    // only its own) stops the others.
    let stoppers = [site.stopper(), echo.stopper(), adder.stopper()];
    let (done, finished) = std::sync::mpsc::channel();
    let runs = [
        spawn_run(&done, move || site.run()),
        spawn_run(&done, move || echo.run()),
        spawn_run(&done, move || adder.run()),
    ];
    drop(done);
    let mut failure = None;
    for result in finished.iter().take(runs.len()) {
        if let Err(error) = result {
            failure.get_or_insert(CliError::Run(error));
        }
        for stopper in &stoppers {
            stopper.stop();
        }
    }
    for run in runs {
        if run.join().is_err() {
            failure.get_or_insert(CliError::ServerThread);
        }
    }
    failure.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("reseau").chain(args.iter().copied()))
    }

    fn web_args(args: &[&str]) -> WebArgs {
        match parse(args) {
            Ok(Cli {
                command: Command::Web(args),
            }) => args,
            Ok(_) => panic!("not web: {args:?}"),
            Err(error) => panic!("{error}"),
        }
    }

    /// A config file in a temporary folder, removed when dropped.
    struct TempConfig(PathBuf);

    impl TempConfig {
        fn new(name: &str, text: &str) -> TempConfig {
            let folder =
                std::env::temp_dir().join(format!("reseau-main-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&folder).unwrap();
            let file = folder.join("server.conf");
            std::fs::write(&file, text).unwrap();
            TempConfig(folder)
        }

        fn file(&self) -> String {
            self.0.join("server.conf").to_string_lossy().into_owned()
        }
    }

    impl Drop for TempConfig {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn threads_flag_overrides_the_config_key() {
        let config = TempConfig::new("threads", "[global]\nreseau.threads: 3\n");
        let file = config.file();
        let from_file = web_args(&["web", "--config", &file]).settings().unwrap();
        assert_eq!(from_file.limits.threads, 3);
        let flag = web_args(&["web", "--config", &file, "--threads", "5"])
            .settings()
            .unwrap();
        assert_eq!(flag.limits.threads, 5);
        let zero = web_args(&["web", "--config", &file, "--threads", "0"])
            .settings()
            .unwrap();
        assert_eq!(zero.limits.threads, 0);
    }

    #[test]
    fn every_server_takes_threads() {
        for command in [
            &["adder", "serve"][..],
            &["echo", "serve"],
            &["web"],
            &["serve"],
        ] {
            let mut args = command.to_vec();
            args.extend(["--threads", "7"]);
            assert!(parse(&args).is_ok(), "{args:?}");
            args.pop();
            args.push("1025");
            let error = parse(&args).err().unwrap_or_else(|| panic!("{args:?}"));
            assert_eq!(error.exit_code(), i32::from(exit::SETUP), "{args:?}");
        }
        let Ok(Cli {
            command: Command::Echo(EchoCommand::Serve(args)),
        }) = parse(&["echo", "serve", "--threads", "4"])
        else {
            panic!("echo serve")
        };
        assert_eq!(args.limits.limits().threads, 4);
        let Ok(Cli {
            command: Command::Adder(AdderCommand::Serve(args)),
        }) = parse(&["adder", "serve"])
        else {
            panic!("adder serve")
        };
        assert_eq!(args.limits.limits().threads, 0);
    }

    #[test]
    fn tls_cert_and_tls_key_go_together_on_every_server() {
        for command in [
            &["adder", "serve"][..],
            &["echo", "serve"],
            &["web"],
            &["serve"],
        ] {
            let mut args = command.to_vec();
            args.extend(["--tls-cert", "c.pem"]);
            let error = parse(&args).err().unwrap_or_else(|| panic!("{args:?}"));
            assert_eq!(error.exit_code(), i32::from(exit::SETUP), "{args:?}");
            args.extend(["--tls-key", "k.pem"]);
            assert!(parse(&args).is_ok(), "{args:?}");
        }
    }

    #[test]
    fn tls_flags_win_over_the_ssl_keys() {
        let config = TempConfig::new(
            "ssl",
            "[global]\nserver.ssl_certificate: 'a.pem'\nserver.ssl_private_key: 'a.key'\n",
        );
        let file = config.file();
        let settings = web_args(&[
            "web",
            "--config",
            &file,
            "--tls-cert",
            "b.pem",
            "--tls-key",
            "b.key",
        ])
        .settings()
        .unwrap();
        assert_eq!(
            (settings.ssl.certificate, settings.ssl.private_key),
            (Some(PathBuf::from("b.pem")), Some(PathBuf::from("b.key")))
        );
    }

    #[test]
    fn errors_keep_their_codes_and_lines() {
        let refused = io::Error::from(io::ErrorKind::AddrInUse);
        let cases = [
            (
                CliError::Usage("--duration 0 must be between 0 and 86400 seconds".into()),
                2,
                "--duration 0 must be between 0 and 86400 seconds",
            ),
            (
                CliError::Listen {
                    addr: "127.0.0.1:1".into(),
                    error: io::Error::new(refused.kind(), "in use"),
                },
                2,
                "cannot listen on 127.0.0.1:1: in use",
            ),
            (
                CliError::ChatBind {
                    addr: "x:1".into(),
                    error: io::Error::other("no"),
                },
                2,
                "cannot bind x:1: no",
            ),
            (
                CliError::Signals(io::Error::other("no")),
                2,
                "cannot handle signals: no",
            ),
            (CliError::Run(io::Error::other("broke")), 1, "broke"),
            (CliError::ServerThread, 1, "a server thread failed"),
            (CliError::RequestsFailed(3), 1, "3 requests failed"),
            (
                CliError::Sum(SumError::BadReply),
                1,
                "the server's reply is not a valid reply",
            ),
            (
                CliError::Sum(SumError::NotAnInt("\"x\"".into())),
                2,
                "\"\\\"x\\\"\" is not an integer",
            ),
            (
                CliError::Echo(EchoError::Io(io::Error::other("cut"))),
                1,
                "cut",
            ),
            (
                CliError::Nic(NicError::Usage("--address x".into())),
                2,
                "--address x",
            ),
            (CliError::Nic(NicError::Io(io::Error::other("w"))), 1, "w"),
        ];
        for (error, code, line) in cases {
            assert_eq!(
                (error.exit_code(), error.to_string()),
                (code, line.to_owned())
            );
        }
    }
}
