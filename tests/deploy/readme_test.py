#!/usr/bin/env python3
"""README's "Deploying" for several machines, run on this one.

tests/deploy/haproxy.cfg is the HAProxy config README prints, byte for
byte. This test runs it with only the machine-specific parts replaced:
10.0.0.11/10.0.0.12 by two `reseau serve` on 127.0.0.1 free ports,
:443/:6001/:6000 by free loopback ports, /etc/haproxy/*.pem by a
`reseau cert` certificate. Then, through HAProxy:

- GET /healthz over HTTPS (curl --cacert) is 200, the instances are
  checked over TLS (`ssl verify required ca-file`);
- GET /metrics, and its percent-encoded spelling /%6Detrics, are 403;
- POST /api/users is 201 and the user is read back;
- the course's adder client wrapped in ssl.create_default_context(cafile=)
  gets its sums through the TCP mode (TLS passes through to the instance).

    python3 tests/deploy/readme_test.py
"""

import json
import os
import pickle
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'lifecycle'))
sys.path.insert(0, os.path.join(HERE, '..', 'postgres'))
import common  # noqa: E402
from cluster import Cluster  # noqa: E402
from haproxy import free_port  # noqa: E402


def curl(cert, url, *extra):
    r = subprocess.run(['curl', '-sS', '--max-time', '10', '--cacert', cert, '-w', '\n%{http_code}',
                        *extra, url], capture_output=True, text=True, timeout=20)
    body, _, status = r.stdout.rpartition('\n')
    return int(status or 0), body


def readme_prints_the_config():
    """README's "Several machines" code block is haproxy.cfg, byte for byte:
    the file this test runs is the one a reader copies."""
    with open(os.path.join(HERE, 'haproxy.cfg')) as f:
        cfg = f.read()
    with open(os.path.join(HERE, '..', '..', 'README.md')) as f:
        readme = f.read()
    if '```\n' + cfg + '```\n' not in readme:
        sys.exit('FAIL: README.md does not print tests/deploy/haproxy.cfg as it is')


def main():
    readme_prints_the_config()
    with tempfile.TemporaryDirectory(prefix='reseau-readme-') as d, Cluster() as pg:
        subprocess.run([common.RESEAU, 'cert', '--host', 'localhost', '--out', d],
                       check=True, capture_output=True, timeout=20)
        cert, key = os.path.join(d, 'cert.pem'), os.path.join(d, 'key.pem')
        with open(os.path.join(d, 'site.pem'), 'w') as f:
            f.write(open(cert).read() + open(key).read())
        with open(os.path.join(HERE, 'haproxy.cfg')) as f:
            cfg = f.read()
        cfg = cfg.replace('/etc/haproxy/site.pem', os.path.join(d, 'site.pem'))
        cfg = cfg.replace('/etc/haproxy/reseau-ca.pem', cert)
        front = {':443': free_port(), ':6001': free_port(), ':6000': free_port()}
        for bind, port in front.items():
            cfg = cfg.replace('bind %s ' % bind, 'bind 127.0.0.1:%d ' % port)
            cfg = cfg.replace('bind %s\n' % bind, 'bind 127.0.0.1:%d\n' % port)
        procs = []
        try:
            for n in (1, 2):
                conf = os.path.join(d, 'server%d.conf' % n)
                web = free_port()
                with open(conf, 'w') as f:
                    f.write("[global]\nserver.socket_host: '127.0.0.1'\nserver.socket_port: %d\n"
                            "reseau.db: '%s'\n" % (web, pg.url))
                os.chmod(conf, 0o600)
                proc = common.Proc(['serve', '--config', conf, '--tls-cert', cert, '--tls-key', key,
                                    '--adder', '127.0.0.1:0', '--echo', '127.0.0.1:0'],
                                   os.path.join(d, 'serve%d.log' % n))
                procs.append(proc)
                m = proc.wait_for(r'echo on ([0-9.:]+), adder on ([0-9.:]+)')
                ip = '10.0.0.1%d' % n
                cfg = cfg.replace(ip + ':8443', '127.0.0.1:%d' % web)
                cfg = cfg.replace(ip + ':6000', m.group(1)).replace(ip + ':6001', m.group(2))
            assert '10.0.0.' not in cfg and ' :' not in cfg, cfg
            path = os.path.join(d, 'haproxy.cfg')
            with open(path, 'w') as f:
                f.write(cfg)
            subprocess.run(['haproxy', '-c', '-q', '-f', path], check=True, timeout=20)
            lb = subprocess.Popen(['haproxy', '-db', '-f', path], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
            try:
                site = 'https://localhost:%d' % front[':443']
                status = 0
                until = time.monotonic() + 10
                while status != 200 and time.monotonic() < until:
                    status, _ = curl(cert, site + '/healthz')
                    time.sleep(0.1)
                assert status == 200, status
                for path in ('/metrics', '/%6Detrics'):
                    status, _ = curl(cert, site + path)
                    assert status == 403, (path, status)
                status, body = curl(cert, site + '/api/users', '-H', 'Content-Type: application/json',
                                    '-d', '{"name": "readme"}')
                assert status == 201, (status, body)
                uid = json.loads(body)['id']
                status, body = curl(cert, site + '/api/users/%d' % uid)
                assert (status, json.loads(body)['name']) == (200, 'readme'), (status, body)
                ctx = ssl.create_default_context(cafile=cert)
                for n in range(4):
                    with ctx.wrap_socket(socket.create_connection(('127.0.0.1', front[':6001']), 10),
                                         server_hostname='localhost') as s:
                        msg = pickle.dumps([1, 2, n])
                        s.sendall(struct.pack('I', len(msg)) + msg)
                        assert struct.unpack('I', s.recv(4))[0] == 3 + n
            finally:
                lb.kill()
                lb.wait(10)
        finally:
            for p in procs:
                p.stop()
    print('ok: README\'s HAProxy config: HTTPS through it to two TLS instances on PostgreSQL, '
          '/metrics 403 from outside, adder over TLS through its TCP mode')


if __name__ == '__main__':
    main()
