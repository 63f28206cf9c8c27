#!/usr/bin/env python3
"""Echo client (client echo), with reseau.

    python examples/course/echo_client.py Hello World!    # to 127.0.0.1:6000
    python examples/course/echo_client.py --port 6100 Bonjour

What changed from the course's client: `reseau.EchoClient(host,
port).run(message)` connects, sends the whole message (the send loop),
closes its sending side and returns what the server sent back, so the
client can print the echo. The course's client sent and closed without
reading anything. The course's `except OSError` still catches a server
that is not there.
"""

import argparse
import sys

import reseau

SERVERADDRESS = ('127.0.0.1', 6000)


class EchoClient():
    def __init__(self, message, address=SERVERADDRESS):
        self.__message = message
        self.__client = reseau.EchoClient(*address)

    def run(self):
        return self.__client.run(self.__message)


def main():
    parser = argparse.ArgumentParser(description='Sends a message to an echo server.')
    parser.add_argument('--host', default=SERVERADDRESS[0])
    parser.add_argument('--port', type=int, default=SERVERADDRESS[1])
    parser.add_argument('message', nargs='*', default=['Hello', 'World!'])
    args = parser.parse_args()
    try:
        echoed = EchoClient(' '.join(args.message), (args.host, args.port)).run()
    except OSError:
        print('Serveur introuvable, connexion impossible.', file=sys.stderr)
        return 2
    print(echoed.decode('utf-8', errors='replace'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
