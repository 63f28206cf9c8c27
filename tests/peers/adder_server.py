#!/usr/bin/env python3
"""Integer-adder server in the style of the course, made robust for tests.

One client at a time. For each connection it serves requests in a loop:
read the 4-byte length (struct 'I'), read exactly that many bytes,
pickle.loads them, sum, send struct.pack('I', total). When the client
closes, it closes the connection and goes back to accept. On an error for
one client (bad pickle, sum out of range, truncated request...) it prints
the error to stderr, closes that client and keeps serving.

Warning: pickle.loads runs whatever the peer sends. This is the course's
protocol, for tests on the loopback only.

Usage:
    python3 adder_server.py --host H --port P
Prints `listening on H:P` (the real port when P is 0) once bound.
Standard library only.
"""

import argparse
import pickle
import socket
import struct
import sys


class ClientClosed(Exception):
    """The client closed the connection in the middle of a request."""


class AdderServer:
    def __init__(self, host, port, backlog=16):
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.s = socket.socket(family, socket.SOCK_STREAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind((host, port))
        self.s.listen(backlog)
        self.host, self.port = self.s.getsockname()[:2]

    def _recv_exact(self, conn, n):
        """Returns n bytes, or b'' if the peer closed before sending any."""
        chunks = []
        received = 0
        while received < n:
            chunk = conn.recv(n - received)
            if chunk == b'':
                if received == 0:
                    return b''
                raise ClientClosed('connection closed after %d of %d bytes' % (received, n))
            chunks.append(chunk)
            received = received + len(chunk)
        return b''.join(chunks)

    def _send(self, conn, msg):
        totalsent = 0
        while totalsent < len(msg):
            sent = conn.send(msg[totalsent:])
            if sent == 0:
                raise RuntimeError('socket connection broken')
            totalsent = totalsent + sent

    def _compute(self, conn):
        """Serves requests on conn until the client closes."""
        while True:
            header = self._recv_exact(conn, 4)
            if header == b'':
                return
            length = struct.unpack('I', header)[0]
            payload = self._recv_exact(conn, length)
            if len(payload) != length:
                raise ClientClosed('connection closed before the payload')
            data = pickle.loads(payload)
            total = sum(data)
            self._send(conn, struct.pack('I', total))

    def serve_forever(self):
        while True:
            conn, addr = self.s.accept()
            try:
                self._compute(conn)
            except Exception as e:  # one bad client must not stop the server
                print('%s: %s: %s' % (addr, type(e).__name__, e), file=sys.stderr, flush=True)
            finally:
                conn.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description='Integer-adder server (course protocol).')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    args = parser.parse_args(argv)
    server = AdderServer(args.host, args.port)
    print('listening on %s:%d' % (server.host, server.port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.s.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
