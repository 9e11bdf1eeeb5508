"""The technicians' and user units' H5 pages under /{db}/elevator/portal/.

Static files only: the pages log in with the user's platform account and
call the JSON-RPC of the database (/{db}/rpc/) with the user's own session,
so that the access rights and record rules of the user apply."""
import mimetypes
import os

from werkzeug.exceptions import NotFound
from werkzeug.utils import safe_join
from werkzeug.wrappers import Response

from trytond.protocols.wrappers import allow_null_origin
from trytond.wsgi import app

STATIC = os.path.join(os.path.dirname(__file__), 'static', 'portal')
TYPES = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.svg': 'image/svg+xml',
    '.png': 'image/png',
    '.json': 'application/json',
    }
# The page talks only to its own server.
SECURITY_HEADERS = {
    'Content-Security-Policy': (
        "default-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'"),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
    }


@app.route('/<database_name>/elevator/portal/', methods=['GET', 'HEAD'])
@app.route('/<database_name>/elevator/portal/<path:path>',
    methods=['GET', 'HEAD'])
@allow_null_origin
def portal(request, database_name, path='index.html'):
    if path.endswith('/') or not path:
        path = path + 'index.html'
    filename = safe_join(STATIC, path)
    if not filename or not os.path.isfile(filename):
        raise NotFound()
    extension = os.path.splitext(filename)[1]
    mimetype = TYPES.get(extension) or mimetypes.guess_type(filename)[0]
    with open(filename, 'rb') as file:
        data = file.read()
    response = Response(data, mimetype=mimetype)
    response.headers.update(SECURITY_HEADERS)
    return response
