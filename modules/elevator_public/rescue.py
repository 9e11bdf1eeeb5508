"""With the rescue module: a rescue request of the public opens (or joins)
the elevator's 96196 rescue ticket through Ticket.report."""
from trytond.model import fields
from trytond.pool import Pool, PoolMeta


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
