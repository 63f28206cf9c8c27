//! The chat's command parser and state, on any line: no panic; every
//! accepted command, written back as a line, parses to itself; what an
//! error or a command borrows is part of the line; the state's action is
//! the parser's command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reseau_core::chat::{Action, COURSE_RECV, ChatError, ChatState, Command, MAX_TEXT};

/// `part` lies inside `line`.
fn inside(part: &str, line: &str) -> bool {
    let (start, end) = (line.as_ptr() as usize, line.as_ptr() as usize + line.len());
    let p = part.as_ptr() as usize;
    part.is_empty() || (p >= start && p + part.len() <= end)
}

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let line: &str = &line;
    let parsed = Command::parse(line);
    match parsed {
        Ok(command) => {
            let again = match command {
                Command::Exit => "/exit".to_string(),
                Command::Quit => "/quit".to_string(),
                Command::Help => "/help".to_string(),
                Command::Join { host, port } => {
                    assert!(inside(host, line) && !host.is_empty() && !host.contains(' '));
                    assert_ne!(port, 0);
                    format!("/join {host} {port}")
                }
                Command::Send { text } => {
                    assert!(inside(text, line) && !text.is_empty() && text.len() <= MAX_TEXT);
                    assert_eq!(text, text.trim_end());
                    format!("/send {text}")
                }
            };
            assert_eq!(Command::parse(&again), Ok(command), "{again:?}");
        }
        Err(error) => {
            let message = error.to_string();
            assert!(!message.is_empty());
        }
    }

    for joined in [None, Some(7u8)] {
        let mut state = ChatState::<u8>::new();
        if let Some(peer) = joined {
            state.join(peer);
        }
        let action = state.handle_line(line);
        match (parsed, action) {
            (Err(error), Err(ChatError::Command(same))) => assert_eq!(error, same),
            (
                Ok(Command::Send { text }),
                Ok(Action::Send {
                    to,
                    text: sent,
                    cut,
                }),
            ) => {
                assert_eq!(
                    (Some(to), sent, cut),
                    (joined, text, text.len() > COURSE_RECV)
                );
            }
            (Ok(Command::Send { .. }), Err(ChatError::NotJoined)) => assert!(joined.is_none()),
            (Ok(Command::Join { host, port }), Ok(Action::Join { host: h, port: p })) => {
                assert_eq!((host, port), (h, p));
            }
            (Ok(Command::Quit), Ok(Action::Left)) => assert_eq!(state.peer(), None),
            (Ok(Command::Exit), Ok(Action::Exit)) | (Ok(Command::Help), Ok(Action::Help)) => {}
            (parsed, action) => panic!("parse {parsed:?} but handle_line {action:?}"),
        }
        if let Err(error) = action {
            assert!(!error.to_string().is_empty());
        }
    }
});
