#!/usr/bin/env python3
"""Server of the integer adder (additionneur d'entiers), with reseau.

    python examples/course/adder_server.py                # 127.0.0.1:6001
    python examples/course/adder_server.py --port 0       # any free port

What changed from the course's server: the accept loop, the reading of
the length and the payload, pickle.loads and the reply are all done by
`reseau.AdderServer`, in Rust. It serves many clients at once and never
runs the pickle it receives (pickle.loads would run any code a client
sends): only lists of ints are read. Ctrl-C stops it, as before.
"""

import argparse
import sys

import reseau


class AdderServer():
    def __init__(self, host='127.0.0.1', port=6001):
        self.__server = reseau.AdderServer(host=host, port=port)

    def run(self):
        host, port = self.__server.address
        print('listening on %s:%d' % (host, port), flush=True)
        self.__server.run()  # blocks, like the course's while True: accept


def main():
    parser = argparse.ArgumentParser(description='The integer adder server.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=6001)
    args = parser.parse_args()
    try:
        AdderServer(args.host, args.port).run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
