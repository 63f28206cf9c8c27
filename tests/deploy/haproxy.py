"""HAProxy in front of several `reseau` instances, for tests and the bench.

    with HAProxy(web=[(h, p1), (h, p2)], adder=[...], echo=[...]) as lb:
        lb.web, lb.adder, lb.echo     # (host, port) of each front
        lb.config_text                # the config it runs

One config, `config(...)`, written the way README's "Deploying" shows it:
the web in HTTP mode, round robin, health checks on GET /healthz every
200 ms here (2 s in the README), a server down after 2 failed checks;
`retries 2` with `option redispatch`: a request whose connection to an
instance was refused (nothing sent: safe for a POST) goes to the other.
The adder and echo in TCP mode, round robin, connect checks.

HAProxy runs in the foreground (`-db`) as our child, its config in a
temporary folder, on free ports; it is killed by its PID. `available()`
says whether the binary is here.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TIMEOUT = 10.0


def available():
    return shutil.which('haproxy') is not None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def config(web_front, web, adder_front=None, adder=(), echo_front=None, echo=(), inter='200ms'):
    """HAProxy's config text: fronts are 'HOST:PORT', back ends lists of 'HOST:PORT'."""
    lines = [
        'global',
        '    maxconn 4096',
        '',
        'defaults',
        '    timeout connect 2s',
        '    timeout client 60s',
        '    timeout server 60s',
        '    retries 2',
        '    option redispatch',
        '',
        'frontend web',
        '    mode http',
        '    bind %s' % web_front,
        '    default_backend reseau_web',
        '',
        'backend reseau_web',
        '    mode http',
        '    balance roundrobin',
        '    option httpchk GET /healthz',
        '    http-check expect status 200',
        '    default-server check inter %s fall 2 rise 2' % inter,
    ]
    lines += ['    server web%d %s' % (n + 1, a) for n, a in enumerate(web)]
    for name, front, backs in (('adder', adder_front, adder), ('echo', echo_front, echo)):
        if not backs:
            continue
        lines += [
            '',
            'listen reseau_%s' % name,
            '    mode tcp',
            '    bind %s' % front,
            '    balance roundrobin',
            '    default-server check inter %s fall 2 rise 2' % inter,
        ]
        lines += ['    server %s%d %s' % (name, n + 1, a) for n, a in enumerate(backs)]
    return '\n'.join(lines) + '\n'


def text(address):
    return '%s:%d' % address


class HAProxy:
    """A running HAProxy with the `config()` of these back ends."""

    def __init__(self, web, adder=(), echo=()):
        self.folder = tempfile.mkdtemp(prefix='reseau-haproxy-')
        self.web = ('127.0.0.1', free_port())
        self.adder = ('127.0.0.1', free_port()) if adder else None
        self.echo = ('127.0.0.1', free_port()) if echo else None
        self.config_text = config(
            text(self.web), [text(a) for a in web],
            self.adder and text(self.adder), [text(a) for a in adder],
            self.echo and text(self.echo), [text(a) for a in echo])
        self.config_path = os.path.join(self.folder, 'haproxy.cfg')
        with open(self.config_path, 'w') as f:
            f.write(self.config_text)
        self.log_path = os.path.join(self.folder, 'haproxy.log')
        self.proc = None

    def __enter__(self):
        check = subprocess.run(['haproxy', '-c', '-f', self.config_path],
                               capture_output=True, text=True, timeout=TIMEOUT)
        if check.returncode != 0:
            raise AssertionError('haproxy -c refused the config:\n%s\n%s'
                                 % (self.config_text, check.stdout + check.stderr))
        self._log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen(['haproxy', '-db', '-f', self.config_path],
                                     stdout=self._log, stderr=subprocess.STDOUT)
        until = time.monotonic() + TIMEOUT
        fronts = [a for a in (self.web, self.adder, self.echo) if a]
        while time.monotonic() < until and fronts:
            try:
                socket.create_connection(fronts[0], timeout=1).close()
                fronts.pop(0)
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        if fronts:
            self.close()
            raise AssertionError('haproxy did not listen within %s s:\n%s' % (TIMEOUT, self.log()))
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def log(self):
        with open(self.log_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    @property
    def pid(self):
        return self.proc.pid

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(TIMEOUT)
        shutil.rmtree(self.folder, ignore_errors=True)
