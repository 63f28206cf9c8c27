//! The course's UDP chat: the commands a user types.
//!
//! The course splits a line as `line.rstrip() + ' '`: the command is the
//! text up to the first space, the parameter is the rest, right-trimmed.
//! [`Command::parse`] follows the same rule, borrows from the line and
//! allocates nothing; every mistake is a [`CommandError`] that names it.
//!
//! ```
//! use reseau_core::chat::{Command, CommandError};
//!
//! assert_eq!(Command::parse("/join localhost 5000"), Ok(Command::Join { host: "localhost", port: 5000 }));
//! assert_eq!(Command::parse("/send Hello World!  "), Ok(Command::Send { text: "Hello World!" }));
//! assert_eq!(Command::parse("/join ::1 99999"), Err(CommandError::BadPort { port: "99999" }));
//! ```

use core::fmt;

use crate::escape::Quoted;

/// The longest text one datagram can carry over IPv4 (65,535 bytes less
/// the IP and UDP headers).
pub const MAX_TEXT: usize = 65_507;

/// Bytes the course's peers read from one datagram (`recvfrom(1024)`):
/// longer messages reach them cut.
pub const COURSE_RECV: usize = 1024;

/// One line typed by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `/exit`: leave the program.
    Exit,
    /// `/quit`: forget the joined peer.
    Quit,
    /// `/join HOST PORT`: send to this peer from now on.
    Join {
        /// A host name or an IPv4 or IPv6 address.
        host: &'a str,
        /// The peer's UDP port, 1 to 65535.
        port: u16,
    },
    /// `/send TEXT`: send the text to the joined peer.
    Send {
        /// The text, right-trimmed, never empty.
        text: &'a str,
    },
    /// `/help`: list the commands.
    Help,
}

/// A line that is no valid command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError<'a> {
    /// The line does not start with a known command.
    Unknown {
        /// What stood where the command should be.
        command: &'a str,
    },
    /// The command needs an argument that is missing.
    MissingArgument {
        /// The command, with its slash.
        command: &'static str,
        /// What it expects.
        usage: &'static str,
    },
    /// The command takes no argument, or fewer than were given.
    UnexpectedArgument {
        /// The command, with its slash.
        command: &'static str,
        /// The argument that is too many.
        argument: &'a str,
    },
    /// The port is not a number from 1 to 65535.
    BadPort {
        /// The port as typed.
        port: &'a str,
    },
    /// The text does not fit in one datagram.
    TextTooLong {
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for CommandError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Unknown { command } => {
                write!(
                    f,
                    "unknown command {} (/help lists them)",
                    Quoted(command.as_bytes())
                )
            }
            CommandError::MissingArgument { command, usage } => {
                write!(f, "{command} needs {usage}")
            }
            CommandError::UnexpectedArgument { command, argument } => {
                write!(f, "{command} does not take {}", Quoted(argument.as_bytes()))
            }
            CommandError::BadPort { port } => {
                write!(
                    f,
                    "port {} is not a number from 1 to 65535",
                    Quoted(port.as_bytes())
                )
            }
            CommandError::TextTooLong { len } => write!(
                f,
                "a message of {len} bytes does not fit in one datagram (at most {MAX_TEXT})"
            ),
        }
    }
}

impl core::error::Error for CommandError<'_> {}

/// The rule for the port of `/join`, for callers that have it as a number
/// already (a notebook's `join(host, port)`): 1 to 65535, as 0 is no port
/// a datagram can go to.
pub fn join_port(port: u16) -> Result<u16, CommandError<'static>> {
    if port == 0 {
        Err(CommandError::BadPort { port: "0" })
    } else {
        Ok(port)
    }
}

/// What `/help` prints.
pub const HELP: &str = "\
/join HOST PORT  send to the peer at HOST (a name or an address) and PORT
/send TEXT       send TEXT to the joined peer
/quit            forget the joined peer
/exit            leave (so does the end of input)
/help            this list";

