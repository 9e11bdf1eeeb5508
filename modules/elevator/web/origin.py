"""Requests that trytond's WSGI application refuses before it dispatches
them (a foreign `Origin`, or a null one on a route that does not allow it)
raise werkzeug's HTTPException outside its own error handling, which the
WSGI server turns into an HTTP 500 HTML page. The platform answers them
with what they are: a short JSON 403 (or the status of the exception),
on the RPC of the web client and on every route of the modules."""
import json

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from trytond.wsgi import app


def _clean_errors(wsgi_app):
    def wsgi_app_clean_errors(environ, start_response):
        try:
            return wsgi_app(environ, start_response)
        except HTTPException as exception:
            code = exception.code or 500
            response = Response(json.dumps({'error': {
                            'code': 'forbidden' if code == 403 else code,
                            'message': exception.name,
                            }}),
                status=code, content_type='application/json')
            response.headers['Cache-Control'] = 'no-store'
            return response(environ, start_response)
    wsgi_app_clean_errors.elevator_clean_errors = True
    return wsgi_app_clean_errors


if not getattr(app.wsgi_app, 'elevator_clean_errors', False):
    app.wsgi_app = _clean_errors(app.wsgi_app)
