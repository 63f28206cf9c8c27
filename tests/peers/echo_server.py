#!/usr/bin/env python3
"""Echo server in the style of the course, made robust for tests.

One client at a time: accept, read until the client closes its side
(recv returns b''), print the whole message, decoded as UTF-8 with
errors='replace', close the connection, accept the next client. Like the
course's server it never sends anything back: a client that waits for an
echo gets end of stream.

An error with one client (reset, timeout...) is printed to stderr and the
server goes on with the next one. Each client socket has a timeout
(--timeout, 10 s by default), so a client that never closes cannot hold
the server forever.

Usage:
    python3 echo_server.py --host H --port P [--max-clients N] [--timeout S]
Prints `listening on H:P` (the real port when P is 0) once bound, then one
line per client: the message as print() writes it (a message that holds
newlines spans several lines). With --max-clients N it exits 0 after N
clients (an accepted client counts even if it failed); otherwise it runs
until killed. Standard library only.
"""

import argparse
import socket
import sys

TIMEOUT = 10.0


class EchoServer:
    def __init__(self, host, port, timeout=TIMEOUT, backlog=16):
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self._s = socket.socket(family, socket.SOCK_STREAM)
        self._s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._s.bind((host, port))
        self._s.listen(backlog)
        self.timeout = timeout
        self.host, self.port = self._s.getsockname()[:2]

    def _receive(self, client):
        """Reads until the client closes; returns every byte received."""
        chunks = []
        finished = False
        while not finished:
            data = client.recv(1024)
            chunks.append(data)
            finished = data == b''
        return b''.join(chunks)

    def run(self, max_clients=None):
        served = 0
        while max_clients is None or served < max_clients:
            try:
                client, addr = self._s.accept()
            except OSError as e:  # e.g. a connection aborted before accept
                print('accept: %s: %s' % (type(e).__name__, e), file=sys.stderr, flush=True)
                continue
            served = served + 1
            try:
                client.settimeout(self.timeout)
                message = self._receive(client)
                print(message.decode('utf-8', errors='replace'), flush=True)
            except Exception as e:  # one bad client must not stop the server
                print('%s: %s: %s' % (addr, type(e).__name__, e), file=sys.stderr, flush=True)
            finally:
                client.close()

    def close(self):
        self._s.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description='Echo server (course protocol: prints, sends nothing back).')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--max-clients', type=int, default=None,
                        help='exit 0 after serving N clients (default: run until killed)')
    parser.add_argument('--timeout', type=float, default=TIMEOUT,
                        help='socket timeout for each client, in seconds (default: %(default)s)')
    args = parser.parse_args(argv)
    if args.max_clients is not None and args.max_clients < 0:
        parser.error('--max-clients must not be negative')
    if args.timeout <= 0:
        parser.error('--timeout must be positive')
    # Deterministic output whatever the locale.
    sys.stdout.reconfigure(encoding='utf-8', errors='replace')

    try:
        server = EchoServer(args.host, args.port, args.timeout)
    except OSError as e:
        print('bind: %s' % e, file=sys.stderr)
        return 1
    print('listening on %s:%d' % (server.host, server.port), flush=True)
    try:
        server.run(args.max_clients)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
