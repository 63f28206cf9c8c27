#!/usr/bin/env python3
"""Integer-adder client in the style of the course, made robust for tests.

Protocol: the request is struct.pack('I', n) followed by n bytes of
pickle.dumps(list_of_ints); the reply is struct.pack('I', total), 4 raw
bytes, not framed. The connection stays open for further requests.

Usage:
    python3 adder_client.py --host H --port P [--protocol N] [--requests K] INT...
    python3 adder_client.py --host H --port P [--requests K] --raw-file PATH

Prints each sum on its own line. If the server closes the connection
without replying, prints `closed` and exits 3. A timeout (10 s) exits 4,
any other socket error exits 1. Standard library only.
"""

import argparse
import pickle
import socket
import struct
import sys

TIMEOUT = 10.0
EXIT_CLOSED = 3
EXIT_TIMEOUT = 4


class ServerClosed(Exception):
    """The server closed (or reset) the connection before a full reply."""


class AdderClient:
    def __init__(self, data, host, port, protocol=None, timeout=TIMEOUT):
        self.data = data
        self.protocol = protocol
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.s = socket.socket(family, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect((host, port))

    def _send(self, msg):
        totalsent = 0
        while totalsent < len(msg):
            try:
                sent = self.s.send(msg[totalsent:])
            except (BrokenPipeError, ConnectionResetError) as e:
                raise ServerClosed() from e
            if sent == 0:
                raise ServerClosed()
            totalsent = totalsent + sent

    def _recv_exact(self, n):
        chunks = []
        received = 0
        while received < n:
            try:
                chunk = self.s.recv(n - received)
            except ConnectionResetError as e:
                raise ServerClosed() from e
            if chunk == b'':
                raise ServerClosed()
            chunks.append(chunk)
            received = received + len(chunk)
        return b''.join(chunks)

    def _request(self, framed):
        self._send(framed)
        return struct.unpack('I', self._recv_exact(4))[0]

    def _compute(self):
        msg = pickle.dumps(self.data, protocol=self.protocol)
        return self._request(struct.pack('I', len(msg)) + msg)

    def send_raw(self, raw):
        """Sends bytes that are already framed and returns the reply."""
        return self._request(raw)

    def close(self):
        self.s.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description='Integer-adder client (course protocol).')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--protocol', type=int, default=None,
                        help='pickle protocol (default: pickle.DEFAULT_PROTOCOL)')
    parser.add_argument('--requests', type=int, default=1,
                        help='send the same request K times on one connection')
    parser.add_argument('--raw-file', default=None,
                        help='send the bytes of this file as-is (already framed)')
    parser.add_argument('ints', nargs='*', type=int)
    args = parser.parse_args(argv)
    if args.raw_file is not None and args.ints:
        parser.error('--raw-file and INT... are exclusive')
    if args.requests < 1:
        parser.error('--requests must be at least 1')

    raw = None
    if args.raw_file is not None:
        with open(args.raw_file, 'rb') as f:
            raw = f.read()

    try:
        client = AdderClient(args.ints, args.host, args.port, args.protocol)
    except OSError as e:
        print('connect: %s' % e, file=sys.stderr)
        return 1
    try:
        for _ in range(args.requests):
            if raw is not None:
                total = client.send_raw(raw)
            else:
                total = client._compute()
            print(total, flush=True)
    except ServerClosed:
        print('closed', flush=True)
        return EXIT_CLOSED
    except socket.timeout:
        print('timeout after %s s' % TIMEOUT, file=sys.stderr)
        return EXIT_TIMEOUT
    except OSError as e:
        print('socket error: %s' % e, file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
