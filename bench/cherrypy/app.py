# The course's web application on CherryPy, as the handout writes it (a
# WebApp class, @cherrypy.expose routes, a server.conf), for the web
# benchmark (bench/run): it is the peer that `reseau web` is
# measured against. Routes: / (also /index, /home, /accueil) with
# name='World', /listusers (JSON from a SQLite database through the sqlite3
# module; a new database gets the course's users CBF, LUR, VRL), POST
# /api/users (a JSON route that inserts a user), and the static folder under
# /static from server.conf.
#
# Run (CherryPy from PyPI, e.g. in target/bench-venv; --config is read
# before chdir to this folder, its relative paths after it):
#   python bench/cherrypy/app.py [--port PORT] [--host HOST] [--db PATH]
#                                [--config FILE] [--static DIR]
#                                [--ssl-certificate FILE --ssl-private-key FILE]
# With --ssl-*, it serves HTTPS as a CherryPy server.conf asks for it:
# server.ssl_module 'builtin' (Python's ssl), server.ssl_certificate and
# server.ssl_private_key.
# CherryPy's defaults are kept, except that its log is not written to the
# screen (log.screen False): the benchmark would otherwise measure the
# terminal. Like the course's, index does not escape name (an XSS hole
# that reseau fixes); it does not change the figures.

import argparse
import os
import sqlite3

import cherrypy

HERE = os.path.dirname(os.path.abspath(__file__))


class WebApp():
    def __init__(self, db):
        self.db = db
        with sqlite3.connect(self.db) as conn:
            conn.execute('CREATE TABLE IF NOT EXISTS users '
                         '(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)')
            if conn.execute('SELECT COUNT(*) FROM users').fetchone()[0] == 0:
                conn.executemany('INSERT INTO users (name) VALUES (?)',
                                 [('CBF',), ('LUR',), ('VRL',)])

    @cherrypy.expose(['index', 'home', 'accueil'])
    def index(self, name='World'):
        return 'Hello <b>{}</b>!'.format(name)

    @cherrypy.expose
    @cherrypy.tools.json_out()
    def listusers(self):
        # One connection per request: sqlite3 connections are bound to the
        # thread that opened them, and CherryPy runs a pool of threads.
        conn = sqlite3.connect(self.db)
        try:
            rows = conn.execute('SELECT name FROM users ORDER BY id').fetchall()
        finally:
            conn.close()
        return {'users': [row[0] for row in rows]}


class UsersApi():
    """POST /api/users, as the course writes a JSON route (json_in,
    json_out) over its database: 201 with Location and the user, 409 for a
    taken name, 400 for an empty or over-64-character one (the rules of
    reseau web)."""
    exposed = True

    def __init__(self, db):
        self.db = db

    @cherrypy.tools.json_in()
    @cherrypy.tools.json_out()
    def POST(self):
        name = str(cherrypy.request.json.get('name', '')).strip()
        if not name or len(name) > 64:
            cherrypy.response.status = 400
            return {'error': 'name must be 1 to 64 characters'}
        conn = sqlite3.connect(self.db)
        try:
            with conn:
                user_id = conn.execute('INSERT INTO users (name) VALUES (?)', (name,)).lastrowid
        except sqlite3.IntegrityError:
            cherrypy.response.status = 409
            return {'error': 'a user with this name exists'}
        finally:
            conn.close()
        cherrypy.response.status = 201
        cherrypy.response.headers['Location'] = '/api/users/{}'.format(user_id)
        return {'id': user_id, 'name': name}


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description="The course's CherryPy web app")
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=None,
                        help='overrides server.socket_port of the config')
    parser.add_argument('--db', default='users.db')
    parser.add_argument('--config', default=os.path.join(HERE, 'server.conf'))
    parser.add_argument('--static', default=None,
                        help='folder served under /static, instead of the config\'s')
    parser.add_argument('--ssl-certificate', default=None, help='HTTPS: the certificate (PEM)')
    parser.add_argument('--ssl-private-key', default=None, help='HTTPS: its key (PEM)')
    args = parser.parse_args()
    db = os.path.abspath(args.db)
    config = os.path.abspath(args.config)
    static = os.path.abspath(args.static) if args.static else None
    ssl_files = [os.path.abspath(f) for f in (args.ssl_certificate, args.ssl_private_key) if f]
    # The config's paths (tools.staticdir.root: os.path.abspath(os.getcwd()))
    # are relative to the working directory, as in the course.
    os.chdir(HERE)
    conf = cherrypy.lib.reprconf.Parser.load(config)
    conf.setdefault('global', {}).update({'server.socket_host': args.host, 'log.screen': False})
    if args.port is not None:
        conf['global']['server.socket_port'] = args.port
    if len(ssl_files) == 2:
        conf['global'].update({'server.ssl_module': 'builtin',
                               'server.ssl_certificate': ssl_files[0],
                               'server.ssl_private_key': ssl_files[1]})
    if static is not None:
        conf.setdefault('/static', {}).update({'tools.staticdir.on': True,
                                               'tools.staticdir.root': static,
                                               'tools.staticdir.dir': '.'})
    # Printed so that a script can wait for it (CherryPy's own start-up
    # line goes to the screen log, which is off).
    cherrypy.engine.subscribe(
        'start', lambda: print('listening on {}:{}'.format(*cherrypy.server.bound_addr),
                               flush=True), priority=90)
    # The REST route, on CherryPy's MethodDispatcher (a handler per HTTP
    # method), as its REST tutorial mounts one.
    cherrypy.tree.mount(UsersApi(db), '/api/users',
                        {'/': {'request.dispatch': cherrypy.dispatch.MethodDispatcher()}})
    cherrypy.quickstart(WebApp(db), '/', conf)
