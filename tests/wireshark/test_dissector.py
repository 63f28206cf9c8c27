#!/usr/bin/env python3
"""tools/wireshark/reseau.lua against real traffic, with tshark.

setUpModule starts tshark on the loopback interface, then `reseau adder
serve`, `reseau echo serve` and `reseau chat` on 127.0.0.1 (free ports
below the ephemeral range that no Wireshark dissector claims, so that
tshark's `-d tcp.port==N,reseau_adder` is what dissects them), drives the
course-style peers of tests/peers and `reseau adder sum`, stops tshark, and
dissects the capture once with the Lua dissector (`-T pdml`). Each test then
checks one behaviour of the dissection against an oracle that does not
share its code:

- `reseau explain --json` on the same bytes (taken from the capture:
  tcp.payload of each stream, per direction): every row (field name, value,
  running sum, offset, length, first bytes) and every verdict;
- CPython's `pickletools.genops` on each pickle payload (the opcode names,
  arguments and offsets), and `sum(pickle.loads(...))` for the sums;
- the bytes the test itself sent (echo, chat, native ints).

Usage: python3 tests/wireshark/test_dissector.py --reseau target/release/reseau
Needs tshark and the right to capture on lo (root, or dumpcap's
capabilities). Standard library only. Every wait is bounded in time; only
the processes started here are stopped, by their PID.
"""

import argparse
import json
import os
import pickle
import pickletools
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEERS = os.path.join(ROOT, 'tests', 'peers')
LUA = os.path.join(ROOT, 'tools', 'wireshark', 'reseau.lua')
RESEAU = os.path.join(ROOT, 'target', 'release', 'reseau')
TIMEOUT = 10.0

# The ints of the pickle requests: every integer opcode of every protocol
# (BININT1, BININT2, BININT, LONG1 up to 128 bits, text INT/LONG for
# protocols 0 and 1, NEWTRUE), and partial sums far beyond 64 bits; the
# total fits the 4-byte reply.
INTS = [1, 2, 300, 70000, -5, 2**31 - 1, -(2**31 - 1), 2**40, -2**40,
        2**100, -2**100, 2**127 - 1, -(2**127 - 1), 7]
# Booleans: INT's I01 and I00 in protocols 0 and 1, NEWTRUE and NEWFALSE from
# protocol 2 on; sent as the course's client sends any bytes (--raw-file).
BOOL_PICKLES = [pickle.dumps([True, False, 3], protocol) for protocol in (0, 1, 2)]
# A GLOBAL: what a pickle that runs code starts with. The server refuses it.
GLOBAL_PICKLE = b'\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.'
# Payloads the server refuses, one rule each (PROTOCOL.md, "Errors"): each
# on its own connection, which the server closes without a reply.
REFUSED_PICKLES = [
    b'(lp0\nI010\na.',                                   # not a canonical decimal
    b'\x80\x02]r\x00\x00\x01\x00.',                      # memo index 65536
    b'\x80\x02](\x8b\xff\xff\xff\xffe.',                 # LONG4's negative length
    pickle.dumps([1], 2) + b'K\x01',                     # bytes after STOP
    b'\x80\x04\x95\x20\x00\x00\x00\x00\x00\x00\x00]\x94.', # FRAME past STOP
    b'\x80\x06].',                                       # protocol 6
    b'\x80\x02]].',                                      # a second list
    b'\x80\x02](K\x01',                                  # ends before STOP
    b'\x80\x02](M\x01',                                  # ends inside an argument
    pickle.dumps([-5], 2),                               # sum below the u32 reply
    pickle.dumps([2**130], 2),                           # int beyond 128 bits
    b'\x80\x02]q\x00N.',                                 # None
]
# Native payloads answered with an error reply.
REFUSED_NATIVE = [
    b'\xfe\x02\x02',                                     # Version
    b'\xfe\x01\x02\x80',                                 # cut inside a varint
    b'\xfe\x01' + b'\xff' * 10 + b'\x01',                # varint over 10 bytes
]
NATIVE_INTS = [1, -2, 300, 9223372036854775807, -9223372036854775807]
ECHO_MESSAGE = b'Hello World! \x1b[2J "quoted" \\ end\n'
CHAT_TEXT = 'Bonjour \x1b[31m rouge'

# What the test found in setUpModule, for the tests.
STATE = {}


def escape(data):
    """The dissector's escaping: printable ASCII as is, \\" and \\\\,
    \\n \\r \\t, every other byte \\xNN."""
    out = []
    for b in data:
        if b == 0x0a:
            out.append('\\n')
        elif b == 0x0d:
            out.append('\\r')
        elif b == 0x09:
            out.append('\\t')
        elif b in (0x22, 0x5c):
            out.append('\\' + chr(b))
        elif 0x20 <= b < 0x7f:
            out.append(chr(b))
        else:
            out.append('\\x%02x' % b)
    return ''.join(out)


