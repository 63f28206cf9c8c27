#!/usr/bin/env python3
"""Sends many lists, of every pickle protocol, to an adder server, in the
style of the course's client, and checks every sum.

The lists cross the places where CPython's pickler changes what it writes:
batches of 1000 items (MARK ... APPENDS), FRAME opcodes every 64 KiB
(protocols 4 and 5), and every integer opcode (BININT1, BININT2, BININT,
LONG1, and the text INT/LONG of protocols 0 and 1).

Usage: python3 adder_lists.py --host H --port P
Prints one line per list; exits 1 at the first wrong or missing sum.
"""

import argparse
import pickle
import random
import socket
import struct
import sys

VALUES = [0, 1, 255, 256, 65535, 65536, -1, 2**31 - 1, 2**31, -2**31, -2**31 - 1,
          2**40, -2**40, 2**100, -2**100]
SIZES = [0, 1, 2, 999, 1000, 1001, 2001, 100000]


class AdderClient():
    def __init__(self, host, port):
        self.__s = socket.create_connection((host, port), timeout=10)

    def compute(self, data, protocol):
        msg = pickle.dumps(data, protocol)
        self.__s.send(struct.pack('I', len(msg)))
        totalsent = 0
        while totalsent < len(msg):
            sent = self.__s.send(msg[totalsent:])
            totalsent += sent
        reply = b''
        while len(reply) < 4:
            chunk = self.__s.recv(4 - len(reply))
            if chunk == b'':
                return None
            reply += chunk
        return struct.unpack('I', reply)[0]

    def close(self):
        self.__s.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=6001)
    args = parser.parse_args()
    rng = random.Random(2026)
    # One connection for all the lists: the server answers in order.
    client = AdderClient(args.host, args.port)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        for size in SIZES:
            data = [rng.choice(VALUES) for _ in range(size)]
            total = sum(data)
            if not 0 <= total < 2**32:
                data.append(rng.randrange(2**32) - total)
                total = sum(data)
            got = client.compute(data, protocol)
            print('protocol', protocol, 'ints', len(data), 'sum', got, flush=True)
            if got != total:
                print('expected', total, file=sys.stderr)
                sys.exit(1)
    client.close()


if __name__ == '__main__':
    main()
