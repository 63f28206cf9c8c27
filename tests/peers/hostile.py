#!/usr/bin/env python3
"""Writes hostile adder requests into a directory, one file per case.

Each NAME.bin file holds a request as the course's client sends it:
struct.pack('I', len(payload)) followed by the payload (except where the
case is about a wrong header). The pickle of the `evil` case is also
written alone, unframed, as evil.pickle, so that a test can show that
pickle.loads really runs it.

The evil pickles run `touch MARKER` when loaded, MARKER a path relative
to the directory of the process that loads them.

Usage:
    python3 hostile.py OUTDIR [--marker NAME]
Prints the names of the files it wrote, one a line.
Standard library only. It builds the payloads and never loads them.
"""

import argparse
import os
import pickle
import struct
import sys


class Evil:
    """Pickled as a call to os.system('touch MARKER')."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ('touch ' + self.marker,))


def frame(payload):
    return struct.pack('I', len(payload)) + payload


def cases(marker):
    """Returns a list of (name, bytes to send) pairs."""
    evil = pickle.dumps([1, Evil(marker)])
    global_p0 = pickle.dumps([1, Evil(marker)], protocol=0)
    # Protocol 0 names the function with GLOBAL: `c` module \n name \n.
    name = os.system.__module__.encode() + b'\nsystem\n'
    assert b'c' + name in global_p0, global_p0
    # A real pickle always pushes the two names (strings) before its
    # STACK_GLOBAL, and the strings are refused first; so this one is
    # written by hand: a list, a MARK, an int, then STACK_GLOBAL.
    stack_global = b'\x80\x04]\x94(K\x01\x93e.'
    ok = pickle.dumps([1, 2])
    # Header says 10 more bytes than are sent.
    truncated = struct.pack('I', len(ok) + 10) + ok
    return [
        ('evil', frame(evil)),
        ('global_p0', frame(global_p0)),
        ('stack_global', frame(stack_global)),
        ('string', frame(pickle.dumps([1, 'a', 2]))),
        ('float', frame(pickle.dumps([1, 2.5]))),
        ('nested_list', frame(pickle.dumps([1, [2, 3]]))),
        ('dict', frame(pickle.dumps({1: 2}))),
        ('tuple', frame(pickle.dumps((1, 2, 3)))),
        ('after_stop', frame(ok + b'.')),
        ('protocol_6', frame(b'\x80\x06]\x94.')),
        ('truncated', truncated),
        # Only a header: 1001 bytes announced.
        ('over_1000', struct.pack('I', 1001)),
        ('sum_minus_one', frame(pickle.dumps([-1]))),
        ('sum_2_32', frame(pickle.dumps([2 ** 31, 2 ** 31]))),
    ], evil


def main(argv=None):
    parser = argparse.ArgumentParser(description='Writes hostile adder requests.')
    parser.add_argument('outdir')
    parser.add_argument('--marker', default='PWNED-by-a-pickle',
                        help='file the evil pickles create when loaded')
    args = parser.parse_args(argv)

    written, evil = cases(args.marker)
    for name, data in written:
        with open(os.path.join(args.outdir, name + '.bin'), 'wb') as f:
            f.write(data)
        print(name + '.bin')
    with open(os.path.join(args.outdir, 'evil.pickle'), 'wb') as f:
        f.write(evil)
    print('evil.pickle')
    return 0


if __name__ == '__main__':
    sys.exit(main())
