# Registration of this module's classes is declared in tryton.cfg; web
# answers the requests trytond's WSGI application refuses (foreign Origin).
from . import web

__all__ = ['web']
