"""Warnings the platform raises on maintenance records (维保预警): visits too
short, overdue, checked in too far away, not confirmed in time, repairs
not done by their deadline."""
import datetime as dt
from collections import defaultdict

from sql import Literal, Null
from sql.aggregate import Max
from sql.operators import Exists

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.modules.elevator import clock
from trytond.modules.elevator.workflow import Workflow
from trytond.model.exceptions import AccessError
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .checklist import rule_bounds, rule_case
from .common import local_date, to_date, to_datetime
from .repair import OVERDUE_STATES

WARNING_TYPES = [
    ('too_short', "Visit Too Short"),
    ('overdue', "Maintenance Overdue"),
    ('too_far', "Checked in Too Far Away"),
    ('no_position', "Checked in Without Position"),
    ('unconfirmed', "Not Confirmed"),
    ('repair_overdue', "Repair Overdue"),
    ]
STATES = [
    ('open', "Open"),
    ('acknowledged', "Acknowledged"),
    ('closed', "Closed"),
    ]
INSERT_BATCH = 1000


class Warning_(Workflow, ModelSQL, ModelView):
    "Maintenance Warning"
    __name__ = 'elevator.maintenance.warning'

    type = fields.Selection(WARNING_TYPES, "Type", required=True,
        readonly=True, sort=False)
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='RESTRICT', readonly=True)
    order = fields.Many2One('elevator.maintenance.order',
        "Maintenance Order", ondelete='RESTRICT', readonly=True)
    repair_order = fields.Many2One('elevator.repair.order', "Repair Order",
        ondelete='RESTRICT', readonly=True)
    maintenance_unit = fields.Many2One('party.party', "Maintenance Unit",
        ondelete='RESTRICT', readonly=True)
    district = fields.Many2One('elevator.region', "District",
        ondelete='RESTRICT', readonly=True)
    raised_at = fields.DateTime("Raised", required=True, readonly=True)
    reference_date = fields.Date("Last Visit", readonly=True,
        states={'invisible': Eval('type') != 'overdue'},
        help="Date of the last visit (or of the contract start) from which "
        "the gap is counted.")
    value = fields.Float("Measured", digits=(16, 1), readonly=True,
        help="Minutes of the visit, days since the last visit, metres from "
        "the elevator, days without confirmation or hours since the "
        "repair was reported.")
    limit = fields.Float("Limit", digits=(16, 1), readonly=True)
    description = fields.Function(fields.Char("Description"),
        'get_description')
    state = fields.Selection(STATES, "State", required=True, readonly=True,
        sort=False)
    explanation = fields.Text("Explanation of the Firm",
        states={'readonly': Eval('state') == 'closed'})
    note = fields.Text("Note of the Regulator",
        states={'readonly': Eval('state') == 'closed'})
    acknowledged_by = fields.Many2One('res.user', "Acknowledged by",
        readonly=True, ondelete='RESTRICT')
    acknowledged_at = fields.DateTime("Acknowledged at", readonly=True)
    closed_by = fields.Many2One('res.user', "Closed by", readonly=True,
        ondelete='RESTRICT')
    closed_at = fields.DateTime("Closed at", readonly=True)
    warning_count = fields.Function(fields.Integer("Warnings"),
        'get_warning_count')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.order, Index.Range()), (t.type, Index.Equality())),
                Index(t, (t.repair_order, Index.Range()),
                    (t.type, Index.Equality())),
                Index(t, (t.elevator, Index.Range()),
                    (t.type, Index.Equality())),
                Index(t, (t.maintenance_unit, Index.Range())),
                Index(t, (t.district, Index.Range())),
                Index(t, (t.state, Index.Equality()),
                    where=t.state != 'closed'),
                Index(t, (t.raised_at, Index.Range())),
                })
        cls._order = [('raised_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('open', 'acknowledged'),
            ('open', 'closed'),
            ('acknowledged', 'closed'),
            }
        cls._buttons.update({
                'acknowledge': {
                    'invisible': Eval('state') != 'open',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': Eval('state') == 'closed',
                    'icon': 'tryton-close',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'open'

    @classmethod
    def get_warning_count(cls, warnings, name):
        return {w.id: 1 for w in warnings}

    def get_rec_name(self, name):
        return f'{self.elevator.rec_name} {self.description}'

    def get_description(self, name):
        value = round(self.value) if self.value is not None else ''
        limit = round(self.limit) if self.limit is not None else ''
        return gettext(f'elevator_maintenance.msg_warning_{self.type}',
            value=value, limit=limit)

    @classmethod
    def check_modification(cls, mode, warnings, values=None,
            external=False):
        super().check_modification(mode, warnings, values=values,
            external=external)
        if mode == 'delete' and external:
            raise AccessError(gettext(
                    'elevator_maintenance.msg_warning_delete'))
        if mode == 'write' and external:
            pool = Pool()
            User = pool.get('res.user')
            ModelData = pool.get('ir.model.data')
            groups = set(User.get_groups())
            regulator = {ModelData.get_id('elevator', g) for g in [
                    'group_admin', 'group_city_regulator',
                    'group_district_regulator']} & groups
            allowed = {'note', 'explanation'} if regulator else {
                'explanation'}
            if set(values) - allowed:
                raise AccessError(gettext(
                        'elevator_maintenance.msg_warning_fields'))

    @classmethod
    @ModelView.button
    @Workflow.transition('acknowledged')
    def acknowledge(cls, warnings):
        cls.write(warnings, {
                'acknowledged_by': Transaction().user or None,
                'acknowledged_at': dt.datetime.now().replace(microsecond=0),
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, warnings):
        cls.write(warnings, {
                'closed_by': Transaction().user or None,
                'closed_at': dt.datetime.now().replace(microsecond=0),
                })

    # -- scan ------------------------------------------------------------------

    @classmethod
    def cron_scan(cls):
        cls.scan()

    @classmethod
    def scan(cls, orders=None, now=None, notify=True):
        """Raise every warning due, once: for the orders given (after their
        check-out: too short, too far) or for all the records (the cron:
        also overdue and unconfirmed). Set-based SQL. Return the ids of
        the new warnings."""
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        now = (now or clock.now()).replace(microsecond=0)
        cursor.execute(*table.select(Max(table.id)))
        watermark = cursor.fetchone()[0] or 0
        order_ids = [o.id for o in orders] if orders is not None else None
        cls._scan_order_measure('too_short', now, order_ids)
        cls._scan_order_measure('too_far', now, order_ids)
        cls._scan_no_position(now, order_ids)
        if orders is None:
            cls._scan_unconfirmed(now)
            cls._scan_overdue(now)
            cls._scan_repair_overdue(now)
        cursor.execute(*table.select(table.id,
                where=table.id > watermark))
        new_ids = [i for i, in cursor]
        if new_ids:
            transaction.counter += 1
            if notify:
                cls.notify(new_ids)
        return new_ids

    @classmethod
    def _columns(cls, table):
        return [table.create_uid, table.create_date, table.type,
            table.elevator, table.order, table.repair_order,
            table.maintenance_unit, table.district, table.raised_at,
            table.reference_date, table.value, table.limit, table.state]

    @classmethod
    def _scan_order_measure(cls, type_, now, order_ids=None):
        "Orders visited too shortly, or checked in too far away."
        pool = Pool()
        Order = pool.get('elevator.maintenance.order')
        table = cls.__table__()
        existing = cls.__table__()
        order = Order.__table__()
        cursor = Transaction().connection.cursor()
        # A bound common to all rules first: it keeps the rules' CASE
        # away from most rows.
        if type_ == 'too_short':
            measure = order.duration
            limit = rule_case(order.category, order.type, 0)
            _, bound = rule_bounds(0)
            exceeds = (measure < bound) & (measure < limit)
        else:
            measure = order.check_in_distance
            limit = rule_case(order.category, order.type, 3)
            bound, _ = rule_bounds(3)
            exceeds = (measure > bound) & (measure > limit)
        # Orders given are being checked out: their state follows.
        where = ((order.state.in_(['done', 'confirmed', 'disputed'])
                if order_ids is None else Literal(True))
            & (measure != Null)
            & exceeds
            & ~Exists(existing.select(Literal(1),
                    where=(existing.order == order.id)
                    & (existing.type == type_))))
        if order_ids is not None:
            where &= SQL_OPERATORS['in'](order.id, order_ids)
        user = Transaction().user
        query = order.select(Literal(user), Literal(now), Literal(type_),
            order.elevator, order.id, Literal(None), order.maintenance_unit,
            order.district, Literal(now), Literal(None), measure, limit,
            Literal('open'), where=where)
        cursor.execute(*table.insert(cls._columns(table), query))

    @classmethod
    def _scan_no_position(cls, now, order_ids=None):
        """Orders checked in without the phone's position: where the
        technician was cannot be told, which is itself a warning."""
        pool = Pool()
        Order = pool.get('elevator.maintenance.order')
        table = cls.__table__()
        existing = cls.__table__()
        order = Order.__table__()
        cursor = Transaction().connection.cursor()
        where = ((order.check_in != Null)
            & ((order.check_in_latitude == Null)
                | (order.check_in_longitude == Null))
            & ~Exists(existing.select(Literal(1),
                    where=(existing.order == order.id)
                    & (existing.type == 'no_position'))))
        if order_ids is not None:
            where &= SQL_OPERATORS['in'](order.id, order_ids)
        user = Transaction().user
        query = order.select(Literal(user), Literal(now),
            Literal('no_position'), order.elevator, order.id, Literal(None),
            order.maintenance_unit, order.district, Literal(now),
            Literal(None), Literal(None), Literal(None), Literal('open'),
            where=where)
        cursor.execute(*table.insert(cls._columns(table), query))

    @classmethod
    def _scan_unconfirmed(cls, now):
        "Records the user unit left unconfirmed too long."
        pool = Pool()
        Configuration = pool.get('elevator.configuration')
        Order = pool.get('elevator.maintenance.order')
        Repair = pool.get('elevator.repair.order')
        days = Configuration(1).maintenance_confirm_days
        before = now - dt.timedelta(days=days)
        cursor = Transaction().connection.cursor()
        user = Transaction().user
        for Model, field in [(Order, 'order'), (Repair, 'repair_order')]:
            table = cls.__table__()
            existing = cls.__table__()
            record = Model.__table__()
            where = ((record.state == 'done')
                & (record.check_out < before)
                & ~Exists(existing.select(Literal(1),
                        where=(getattr(existing, field) == record.id)
                        & (existing.type == 'unconfirmed'))))
            query = record.select(Literal(user), Literal(now),
                Literal('unconfirmed'), record.elevator,
                record.id if field == 'order' else Literal(None),
                record.id if field == 'repair_order' else Literal(None),
                record.maintenance_unit, record.district, Literal(now),
                Literal(None), Literal(None), Literal(days), Literal('open'),
                where=where)
            cursor.execute(*table.insert(cls._columns(table), query))

    @classmethod
    def _scan_repair_overdue(cls, now):
        """Repair orders not done by their deadline: one warning each,
        measured in hours since the report against the hours allowed."""
        pool = Pool()
        Repair = pool.get('elevator.repair.order')
        table = cls.__table__()
        existing = cls.__table__()
        repair = Repair.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*repair.select(repair.id, repair.elevator,
                repair.maintenance_unit, repair.district,
                repair.reported_at, repair.deadline,
                where=repair.state.in_(OVERDUE_STATES)
                & (repair.deadline != Null) & (repair.deadline < now)
                & ~Exists(existing.select(Literal(1),
                        where=(existing.repair_order == repair.id)
                        & (existing.type == 'repair_overdue')))))
        user = Transaction().user
        rows = []
        for id_, elevator, firm, district, reported, deadline in cursor:
            reported, deadline = to_datetime(reported), to_datetime(deadline)
            rows.append([user, now, 'repair_overdue', elevator, None, id_,
                    firm, district, now, None,
                    round((now - reported).total_seconds() / 3600, 1),
                    round((deadline - reported).total_seconds() / 3600, 1),
                    'open'])
        for batch in grouped_slice(rows, INSERT_BATCH):
            cursor.execute(*table.insert(cls._columns(table), list(batch)))

    @classmethod
    def _scan_overdue(cls, now):
        """Elevators under an active contract whose last visit (or the
        contract's start) is older than the half-monthly interval."""
        pool = Pool()
        Contract = pool.get('elevator.maintenance.contract')
        Relation = pool.get('elevator.maintenance.contract-elevator.elevator')
        Elevator = pool.get('elevator.elevator')
        Order = pool.get('elevator.maintenance.order')
        Rule = pool.get('elevator.maintenance.rule')
        cursor = Transaction().connection.cursor()
        today = local_date(now)
        rules = Rule.table()
        contract = Contract.__table__()
        relation = Relation.__table__()
        elevator = Elevator.__table__()
        order = Order.__table__()

        cursor.execute(*relation
            .join(contract, condition=relation.contract == contract.id)
            .join(elevator, condition=relation.elevator == elevator.id)
            .select(elevator.id, elevator.category, elevator.district,
                contract.maintenance_unit, contract.start_date,
                contract.mode,
                where=(contract.state == 'active')
                & (contract.start_date <= today)
                & (elevator.state == 'in_use')))
        active = cursor.fetchall()
        if not active:
            return
        ids = [r[0] for r in active]
        stretched = Contract._stretched_elevators(ids)
        last = {}
        cursor.execute(*order.select(order.elevator, Max(order.check_in),
                where=order.check_in != Null,
                group_by=[order.elevator]))
        for elevator_id, check_in in cursor:
            last[elevator_id] = local_date(to_datetime(check_in))
        candidates = {}
        for (elevator_id, category, district, firm, start, mode) in active:
            start = to_date(start)
            _, interval, on_demand, _ = rules[(category, 'half_monthly')]
            if mode == 'on_demand' and elevator_id in stretched:
                interval = on_demand
            reference = max(d for d in [last.get(elevator_id), start] if d)
            gap = (today - reference).days
            if gap > interval:
                candidates[elevator_id] = (elevator_id, firm, district,
                    reference, gap, interval)
        if not candidates:
            return
        warning = cls.__table__()
        known = set()
        for sub_ids in grouped_slice(list(candidates), 10000):
            cursor.execute(*warning.select(
                    warning.elevator, warning.reference_date,
                    where=(warning.type == 'overdue')
                    & SQL_OPERATORS['in'](warning.elevator, list(sub_ids))))
            known.update((e, to_date(d)) for e, d in cursor)
        user = Transaction().user
        rows = [[user, now, 'overdue', elevator_id, None, None, firm,
                district, now, reference, float(gap), float(interval),
                'open']
            for elevator_id, firm, district, reference, gap, interval
            in candidates.values()
            if (elevator_id, reference) not in known]
        table = cls.__table__()
        for batch in grouped_slice(rows, INSERT_BATCH):
            cursor.execute(*table.insert(cls._columns(table), list(batch)))

    @classmethod
    def notify(cls, warning_ids):
        """Tell each district regulator and each firm manager, in his
        language, how many new warnings concern him, with a link to them.
        One query for the warnings, one per regulator for his regions."""
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        User = pool.get('res.user')
        Region = pool.get('elevator.region')
        Notification = pool.get('elevator.notification')
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        by_district = defaultdict(list)
        by_firm = defaultdict(list)
        for sub_ids in grouped_slice(warning_ids, 10000):
            cursor.execute(*table.select(
                    table.id, table.district, table.maintenance_unit,
                    where=SQL_OPERATORS['in'](table.id, list(sub_ids))))
            for id_, district, firm in cursor:
                by_district[district].append(id_)
                by_firm[firm].append(id_)
        notifications = []

        def notify(user, ids, message):
            if not ids:
                return
            ids = sorted(ids)
            notifications.append((user, cls.__name__, ids[:1000], message,
                    {'count': len(ids)}))
        with without_check_access():
            regulators = User.search([
                    ('groups', '=', ModelData.get_id(
                            'elevator', 'group_district_regulator')),
                    ('elevator_regions', '!=', None),
                    ])
            for user in regulators:
                regions = Region.search([('parent', 'child_of',
                            [r.id for r in user.elevator_regions])])
                notify(user, [i for r in regions
                        for i in by_district.get(r.id, [])],
                    'elevator_maintenance.msg_notify_warnings')
            managers = User.search([
                    ('groups', '=', ModelData.get_id(
                            'elevator', 'group_firm_manager')),
                    ('elevator_units', 'in',
                        [f for f in by_firm if f is not None]),
                    ])
            for user in managers:
                notify(user, [i for p in user.elevator_units
                        for i in by_firm.get(p.id, [])],
                    'elevator_maintenance.msg_notify_firm_warnings')
            Notification.notify_users(notifications)


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('elevator.maintenance.contract|cron_plan',
                    "Plan Maintenance Visits"),
                ('elevator.maintenance.warning|cron_scan',
                    "Raise Maintenance Warnings"),
                ])
