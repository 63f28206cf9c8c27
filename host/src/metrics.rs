//! What `GET /metrics` shows: counters, gauges and a histogram, written in
//! Prometheus's text format (version 0.0.4).
//!
//! Every server registers its connection counts ([`net::Stats`]) and its
//! service's families ([`Families`]) in one [`Registry`]; a scrape
//! ([`Registry::render`]) reads atomics, never waits for a request. Under
//! `reseau serve` the web site's registry holds the adder's and echo's
//! too: one scrape for the process.
//!
//! Every label value comes from a fixed set (a route's pattern, a method
//! among the known ones, a status, a reason), never from the request's
//! text as it is: what a client sends cannot grow the set of series.

use std::fmt::{self, Display, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reseau_core::session::StreamSession;

use crate::net::{self, Notify, Service};

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        })
    }
}

/// The text of one scrape. Call order: [`Text::family`] once per family,
/// then its [`Text::sample`]s, before the next family: a family's
/// samples stand together, as the format requires.
#[derive(Debug, Default)]
pub struct Text {
    out: String,
}

impl Text {
    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", Escaped(help, false));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample: `name{label="value",...} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (n, (label, text)) in labels.iter().enumerate() {
                if n > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", Escaped(text, true));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// The text written.
    pub fn into_string(self) -> String {
        self.out
    }
}

/// A label value (`\\`, `\"`, `\n`) or a help text (`\\`, `\n`), escaped as
/// the format says.
struct Escaped<'a>(&'a str, bool);

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '"' if self.1 => f.write_str("\\\"")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Some of a service's families: what it adds to a scrape.
pub trait Families: Send + Sync {
    /// Writes the families, each whole.
    fn write(&self, text: &mut Text);
}

/// Everything one process shows at `/metrics`.
#[derive(Default)]
pub struct Registry {
    servers: Mutex<Vec<(&'static str, net::Stats)>>,
    families: Mutex<Vec<Arc<dyn Families>>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Registry")
    }
}

impl Registry {
    /// Adds a server's connection counts, labelled `service="NAME"`.
    pub fn add_server(&self, service: &'static str, stats: net::Stats) {
        lock(&self.servers).push((service, stats));
    }

    /// Adds a service's own families.
    pub fn add(&self, families: Arc<dyn Families>) {
        lock(&self.families).push(families);
    }

    /// The text of a scrape: the connection families of every server,
    /// then each service's families.
    pub fn render(&self) -> String {
        let mut text = Text::default();
        let servers = lock(&self.servers).clone();
        type Read = fn(&net::Stats) -> u64;
        let families: [(&str, Kind, &str, Read); 3] = [
            (
                "reseau_connections_open",
                Kind::Gauge,
                "Connections open now.",
                |stats| stats.open() as u64,
            ),
            (
                "reseau_connections_accepted_total",
                Kind::Counter,
                "Connections served since the start.",
                net::Stats::accepted,
            ),
            (
                "reseau_connections_refused_total",
                Kind::Counter,
                "Connections closed at once: the connection cap was reached.",
                net::Stats::refused,
            ),
        ];
        for (name, kind, help, read) in families {
            text.family(name, kind, help);
            for (service, stats) in &servers {
                text.sample(name, &[("service", service)], read(stats));
            }
        }
        for families in lock(&self.families).iter() {
            families.write(&mut text);
        }
        text.into_string()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Latency buckets, in seconds: a site on a local network answers in
/// well under a millisecond to a few seconds at worst.
pub const LATENCY_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A histogram of durations over [`LATENCY_BUCKETS`] (and `+Inf`).
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations in each bucket alone (made cumulative when written).
    buckets: [Counter; LATENCY_BUCKETS.len() + 1],
    sum_nanos: Counter,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(counter) = self.buckets.get(bucket) {
            counter.add(1);
        }
        self.sum_nanos
            .add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
    }

    /// The family `name` whole: `_bucket` (cumulative), `_sum`, `_count`.
    pub fn write(&self, text: &mut Text, name: &str, help: &str) {
        text.family(name, Kind::Histogram, help);
        let bucket = format!("{name}_bucket");
        let mut total = 0;
        for (n, counter) in self.buckets.iter().enumerate() {
            total += counter.get();
            let le = LATENCY_BUCKETS
                .get(n)
                .map_or_else(|| "+Inf".to_owned(), ToString::to_string);
            text.sample(&bucket, &[("le", &le)], total);
        }
        let sum = self.sum_nanos.get() as f64 / 1e9;
        text.sample(&format!("{name}_sum"), &[], sum);
        text.sample(&format!("{name}_count"), &[], total);
    }
}

/// Counts a service's events for `/metrics`.
pub trait Count<E>: Families + Default + 'static {
    /// Notes one event of a session.
    fn count(&self, event: &E);
}

/// The events of a service's sessions.
pub type EventOf<S> = <<S as Service>::Session as StreamSession>::Event;

/// A service whose events are also counted in `counts`: the adder and
/// echo run in this, unchanged.
#[derive(Debug)]
pub struct Counted<S, C> {
    pub service: S,
    pub counts: Arc<C>,
}

impl<S: Service, C: Count<EventOf<S>>> Counted<S, C> {
    pub fn new(service: S) -> Self {
        Counted {
            service,
            counts: Arc::default(),
        }
    }
}

impl<S: Service, C: Count<EventOf<S>>> Service for Counted<S, C> {
    type Session = S::Session;
    type Summary = S::Summary;

    fn name(&self) -> &'static str {
        self.service.name()
    }

    fn session(&self, peer: SocketAddr, notify: Notify) -> S::Session {
        self.service.session(peer, notify)
    }

    fn record(&self, summary: &mut S::Summary, event: EventOf<S>) {
        self.counts.count(&event);
        self.service.record(summary, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut text = Text::default();
        text.family("a_total", Kind::Counter, "back\\slash\nline \"q\"");
        text.sample("a_total", &[("x", "q\"b\\n\nl")], 1);
        assert_eq!(
            text.into_string(),
            "# HELP a_total back\\\\slash\\nline \"q\"\n# TYPE a_total counter\n\
             a_total{x=\"q\\\"b\\\\n\\nl\"} 1\n"
        );
    }

    #[test]
    fn buckets_are_cumulative() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(400));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(9));
        let mut text = Text::default();
        histogram.write(&mut text, "h", "h.");
        let text = text.into_string();
        assert!(text.contains("h_bucket{le=\"0.0005\"} 1\n"), "{text}");
        assert!(text.contains("h_bucket{le=\"0.005\"} 2\n"), "{text}");
        assert!(text.contains("h_bucket{le=\"5\"} 2\n"), "{text}");
        assert!(text.contains("h_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("h_count 3\n"), "{text}");
        assert!(text.contains("h_sum 9.0034\n"), "{text}");
    }
}
