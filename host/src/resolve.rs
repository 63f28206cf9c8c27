//! `reseau resolve`: the course's four host-name look-ups, through the C
//! library's resolver (`getaddrinfo`, `getnameinfo`, `gethostname`), as
//! Python's `socket` module does them.

use std::fmt;
use std::io;
use std::net::IpAddr;

use crate::escape::Escaped;
use crate::exit;

/// What the four look-ups found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookups {
    /// `socket.getfqdn(name)`: the canonical name of the first address.
    pub fqdn: String,
    /// `socket.gethostname()`: this machine's name.
    pub hostname: String,
    /// `socket.getaddrinfo(name)`: every address, IPv4 and IPv6, in the
    /// resolver's order, without repeats.
    pub addresses: Vec<IpAddr>,
    /// `socket.gethostbyaddr(address)`: the name of each address, if it
    /// has one.
    pub reverse: Vec<(IpAddr, Option<String>)>,
}

impl fmt::Display for Lookups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names come from the resolver (DNS, /etc/hosts): escaped.
        writeln!(f, "fully qualified name: {}", Escaped(self.fqdn.as_bytes()))?;
        writeln!(
            f,
            "host name:            {}",
            Escaped(self.hostname.as_bytes())
        )?;
        let addresses: Vec<String> = self.addresses.iter().map(IpAddr::to_string).collect();
        write!(f, "addresses:            {}", addresses.join(", "))?;
        for (address, name) in &self.reverse {
            match name {
                Some(name) => write!(f, "\nreverse of {address}: {}", Escaped(name.as_bytes()))?,
                None => write!(f, "\nreverse of {address}: (no name)")?,
            }
        }
        Ok(())
    }
}

/// Why the look-ups failed.
#[derive(Debug)]
pub enum LookupError {
    /// The resolver found no address for the name.
    Name { name: String, error: io::Error },
    /// This machine's own name could not be read.
    HostName(io::Error),
}

impl LookupError {
    /// The process exit code ([`crate::exit`]): a name that does not
    /// resolve is bad input.
    pub fn exit_code(&self) -> u8 {
        exit::SETUP
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::Name { name, error } => write!(f, "cannot resolve {name:?}: {error}"),
            LookupError::HostName(error) => {
                write!(f, "cannot read this machine's host name: {error}")
            }
        }
    }
}

impl std::error::Error for LookupError {}

/// Runs the four look-ups for `name` (a host name or an address). Not
/// [`crate::net::resolve`], which gives the socket addresses to bind or
/// connect to.
pub fn lookup(name: &str) -> Result<Lookups, LookupError> {
    let mut addresses: Vec<IpAddr> = Vec::new();
    let found = dns_lookup::lookup_host(name).map_err(|error| LookupError::Name {
        name: name.to_string(),
        error: error.into(),
    })?;
    for address in found {
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    let hostname = dns_lookup::get_hostname().map_err(LookupError::HostName)?;
    let reverse: Vec<(IpAddr, Option<String>)> = addresses
        .iter()
        .map(|address| (*address, dns_lookup::lookup_addr(address).ok()))
        .collect();
    // As Python's getfqdn: the name of the first address that has one,
    // else the name as given.
    let fqdn = reverse
        .iter()
        .find_map(|(_, name)| name.clone())
        .unwrap_or_else(|| name.to_string());
    Ok(Lookups {
        fqdn,
        hostname,
        addresses,
        reverse,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_resolver_are_escaped() {
        let lookups = Lookups {
            fqdn: "evil\u{1b}]0;title\u{7}".to_string(),
            hostname: "host\nfake: line".to_string(),
            addresses: vec![IpAddr::from([127, 0, 0, 1])],
            reverse: vec![(
                IpAddr::from([127, 0, 0, 1]),
                Some("\u{202e}moc.evil".to_string()),
            )],
        };
        assert_eq!(
            lookups.to_string(),
            "fully qualified name: evil\\x1b]0;title\\x07\n\
             host name:            host\\nfake: line\n\
             addresses:            127.0.0.1\n\
             reverse of 127.0.0.1: \\u{202e}moc.evil"
        );
    }
}
