//! `reseau resolve`: the course's four host-name look-ups, through the C
//! library's resolver (`getaddrinfo`, `getnameinfo`, `gethostname`), as
//! Python's `socket` module does them.

use std::fmt;
use std::io;
use std::net::IpAddr;

use crate::escape::Escaped;

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

/// Why a look-up failed.
#[derive(Debug)]
pub struct ResolveError {
    name: String,
    error: io::Error,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot resolve {:?}: {}", self.name, self.error)
    }
}

/// Runs the four look-ups for `name` (a host name or an address).
pub fn resolve(name: &str) -> Result<Lookups, ResolveError> {
    let fail = |error: io::Error| ResolveError {
        name: name.to_string(),
        error,
    };
    let mut addresses: Vec<IpAddr> = Vec::new();
    for address in dns_lookup::lookup_host(name).map_err(|e| fail(e.into()))? {
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    let hostname = dns_lookup::get_hostname().map_err(fail)?;
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
