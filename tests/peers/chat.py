#!/usr/bin/env python3
"""UDP chat in the style of the course, made robust for tests.

Commands, one a line on stdin, split as the course does: the line is
right-stripped and a space appended; the command is the text up to the
first space, the parameter is the rest, right-stripped.

    /join HOST PORT   send to this peer from now on
    /send TEXT        send TEXT (UTF-8) in one datagram to the joined peer
    /quit             forget the joined peer
    /exit             stop (end of stdin does the same)

A thread receives datagrams with recvfrom(1024), as the course does (a
longer datagram reaches it cut to 1024 bytes), and prints each one.

Differences from the course, to make it testable:
- end of stdin is /exit, and /exit stops the receiving thread before it
  closes the socket;
- /join resolves HOST with getaddrinfo in the socket's family (IPv4, or
  IPv6 when --host contains ':'), so 127.0.0.1 and localhost work on an
  IPv4 socket and ::1 (and localhost) on an IPv6 one;
- a command with a missing or an extra parameter, a bad /join, a /send
  before any /join and socket errors are reported on stderr, and the
  program goes on (the course would crash or stay silent).

Usage:
    python3 chat.py --host H --port P
Output on stdout, each line flushed:
    listening on H:P        once bound (the real port when P is 0)
    RECV <text>             for each datagram received (decoded as UTF-8
                            with errors='replace', as print() writes it)
    Unknown command: X      for an unknown command X (an empty line
                            gives `Unknown command: `, as in the course)
On stderr: `joined H P` after a successful /join (H the resolved address)
and the error messages. Standard library only.
"""

import argparse
import socket
import sys
import threading

RECV_SIZE = 1024
JOIN_TIMEOUT = 5.0


class Chat:
    def __init__(self, host='127.0.0.1', port=5000):
        self.__family = socket.AF_INET6 if ':' in host else socket.AF_INET
        s = socket.socket(self.__family, socket.SOCK_DGRAM)
        s.settimeout(0.5)
        s.bind((host, port))
        self.__s = s
        self.__running = False
        self.__address = None
        self.__receiver = None
        self.__out = threading.Lock()
        self.host, self.port = s.getsockname()[:2]

    def _print(self, text):
        """One whole line on stdout, flushed (two threads print)."""
        with self.__out:
            sys.stdout.write(text + '\n')
            sys.stdout.flush()

    def _error(self, text):
        with self.__out:
            sys.stderr.write(text + '\n')
            sys.stderr.flush()

    def _exit(self):
        self.__running = False
        self.__address = None
        # The receiving thread wakes up every 0.5 s: let it finish before
        # the socket is closed under it.
        if self.__receiver is not None and self.__receiver is not threading.current_thread():
            self.__receiver.join(JOIN_TIMEOUT)
        self.__s.close()

    def _quit(self):
        self.__address = None

    def _resolve(self, host, port):
        try:
            infos = socket.getaddrinfo(host, port, self.__family, socket.SOCK_DGRAM)
        except socket.gaierror:
            # This machine's hosts file may name only 127.0.0.1 localhost.
            if self.__family == socket.AF_INET6 and host.lower() == 'localhost':
                return ('::1', port, 0, 0)
            raise
        return infos[0][4]

    def _join(self, param):
        tokens = param.split(' ')
        if len(tokens) != 2:
            self._error('join: expected HOST PORT, got %r' % param)
            return
        try:
            port = int(tokens[1])
            if not 0 < port < 65536:
                raise ValueError('port out of range: %d' % port)
            self.__address = self._resolve(tokens[0], port)
        except (ValueError, OSError) as e:
            self._error('join: %s: %s' % (type(e).__name__, e))
            return
        self._error('joined %s %d' % (self.__address[0], self.__address[1]))

    def _send(self, param):
        if self.__address is None:
            self._error('send: not joined')
            return
        message = param.encode('utf-8', errors='surrogateescape')
        totalsent = 0
        try:
            while totalsent < len(message):
                sent = self.__s.sendto(message[totalsent:], self.__address)
                if sent == 0:
                    raise RuntimeError('nothing sent')
                totalsent = totalsent + sent
        except (OSError, RuntimeError) as e:
            self._error('send: %s: %s' % (type(e).__name__, e))

    def _receive(self):
        while self.__running:
            try:
                data, address = self.__s.recvfrom(RECV_SIZE)
            except socket.timeout:
                continue
            except OSError as e:
                if not self.__running:
                    break
                # e.g. an ICMP error reported on the socket: go on.
                self._error('receive: %s: %s' % (type(e).__name__, e))
                continue
            self._print('RECV ' + data.decode('utf-8', errors='replace'))

    def run(self):
        handlers = {
            '/exit': (self._exit, False),
            '/quit': (self._quit, False),
            '/join': (self._join, True),
            '/send': (self._send, True),
        }
        self.__running = True
        self.__address = None
        self.__receiver = threading.Thread(target=self._receive, daemon=True)
        self.__receiver.start()
        while self.__running:
            raw = sys.stdin.readline()
            if raw == '':  # end of stdin
                self._exit()
                break
            line = raw.rstrip() + ' '
            command = line[:line.index(' ')]
            param = line[line.index(' ') + 1:].rstrip()
            if command not in handlers:
                self._print('Unknown command: ' + command)
                continue
            handler, takes_param = handlers[command]
            if takes_param and param == '':
                self._error('%s: missing parameter' % command)
            elif not takes_param and param != '':
                self._error('%s: unexpected parameter %r' % (command, param))
            elif takes_param:
                handler(param)
            else:
                handler()


def main(argv=None):
    parser = argparse.ArgumentParser(description='UDP chat (course protocol).')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    args = parser.parse_args(argv)
    # Deterministic text whatever the locale; odd bytes on stdin pass through.
    sys.stdin.reconfigure(encoding='utf-8', errors='surrogateescape')
    sys.stdout.reconfigure(encoding='utf-8', errors='replace')

    try:
        chat = Chat(args.host, args.port)
    except OSError as e:
        print('bind: %s' % e, file=sys.stderr)
        return 1
    print('listening on %s:%d' % (chat.host, chat.port), flush=True)
    try:
        chat.run()
    except KeyboardInterrupt:
        chat._exit()
    return 0


if __name__ == '__main__':
    sys.exit(main())
