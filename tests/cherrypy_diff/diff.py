"""CherryPy is the oracle: the same config files, the same static folder,
the same requests to CherryPy and to `reseau web`, and their answers
compared.

Usage (run.sh installs CherryPy and builds reseau first):

    python diff.py RESEAU_BINARY

For each config of configs/ (written in the style of CherryPy's
documentation and tutorials; `@SITE@` stands for the site folder), the
test makes a site folder (a public/ folder of files, a secret file next to
it), starts CherryPy (cherrypy_site.py: the course's WebApp mounted as
quickstart does) and `reseau web --config ... --bind ...`, each on a free
port of 127.0.0.1 and in a working directory of its own inside the site,
sends every request of the config's table to both with http.client (which
sends the path as written: no normalization of `..`), and compares.

What is compared, per row (one exact behaviour each):

- `status`: the status code.
- `type`: the Content-Type, with spaces around `;` removed and lowercased
  (`text/html;charset=utf-8` is `text/html; charset=utf-8`).
- `body`: the body's bytes, after gunzip when the answer is gzipped.
- `greeting`: reseau's page contains CherryPy's whole body. The course's
  WebApp.index returns only "Hello <b>NAME</b>!"; reseau's index is a page
  around that greeting (its own template).
- `json`: the bodies are equal JSON.
- `encoding`, `vary`: the Content-Encoding and Vary headers (absent equals
  absent).
- `location`: the path and query of the Location header (CherryPy writes an
  absolute URL with its own port, reseau a path).

Where reseau differs on purpose, the row says what each one answers
(`differs`) and why; both answers are asserted exactly. Error pages are
compared by status only: their bodies are each server's own page.

Processes are started here and killed by their PID; every wait is bounded.
Exit status 0 when every comparison held.
"""

import gzip
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 10.0


def row(path, compare, headers=None, method='GET', note=''):
    return {'path': path, 'compare': compare, 'headers': headers or {},
            'method': method, 'note': note}


def differs(path, cherrypy, reseau, why, headers=None, method='GET'):
    """A row where reseau answers another status on purpose."""
    return {'path': path, 'differs': {'cherrypy': cherrypy, 'reseau': reseau},
            'why': why, 'headers': headers or {}, 'method': method}


FILE = ('status', 'type', 'body')
# A header value replaced by the Last-Modified of the same path on the same
# server (a GET first).
LAST_MODIFIED = '@LAST_MODIFIED@'
ERROR = ('status',)
GZ = {'Accept-Encoding': 'gzip'}

# Why reseau refuses what CherryPy answers otherwise (see
# host/src/web/static_files.rs).
DOTDOT = ("CherryPy answers 403 to a '..' that steps out of the folder; "
          "reseau refuses any '..' segment and lets the routes answer: 404")
ENCODED_SLASH = ("CherryPy decodes %2F into a separator inside the folder; "
                 "reseau refuses an encoded '/' in a segment: 404")
DEFAULT_STATIC = ("a config that names no static folder keeps reseau's own "
                  "site files at /static (the course's first server.conf has "
                  "only a port); CherryPy serves nothing there")

# The requests every config with a folder at /static gets.
STATIC_ROWS = [
    row('/static/style.css', FILE),
    row('/static/app.js', FILE),
    row('/static/notes.txt', FILE),
    row('/static/logo.png', FILE),
    row('/static/docs/guide.txt', FILE),
    row('/static/a%20b.txt', FILE, note='a percent-encoded name'),
    row('/static/style.css', FILE, method='HEAD', note='HEAD: the head of a GET, no body'),
    row('/static/missing.css', ERROR),
    row('/static/', ERROR, note='a folder without an index file'),
    row('/static/docs', ERROR),
    row('/static/style.css', ERROR, method='POST',
        note='the static tools answer GET and HEAD only; no route here'),
    row('/', ('status', 'type', 'greeting'), note='the application is still there'),
    row('/listusers', ('status', 'type', 'json')),
    differs('/static/../secret.txt', 403, 404, DOTDOT),
    differs('/static/%2e%2e/secret.txt', 403, 404, DOTDOT),
    differs('/static/docs/../../secret.txt', 403, 404, DOTDOT),
    differs('/static/docs%2fguide.txt', 200, 404, ENCODED_SLASH),
    differs('/static/..%2fsecret.txt', 403, 404, DOTDOT + '; ' + ENCODED_SLASH),
]

