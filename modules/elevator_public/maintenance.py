"""With the maintenance module: a fault report of the public becomes a
repair order of the elevator's maintenance firm, with the deadline of the
repair rules (shorter when urgent), and stays linked to it so that the
submitter follows the repair; the index that the public card's "last
maintenance" query uses (newest finished order of one elevator)."""
from trytond.i18n import gettext
from trytond.model import Index, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool, PoolMeta
from trytond.transaction import without_check_access

# A report closed as one of these did not call for a repair.
NO_REPAIR = {'invalid', 'duplicate'}


class MaintenanceOrder(metaclass=PoolMeta):
    __name__ = 'elevator.maintenance.order'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t,
                (t.elevator, Index.Range()), (t.check_out, Index.Range())))


class Feedback(metaclass=PoolMeta):
    __name__ = 'elevator.public.feedback'

    repair_order = fields.Many2One('elevator.repair.order', "Repair Order",
        readonly=True, ondelete='SET NULL',
        help="The repair order of the maintenance firm the fault report "
        "was passed to.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.repair_order, Index.Range())))

    @classmethod
    def check_modification(cls, mode, feedbacks, values=None,
            external=False):
        super().check_modification(mode, feedbacks, values=values,
            external=external)
        if mode == 'write' and external and 'repair_order' in values:
            raise AccessError(gettext(
                    'elevator_public.msg_feedback_fixed_fields',
                    feedback=feedbacks[0].rec_name if feedbacks else '',
                    fields='repair_order'))

    @classmethod
    def copy(cls, feedbacks, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('repair_order', None)
        return super().copy(feedbacks, default=default)

    @classmethod
    def open_repair(cls, feedbacks):
        """Join the repair order not yet done of the elevator (an IoT
        alarm may have opened it) or open one for its maintenance firm;
        an urgent report makes the order urgent (the shorter deadline).
        Elevators without a maintenance firm get no order: the regulator
        handles the report."""
        pool = Pool()
        Repair = pool.get('elevator.repair.order')
        todo = [f for f in feedbacks if f.type == 'fault_report'
            and not f.repair_order and f.state != 'closed'
            and f.elevator.maintenance_unit]
        if not todo:
            return
        with without_check_access():
            repairs = Repair.open_for_elevators(
                {f.elevator.id for f in todo})
            vlist, firsts = [], {}
            for feedback in todo:
                elevator = feedback.elevator.id
                if elevator in repairs or elevator in firsts:
                    continue
                firsts[elevator] = feedback
                vlist.append({
                        'elevator': elevator,
                        'source': 'fault',
                        'origin': str(feedback),
                        'reported_at': feedback.submitted_at.replace(
                            microsecond=0),
                        'urgent': bool(feedback.urgent),
                        'description': feedback.text,
                        })
            for elevator, repair in zip(firsts, Repair.create(vlist)):
                repairs[elevator] = repair
            to_write = []
            for feedback in todo:
                to_write.extend(([feedback], {
                            'repair_order': repairs[feedback.elevator.id].id,
                            }))
            cls.write(*to_write)
            urgent = {repairs[f.elevator.id] for f in todo if f.urgent}
            urgent = [r for r in urgent if not r.urgent]
            if urgent:
                Repair.write(urgent, {'urgent': True})

    @classmethod
    def on_modification(cls, mode, feedbacks, field_names=None):
        "A report made urgent makes its repair order urgent (never less)."
        pool = Pool()
        Repair = pool.get('elevator.repair.order')
        super().on_modification(mode, feedbacks, field_names=field_names)
        if mode == 'write' and 'urgent' in set(field_names or ()):
            repairs = {f.repair_order for f in feedbacks
                if f.urgent and f.repair_order
                and f.repair_order.state in {'open', 'in_progress'}
                and not f.repair_order.urgent}
            if repairs:
                with without_check_access():
                    Repair.write(list(repairs), {'urgent': True})

    @classmethod
    def close(cls, feedbacks):
        """A report closed as invalid or a duplicate cancels the repair
        order it opened, while the firm has not started it."""
        pool = Pool()
        Repair = pool.get('elevator.repair.order')
        super().close(feedbacks)
        cancel = list({f.repair_order
                for f in cls.browse([f.id for f in feedbacks])
                if f.resolution in NO_REPAIR and f.repair_order
                and f.repair_order.state == 'open'
                and f.repair_order.origin == f})
        if cancel:
            with without_check_access():
                Repair.cancel(cancel)
