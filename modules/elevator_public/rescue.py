"""With the rescue module: a rescue request of the public opens (or joins)
the elevator's 96196 rescue ticket through Ticket.report, and the
retention of the ticket's callers' data reaches the request it came from."""
from sql import Null

from trytond.model import fields
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from .feedback import _invalidate


class Feedback(metaclass=PoolMeta):
    __name__ = 'elevator.public.feedback'

    rescue_ticket = fields.Many2One('elevator.rescue.ticket',
        "Rescue Ticket", readonly=True, ondelete='SET NULL',
        help="The 96196 ticket the rescue request was passed to.")

    @classmethod
    def open_rescue(cls, feedbacks):
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        to_write = []
        for feedback in feedbacks:
            # Ticket.report joins the open ticket of the elevator when
            # there is one, or opens one at level 1.
            ticket = Ticket.report(feedback.elevator, 'public_app',
                caller_phone=feedback.contact_phone,
                reported_at=feedback.submitted_at,
                description=feedback.text,
                reference=feedback.number,
                origin=str(feedback))
            to_write.extend(([feedback], {'rescue_ticket': ticket.id}))
        if to_write:
            cls.write(*to_write)


class Ticket(metaclass=PoolMeta):
    __name__ = 'elevator.rescue.ticket'

    @classmethod
    def _erase_caller_copies(cls, ids):
        "The submitter's phone of the rescue requests passed to the tickets."
        pool = Pool()
        Feedback = pool.get('elevator.public.feedback')
        super()._erase_caller_copies(ids)
        table = Feedback.__table__()
        cursor = Transaction().connection.cursor()
        where = SQL_OPERATORS['in'](table.rescue_ticket, ids)
        cursor.execute(*table.select(table.id, where=where))
        feedback_ids = [i for i, in cursor]
        if feedback_ids:
            cursor.execute(*table.update(
                    [table.contact_phone, table.client_key,
                        table.personal_data_erased],
                    [Null, Null, True],
                    where=SQL_OPERATORS['in'](table.id, feedback_ids)))
            _invalidate(Feedback, feedback_ids)