impl<'a> Command<'a> {
    /// Parses one line (with or without its newline).
    pub fn parse(line: &'a str) -> Result<Command<'a>, CommandError<'a>> {
        let line = line.trim_end();
        let (command, param) = match line.split_once(' ') {
            Some((command, param)) => (command, param.trim_end()),
            None => (line, ""),
        };
        let no_argument = |name: &'static str, command: Command<'a>| {
            if param.is_empty() {
                Ok(command)
            } else {
                Err(CommandError::UnexpectedArgument {
                    command: name,
                    argument: param,
                })
            }
        };
        match command {
            "/exit" => no_argument("/exit", Command::Exit),
            "/quit" => no_argument("/quit", Command::Quit),
            "/help" => no_argument("/help", Command::Help),
            "/send" if param.is_empty() => Err(CommandError::MissingArgument {
                command: "/send",
                usage: "a text to send",
            }),
            "/send" if param.len() > MAX_TEXT => {
                Err(CommandError::TextTooLong { len: param.len() })
            }
            "/send" => Ok(Command::Send { text: param }),
            "/join" => {
                // As the course: the parameter split on single spaces.
                let mut parts = param.split(' ');
                let (host, port) = match (parts.next(), parts.next()) {
                    (Some(host), Some(port)) if !host.is_empty() && !port.is_empty() => {
                        (host, port)
                    }
                    _ => {
                        return Err(CommandError::MissingArgument {
                            command: "/join",
                            usage: "a host and a port, as in /join localhost 5000",
                        });
                    }
                };
                if let Some(extra) = parts.next() {
                    let argument = param.get(host.len() + port.len() + 2..).unwrap_or(extra);
                    return Err(CommandError::UnexpectedArgument {
                        command: "/join",
                        argument,
                    });
                }
                match port.parse::<u16>() {
                    Ok(number) if port.bytes().all(|b| b.is_ascii_digit()) => {
                        join_port(number).map_err(|_| CommandError::BadPort { port })?;
                        Ok(Command::Join { host, port: number })
                    }
                    _ => Err(CommandError::BadPort { port }),
                }
            }
            _ => Err(CommandError::Unknown { command }),
        }
    }
}

/// What a user's line asks the driver to do, once [`ChatState`] has
/// applied the chat's rules to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a, A> {
    /// Send `text` as one datagram to the joined peer `to`. When `cut` is
    /// true the text is longer than [`COURSE_RECV`]: the course's peers
    /// will see only its first 1024 bytes, so the user should be warned.
    Send {
        /// The joined peer.
        to: A,
        /// The datagram's payload: the text's UTF-8 bytes, nothing else.
        text: &'a str,
        /// The course's peers will not see all of it.
        cut: bool,
    },
    /// Resolve `host` (a name, or an IPv4 or IPv6 address) and `port`,
    /// then call [`ChatState::join`] with the address.
    Join {
        /// As typed.
        host: &'a str,
        /// 1 to 65535.
        port: u16,
    },
    /// The peer is forgotten (`/quit`).
    Left,
    /// Show [`HELP`].
    Help,
    /// Leave the program (`/exit`, or the end of input).
    Exit,
}

/// Why a line does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatError<'a> {
    /// The line is no valid command.
    Command(CommandError<'a>),
    /// `/send` before any `/join`.
    NotJoined,
}

impl fmt::Display for ChatError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatError::Command(error) => error.fmt(f),
            ChatError::NotJoined => f.write_str("no peer joined: /join HOST PORT first"),
        }
    }
}

impl core::error::Error for ChatError<'_> {}

