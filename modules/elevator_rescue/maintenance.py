"""A ticket closed with "repair order follows" opens a repair order
(source 'rescue') for the maintenance unit. Registered only with
elevator_maintenance."""
from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta

from .ticket import _selection


class Ticket(metaclass=PoolMeta):
    __name__ = 'elevator.rescue.ticket'

    @classmethod
    def _follow_up_repairs(cls, tickets):
        pool = Pool()
        RepairOrder = pool.get('elevator.repair.order')
        super()._follow_up_repairs(tickets)
        tickets = [t for t in tickets if not t.repair_order]
        if not tickets:
            return
        orders = RepairOrder.create([{
                    'elevator': t.elevator.id,
                    'source': 'rescue',
                    'origin': str(t),
                    'reported_at': t.reported_at,
                    'description': t._repair_description(),
                    } for t in tickets])
        args = []
        for ticket, order in zip(tickets, orders):
            args.extend([[ticket], {'repair_order': str(order)}])
        cls.write(*args)

    def _repair_description(self):
        return gettext('elevator_rescue.msg_repair_description',
            number=self.number,
            cause=_selection(self.__class__, 'cause', self.cause),
            notes=self.closing_notes or '')
