# Registration of this module's classes is declared in tryton.cfg.
# The HTTP routes (public JSON API and H5 pages) register themselves on
# trytond's WSGI application when imported.
from . import routes

__all__ = ['routes']
