//! The `reseau` command line.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use reseau_core::adder::{AdderConfig, Format};
use reseau_core::frame::DEFAULT_MAX_FRAME;
use reseau_host::adder::{self, AdderService};
use reseau_host::bench::{self, Workload};
use reseau_host::chat::{self, Chat};
use reseau_host::echo::{self, EchoService};
use reseau_host::net::{self, Limits, Server};
use reseau_host::nic;
use reseau_host::resolve;
use reseau_host::web::{self, config::Settings};

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
    Serve {
        #[command(flatten)]
        web: WebArgs,
        /// The echo server's address.
        #[arg(long, default_value = echo::DEFAULT_ADDR)]
        echo: String,
        /// The adder server's address.
        #[arg(long, default_value = adder::DEFAULT_ADDR)]
        adder: String,
    },
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
    Chat {
        /// Address to receive on (IPv6: `[::1]:5000`).
        #[arg(long, default_value = chat::DEFAULT_ADDR)]
        bind: String,
    },
    /// The course's four host-name look-ups, for a name or an address.
    Resolve {
        /// A host name (`localhost`) or an address (`127.0.0.1`, `::1`).
        name: String,
    },
    /// Load generators that measure a server.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The adder (TCP 6001), echo (TCP 6000) and the chat (UDP 5000) on
    /// smoltcp's TCP/IP stack over a Linux TAP device.
    Nic {
        /// The TAP device (e.g. made by `ip tuntap add dev tap0 mode tap`).
        #[arg(long)]
        tap: String,
        /// This stack's address and prefix, e.g. `192.168.69.2/24`.
        #[arg(long)]
        address: String,
        /// The default gateway, e.g. `192.168.69.1`.
        #[arg(long)]
        gateway: Option<String>,
    },
}

