#!/usr/bin/env python3
"""The course's adder or echo server, wrapped in TLS with Python's ssl
module (the lesson after raw sockets): a real TLS peer for reseau's
clients (`--tls --ca`).

One client at a time: accept, `SSLContext.wrap_socket(server_side=True)`,
then serve until the client closes: the adder answers each request
(`struct.pack('I', len)` + a pickled list of ints) with
`struct.pack('I', sum)`; echo sends back every byte as it reads it. The
connection is closed without a close_notify, as `socket.close()` does. An
error with one client (a client that refused the certificate, a timeout)
is printed to stderr and the server goes on.

Usage:
    python3 tls_server.py --service adder|echo --cert FILE --key FILE
                          [--host H] [--port P] [--timeout S]
Prints `listening on H:P` (the real port when P is 0) once bound, and runs
until killed. Standard library only.
"""

import argparse
import pickle
import socket
import ssl
import struct
import sys


def recv_exactly(conn, n):
    data = b''
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def adder(conn):
    while True:
        header = recv_exactly(conn, 4)
        if len(header) < 4:
            return
        (length,) = struct.unpack('I', header)
        ints = pickle.loads(recv_exactly(conn, length))
        conn.sendall(struct.pack('I', sum(ints)))


def echo(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--service', choices=['adder', 'echo'], required=True)
    parser.add_argument('--cert', required=True)
    parser.add_argument('--key', required=True)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--timeout', type=float, default=10.0)
    args = parser.parse_args()
    handler = adder if args.service == 'adder' else echo
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    s = socket.socket(socket.AF_INET6 if ':' in args.host else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.host, args.port))
    s.listen(16)
    print('listening on %s:%d' % s.getsockname()[:2], flush=True)
    while True:
        conn, addr = s.accept()
        conn.settimeout(args.timeout)
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                handler(tls)
        except (OSError, ValueError, pickle.UnpicklingError, struct.error) as e:
            print('%s: %s' % (addr, e), file=sys.stderr, flush=True)


if __name__ == '__main__':
    main()