TABLE = {
    'tutorial': STATIC_ROWS,
    'course': STATIC_ROWS,
    'favicon': [
        row('/favicon.ico', FILE),
        row('/favicon.ico/more', FILE,
            note='a section applies to the paths below it too'),
        row('/robots.txt', FILE, note='filename relative to tools.staticfile.root'),
        differs('/favicon.ico', 500, 404,
                "CherryPy's own favicon handler (tree.mount adds one at the root) "
                "gets a second filename from the config and fails on a POST; "
                "reseau's static tools answer GET and HEAD only, its routes 404",
                method='POST'),
        row('/', ('status', 'type', 'greeting')),
        differs('/static/style.css', 404, 200, DEFAULT_STATIC),
    ],
    'css_dirs': [
        row('/css/site.css', FILE),
        row('/js/app.js', FILE),
        row('/css/missing.css', ERROR),
        row('/css/', ERROR),
        row('/js/site.css', ERROR, note='each section its own folder'),
        row('/static/style.css', ERROR,
            note="the file names static folders: reseau's own is not added"),
        differs('/css/../secret.txt', 403, 404, DOTDOT),
    ],
    'index': [
        row('/', FILE, note='the index file of the root folder, before the handler'),
        row('/docs/', FILE),
        row('/docs', FILE, note='a folder below the section: no redirect'),
        row('/style.css', FILE),
        row('/images/logo.png', FILE),
        row('/index', ('status', 'type', 'greeting'),
            note='no such file: the handler answers'),
        row('/listusers', ('status', 'type', 'json')),
        row('/missing.html', ERROR),
        differs('/../secret.txt', 403, 404, DOTDOT),
    ],
    'manual': [
        row('/manual/', FILE),
        row('/manual', ('status', 'location')),
        row('/manual?page=2', ('status', 'location')),
        row('/manual/guide.txt', FILE),
        row('/manual/index.html', FILE),
        row('/manual/missing/', ERROR),
    ],
    'gzip': [
        row('/static/notes.txt', FILE + ('encoding', 'vary'), GZ),
        row('/static/notes.txt', FILE + ('encoding', 'vary'),
            note='no Accept-Encoding: not compressed'),
        row('/static/notes.txt', FILE + ('encoding', 'vary'), {'Accept-Encoding': 'gzip;q=0'}),
        row('/static/notes.txt', FILE + ('encoding', 'vary'), {'Accept-Encoding': 'identity'}),
        row('/static/notes.txt', FILE + ('encoding', 'vary'),
            {'Accept-Encoding': 'gzip, identity'},
            note="equal q: CherryPy's order puts identity first"),
        row('/static/notes.txt', FILE + ('encoding', 'vary'),
            {'Accept-Encoding': 'deflate, gzip;q=0.5'}),
        row('/static/notes.txt', ('status',), {'Accept-Encoding': 'br'},
            note='nothing acceptable: 406'),
        row('/static/notes.txt', FILE + ('encoding', 'vary'), GZ, method='HEAD'),
        row('/static/style.css', FILE + ('encoding', 'vary'), GZ,
            note='text/css is not in the default mime_types'),
        row('/static/logo.png', FILE + ('encoding', 'vary'), GZ),
        row('/static/docs/index.html', FILE + ('encoding', 'vary'), GZ),
        row('/', ('status', 'type', 'greeting', 'encoding', 'vary'), GZ),
        row('/listusers', ('status', 'type', 'json', 'encoding', 'vary'), GZ),
        row('/static/missing.txt', ('status', 'encoding', 'vary'), GZ,
            note='error pages are compressed too (before_finalize runs after an HTTPError)'),
        row('/static/missing.txt', ('status', 'encoding', 'vary'),
            {'Accept-Encoding': 'gzip', 'If-Modified-Since': 'Fri, 01 Jan 2100 00:00:00 GMT'}),
        row('/static/notes.txt', ('status', 'body', 'encoding', 'vary'),
            {'Accept-Encoding': 'gzip', 'If-Modified-Since': LAST_MODIFIED},
            note='304: an empty body gets Vary only'),
        differs('/static/notes.txt', 200, 304,
                "CherryPy's validate_since answers 304 only when If-Modified-Since "
                "equals Last-Modified; reseau answers it when the file has not "
                "changed since that date (RFC 9110 13.1.3)",
                headers={'If-Modified-Since': 'Fri, 01 Jan 2100 00:00:00 GMT'}),
    ],
    'nested': [
        row('/static/notes.txt', FILE + ('encoding', 'vary'), GZ),
        row('/static/docs/', FILE + ('encoding', 'vary'), GZ,
            note='[/static/docs] adds an index and turns gzip off'),
        row('/static/docs/guide.txt', FILE + ('encoding', 'vary'), GZ),
        row('/static/docs', FILE, note='below the section (/static): served, no redirect'),
        row('/static/', ERROR, note='no index above /static/docs'),
        row('/static/private/secret.txt', ERROR, note='[/static/private] turns the tool off'),
        row('/static/img/logo.png', FILE,
            note='[/static/img] sets its own dir: the file path is taken after /static/img'),
        row('/static/images/logo.png', FILE),
        row('/', ('status', 'type', 'greeting', 'encoding', 'vary'), GZ,
            note='gzip is on in [/static] only'),
    ],
    'encode': [
        row('/', ('status', 'type', 'greeting')),
        row('/?name=Zo%C3%A9', ('status', 'type', 'greeting'), note='UTF-8 text'),
        row('/static/notes.txt', FILE, note='static files are not labelled by the encode tool'),
        row('/static/docs/index.html', FILE),
        row('/listusers', ('status', 'type', 'json')),
    ],
    'logs': [
        row('/static/style.css', FILE),
        row('/static/missing.css', ERROR),
        row('/', ('status', 'type', 'greeting')),
    ],
    'global_static': [
        row('/style.css', FILE, note="[global]'s section is /"),
        row('/docs/guide.txt', FILE),
        row('/', ('status', 'type', 'greeting'), note='no index: the handler'),
        row('/missing.css', ERROR),
        differs('/../secret.txt', 403, 404, DOTDOT),
    ],
}