#[derive(Subcommand)]
enum AdderCommand {
    /// Serves the adder to many clients at once.
    Serve {
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
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Sends ints to an adder server and prints their sum.
    Sum {
        /// The server.
        #[arg(long, default_value = adder::DEFAULT_ADDR)]
        to: String,
        /// `pickle` is the course's format (sums from 0 to 2^32-1);
        /// `native` carries 64-bit sums and error replies.
        #[arg(long, value_enum, default_value_t = Encoding::Pickle)]
        encoding: Encoding,
        /// The ints; with none, whitespace-separated ints are read from stdin.
        #[arg(allow_negative_numbers = true)]
        ints: Vec<String>,
    },
}

#[derive(Subcommand)]
enum EchoCommand {
    /// Serves echo to many clients at once; prints each message.
    Serve {
        /// Address to listen on (IPv6: `[::1]:6000`).
        #[arg(long, default_value = echo::DEFAULT_ADDR)]
        bind: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Sends a message, then prints what comes back.
    Send {
        /// The server.
        #[arg(long, default_value = echo::DEFAULT_ADDR)]
        to: String,
        /// The message; without it, stdin is sent.
        message: Option<String>,
    },
}

#[derive(Args)]
struct WebArgs {
    /// A config file in CherryPy's format (see web/server.conf).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on, over the config's server.socket_host and
    /// server.socket_port (IPv6: `[::1]:8080`).
    #[arg(long)]
    bind: Option<String>,
    /// The SQLite database file, over the config's reseau.db.
    #[arg(long)]
    db: Option<PathBuf>,
}

impl WebArgs {
    /// The config file's settings with the flags over them.
    fn settings(&self) -> Result<Settings, Failure> {
        let mut settings =
            Settings::load(self.config.as_deref()).map_err(|e| (2, e.to_string()))?;
        if let Some(bind) = &self.bind {
            settings.set_address(bind).map_err(|e| (2, e))?;
        }
        if let Some(db) = &self.db {
            settings.db = db.clone();
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
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections,
            idle_timeout: Duration::from_secs(self.idle_timeout),
            request_timeout: None,
            threads: 0,
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
    /// A new connection per request, as the course's client does.
    #[arg(long)]
    connect_per_request: bool,
    /// How each connection is closed with --connect-per-request: fin, as
    /// the course's client does (`close()` once it has read the reply), or
    /// reset (SO_LINGER 0, no TIME_WAIT).
    #[arg(long, value_enum, default_value_t = CloseArg::Fin)]
    close: CloseArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum CloseArg {
    Fin,
    Reset,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Measures an adder server: requests/s and latency.
    Adder {
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
    },
    /// Measures an echo server: round trips/s, latency and MB/s.
    Echo {
        /// The server.
        #[arg(long, default_value = echo::DEFAULT_ADDR)]
        to: String,
        #[command(flatten)]
        load: LoadArgs,
        /// Bytes per message.
        #[arg(long, default_value_t = 64)]
        size: usize,
    },
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

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("reseau: {message}");
            ExitCode::from(code)
        }
    }
}

/// An exit code and the one line that says why.
type Failure = (u8, String);

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Web(args) => {
            let mut server = web::bind(&args.settings()?).map_err(|e| (2, e.to_string()))?;
            server
                .stop_on_signals()
                .map_err(|e| (2, format!("cannot handle signals: {e}")))?;
            server.announce();
            server.run().map_err(|e| (1, e.to_string()))
        }
        Command::Serve { web, echo, adder } => serve_all(&web, &echo, &adder),
        Command::Adder(AdderCommand::Serve {
            bind,
            max_frame,
            keep_alive,
            limits,
        }) => serve(
            &bind,
            AdderService {
                config: AdderConfig {
                    max_frame,
                    keep_alive,
                },
            },
            limits.limits(),
        ),
        Command::Adder(AdderCommand::Sum { to, encoding, ints }) => {
            let ints = (!ints.is_empty()).then_some(&ints[..]);
            match adder::sum(&to, encoding.into(), ints) {
                Ok(sum) => {
                    println!("{sum}");
                    Ok(())
                }
                Err(error) => Err((error.exit_code() as u8, error.to_string())),
            }
        }
        Command::Echo(EchoCommand::Serve { bind, limits }) => {
            serve(&bind, EchoService, limits.limits())
        }
        Command::Echo(EchoCommand::Send { to, message }) => {
            let sent = echo::send_to_stdout(&to, message.as_deref().map(str::as_bytes));
            match sent {
                Ok(sent) => {
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
                Err(error @ echo::SendError::Connect { .. }) => Err((2, error.to_string())),
                Err(error) => Err((1, error.to_string())),
            }
        }
        Command::Chat { bind } => {
            let chat = Chat::bind(&bind).map_err(|e| (2, format!("cannot bind {bind}: {e}")))?;
            let local = chat.local_addr().map_err(|e| (1, e.to_string()))?;
            eprintln!("chat: listening on {local}; /help lists the commands");
            chat::run(chat).map_err(|e| (1, e.to_string()))
        }
        Command::Resolve { name } => {
            let lookups = resolve::resolve(&name).map_err(|e| (2, e.to_string()))?;
            println!("{lookups}");
            Ok(())
        }
        Command::Bench(BenchCommand::Adder {
            to,
            load,
            ints,
            encoding,
        }) => load_test(
            to,
            load,
            Workload::Adder {
                ints,
                format: encoding.into(),
            },
        ),
        Command::Bench(BenchCommand::Echo { to, load, size }) => {
            load_test(to, load, Workload::Echo { size })
        }
        Command::Nic {
            tap,
            address,
            gateway,
        } => {
            let failure = |e: nic::NicError| (e.exit_code(), e.to_string());
            let config = nic::NicConfig {
                tap,
                address: nic::parse_address(&address).map_err(failure)?,
                gateway: gateway
                    .as_deref()
                    .map(nic::parse_gateway)
                    .transpose()
                    .map_err(failure)?,
            };
            nic::run(&config).map_err(failure)
        }
    }
}

fn load_test(to: String, load: LoadArgs, workload: Workload) -> Result<(), Failure> {
    let duration = load.duration;
    if !(duration > 0.0 && duration <= 86_400.0) {
        return Err((
            2,
            format!("--duration {duration} must be between 0 and 86400 seconds"),
        ));
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
    };
    let report = bench::run(config).map_err(|e| (2, e.to_string()))?;
    println!("{report}");
    if report.errors > 0 {
        return Err((1, format!("{} requests failed", report.errors)));
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

/// Binds `service` on `bind`, stopped by SIGINT and SIGTERM, and says where.
fn listen<S: net::Service>(
    bind: &str,
    service: S,
    mut limits: Limits,
) -> Result<Server<S>, Failure> {
    limits.max_connections = fit_connections(limits.max_connections);
    let name = service.name();
    let mut server = Server::bind(bind, service, limits)
        .map_err(|e| (2, format!("cannot listen on {bind}: {e}")))?;
    server
        .stop_on_signals()
        .map_err(|e| (2, format!("cannot handle signals: {e}")))?;
    eprintln!("{name}: listening on {}", server.local_addr());
    Ok(server)
}

fn serve<S: net::Service>(bind: &str, service: S, limits: Limits) -> Result<(), Failure> {
    listen(bind, service, limits)?
        .run()
        .map_err(|e| (1, e.to_string()))
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
/// drained, [`net::SHUTDOWN_DEADLINE`] after the signal at most.
fn serve_all(web_args: &WebArgs, echo_addr: &str, adder_addr: &str) -> Result<(), Failure> {
    let mut site = web::bind(&web_args.settings()?).map_err(|e| (2, e.to_string()))?;
    site.stop_on_signals()
        .map_err(|e| (2, format!("cannot handle signals: {e}")))?;
    let echo = listen(echo_addr, EchoService, Limits::default())?;
    let adder = listen(adder_addr, AdderService::default(), Limits::default())?;
    site.announce();
    eprintln!(
        "reseau: serving the course: http://{}/, echo on {}, adder on {}; Ctrl-C stops",
        site.local_addr(),
        echo.local_addr(),
        adder.local_addr()
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
            failure.get_or_insert((1, error.to_string()));
        }
        for stopper in &stoppers {
            stopper.stop();
        }
    }
    for run in runs {
        if run.join().is_err() {
            failure.get_or_insert((1, "a server thread failed".to_string()));
        }
    }
    failure.map_or(Ok(()), Err)
}
