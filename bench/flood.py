#!/usr/bin/env python3
"""A client that sends as fast as the kernel accepts and never reads.

Used by bench/run against an echo server: the echo comes back
into this client's receive buffer, which nobody reads, so once the socket
buffers on both sides are full a well-behaved server stops reading and TCP
holds the sender back. This measures how many bytes got through before
that (the kernel accepted them from send()), and the server's memory is
watched meanwhile by the calling script.

Usage: flood.py --port PORT [--host 127.0.0.1] [--bytes 1073741824] [--seconds 10]

The socket is non-blocking and every wait is bounded by select() with a
timeout, so the script ends after --seconds (or once --bytes were accepted)
whatever the server does. It prints one line per second,
    progress SECONDS BYTES
and at the end
    sent BYTES in SECONDS s; last progress at SECONDS s; stopped: REASON
where REASON is "limit" (all --bytes accepted), "time" or "error: ...".
Exit status: 0, or 2 when it could not connect.
"""

import argparse
import errno
import select
import socket
import sys
import time

CHUNK = 256 * 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bytes", type=int, default=1 << 30, help="stop once this many were sent")
    ap.add_argument("--seconds", type=float, default=10.0, help="stop after this long")
    args = ap.parse_args()
    if not 0 < args.seconds <= 3600:
        ap.error("--seconds must be in (0, 3600]")

    try:
        sock = socket.create_connection((args.host, args.port), timeout=10)
    except OSError as e:
        print("cannot connect to %s:%d: %s" % (args.host, args.port, e), file=sys.stderr)
        return 2
    sock.setblocking(False)
    payload = memoryview(bytes(i % 251 for i in range(CHUNK)))

    start = time.monotonic()
    deadline = start + args.seconds
    next_report = start + 1.0
    sent = 0
    last_progress = start
    reason = "time"
    while sent < args.bytes:
        now = time.monotonic()
        if now >= next_report:
            print("progress %.1f %d" % (now - start, sent), flush=True)
            next_report += 1.0
        if now >= deadline:
            break
        wait = min(deadline, next_report) - now
        try:
            _, writable, _ = select.select([], [sock], [], max(wait, 0.0))
        except InterruptedError:
            continue
        if not writable:
            continue
        n = min(CHUNK, args.bytes - sent)
        try:
            k = sock.send(payload[:n])
        except (BlockingIOError, InterruptedError):
            continue
        except OSError as e:
            reason = "error: %s" % (errno.errorcode.get(e.errno, e.errno) if e.errno else e)
            break
        if k > 0:
            sent += k
            last_progress = time.monotonic()
    else:
        reason = "limit"
    elapsed = time.monotonic() - start
    print("sent %d in %.1f s; last progress at %.2f s; stopped: %s"
          % (sent, elapsed, last_progress - start, reason), flush=True)
    # Unread echo is waiting in the receive buffer: closing resets the
    # connection, which is fine for this test.
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
