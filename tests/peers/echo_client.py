#!/usr/bin/env python3
"""Echo client in the style of the course, made robust for tests.

The course's client connects, sends its whole message with a send loop
and closes, without reading anything. This one does the same, and with
--read it can also check a real echo server: after sending it half-closes
(shutdown SHUT_WR) and reads until end of stream. The reading runs in a
thread from the start, so a server that echoes as it receives never
blocks on a client that is still sending.

Usage:
    python3 echo_client.py --host H --port P [--read] [--timeout S] [MESSAGE...]
The words of MESSAGE are joined with single spaces and sent as UTF-8; with
no MESSAGE the bytes of stdin are sent as they are (until EOF).

Output: nothing without --read. With --read, what came back, decoded as
UTF-8 with errors='replace', as print() writes it (one newline added).
Exit status: 0 on success; 2 if the connection fails, with
`server not found, cannot connect` on stderr (the course's message); 4 on
a timeout (10 s per socket operation by default) with
`timeout after S s` on stderr; 1 on any other socket error, with
`socket error: ...` on stderr. Standard library only.
"""

import argparse
import socket
import sys
import threading

TIMEOUT = 10.0
EXIT_ERROR = 1
EXIT_NOT_FOUND = 2
EXIT_TIMEOUT = 4


class EchoClient:
    def __init__(self, message, host, port, timeout=TIMEOUT):
        self.message = message
        self.address = (host, port)
        self.timeout = timeout
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.__s = socket.socket(family, socket.SOCK_STREAM)
        self.__s.settimeout(timeout)
        self.__received = []
        self.__error = None

    def connect(self):
        self.__s.connect(self.address)

    def _send(self):
        totalsent = 0
        while totalsent < len(self.message):
            sent = self.__s.send(self.message[totalsent:])
            if sent == 0:
                raise RuntimeError('socket connection broken')
            totalsent = totalsent + sent

    def _receive(self):
        """Reads until end of stream (runs in its own thread)."""
        try:
            finished = False
            while not finished:
                data = self.__s.recv(1024)
                self.__received.append(data)
                finished = data == b''
        except Exception as e:  # handed over to the main thread
            self.__error = e

    def run(self, read=False):
        """Sends the message; with read, returns what came back."""
        if not read:
            self._send()
            return None
        reader = threading.Thread(target=self._receive, daemon=True)
        reader.start()
        try:
            self._send()
            self.__s.shutdown(socket.SHUT_WR)
        finally:
            # Every recv is bounded by the timeout; allow some slack.
            reader.join(self.timeout + 1.0)
        if reader.is_alive():
            raise socket.timeout('no end of stream')
        if self.__error is not None:
            raise self.__error
        return b''.join(self.__received)

    def close(self):
        self.__s.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description='Echo client (course protocol).')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--read', action='store_true',
                        help='half-close after sending, read until EOF and print what came back')
    parser.add_argument('--timeout', type=float, default=TIMEOUT,
                        help='timeout of each socket operation, in seconds (default: %(default)s)')
    parser.add_argument('message', nargs='*', metavar='MESSAGE',
                        help='the message (default: the bytes of stdin)')
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error('--timeout must be positive')
    sys.stdout.reconfigure(encoding='utf-8', errors='replace')

    if args.message:
        # surrogateescape gives back the exact bytes of the command line.
        message = ' '.join(args.message).encode('utf-8', errors='surrogateescape')
    else:
        message = sys.stdin.buffer.read()

    client = EchoClient(message, args.host, args.port, args.timeout)
    try:
        try:
            client.connect()
        except OSError:
            print('server not found, cannot connect', file=sys.stderr, flush=True)
            return EXIT_NOT_FOUND
        try:
            echoed = client.run(args.read)
        except socket.timeout:
            print('timeout after %s s' % args.timeout, file=sys.stderr, flush=True)
            return EXIT_TIMEOUT
        except (OSError, RuntimeError) as e:
            print('socket error: %s' % e, file=sys.stderr, flush=True)
            return EXIT_ERROR
        if echoed is not None:
            print(echoed.decode('utf-8', errors='replace'), flush=True)
    finally:
        client.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
