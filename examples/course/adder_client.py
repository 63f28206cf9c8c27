#!/usr/bin/env python3
"""Client of the integer adder (additionneur d'entiers), with reseau.

    python examples/course/adder_client.py 1 2 3          # prints 6
    python examples/course/adder_client.py --port 7001 -3 10

What changed from the course's client: the request is built by
`reseau.encode_sum_request(data)`, which returns the whole frame (the
4-byte length and the pickle of the list) instead of pickle.dumps plus
struct.pack done by hand. Everything else is the course's: the socket,
the send loop, and the reply read with struct.unpack('I', ...).
`reseau.sum(data, host, port)` would do all of it in one call.
"""

import argparse
import socket
import struct
import sys

import reseau

SERVERADDRESS = ('127.0.0.1', 6001)


class AdderClient():
    def __init__(self, data, address=SERVERADDRESS):
        self.__data = data
        self.__s = socket.socket()
        self.__s.settimeout(10)
        self.__s.connect(address)

    def _receive(self, size):
        """Reads exactly size bytes (recv may return fewer)."""
        chunks = b''
        while len(chunks) < size:
            data = self.__s.recv(size - len(chunks))
            if data == b'':
                raise ConnectionError('the server closed without replying')
            chunks += data
        return chunks

    def _compute(self):
        totalsent = 0
        msg = reseau.encode_sum_request(self.__data)  # length + pickle, in one frame
        while totalsent < len(msg):
            sent = self.__s.send(msg[totalsent:])
            totalsent += sent
        return struct.unpack('I', self._receive(4))[0]

    def run(self):
        try:
            return self._compute()
        finally:
            self.__s.close()


def main():
    parser = argparse.ArgumentParser(description='Sends integers to the adder and prints their sum.')
    parser.add_argument('--host', default=SERVERADDRESS[0])
    parser.add_argument('--port', type=int, default=SERVERADDRESS[1])
    parser.add_argument('ints', nargs='*', type=int)
    args = parser.parse_args()
    try:
        print(AdderClient(args.ints, (args.host, args.port)).run())
    except OSError as e:
        print('Serveur introuvable, connexion impossible:', e, file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
