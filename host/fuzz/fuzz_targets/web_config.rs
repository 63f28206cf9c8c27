//! The CherryPy-style config parser (`Settings::parse`, what
//! `Settings::load` runs on a file's text) on arbitrary text.
//!
//! Invariants: no panic; parsing is deterministic; an error names a line
//! of the file (1 to the number of lines), displays as `FILE:LINE:
//! MESSAGE`, and its message has no control or bidi character; the text
//! cut after that line fails too, at that line or before; CRLF line ends
//! give the same outcome as LF; settings that parse render to a config
//! that parses back to settings that render the same.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use reseau_host::web::config::{ConfigError, Settings, is_unsafe_char};

const FILE: &str = "server.conf";
const FOLDER: &str = "/etc/site";

fn parse(text: &str) -> Result<Settings, ConfigError> {
    Settings::parse(text, Path::new(FILE), Path::new(FOLDER))
}

/// What a parse gave, comparable.
fn outcome(result: &Result<Settings, ConfigError>) -> String {
    match result {
        Ok(settings) => format!("ok\n{}", settings.render()),
        Err(error) => format!("error\n{error}"),
    }
}

fn error_line(error: &ConfigError) -> usize {
    match error {
        ConfigError::Line { line, .. } => *line,
        ConfigError::Read { .. } => panic!("a read error from text: {error}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let first = parse(&text);
    assert_eq!(outcome(&first), outcome(&parse(&text)), "not deterministic");
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(
        outcome(&first),
        outcome(&parse(&crlf)),
        "CRLF line ends changed the outcome"
    );
    match first {
        Err(error) => {
            let line = error_line(&error);
            let lines = text.lines().count().max(1);
            assert!(
                (1..=lines).contains(&line),
                "line {line} of {lines}: {error}"
            );
            let ConfigError::Line { message, .. } = &error else {
                unreachable!()
            };
            assert_eq!(error.to_string(), format!("{FILE}:{line}: {message}"));
            assert!(
                !message.chars().any(is_unsafe_char),
                "unescaped text in {message:?}"
            );
            let prefix: Vec<&str> = text.lines().take(line).collect();
            match parse(&prefix.join("\n")) {
                Ok(_) => panic!("the text up to line {line} parses, though {error}"),
                Err(cut) => assert!(
                    error_line(&cut) <= line,
                    "cut after line {line}: {cut}, whole: {error}"
                ),
            }
        }
        Ok(settings) => {
            let rendered = settings.render();
            let again = match parse(&rendered) {
                Ok(again) => again,
                Err(error) => panic!("the rendering does not parse: {error}\n{rendered}"),
            };
            assert_eq!(again.render(), rendered, "the rendering changed");
        }
    }
});
