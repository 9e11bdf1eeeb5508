"""With elevator_iot: faults that call for a repair open repair orders, and
on-demand contracts may space the visits of monitored elevators online."""
from collections import defaultdict

from sql import Literal

from trytond.i18n import gettext
from trytond.model import fields
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .common import to_datetime


class Event(metaclass=PoolMeta):
    __name__ = 'elevator.iot.event'

    repair_order = fields.Many2One('elevator.repair.order', "Repair Order",
        readonly=True, ondelete='SET NULL')

    @classmethod
    def open_repair(cls, events):
        """Attach the faults to the repair order not yet done of their
        elevator, or open one per elevator (urgent for a critical fault).
        Batched: one search, one create, one write per repair order."""
        pool = Pool()
        Repair = pool.get('elevator.repair.order')
        handled = [e for e in events if e.elevator and not e.repair_order]
        others = [e for e in events if e not in handled]
        by_elevator = defaultdict(list)
        for event in handled:
            by_elevator[event.elevator.id].append(event)
        if by_elevator:
            repairs = Repair.open_for_elevators(list(by_elevator))
            missing = [e for e in by_elevator if e not in repairs]
            vlist = []
            for elevator_id in missing:
                faults = sorted(by_elevator[elevator_id],
                    key=lambda e: e.occurred_at)
                first = faults[0]
                vlist.append({
                        'elevator': elevator_id,
                        'source': 'iot',
                        'origin': str(first),
                        'reported_at': to_datetime(first.occurred_at),
                        'urgent': any(e.fault_type.reaction == 'critical'
                            for e in faults),
                        'description': '\n'.join(gettext(
                                'elevator_maintenance.msg_repair_from_iot',
                                fault=e.fault_type.rec_name,
                                time=to_datetime(e.occurred_at).strftime(
                                    '%Y-%m-%d %H:%M:%S'),
                                device=e.device.serial)
                            for e in faults),
                        })
            for elevator_id, repair in zip(missing, Repair.create(vlist)):
                repairs[elevator_id] = repair
            to_write = []
            for elevator_id, faults in by_elevator.items():
                to_write.extend((faults, {
                            'repair_order': repairs[elevator_id].id,
                            'follow_up': 'repair',
                            }))
            cls.write(*to_write)
            urgent = [r for r in repairs.values()
                if not r.urgent and any(e.fault_type.reaction == 'critical'
                    for e in by_elevator[r.elevator.id])]
            if urgent:
                Repair.write(urgent, {'urgent': True})
        if others:
            super().open_repair(others)


class Contract(metaclass=PoolMeta):
    __name__ = 'elevator.maintenance.contract'

    @classmethod
    def _stretched_elevators(cls, elevator_ids):
        "The elevators whose IoT monitoring is online."
        pool = Pool()
        Status = pool.get('elevator.iot.status')
        status = Status.__table__()
        cursor = Transaction().connection.cursor()
        result = set(super()._stretched_elevators(elevator_ids))
        for sub_ids in grouped_slice(list(elevator_ids), 10000):
            cursor.execute(*status.select(status.elevator,
                    where=SQL_OPERATORS['in'](status.elevator, list(sub_ids))
                    & (status.online == Literal(True))))
            result.update(e for e, in cursor)
        return result