/// The state of one chat peer: whom it sends to.
///
/// Generic over the address type, so that the same rules serve a std
/// `SocketAddr` on a host and a smoltcp `IpEndpoint` on a board. Resolving
/// a host name is the driver's (a board may have no resolver at all).
///
/// ```
/// use reseau_core::chat::{Action, ChatError, ChatState};
///
/// let mut chat = ChatState::<(&str, u16)>::new();
/// assert_eq!(chat.handle_line("/send hi"), Err(ChatError::NotJoined));
/// assert_eq!(chat.handle_line("/join localhost 5001"), Ok(Action::Join { host: "localhost", port: 5001 }));
/// chat.join(("127.0.0.1", 5001));
/// assert_eq!(
///     chat.handle_line("/send hi"),
///     Ok(Action::Send { to: ("127.0.0.1", 5001), text: "hi", cut: false })
/// );
/// assert_eq!(chat.handle_line("/quit"), Ok(Action::Left));
/// assert_eq!(chat.peer(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatState<A> {
    peer: Option<A>,
}

impl<A> Default for ChatState<A> {
    fn default() -> Self {
        ChatState { peer: None }
    }
}

impl<A: Copy> ChatState<A> {
    /// No peer joined yet.
    pub const fn new() -> Self {
        ChatState { peer: None }
    }

    /// The joined peer.
    pub fn peer(&self) -> Option<A> {
        self.peer
    }

    /// Sends to `peer` from now on (after an [`Action::Join`] resolved).
    pub fn join(&mut self, peer: A) {
        self.peer = Some(peer);
    }

    /// Forgets the joined peer (what `/quit` does).
    pub fn leave(&mut self) {
        self.peer = None;
    }

