# Registration of this module's classes is declared in tryton.cfg; the HTTP
# route of the call centre's events is declared when the module is imported.
from . import console, cti, portal

__all__ = ['console', 'cti', 'portal']
