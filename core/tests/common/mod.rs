//! What the smoltcp tests share: one interface on smoltcp's in-memory
//! `Loopback` device at 127.0.0.1/8, its sockets and a virtual clock.
//! Each test file adds the methods it needs in its own `impl Net`.
#![allow(clippy::unwrap_used)]

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

pub struct Net {
    pub iface: Interface,
    pub device: Loopback,
    pub sockets: SocketSet<'static>,
    /// Virtual time: it moves only when a test moves it.
    pub now: Instant,
}

impl Net {
    pub fn new() -> Net {
        let mut device = Loopback::new(Medium::Ip);
        let mut config = Config::new(HardwareAddress::Ip);
        // Fixed, so that a failing run can be replayed.
        config.random_seed = 0x5eed;
        let now = Instant::from_millis(0);
        let mut iface = Interface::new(config, &mut device, now);
        iface.update_ip_addrs(|addrs| {
            addrs
                .push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8))
                .unwrap();
        });
        Net {
            iface,
            device,
            sockets: SocketSet::new(Vec::new()),
            now,
        }
    }
}
