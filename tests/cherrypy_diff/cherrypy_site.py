# The course's CherryPy application (bench/cherrypy/app.py's WebApp: /,
# /index, /home, /accueil, /listusers) started on a config file as
# cherrypy.quickstart(app, '/', 'server.conf') does, for the differential
# test (diff.py). Only the port and host come from the command line (the
# same config file is given to reseau, which gets them from --bind):
#
#   python cherrypy_site.py CONFIG PORT DB
#
# quickstart(root, '/', config) is config.update(config); tree.mount(root,
# '/', config); engine start and block. We do the same, with the port set
# between the first two steps. The engine's autoreloader is off: it would
# restart the process when a file changes.
import os
import sys

import cherrypy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'bench', 'cherrypy'))
from app import WebApp  # noqa: E402

config, port, db = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cherrypy.config.update(config)
cherrypy.config.update({'server.socket_host': '127.0.0.1',
                        'server.socket_port': port,
                        'engine.autoreload.on': False})
cherrypy.tree.mount(WebApp(db), '/', config)
cherrypy.engine.signals.subscribe()
cherrypy.engine.start()
cherrypy.engine.block()