def make_site(root):
    """The site folder: public/ (served), secret.txt (never served)."""
    public = os.path.join(root, 'public')
    files = {
        'index.html': b'<!DOCTYPE html><p>home</p>\n',
        'style.css': b'body { color: #333; }\n',
        'app.js': b"console.log('hi');\n",
        'notes.txt': b'notes, ' * 400,
        'a b.txt': b'a space\n',
        'logo.png': b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4,
        'favicon.ico': b'\x00\x00\x01\x00' + bytes(range(64)),
        'docs/index.html': b'<!DOCTYPE html><p>docs</p>\n' * 20,
        'docs/guide.txt': b'a guide\n' * 100,
        'css/site.css': b'h1 { margin: 0; }\n',
        'js/app.js': b'let x = 1;\n',
        'images/logo.png': b'\x89PNG\r\n\x1a\nimages',
        'private/secret.txt': b'PRIVATE\n',
    }
    for name, data in files.items():
        path = os.path.join(public, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)
    with open(os.path.join(root, 'secret.txt'), 'wb') as f:
        f.write(b'TOP-SECRET\n')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, name, log):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('{} exited ({}) before listening; its output: {}'.format(
                name, proc.returncode, read(log)))
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError('{} did not listen on {} within {} s; its output: {}'.format(
        name, port, START_TIMEOUT, read(log)))


