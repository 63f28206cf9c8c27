//! A `#![no_std]`, allocator-free host binary that links `reseau-core` and
//! runs an adder session over two requests (by hand, then through the
//! blocking `embedded-io` driver), then the pickle request through a
//! smoltcp `Interface` and the smoltcp driver (with an echo socket
//! listening beside it) and a chat message through a UDP socket of the same
//! interface, to prove the core and all of its dependencies build without
//! std and without an allocator.
//!
//! If any crate in the graph linked std, this crate's `#[panic_handler]`
//! would collide with std's (error E0152, duplicate lang item); if any
//! linked `alloc`, the build would stop at "no global memory allocator
//! found". See README.md.
//!
//! The process has no C runtime start-up (`-nostartfiles`): [`_start`] is
//! the entry point. It still links libc (`-lc`) for `memcpy` and friends,
//! `write`, `exit` and `abort`. Exit status 0 means every check passed.
#![no_std]
#![no_main]

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!("the no_std proof's `_start` is written for x86_64 Linux");

mod embedded_io_proof;
mod smoltcp_proof;

use core::ffi::{c_int, c_void};
use core::hint::black_box;
use core::panic::PanicInfo;

use reseau_core::adder::native::Reply;
use reseau_core::adder::{AdderConfig, AdderSession, Event, Format, ReplyDecoder, RequestEncoder};
use reseau_core::frame;
use reseau_core::session::StreamSession;
use reseau_core::writer::Writer;

// The few libc functions the proof calls (linked with `-lc` by build.rs).
// `exit` and `abort` take no pointer and never return, so calling them
// cannot break memory safety: they are declared `safe`. `write` reads
// `count` bytes at `buf`, so it stays unsafe.
unsafe extern "C" {
    safe fn exit(status: c_int) -> !;
    safe fn abort() -> !;
    fn write(fd: c_int, buf: *const c_void, count: usize) -> isize;
}

/// Writes `bytes` to file descriptor `fd`, ignoring errors (there is no
/// one to tell).
fn write_all(fd: c_int, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a live slice; `write` reads at most
        // `bytes.len()` bytes from its start and keeps no pointer.
        let n = unsafe { write(fd, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(n) {
            Ok(n) if n > 0 => bytes = bytes.get(n..).unwrap_or_default(),
            _ => return,
        }
    }
}

/// The process entry point, in place of crt1.o's.
///
/// The kernel enters with `rsp` 16-byte aligned and no return address on
/// the stack, whereas a Rust `extern "C"` function expects `rsp + 8` to be
/// aligned; so this shim clears the frame pointer (marking the outermost
/// frame), realigns the stack and calls [`proof_main`], which never returns.
#[unsafe(naked)]
#[unsafe(no_mangle)]
extern "C" fn _start() -> ! {
    core::arch::naked_asm!(
        "xor ebp, ebp",
        "and rsp, -16",
        "call {main}",
        "ud2",
        main = sym proof_main,
    )
}

extern "C" fn proof_main() -> ! {
    match run() {
        Ok(()) => exit(0),
        Err(reason) => {
            write_all(2, b"no_std proof: FAILED: ");
            write_all(2, reason.as_bytes());
            write_all(2, b"\n");
            exit(1)
        }
    }
}

/// std's handler would collide with this one: that collision (E0152) is
/// half of the proof. Nothing can be formatted without pulling in
/// `core::fmt`, so the message is fixed; `abort` makes a panic (SIGABRT)
/// distinct from a failed check (exit status 1).
#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    write_all(2, b"no_std proof: panicked\n");
    abort()
}

/// The precompiled `core` is built with `panic = "unwind"`, so its objects
/// refer to this symbol. With panic = "abort" nothing ever unwinds and it
/// is never called; fat LTO drops the reference in release, but a dev
/// build (no LTO) fails to link without it.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

/// The course's request: `pickle.dumps([1, 2, 40], protocol=2)`.
const PICKLE_INTS: [i128; 3] = [1, 2, 40];
const PICKLE_PAYLOAD: &[u8] = b"\x80\x02]q\x00(K\x01K\x02K(e.";
const PICKLE_SUM: i64 = 43;

/// A native request whose sum needs more than 32 bits.
const NATIVE_INTS: [i128; 3] = [-5, 1_000_000_000_000, 7];
const NATIVE_SUM: i64 = 1_000_000_000_002;

/// Bytes given to the session per call, to split frames mid-header and
/// mid-payload as a socket would.
const CHUNK: usize = 5;

/// Writes one framed request for `ints` in `format` at the start of `out`;
/// returns its length.
fn encode_request(format: Format, ints: &[i128], out: &mut [u8]) -> Result<usize, &'static str> {
    let (header, payload) = out
        .split_at_mut_checked(frame::HEADER_LEN)
        .ok_or("request buffer too small")?;
    let mut writer = Writer::new(payload);
    let mut encoder = RequestEncoder::new(format);
    encoder.begin(&mut writer);
    for &value in ints {
        // black_box: the values are opaque to the optimiser, so the whole
        // run cannot be folded into a constant and the core's code stays.
        encoder
            .push(black_box(value), &mut writer)
            .map_err(|_| "RequestEncoder refused an int")?;
    }
    encoder.finish(&mut writer);
    if writer.overflowed() {
        return Err("request buffer too small");
    }
    let len = writer.len();
    let len32 = u32::try_from(len).map_err(|_| "payload too long")?;
    header.copy_from_slice(&frame::encode_header(len32));
    Ok(frame::HEADER_LEN + len)
}

