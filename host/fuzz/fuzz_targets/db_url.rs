//! The database location of `--db` and `reseau.db` (`Location::parse`),
//! and the masking of a `postgresql://` URL's password
//! (`mask_password`), on arbitrary text. The `postgres` crate, which reads
//! the URL when reseau connects, is the oracle of what the password is.
//!
//! Invariants: no panic; masking is deterministic; a
//! location's `Display` and `Debug` are the masked URL; and when the crate
//! reads a password from the URL, it reads none, or `***`, from the masked
//! one (whatever it reads there, the password is not what it was).

#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use reseau_host::web::db::{Location, mask_password};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Half the inputs are URLs, so that the crate's parser goes deep.
    let url = if data.first().is_some_and(|b| b & 1 == 1) {
        format!("postgresql://{}", text.get(1..).unwrap_or_default())
    } else {
        text.into_owned()
    };
    let masked = mask_password(&url);
    assert_eq!(masked, mask_password(&url), "not deterministic");
    match Location::parse(&url) {
        Location::Postgres(_) => {
            let location = Location::parse(&url);
            assert_eq!(location.to_string(), masked);
            assert_eq!(format!("{location:?}"), format!("Postgres({masked})"));
        }
        Location::Sqlite(path) => {
            assert!(!url.starts_with("postgresql://") && !url.starts_with("postgres://"));
            assert_eq!(path.as_os_str(), url.as_str());
        }
    }
    // Only a URL reaches the crate (anything else is a SQLite path; the
    // crate would read `password=x` as its key-value format).
    if !matches!(Location::parse(&url), Location::Postgres(_)) {
        return;
    }
    let Ok(config) = postgres::Config::from_str(&url) else {
        return;
    };
    let Some(password) = config.get_password() else {
        return;
    };
    if password == b"***" {
        return;
    }
    if let Ok(shown) = postgres::Config::from_str(&masked) {
        let left = shown.get_password();
        assert!(
            left.is_none() || left == Some(b"***".as_slice()),
            "the crate still reads a password in {masked:?}"
        );
    }
});