    /// Applies one line typed by the user.
    pub fn handle_line<'a>(&mut self, line: &'a str) -> Result<Action<'a, A>, ChatError<'a>> {
        match Command::parse(line).map_err(ChatError::Command)? {
            Command::Exit => Ok(Action::Exit),
            Command::Help => Ok(Action::Help),
            Command::Quit => {
                self.leave();
                Ok(Action::Left)
            }
            Command::Join { host, port } => Ok(Action::Join { host, port }),
            Command::Send { text } => self.send(text),
        }
    }

    /// Applies the rules of `/send` to `text` as it is (not trimmed): the
    /// [`Action::Send`] to carry out, or why not (no peer joined, or a text
    /// too long for one datagram). For drivers that send text given by a
    /// program rather than typed.
    pub fn send<'a>(&self, text: &'a str) -> Result<Action<'a, A>, ChatError<'a>> {
        let to = self.peer.ok_or(ChatError::NotJoined)?;
        if text.len() > MAX_TEXT {
            return Err(ChatError::Command(CommandError::TextTooLong {
                len: text.len(),
            }));
        }
        Ok(Action::Send {
            to,
            text,
            cut: text.len() > COURSE_RECV,
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn send_applies_the_rules_of_send_to_untrimmed_text() {
        let mut chat = ChatState::<u8>::new();
        assert_eq!(chat.send("hi"), Err(ChatError::NotJoined));
        chat.join(7);
        assert_eq!(
            chat.send(" hi  "),
            Ok(Action::Send {
                to: 7,
                text: " hi  ",
                cut: false
            })
        );
        let long = "x".repeat(COURSE_RECV + 1);
        assert_eq!(
            chat.send(&long),
            Ok(Action::Send {
                to: 7,
                text: &long,
                cut: true
            })
        );
        let too_long = "x".repeat(MAX_TEXT + 1);
        assert_eq!(
            chat.send(&too_long),
            Err(ChatError::Command(CommandError::TextTooLong {
                len: MAX_TEXT + 1
            }))
        );
    }

    #[test]
    fn the_course_commands() {
        assert_eq!(Command::parse("/exit\n"), Ok(Command::Exit));
        assert_eq!(Command::parse("/quit"), Ok(Command::Quit));
        assert_eq!(Command::parse("/help"), Ok(Command::Help));
        assert_eq!(
            Command::parse("/join 127.0.0.1 5000\n"),
            Ok(Command::Join {
                host: "127.0.0.1",
                port: 5000
            })
        );
        assert_eq!(
            Command::parse("/join ::1 65535"),
            Ok(Command::Join {
                host: "::1",
                port: 65535
            })
        );
        assert_eq!(
            Command::parse("/send  two  spaces  \r\n"),
            Ok(Command::Send {
                text: " two  spaces"
            })
        );
    }

    #[test]
    fn mistakes_are_named() {
        use CommandError::*;
        assert_eq!(Command::parse("/nope x"), Err(Unknown { command: "/nope" }));
        assert_eq!(Command::parse(" /send x"), Err(Unknown { command: "" }));
        assert_eq!(Command::parse(""), Err(Unknown { command: "" }));
        assert!(matches!(
            Command::parse("/send"),
            Err(MissingArgument {
                command: "/send",
                ..
            })
        ));
        assert!(matches!(
            Command::parse("/send   "),
            Err(MissingArgument { .. })
        ));
        assert!(matches!(
            Command::parse("/join localhost"),
            Err(MissingArgument {
                command: "/join",
                ..
            })
        ));
        assert!(matches!(
            Command::parse("/join"),
            Err(MissingArgument { .. })
        ));
        assert!(matches!(
            Command::parse("/join  5000"),
            Err(MissingArgument { .. })
        ));
        assert_eq!(
            Command::parse("/join localhost 5000 extra words"),
            Err(UnexpectedArgument {
                command: "/join",
                argument: "extra words"
            })
        );
        assert_eq!(
            Command::parse("/exit now"),
            Err(UnexpectedArgument {
                command: "/exit",
                argument: "now"
            })
        );
        for port in ["0", "65536", "-1", "+80", "port", "5e3"] {
            let line = std::format!("/join localhost {port}");
            assert_eq!(Command::parse(&line), Err(BadPort { port }), "{line}");
        }
        let long = "x".repeat(MAX_TEXT + 1);
        let line = std::format!("/send {long}");
        assert_eq!(
            Command::parse(&line),
            Err(TextTooLong { len: MAX_TEXT + 1 })
        );
        let error = Command::parse("/join localhost 0").unwrap_err();
        assert_eq!(
            std::format!("{error}"),
            "port \"0\" is not a number from 1 to 65535"
        );
    }

    #[test]
    fn chat_state_rules() {
        let mut chat = ChatState::<u16>::new();
        assert_eq!(chat.handle_line("/send x"), Err(ChatError::NotJoined));
        assert_eq!(chat.handle_line("/exit"), Ok(Action::Exit));
        assert_eq!(chat.handle_line("/help"), Ok(Action::Help));
        assert!(matches!(
            chat.handle_line("/join h 0"),
            Err(ChatError::Command(CommandError::BadPort { .. }))
        ));
        chat.join(5001);
        let at_limit = "x".repeat(COURSE_RECV);
        let line = std::format!("/send {at_limit}");
        assert_eq!(
            chat.handle_line(&line),
            Ok(Action::Send {
                to: 5001,
                text: &at_limit,
                cut: false
            })
        );
        let over = "x".repeat(COURSE_RECV + 1);
        let line = std::format!("/send {over}");
        assert_eq!(
            chat.handle_line(&line),
            Ok(Action::Send {
                to: 5001,
                text: &over,
                cut: true
            })
        );
        assert_eq!(chat.handle_line("/quit"), Ok(Action::Left));
        assert_eq!(chat.handle_line("/send x"), Err(ChatError::NotJoined));
        assert_eq!(
            std::format!("{}", ChatError::NotJoined),
            "no peer joined: /join HOST PORT first"
        );
        // What ChatState holds: the peer, nothing else.
        assert!(core::mem::size_of::<ChatState<core::net::SocketAddr>>() <= 64);
    }

    proptest! {
        /// Any line parses or fails without panicking, and what a command
        /// borrows is part of the line.
        #[test]
        fn total_on_any_line(line in "\\PC{0,80}") {
            if let Ok(Command::Send { text }) = Command::parse(&line) {
                prop_assert!(line.contains(text));
                prop_assert!(!text.is_empty());
            }
        }
    }
}