def wait_for(predicate, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError('timed out after %s s waiting for %s' % (timeout, what))


def claimed_ports(table):
    """Ports that a Wireshark dissector already registers in `table`."""
    out = subprocess.run(['tshark', '-G', 'decodes'], capture_output=True, timeout=60,
                         check=True).stdout.decode('ascii', 'replace')
    ports = set()
    for line in out.splitlines():
        parts = line.split('\t')
        if len(parts) >= 2 and parts[0] == table and parts[1].isdigit():
            ports.add(int(parts[1]))
    return ports


def free_port(kind, claimed, taken):
    """A free port below the ephemeral range (so TCP tries it first) that no
    dissector claims: tshark's -d then decides what dissects it."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        if port in claimed or port in taken:
            continue
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(('127.0.0.1', port))
        except OSError:
            continue
        finally:
            s.close()
        taken.add(port)
        return port
    raise RuntimeError('no free port found')


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def port_open(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
        return True
    except OSError:
        return False


def stop(proc, sig=signal.SIGTERM):
    """Stops a process started here, by its PID, within TIMEOUT."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(TIMEOUT)


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, timeout=60, **kwargs)


# ---------------------------------------------------------------------------
# The traffic: course-style clients.
# ---------------------------------------------------------------------------

def adder_client(port, *args):
    return run([sys.executable, os.path.join(PEERS, 'adder_client.py'), '--port', str(port)]
               + [str(a) for a in args])


