#!/usr/bin/env python3
"""Peak memory of a client that sums a long generator: reseau.sum against the
course's way (a list, pickled whole, then sent).

    python sum_memory.py [--n 12000000]

Each side runs in a fresh process of its own (this script, re-run with
--side), against reseau's AdderServer in a third process that it starts and
stops by PID. Reported: the client's ru_maxrss before and after the call,
and the call's wall time. The default n keeps both payloads under the
server's 64 MiB frame limit (about 48 MB native, 60 MB pickled).
"""

import argparse
import resource
import socket
import struct
import subprocess
import sys
import time

SERVER = "import reseau\ns = reseau.AdderServer(port=0)\nprint(s.address[1], flush=True)\ns.run()"


def side(name, n, port):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    if name == "reseau":
        import reseau
        got = reseau.sum((i for i in range(n)), port=port, encoding="native")
        what = "sum %d" % got
    else:
        import pickle
        msg = pickle.dumps(list(i for i in range(n)))
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            s.sendall(struct.pack("I", len(msg)) + msg)
        what = "sent %d bytes (the course's reply carries no sum this large)" % len(msg)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("%-7s n=%d: %s; ru_maxrss %d -> %d kB (+%d kB), %.2f s"
          % (name, n, what, before, after, after - before, elapsed))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=12_000_000)
    ap.add_argument("--side", choices=["reseau", "course"])
    ap.add_argument("--port", type=int)
    args = ap.parse_args()
    if args.side:
        side(args.side, args.n, args.port)
        return 0
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        for name in ("reseau", "course"):
            subprocess.run([sys.executable, __file__, "--side", name, "--n", str(args.n),
                            "--port", str(port)], check=True, timeout=300)
    finally:
        server.kill()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
