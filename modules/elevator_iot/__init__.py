# Registration of this module's classes is declared in tryton.cfg; the HTTP
# routes (HTTPS push API, health endpoint) are declared when the module is
# imported.
from . import health, routes

__all__ = ['health', 'routes']