def read(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''


def stop(proc):
    """Ends a process this test started, by its PID, within bounded time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def fetch(port, method, path, headers):
    if LAST_MODIFIED in headers.values():
        modified = fetch(port, 'GET', path, {})['headers'].get('last-modified', '')
        headers = {k: modified if v == LAST_MODIFIED else v for k, v in headers.items()}
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        got = {
            'status': response.status,
            'headers': {k.lower(): v for k, v in response.getheaders()},
            'raw': body,
        }
    finally:
        conn.close()
    if got['headers'].get('content-encoding') == 'gzip':
        body = gzip.decompress(body)
    got['body'] = body
    return got


def normalized_type(answer):
    value = answer['headers'].get('content-type')
    if value is None:
        return None
    return ';'.join(part.strip() for part in value.lower().split(';'))


def location_path(answer):
    value = answer['headers'].get('location')
    if value is None:
        return None
    parts = urllib.parse.urlsplit(value)
    return parts.path + ('?' + parts.query if parts.query else '')


def compare(aspect, cp, rs):
    """(ok, what CherryPy had, what reseau had) for one aspect."""
    if aspect == 'status':
        return cp['status'] == rs['status'], cp['status'], rs['status']
    if aspect == 'type':
        a, b = normalized_type(cp), normalized_type(rs)
        return a == b, a, b
    if aspect == 'body':
        return cp['body'] == rs['body'], cp['body'][:80], rs['body'][:80]
    if aspect == 'greeting':
        return (cp['body'] in rs['body'] and cp['body'].startswith(b'Hello <b>'),
                cp['body'][:80], rs['body'][:200])
    if aspect == 'json':
        try:
            a, b = json.loads(cp['body']), json.loads(rs['body'])
        except ValueError as e:
            return False, cp['body'][:80], 'not JSON: {}'.format(e)
        return a == b, a, b
    if aspect in ('encoding', 'vary'):
        name = 'content-encoding' if aspect == 'encoding' else 'vary'
        a, b = cp['headers'].get(name), rs['headers'].get(name)
        return a == b, a, b
    if aspect == 'location':
        a, b = location_path(cp), location_path(rs)
        return a == b, a, b
    raise ValueError(aspect)


def start(name, argv, cwd, port, env=None):
    log = os.path.join(cwd, name + '.out')
    out = open(log, 'wb')
    proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env)
    out.close()
    return proc, log


def run_config(reseau, name, rows, work):
    site = os.path.join(work, name)
    os.makedirs(site)
    make_site(site)
    with open(os.path.join(HERE, 'configs', name + '.conf')) as f:
        text = f.read().replace('@SITE@', site)
    config = os.path.join(site, 'server.conf')
    with open(config, 'w') as f:
        f.write(text)
    # Each server in a working directory of its own, holding the same
    # public/ folder (os.path.abspath(os.getcwd()) roots), so that relative
    # log files do not collide.
    procs = []
    results = []
    try:
        ports = {}
        logs = {}
        for server in ('cherrypy', 'reseau'):
            cwd = os.path.join(site, server)
            os.makedirs(cwd)
            shutil.copytree(os.path.join(site, 'public'), os.path.join(cwd, 'public'))
            with open(os.path.join(cwd, 'secret.txt'), 'wb') as f:
                f.write(b'TOP-SECRET\n')
            port = free_port()
            if server == 'cherrypy':
                argv = [PYTHON, os.path.join(HERE, 'cherrypy_site.py'), config, str(port),
                        os.path.join(cwd, 'users.db')]
            else:
                argv = [reseau, 'web', '--config', config,
                        '--bind', '127.0.0.1:{}'.format(port),
                        '--db', os.path.join(cwd, 'users.db')]
            proc, log = start(server, argv, cwd, port)
            procs.append(proc)
            wait_for_port(port, proc, server, log)
            ports[server], logs[server] = port, (log, port)
        for r in rows:
            cp = fetch(ports['cherrypy'], r['method'], r['path'], r['headers'])
            rs = fetch(ports['reseau'], r['method'], r['path'], r['headers'])
            label = '{} {} {}{}'.format(name, r['method'], r['path'],
                                        ' ' + json.dumps(r['headers']) if r['headers'] else '')
            if 'differs' in r:
                want = r['differs']
                for server, answer in (('cherrypy', cp), ('reseau', rs)):
                    ok = answer['status'] == want[server]
                    results.append((ok, '{}: {} status {} (expected {}: {})'.format(
                        label, server, answer['status'], want[server], r['why'])))
                    if b'TOP-SECRET' in answer['raw'] and server == 'reseau':
                        results.append((False, '{}: reseau served the secret'.format(label)))
                continue
            for aspect in r['compare']:
                ok, a, b = compare(aspect, cp, rs)
                results.append((ok, '{}: {} cherrypy={!r} reseau={!r}'.format(label, aspect, a, b)))
        if name == 'logs':
            results.extend(check_logs(site, logs))
    finally:
        for proc in procs:
            stop(proc)
    return results


def check_logs(site, outputs):
    """log.access_file, log.error_file and log.screen: False, for both."""
    results = []
    # Lines reach the files as requests are answered; allow a moment.
    deadline = time.monotonic() + 5
    for server in ('cherrypy', 'reseau'):
        access = os.path.join(site, server, 'access.log')
        while time.monotonic() < deadline and '/static/missing.css' not in read(access):
            time.sleep(0.1)
        text = read(access)
        results.append(('GET /static/style.css' in text and '/static/missing.css' in text,
                        'logs: {} access.log has a line per request: {!r}'.format(server, text[:300])))
        errors = read(os.path.join(site, server, 'error.log'))
        port = outputs[server][1]
        results.append(('127.0.0.1:{}'.format(port) in errors,
                        'logs: {} error.log has the start-up line: {!r}'.format(server, errors[:300])))
        screen = read(outputs[server][0])
        results.append((screen == '',
                        'logs: {} wrote nothing on the screen: {!r}'.format(server, screen[:300])))
    return results


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: python diff.py RESEAU_BINARY')
    reseau = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix='reseau-cherrypy-diff-')
    results = []
    requests = 0
    try:
        for name, rows in TABLE.items():
            requests += len(rows)
            results.extend(run_config(reseau, name, rows, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = [message for ok, message in results if not ok]
    for message in failed:
        print('FAIL ' + message)
    print('{} configs, {} requests to each server, {} comparisons, {} failed'.format(
        len(TABLE), requests, len(results), len(failed)))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
