# Registration of this module's classes is declared in tryton.cfg; web.origin
# answers the requests trytond's WSGI application refuses (foreign Origin);
# receipts is the SMS provider's route for delivery reports.
from . import receipts
from .web import origin

__all__ = ['origin', 'receipts']