fn expect_event(
    event: Option<Event>,
    format: Format,
    ints: u64,
    sum: i64,
) -> Result<(), &'static str> {
    match event {
        Some(Event::Answered {
            format: f,
            ints: n,
            sum: s,
        }) if f == format && n == ints && s == sum => Ok(()),
        Some(Event::Answered { .. }) => Err("a request was answered with the wrong sum or count"),
        Some(Event::Rejected(_)) => Err("a request was rejected"),
        None => Err("a request was not answered"),
    }
}

/// Reads one reply of `format` from `input`, a byte at a time; returns it
/// and the bytes it took.
fn decode_reply(format: Format, input: &[u8]) -> Result<(Reply, usize), &'static str> {
    let mut decoder = ReplyDecoder::new(format);
    let mut used = 0;
    while let Some(byte) = input.get(used..used + 1) {
        let (n, reply) = decoder.decode(byte);
        used += n;
        match reply {
            Some(Ok(reply)) => return Ok((reply, used)),
            Some(Err(_)) => return Err("ReplyDecoder refused a reply"),
            None if n == 0 => return Err("ReplyDecoder took no byte"),
            None => {}
        }
    }
    Err("a reply is incomplete")
}

fn run() -> Result<(), &'static str> {
    // Client side: two framed requests, back to back, on the stack.
    let mut requests = [0u8; 96];
    let pickle_len = encode_request(Format::Pickle, &PICKLE_INTS, &mut requests)?;
    if requests.get(frame::HEADER_LEN..pickle_len) != Some(PICKLE_PAYLOAD) {
        return Err("the pickle request is not what CPython writes");
    }
    let native_len = encode_request(
        Format::Native,
        &NATIVE_INTS,
        requests.get_mut(pickle_len..).unwrap_or_default(),
    )?;
    let requests = requests
        .get(..pickle_len + native_len)
        .ok_or("request lengths out of bounds")?;

    // Server side: the session, driven in the documented call order.
    // Both requests go on one connection: `keep_alive`, since by default
    // a pickle request is its connection's last.
    let mut session = AdderSession::new(AdderConfig {
        keep_alive: true,
        ..AdderConfig::default()
    });
    let mut replies = [0u8; 64];
    let mut reply_len = 0;
    let mut events = [None; 2];
    let mut seen = 0;
    let mut offered = 0;
    let mut eof = false;
    loop {
        let end = (offered + CHUNK).min(requests.len());
        let took = session.handle_input(requests.get(offered..end).unwrap_or_default());
        offered += took;
        if offered == requests.len() && !eof {
            session.handle_eof();
            eof = true;
        }
        while let Some(event) = session.poll_event() {
            let slot = events.get_mut(seen).ok_or("more events than requests")?;
            *slot = Some(event);
            seen += 1;
        }
        let sent = session.poll_transmit(replies.get_mut(reply_len..).unwrap_or_default());
        reply_len += sent;
        if session.is_finished() {
            break;
        }
        if took == 0 && sent == 0 && offered < requests.len() {
            return Err("the session stalled");
        }
        if eof && took == 0 && sent == 0 {
            return Err("the session did not finish after end of stream");
        }
    }
    if offered != requests.len() {
        return Err("the session did not take every request byte");
    }
    let [first, second] = events;
    expect_event(first, Format::Pickle, 3, PICKLE_SUM)?;
    expect_event(second, Format::Native, 3, NATIVE_SUM)?;

    // The reply bytes: 4 raw bytes for the pickle request...
    let replies = replies.get(..reply_len).unwrap_or_default();
    let (pickle_raw, rest) = replies
        .split_at_checked(4)
        .ok_or("the pickle reply is short")?;
    if pickle_raw != 43u32.to_le_bytes() {
        return Err("the pickle reply bytes are wrong");
    }
    // ... and both replies read back by the client-side decoder.
    let (reply, used) = decode_reply(Format::Pickle, replies)?;
    if reply != Reply::Sum(PICKLE_SUM) || used != 4 {
        return Err("the pickle reply decodes wrong");
    }
    let (reply, used) = decode_reply(Format::Native, rest)?;
    if reply != Reply::Sum(NATIVE_SUM) {
        return Err("the native reply decodes wrong");
    }
    if used != rest.len() {
        return Err("bytes follow the native reply");
    }

    // The same two requests through the blocking embedded-io driver.
    embedded_io_proof::check(requests, PICKLE_SUM, NATIVE_SUM)?;
    // The pickle request through a smoltcp interface and the TCP driver,
    // then the chat through a UDP socket of the same interface.
    let pickle_request = requests.get(..pickle_len).unwrap_or_default();
    smoltcp_proof::check(pickle_request, PICKLE_SUM)?;
    Ok(())
}
