#!/usr/bin/env python3
"""Echo server (serveur echo), with reseau.

    python examples/course/echo_server.py                 # 127.0.0.1:6000
    python examples/course/echo_server.py --port 0

What changed from the course's server: `reseau.EchoServer` accepts the
clients and does the receive loop. It also really echoes: every byte
comes back to the client (RFC 862), where the course's server printed
the message and sent nothing. It serves many clients at once instead of
one after the other. The course's client, which sends and closes without
reading, still works.
"""

import argparse
import sys

import reseau


class EchoServer():
    def __init__(self, host='127.0.0.1', port=6000):
        self._s = reseau.EchoServer(host=host, port=port)

    def run(self):
        print('listening on %s:%d' % self._s.address, flush=True)
        self._s.run()


def main():
    parser = argparse.ArgumentParser(description='Echo server.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=6000)
    args = parser.parse_args()
    try:
        EchoServer(args.host, args.port).run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
