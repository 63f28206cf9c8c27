#!/usr/bin/env python3
"""Holds many idle TCP connections open to a server, for benchmarks.

Raises its RLIMIT_NOFILE soft limit to the hard limit, opens N TCP
connections to HOST:PORT (sending nothing), prints `holding N` on stdout and
then sleeps until its stdin is closed (EOF) or TIMEOUT seconds have passed,
whichever comes first. It then reports on stdout how many of the held
connections the server had closed in the meantime
(`released N (REASON): K still open, C closed by the server`) and exits.

Connects run in parallel (at most 256 in flight). Exit status: 0 when all
N connections were opened, 1 when a connect failed or they were not all
open within 60 s (the error goes to stderr; nothing is held), 2 when the
open-file limit is too low for N.

Usage:
    python3 hold_connections.py --port P [--host H] [-n N] [--timeout SECS]
Standard library only. Every loop is bounded (the connects by a 60 s
deadline, the hold by TIMEOUT seconds).
"""

import argparse
import errno
import os
import resource
import select
import selectors
import socket
import sys
import time

CONNECT_DEADLINE = 60
WINDOW = 256
SPARE_FDS = 32


def raise_nofile():
    """Raises the soft open-file limit to the hard one; returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as e:
            print('setrlimit(%d): %s' % (hard, e), file=sys.stderr)
    return soft


def still_open(sock):
    """True if the peer has not closed (or reset) this idle connection."""
    try:
        sock.setblocking(False)
        return sock.recv(1, socket.MSG_PEEK) != b''
    except BlockingIOError:
        return True
    except OSError:
        return False


def open_all(host, port, n):
    """Opens n connections, up to WINDOW connects in flight at once.

    Connects go in parallel so that the odd SYN the kernel retransmits after
    1 s (seen on loopback with many sockets in TIME_WAIT) does not stall the
    others. Raises OSError on the first failed connect, or when all are not
    open within CONNECT_DEADLINE seconds.
    """
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sel = selectors.DefaultSelector()
    done = []
    pending = 0
    started = 0
    deadline = time.monotonic() + CONNECT_DEADLINE
    try:
        while len(done) < n:
            while started < n and pending < WINDOW:
                s = socket.socket(family, socket.SOCK_STREAM)
                s.setblocking(False)
                err = s.connect_ex((host, port))
                if err not in (0, errno.EINPROGRESS):
                    s.close()
                    raise OSError(err, 'connect #%d: %s' % (started + 1, os.strerror(err)))
                sel.register(s, selectors.EVENT_WRITE)
                started += 1
                pending += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OSError(errno.ETIMEDOUT, '%d of %d connections open after %d s'
                              % (len(done), n, CONNECT_DEADLINE))
            for key, _ in sel.select(min(remaining, 1.0)):
                s = key.fileobj
                sel.unregister(s)
                pending -= 1
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    s.close()
                    raise OSError(err, 'connect: %s' % os.strerror(err))
                s.setblocking(True)
                done.append(s)
    except BaseException:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        for s in done:
            s.close()
        raise
    finally:
        sel.close()
    return done


def main(argv=None):
    parser = argparse.ArgumentParser(description='Hold N idle TCP connections.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('-n', '--connections', type=int, default=10000)
    parser.add_argument('--timeout', type=float, default=120.0,
                        help='seconds to hold the connections at most (default 120)')
    args = parser.parse_args(argv)
    if args.connections < 0:
        parser.error('-n must be >= 0')

    limit = raise_nofile()
    if limit != resource.RLIM_INFINITY and limit < args.connections + SPARE_FDS:
        print('open-file limit %d is too low for %d connections'
              % (limit, args.connections), file=sys.stderr)
        return 2

    try:
        socks = open_all(args.host, args.port, args.connections)
    except OSError as e:
        print('connect: %s' % e, file=sys.stderr)
        return 1

    print('holding %d' % len(socks), flush=True)

    deadline = time.monotonic() + args.timeout
    reason = 'timeout'
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select([sys.stdin], [], [], remaining)
        if readable:
            if os.read(sys.stdin.fileno(), 4096) == b'':
                reason = 'stdin closed'
                break

    alive = sum(1 for s in socks if still_open(s))
    for s in socks:
        s.close()
    print('released %d (%s): %d still open, %d closed by the server'
          % (len(socks), reason, alive, len(socks) - alive), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
