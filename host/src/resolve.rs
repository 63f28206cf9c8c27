//! `reseau resolve`: the course's four host-name look-ups, through the C
//! library's resolver (`getaddrinfo`, `getnameinfo`, `gethostname`), as
//! Python's `socket` module does them.

use std::fmt;
use std::io;
use std::net::IpAddr;

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
        writeln!(f, "fully qualified name: {}", self.fqdn)?;
        writeln!(f, "host name:            {}", self.hostname)?;
        let addresses: Vec<String> = self.addresses.iter().map(IpAddr::to_string).collect();
        write!(f, "addresses:            {}", addresses.join(", "))?;
        for (address, name) in &self.reverse {
            let name = name.as_deref().unwrap_or("(no name)");
            write!(f, "\nreverse of {address}: {name}")?;
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
