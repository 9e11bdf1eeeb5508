# Registration of this module's classes is declared in tryton.cfg; the
# import of routes declares the H5 portal's URLs on the WSGI application.
from . import routes

__all__ = ['routes']
