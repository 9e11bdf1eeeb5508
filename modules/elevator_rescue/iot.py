"""IoT intake (DESIGN §7): a fault whose reaction is `rescue` (7, 8: people
trapped; 21: alarm button) reports to the elevator's active rescue ticket
or opens one at level 1. Registered only with elevator_iot."""
from trytond.model import fields
from trytond.pool import Pool, PoolMeta

from . import clock


class Event(metaclass=PoolMeta):
    __name__ = 'elevator.iot.event'

    rescue_ticket = fields.Many2One('elevator.rescue.ticket',
        "Rescue Ticket", readonly=True, ondelete='SET NULL')

    @classmethod
    def open_rescue(cls, events):
        """Report the events of known elevators to their rescue tickets
        (one ticket per elevator, duplicate alarms attached to it); hand
        the others to the base version."""
        pool = Pool()
        Ticket = pool.get('elevator.rescue.ticket')
        handled = [e for e in events if e.elevator]
        others = [e for e in events if not e.elevator]
        if handled:
            tickets = Ticket.report_many([
                    (e.elevator, cls._rescue_source(e),
                        cls._rescue_values(e)) for e in handled])
            by_ticket = {}
            for event, ticket in zip(handled, tickets):
                by_ticket.setdefault(ticket.id, []).append(event)
            args = []
            for ticket_id, records in by_ticket.items():
                args.extend([records, {
                            'rescue_ticket': ticket_id,
                            'follow_up': 'rescue',
                            }])
            cls.write(*args)
        if others:
            super().open_rescue(others)

    @staticmethod
    def _rescue_source(event):
        device = getattr(event, 'device', None)
        if device and getattr(device, 'type', None) == 'ai_camera':
            return 'video_ai'
        return 'iot'

    @staticmethod
    def _rescue_values(event):
        fault_type = getattr(event, 'fault_type', None)
        if fault_type is not None and hasattr(fault_type, 'rec_name'):
            label = fault_type.rec_name
        else:
            label = str(fault_type or '')
        occurred = getattr(event, 'occurred_at', None)
        now = clock.now()
        if not occurred or occurred > now:
            occurred = now
        occurred = occurred.replace(microsecond=0)
        device = getattr(event, 'device', None)
        description = label
        if device is not None:
            description = f'{label} ({device.rec_name})'
        return {
            'reported_at': occurred,
            'description': description,
            'reference': str(getattr(event, 'fault_id', '') or '') or None,
            'origin': event,
            }