def split_request(port, ints):
    """The course's client, but its request leaves in three segments
    (header, half the payload, the rest): the dissector must reassemble."""
    msg = pickle.dumps(ints, 3)
    data = struct.pack('I', len(msg)) + msg
    s = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for piece in (data[:4], data[4:4 + len(msg) // 2], data[4 + len(msg) // 2:]):
        s.sendall(piece)
        time.sleep(0.1)
    reply = b''
    while len(reply) < 4:
        chunk = s.recv(4 - len(reply))
        if not chunk:
            break
        reply += chunk
    s.close()
    return msg, reply


def native_pipelined(port):
    """Two native requests in one send: one segment, two frames."""
    frames = []
    for ints in ([5, 6], [-1, 1, 2]):
        payload = b'\xfe\x01' + b''.join(zigzag_varint(n) for n in ints)
        frames.append(struct.pack('I', len(payload)) + payload)
    s = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    s.sendall(b''.join(frames))
    replies = b''
    while len(replies) < 16:
        chunk = s.recv(64)
        if not chunk:
            break
        replies += chunk
    s.close()
    return frames


def native_request(port, payload):
    """One native request on its own connection; its reply is read."""
    s = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    s.sendall(struct.pack('I', len(payload)) + payload)
    reply = b''
    while len(reply) < 8:
        chunk = s.recv(64)
        if not chunk:
            break
        reply += chunk
    s.close()
    return reply


def zigzag_varint(n):
    z = (n << 1) ^ (n >> 63)
    out = b''
    while True:
        byte = z & 0x7f
        z >>= 7
        if z:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def drive(ports, reseau):
    """Sends every kind of message; returns what the tests need to know."""
    sent = {'pickle': []}
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        out = adder_client(ports['adder'], '--protocol', protocol, *INTS)
        if out.stdout.strip() != str(sum(INTS)).encode():
            raise RuntimeError('protocol %d: unexpected reply %r %r'
                               % (protocol, out.stdout, out.stderr))
        sent['pickle'].append(pickle.dumps(INTS, protocol))
    for payload in BOOL_PICKLES:
        with tempfile.NamedTemporaryFile(suffix='.bin') as f:
            f.write(struct.pack('I', len(payload)) + payload)
            f.flush()
            out = adder_client(ports['adder'], '--raw-file', f.name)
            if out.stdout.strip() != b'4':
                raise RuntimeError('booleans: unexpected reply %r' % out.stdout)
    with tempfile.NamedTemporaryFile(suffix='.bin') as f:
        f.write(struct.pack('I', len(GLOBAL_PICKLE)) + GLOBAL_PICKLE)
        f.flush()
        out = adder_client(ports['adder'], '--raw-file', f.name)
        if out.stdout.strip() != b'closed':
            raise RuntimeError('the GLOBAL pickle was not refused: %r' % out.stdout)
    for payload in REFUSED_PICKLES:
        with tempfile.NamedTemporaryFile(suffix='.bin') as f:
            f.write(struct.pack('I', len(payload)) + payload)
            f.flush()
            out = adder_client(ports['adder'], '--raw-file', f.name)
            if out.stdout.strip() != b'closed':
                raise RuntimeError('not refused: %r: %r' % (payload, out.stdout))
    for payload in REFUSED_NATIVE:
        reply = native_request(ports['adder'], payload)
        if reply[6:7] != b'\x01':   # FE 01, then the tag of Error
            raise RuntimeError('no error reply to %r: %r' % (payload, reply))
    split_ints = list(range(-50, 400, 7))
    sent['split'], reply = split_request(ports['adder'], split_ints)
    if reply != struct.pack('I', sum(split_ints)):
        raise RuntimeError('split request: unexpected reply %r' % reply)
    to = '127.0.0.1:%d' % ports['adder']
    out = run([reseau, 'adder', 'sum', '--to', to, '--encoding', 'native', '--']
              + [str(n) for n in NATIVE_INTS])
    if out.stdout.strip() != str(sum(NATIVE_INTS)).encode():
        raise RuntimeError('native request: %r %r' % (out.stdout, out.stderr))
    # A native sum beyond i64: an Error(Overflow) reply, exit 1.
    run([reseau, 'adder', 'sum', '--to', to, '--encoding', 'native',
         '9223372036854775807', '1'])
    sent['pipelined'] = native_pipelined(ports['adder'])
    out = run([sys.executable, os.path.join(PEERS, 'echo_client.py'), '--port',
               str(ports['echo']), '--read'], input=ECHO_MESSAGE)
    if out.returncode != 0:
        raise RuntimeError('echo client: %r' % out.stderr)
    chat_input = '/join 127.0.0.1 %d\n/send %s\n/exit\n' % (ports['chat'], CHAT_TEXT)
    out = run([sys.executable, os.path.join(PEERS, 'chat.py'), '--port', '0'],
              input=chat_input.encode())
    if out.returncode != 0:
        raise RuntimeError('chat peer: %r' % out.stderr)
    return sent


# ---------------------------------------------------------------------------
# The capture and its dissection.
# ---------------------------------------------------------------------------

def capture(reseau, workdir):
    claimed_tcp = claimed_ports('tcp.port')
    claimed_udp = claimed_ports('udp.port')
    taken = set()
    ports = {'adder': free_port(socket.SOCK_STREAM, claimed_tcp, taken),
             'echo': free_port(socket.SOCK_STREAM, claimed_tcp, taken),
             'chat': free_port(socket.SOCK_DGRAM, claimed_udp, taken)}
    pcap = os.path.join(workdir, 'reseau.pcapng')
    tshark_err = open(os.path.join(workdir, 'tshark.err'), 'w+b')
    logs = [open(os.path.join(workdir, name + '.log'), 'w+b') for name in ('adder', 'echo', 'chat')]
    procs = []
    try:
        filt = 'tcp port %d or tcp port %d or udp port %d' % (
            ports['adder'], ports['echo'], ports['chat'])
        tshark = subprocess.Popen(['tshark', '-i', 'lo', '-f', filt, '-w', pcap, '-q'],
                                  stdout=subprocess.DEVNULL, stderr=tshark_err)
        procs.append(tshark)

        def capturing():
            if tshark.poll() is not None:
                raise RuntimeError('tshark exited: %r' % read(tshark_err.name))
            return b'Capturing on' in read(tshark_err.name)
        wait_for(capturing, 'tshark to start capturing')
        bind = '127.0.0.1:%d'
        procs.append(subprocess.Popen([reseau, 'adder', 'serve', '--bind', bind % ports['adder']],
                                      stderr=logs[0]))
        procs.append(subprocess.Popen([reseau, 'echo', 'serve', '--bind', bind % ports['echo']],
                                      stderr=logs[1]))
        chat = subprocess.Popen([reseau, 'chat', '--bind', bind % ports['chat']],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=logs[2])
        procs.append(chat)
        wait_for(lambda: port_open(ports['adder']) and port_open(ports['echo']),
                 'the adder and echo servers')
        wait_for(lambda: b'listening' in read(logs[2].name), 'the chat')
        sent = drive(ports, reseau)
        # The last packets reach the capture file.
        time.sleep(1.0)
        chat.stdin.close()
    finally:
        for proc in reversed(procs):
            stop(proc)
        for f in logs + [tshark_err]:
            f.close()
    return ports, pcap, sent, logs[0].name


def dissect(pcap, ports, *extra):
    args = ['tshark', '-r', pcap, '-X', 'lua_script:' + LUA,
            '-d', 'tcp.port==%d,reseau_adder' % ports['adder'],
            '-d', 'tcp.port==%d,reseau_echo' % ports['echo'],
            '-d', 'udp.port==%d,reseau_chat' % ports['chat']] + list(extra)
    out = run(args)
    if out.returncode != 0:
        raise RuntimeError('tshark: %r' % out.stderr[-2000:])
    return out.stdout


def fields(element, name):
    return [f for f in element.iter('field') if f.get('name') == name]


def field(element, name):
    found = fields(element, name)
    return found[0] if found else None


class Pdu:
    """One reseau_adder item of the dissection: a request frame or a reply."""

    def __init__(self, stream, srcport, frame, proto):
        self.stream = stream
        self.srcport = srcport
        self.frame = frame
        self.proto = proto
        self.message = field(proto, 'reseau_adder.message').get('show')

    def rows(self):
        """The rows, as `reseau explain --json` prints them, offsets from
        the PDU's first byte."""
        rows = []
        for f in self.proto.iter('field'):
            row = row_of(f)
            if row is not None:
                rows.append(row)
        if rows:
            base = rows[0]['offset']
            for row in rows:
                row['offset'] -= base
        return rows

    def value(self, name):
        f = field(self.proto, name)
        return None if f is None else f.get('show')


# The dissector's fields that are rows of `reseau explain`, and the row's name.
ROW_FIELDS = {
    'reseau_adder.length': 'length', 'reseau_adder.magic': 'magic',
    'reseau_adder.version': 'version', 'reseau_adder.native_int': 'int',
    'reseau_adder.refused': 'unread', 'reseau_adder.reply': 'reply',
    'reseau_adder.reply_sum': 'sum', 'reseau_adder.reply_error': 'error',
}
# Where an opcode row keeps its value.
VALUE_FIELDS = ('reseau_adder.proto', 'reseau_adder.frame_len', 'reseau_adder.memo',
                'reseau_adder.int')


def row_of(f):
    name = f.get('name')
    if name != 'reseau_adder.op' and name not in ROW_FIELDS:
        return None
    if f.get('pos') is None or f.get('size') in (None, '0'):
        return None     # generated: no bytes (a verdict, not a row)
    row = {'offset': int(f.get('pos')), 'len': int(f.get('size')),
           'hex': (f.get('value') or '')[:32]}
    if name == 'reseau_adder.op':
        row['field'] = f.get('show')
        for child in f.iter('field'):
            if child.get('name') in VALUE_FIELDS:
                row['value'] = int(child.get('show'), 0)
            elif child.get('name') == 'reseau_adder.running_sum':
                row['sum'] = int(child.get('show'))
        return row
    row['field'] = ROW_FIELDS[name]
    if name == 'reseau_adder.reply_error':
        row['value'] = f.get('show')
    elif name != 'reseau_adder.refused':
        row['value'] = int(f.get('show'), 0)
    if name == 'reseau_adder.native_int':
        row['sum'] = int(field(f, 'reseau_adder.running_sum').get('show'))
    return row


def parse_pdml(pdml):
    """The adder's PDUs in capture order, and the echo and chat items."""
    pdus, echo, chat = [], [], []
    for packet in ET.fromstring(pdml).iter('packet'):
        protos = {}
        for proto in packet.findall('proto'):
            protos.setdefault(proto.get('name'), []).append(proto)
        frame = int(field(protos['frame'][0], 'frame.number').get('show'))
        stream = srcport = None
        if 'tcp' in protos:
            stream = int(field(protos['tcp'][0], 'tcp.stream').get('show'))
            srcport = int(field(protos['tcp'][0], 'tcp.srcport').get('show'))
        for proto in protos.get('reseau_adder', []):
            pdus.append(Pdu(stream, srcport, frame, proto))
        for proto in protos.get('reseau_echo', []):
            echo.append(proto)
        for proto in protos.get('reseau_chat', []):
            chat.append(proto)
    return pdus, echo, chat


def stream_bytes(pcap, port):
    """Each adder TCP stream's bytes, per direction, from the capture."""
    out = run(['tshark', '-r', pcap, '-Y', 'tcp.len > 0 && tcp.port == %d' % port, '-T', 'fields',
               '-e', 'tcp.stream', '-e', 'tcp.dstport', '-e', 'tcp.payload',
               '-o', 'tcp.analyze_sequence_numbers:TRUE'])
    streams = {}
    for line in out.stdout.decode('ascii').splitlines():
        stream, dstport, payload = line.split('\t')
        direction = 'request' if int(dstport) == port else 'reply'
        key = (int(stream), direction)
        streams[key] = streams.get(key, b'') + bytes.fromhex(payload.replace(':', ''))
    return streams


def explain(reseau, data, reply=False):
    """`reseau explain --json` on `data`: its rows and verdicts, grouped by
    PDU (a group starts at each length or reply row)."""
    with tempfile.NamedTemporaryFile(suffix='.bin') as f:
        f.write(data)
        f.flush()
        out = run([reseau, 'explain', '--json', '--reply' if reply else '--frame',
                   '--file', f.name])
    # Exit 1: a request is refused, which the verdicts say.
    if out.returncode not in (0, 1):
        raise RuntimeError('reseau explain: %r' % out.stderr[-2000:])
    groups = []
    for line in out.stdout.decode('utf-8').splitlines():
        item = json.loads(line)
        if 'verdict' in item:
            groups[-1]['verdicts'].append(item)
            continue
        if item['field'] in ('length', 'reply'):
            groups.append({'start': item['offset'], 'rows': [], 'verdicts': []})
        row = dict(item)
        row['offset'] -= groups[-1]['start']
        groups[-1]['rows'].append(row)
    return groups


I128 = range(-2**127, 2**127)


def pdu_verdict(pdu):
    """The dissector's verdict on a request, as explain gives it: the sum,
    or the refusal's message and the byte it names (from the frame's
    start; None when it names none)."""
    if pdu.value('reseau_adder.sum') is not None:
        return {'verdict': 'sum', 'sum': int(pdu.value('reseau_adder.sum')),
                'ints': int(pdu.value('reseau_adder.ints'))}
    at = pdu.value('reseau_adder.refused_at')
    # A native refusal reads "Error(Code): message": the message is explain's.
    error = re.sub(r'^Error\(\w+\): ', '', pdu.value('reseau_adder.refused'))
    return {'verdict': 'refused', 'offset': None if at is None else int(at), 'error': error}


def explain_verdict(verdict, start):
    """explain's verdict, its offset from the frame's start `start`."""
    if verdict['verdict'] == 'sum':
        return {k: verdict[k] for k in ('verdict', 'sum', 'ints')}
    offset = verdict.get('offset')
    return {'verdict': 'refused', 'offset': None if offset is None else offset - start,
            'error': verdict['error']}


def comparable(row):
    """What the dissector and explain must agree on in a row. explain has no
    running sum while it is beyond 128 bits; the dissector shows it exact."""
    out = {k: row[k] for k in ('offset', 'len', 'field', 'hex') if k in row}
    if row.get('value') is not None:
        out['value'] = row['value']
    if row.get('sum') is not None and row['sum'] in I128:
        out['sum'] = row['sum']
    return out


def setUpModule():
    workdir = tempfile.mkdtemp(prefix='reseau-wireshark-')
    ports, pcap, sent, adder_log = capture(RESEAU, workdir)
    pdus, echo, chat = parse_pdml(dissect(pcap, ports, '-T', 'pdml'))
    STATE.update(ports=ports, pcap=pcap, sent=sent, pdus=pdus, echo=echo, chat=chat,
                 adder_log=adder_log,
                 workdir=workdir, streams=stream_bytes(pcap, ports['adder']))


def tearDownModule():
    # RESEAU_KEEP_CAPTURE=1 keeps the capture and the logs, to look at.
    if 'workdir' in STATE and not os.environ.get('RESEAU_KEEP_CAPTURE'):
        shutil.rmtree(STATE['workdir'], ignore_errors=True)


def pdus_of(message):
    return [p for p in STATE['pdus'] if p.message == message]


def pickle_requests():
    """Each pickle request PDU with its payload (from the capture's bytes)."""
    out = []
    for (stream, direction), data in sorted(STATE['streams'].items()):
        if direction != 'request':
            continue
        pdus = [p for p in pdus_of('request') if p.stream == stream]
        offset = 0
        for pdu in pdus:
            (n,) = struct.unpack_from('<I', data, offset)
            payload = data[offset + 4:offset + 4 + n]
            offset += 4 + n
            if payload[:1] != b'\xfe':
                out.append((pdu, payload))
    return out


def cpython_requests():
    """The pickle requests that CPython wrote (and the GLOBAL one, which
    pickletools reads too)."""
    made = STATE['sent']['pickle'] + BOOL_PICKLES + [STATE['sent']['split'], GLOBAL_PICKLE]
    return [(pdu, payload) for pdu, payload in pickle_requests() if payload in made]


def genops_rows(payload):
    """The rows pickletools reads: name, offset (in the frame), length,
    value, running sum; up to the first opcode the server refuses."""
    ops = list(pickletools.genops(payload))
    rows, total = [], 0
    for i, (opcode, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else len(payload)
        row = {'field': opcode.name, 'offset': 4 + pos, 'len': end - pos}
        if opcode.name in ('NEWTRUE', 'NEWFALSE'):
            arg = opcode.name == 'NEWTRUE'
        if opcode.name in ('BININT', 'BININT1', 'BININT2', 'LONG1', 'LONG4', 'INT', 'LONG',
                           'NEWTRUE', 'NEWFALSE'):
            total += int(arg)
            row['value'], row['sum'] = int(arg), total
        elif arg is not None:
            row['value'] = arg
        rows.append(row)
    return rows


ACCEPTED = {'PROTO', 'FRAME', 'EMPTY_LIST', 'LIST', 'MARK', 'APPEND', 'APPENDS', 'STOP',
            'BINPUT', 'LONG_BINPUT', 'PUT', 'MEMOIZE', 'INT', 'LONG', 'BININT', 'BININT1',
            'BININT2', 'LONG1', 'LONG4', 'NEWTRUE', 'NEWFALSE'}


class AdderAgainstExplain(unittest.TestCase):
    """Every adder PDU of the capture, row for row, against `reseau
    explain --json` on the same bytes."""

    def compare(self, direction):
        compared = 0
        for (stream, d), data in sorted(STATE['streams'].items()):
            if d != direction:
                continue
            groups = explain(RESEAU, data, reply=direction == 'reply')
            pdus = [p for p in pdus_of(direction) if p.stream == stream]
            self.assertEqual(len(pdus), len(groups), 'stream %d %s' % (stream, direction))
            for pdu, group in zip(pdus, groups):
                self.assertEqual([comparable(r) for r in pdu.rows()],
                                 [comparable(r) for r in group['rows']],
                                 'stream %d, frame %d' % (stream, pdu.frame))
                compared += 1
        return compared

    def test_request_rows_match_explain(self):
        self.assertGreaterEqual(self.compare('request'), 12)

    def test_reply_rows_match_explain(self):
        self.assertGreaterEqual(self.compare('reply'), 10)

    def test_verdicts_match_explain(self):
        verdicts = []
        for (stream, d), data in sorted(STATE['streams'].items()):
            if d != 'request':
                continue
            pdus = [p for p in pdus_of('request') if p.stream == stream]
            for pdu, group in zip(pdus, explain(RESEAU, data)):
                verdict = group['verdicts'][-1]
                verdicts.append((pdu_verdict(pdu), explain_verdict(verdict, group['start'])))
        self.assertGreaterEqual(len(verdicts), 12)
        self.assertEqual([m for m, _ in verdicts], [t for _, t in verdicts])


class AdderAgainstCPython(unittest.TestCase):
    """The pickle requests against CPython's own reading of them."""

    def test_opcodes_match_pickletools(self):
        compared = 0
        for pdu, payload in cpython_requests():
            expected = genops_rows(payload)
            refused = [i for i, r in enumerate(expected) if r['field'] not in ACCEPTED]
            if refused:
                expected = expected[:refused[0]]
            mine = [{k: v for k, v in r.items() if k != 'hex'}
                    for r in pdu.rows() if r['field'] not in ('length', 'unread')]
            self.assertEqual(mine, expected, 'frame %d' % pdu.frame)
            compared += 1
        # Protocols 0 to 5, the booleans, the GLOBAL one and the split one.
        self.assertEqual(compared, pickle.HIGHEST_PROTOCOL + 3 + len(BOOL_PICKLES))

    def test_sums_match_python(self):
        sums = []
        for pdu, payload in cpython_requests():
            names = {op.name for op, _, _ in pickletools.genops(payload)}
            if names <= ACCEPTED:   # only a list of ints: safe to load
                sums.append((int(pdu.value('reseau_adder.sum')), sum(pickle.loads(payload))))
        self.assertEqual(len(sums), pickle.HIGHEST_PROTOCOL + 2 + len(BOOL_PICKLES))
        self.assertEqual([m for m, _ in sums], [p for _, p in sums])

    def test_every_protocol_is_dissected(self):
        payloads = [payload for _, payload in pickle_requests()]
        self.assertTrue(all(p in payloads for p in STATE['sent']['pickle']))

    def test_global_is_refused_at_its_byte_with_an_expert_info(self):
        [(pdu, _)] = [(p, x) for p, x in pickle_requests() if x == GLOBAL_PICKLE]
        refused = field(pdu.proto, 'reseau_adder.refused')
        opcode = field(refused, 'reseau_adder.opcode')
        expert = field(refused, '_ws.expert')
        start = int(field(pdu.proto, 'reseau_adder.length').get('pos'))
        self.assertEqual(
            (int(refused.get('pos')) - start, int(refused.get('size')), opcode.get('show'),
             expert is not None),
            (4 + GLOBAL_PICKLE.index(b'c'), len(GLOBAL_PICKLE) - GLOBAL_PICKLE.index(b'c'),
             '0x63', True))


# The server's log line for a connection it closes on a refusal.
LOGGED_REFUSAL = r'adder: 127\.0\.0\.1:(\d+): .*?protocol error: (.*); closed by server$'


class AdderAgainstTheServer(unittest.TestCase):
    """The refusals, against the server's own log of each connection."""

    def test_refusals_match_the_server_log(self):
        logged = {}
        for line in read(STATE['adder_log']).decode('utf-8', 'replace').splitlines():
            match = re.match(LOGGED_REFUSAL, line)
            if match:
                logged[int(match.group(1))] = match.group(2)
        refused = {}
        for pdu, _ in pickle_requests():
            f = field(pdu.proto, 'reseau_adder.refused')
            if f is not None:
                refused[pdu.srcport] = f.get('show')
        self.assertEqual((len(refused), refused), (len(REFUSED_PICKLES) + 1, logged))


    def test_refused_at_is_the_byte_the_log_names(self):
        pairs = []
        for pdu, _ in pickle_requests():
            f = field(pdu.proto, 'reseau_adder.refused')
            match = f is not None and re.search(r' at byte (\d+)', f.get('show'))
            if match:
                # The message counts from the payload, the field from the frame.
                pairs.append((int(pdu.value('reseau_adder.refused_at')), 4 + int(match.group(1))))
        self.assertEqual((len(pairs), [m for m, _ in pairs]),
                         (len(REFUSED_PICKLES) - 3, [n for _, n in pairs]))


class AdderTcp(unittest.TestCase):
    """Frames across TCP segments, and several frames in one."""

    def test_split_request_is_reassembled(self):
        [(pdu, _)] = [(p, x) for p, x in pickle_requests() if x == STATE['sent']['split']]
        segments = run(['tshark', '-r', STATE['pcap'], '-Y',
                        'tcp.stream == %d && tcp.dstport == %d && tcp.len > 0'
                        % (pdu.stream, STATE['ports']['adder']), '-T', 'fields',
                        '-e', 'frame.number']).stdout.split()
        self.assertEqual((len(segments), pdu.value('reseau_adder.sum')),
                         (3, str(sum(pickle.loads(STATE['sent']['split'])))))

    def test_two_frames_in_one_segment(self):
        first = STATE['sent']['pipelined'][0]
        [pdu] = [p for p in pdus_of('request') if p.value('reseau_adder.length') == '%d' % (
            len(first) - 4) and p.value('reseau_adder.sum') == '11']
        same_packet = [p for p in pdus_of('request') if p.frame == pdu.frame]
        self.assertEqual([p.value('reseau_adder.sum') for p in same_packet], ['11', '2'])


class AdderNative(unittest.TestCase):
    """reseau's native format, against the ints sent."""

    def test_native_ints_are_the_ints_sent(self):
        [pdu] = [p for p in pdus_of('request')
                 if len(fields(p.proto, 'reseau_adder.native_int')) == len(NATIVE_INTS)]
        self.assertEqual([int(f.get('show')) for f in fields(pdu.proto, 'reseau_adder.native_int')],
                         NATIVE_INTS)

    def test_error_replies(self):
        errors = [p.value('reseau_adder.reply_error') for p in pdus_of('reply')
                  if p.value('reseau_adder.reply_error') is not None]
        self.assertEqual(errors, ['Version', 'Malformed', 'Malformed', 'Overflow'])

    def test_pickle_replies_are_the_sums(self):
        replies = [int(p.value('reseau_adder.reply')) for p in pdus_of('reply')
                   if p.value('reseau_adder.reply') is not None]
        self.assertEqual(replies, [sum(INTS)] * (pickle.HIGHEST_PROTOCOL + 1)
                         + [4] * len(BOOL_PICKLES) + [sum(pickle.loads(STATE['sent']['split']))])


class EchoAndChat(unittest.TestCase):

    def test_echo_text_both_ways(self):
        texts = [(field(p, 'reseau_echo.direction').get('show'),
                  field(p, 'reseau_echo.text').get('show')) for p in STATE['echo']]
        # TCP may cut either way in pieces: join them per direction.
        joined = {d: ''.join(t for dd, t in texts if dd == d) for d in ('sent', 'echoed')}
        self.assertEqual(joined, {'sent': escape(ECHO_MESSAGE), 'echoed': escape(ECHO_MESSAGE)})

    def test_chat_datagram_text(self):
        texts = [field(p, 'reseau_chat.text').get('show') for p in STATE['chat']]
        self.assertEqual(texts, [escape(CHAT_TEXT.encode())])


class DefaultPorts(unittest.TestCase):
    """Without -d: TCP 6001 and 6000 and UDP 5000 are the dissector's."""

    def test_default_ports_need_no_decode_as(self):
        path = os.path.join(STATE['workdir'], 'default-ports.pcap')
        msg = pickle.dumps([1, 2], 2)
        write_pcap(path, [('tcp', 40000, 6001, struct.pack('I', len(msg)) + msg),
                          ('tcp', 40001, 6000, b'Hello'),
                          ('udp', 40002, 5000, b'Salut')])
        out = run(['tshark', '-r', path, '-X', 'lua_script:' + LUA, '-T', 'fields',
                   '-e', '_ws.col.Protocol'])
        self.assertEqual(out.stdout.decode().split('\n')[:3],
                         ['reseau adder', 'reseau echo', 'reseau chat'])


# Bytes that mutations put in payloads: every opcode of the accepted
# subset, a few refused ones, newline, digits and the native magic.
MUTATION_BYTES = b'\x80\x95()]ael.ILJKMpqr\x8a\x8b\x88\x89\x94cRN\n0159-\xfe\x01\x00\xff'
MUTATED = 400


def mutated_payloads(seed=15):
    """Pickles of every protocol and native payloads, each cut, grown or
    with a byte changed: what a fuzzer would send, reproducibly."""
    rng = random.Random(seed)
    values = [0, 1, 255, 256, 65535, 65536, -1, 2**31 - 1, 2**31, -2**31 - 1, 2**63,
              2**100, -2**100, 2**127 - 1, True, False]
    out = []
    for i in range(MUTATED):
        ints = [rng.choice(values) for _ in range(rng.randrange(0, 6))]
        if i % 5 == 4:
            payload = bytearray(b'\xfe\x01' + b''.join(
                zigzag_varint(int(n) % 2**64 - (2**64 if int(n) % 2**64 >= 2**63 else 0))
                for n in ints))
        else:
            payload = bytearray(pickle.dumps(ints, rng.randrange(pickle.HIGHEST_PROTOCOL + 1)))
        kind = rng.randrange(5)
        pos = rng.randrange(len(payload) + 1)
        if kind == 0 and pos < len(payload):
            payload[pos] = rng.choice(MUTATION_BYTES)
        elif kind == 1:
            payload[pos:pos] = bytes([rng.choice(MUTATION_BYTES)])
        elif kind == 2 and pos < len(payload):
            del payload[pos]
        elif kind == 3:
            del payload[pos:]
        else:
            payload += bytes(rng.choice(MUTATION_BYTES) for _ in range(rng.randrange(1, 4)))
        out.append(bytes(payload))
    return out


class MutatedFrames(unittest.TestCase):
    """Hundreds of mutated frames, each its own TCP stream to port 6001 in a
    capture written here (raw IPv4): the dissector against its oracles."""

    @classmethod
    def setUpClass(cls):
        cls.payloads = mutated_payloads()
        path = os.path.join(STATE['workdir'], 'mutated.pcap')
        write_pcap(path, [('tcp', 20000 + i, 6001, struct.pack('I', len(p)) + p)
                          for i, p in enumerate(cls.payloads)])
        out = run(['tshark', '-r', path, '-X', 'lua_script:' + LUA, '-T', 'pdml'])
        cls.pdml = out.stdout
        pdus, _, _ = parse_pdml(out.stdout)
        cls.pdus = {pdu.srcport - 20000: pdu for pdu in pdus}

    def test_no_lua_error_and_nothing_malformed(self):
        self.assertEqual((self.pdml.count(b'_ws.lua.error'), self.pdml.count(b'_ws.malformed'),
                          len(self.pdus)), (0, 0, MUTATED))

    def test_what_it_accepts_cpython_reads_as_the_same_sum(self):
        accepted = []
        for i, payload in enumerate(self.payloads):
            total = self.pdus[i].value('reseau_adder.sum')
            if total is None or payload[:1] == b'\xfe':
                continue
            # Only the subset's opcodes (genops reads without running
            # anything): loading cannot call code.
            names = {op.name for op, _, _ in pickletools.genops(payload)}
            self.assertLessEqual(names, ACCEPTED, 'payload %d' % i)
            loaded = pickle.loads(payload)
            accepted.append((int(total), sum(loaded) if isinstance(loaded, list) else loaded))
        self.assertGreaterEqual(len(accepted), 10)
        self.assertEqual([m for m, _ in accepted], [c for _, c in accepted])

    def test_rows_and_verdicts_match_explain(self):
        for i, payload in enumerate(self.payloads):
            frame = struct.pack('I', len(payload)) + payload
            [group] = explain(RESEAU, frame)
            pdu = self.pdus[i]
            mine = ([comparable(r) for r in pdu.rows()], pdu_verdict(pdu))
            theirs = ([comparable(r) for r in group['rows']],
                      explain_verdict(group['verdicts'][-1], 0))
            self.assertEqual(mine, theirs, 'payload %d: %s' % (i, payload.hex()))


def write_pcap(path, packets):
    """A classic pcap of raw IPv4 packets (link type 101), one per
    (transport, source port, destination port, payload)."""
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
        for i, (kind, sport, dport, payload) in enumerate(packets):
            if kind == 'tcp':
                # PSH+ACK, a 20-byte header; checksums are not verified.
                l4 = struct.pack('!HHIIBBHHH', sport, dport, 1, 1, 5 << 4, 0x18, 65535, 0, 0)
                proto = 6
            else:
                l4 = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0)
                proto = 17
            total = 20 + len(l4) + len(payload)
            ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, total, i, 0, 64, proto, 0,
                             socket.inet_aton('127.0.0.1'), socket.inet_aton('127.0.0.1'))
            data = ip + l4 + payload
            f.write(struct.pack('<IIII', 1, i, len(data), len(data)) + data)


def main():
    global RESEAU
    parser = argparse.ArgumentParser()
    parser.add_argument('--reseau', default=RESEAU)
    args, rest = parser.parse_known_args()
    RESEAU = os.path.abspath(args.reseau)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == '__main__':
    main()
