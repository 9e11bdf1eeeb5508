"""Maintenance contracts (维保合同) and the plan of visits they generate."""
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sql import Null
from sql.aggregate import Max
from sql.conditionals import Case

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.modules.elevator.workflow import Workflow
from trytond.model.exceptions import AccessError, ValidationError
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .common import (
    TYPE_MONTHS, TYPE_RANK, local_date, period_start, to_date, to_datetime)

MODES = [
    ('regular', "Regular"),
    ('on_demand', "On-Demand (按需维保)"),
    ('iot', "IoT and Maintenance"),
    ('insurance', "Insurance and Service"),
    ]
STATES = [
    ('draft', "Draft"),
    ('proposed', "Proposed"),
    ('active', "Active"),
    ('expired', "Expired"),
    ('terminated', "Terminated"),
    ]
# Rows of one INSERT of the planner.
PLAN_BATCH = 1000


class Contract(Workflow, ModelSQL, ModelView):
    "Maintenance Contract"
    __name__ = 'elevator.maintenance.contract'
    _history = True

    _draft = {'readonly': Eval('state') != 'draft'}

    number = fields.Char("Number", readonly=True)
    reference = fields.Char("Reference", states=_draft,
        help="The contract number of the parties.")
    maintenance_unit = fields.Many2One('party.party', "Maintenance Unit",
        required=True, ondelete='RESTRICT', states=_draft,
        domain=[('is_maintenance_unit', '=', True)])
    user_unit = fields.Many2One('party.party', "User Unit", required=True,
        ondelete='RESTRICT', states=_draft,
        domain=['OR',
            ('is_user_unit', '=', True),
            ('is_property_company', '=', True),
            ],
        help="The user unit or property company that signed the contract "
        "and confirms the maintenance records.")
    elevators = fields.Many2Many(
        'elevator.maintenance.contract-elevator.elevator', 'contract',
        'elevator', "Elevators", states=_draft)
    start_date = fields.Date("Start Date", required=True, states=_draft)
    end_date = fields.Date("End Date", required=True, states=_draft,
        domain=[If(Eval('start_date') & Eval('end_date'),
                ('end_date', '>=', Eval('start_date')), ())])
    price = fields.Numeric("Price per Elevator and Year (CNY)",
        digits=(16, 2), states=_draft,
        domain=[If(Eval('price'), ('price', '>=', 0), ())])
    amount = fields.Function(fields.Numeric("Yearly Amount (CNY)",
            digits=(16, 2)), 'get_amount')
    mode = fields.Selection(MODES, "Mode", required=True, states=_draft,
        sort=False)
    state = fields.Selection(STATES, "State", required=True, readonly=True,
        sort=False)
    # Both sides agree (issue 12): the firm proposes, the user unit (the
    # district regulator for orphan elevators) accepts; each is stamped.
    proposed_by = fields.Many2One('res.user', "Proposed by", readonly=True,
        ondelete='RESTRICT')
    proposed_at = fields.DateTime("Proposed at", readonly=True)
    accepted_by = fields.Many2One('res.user', "Accepted by", readonly=True,
        ondelete='RESTRICT',
        help="The user of the user unit, or the district regulator for "
        "orphan elevators, who accepted the proposal.")
    accepted_at = fields.DateTime("Accepted at", readonly=True)
    termination_date = fields.Date("Termination Date",
        states={
            'invisible': ~Eval('state').in_(['active', 'terminated']),
            'readonly': Eval('state') != 'active',
            })
    termination_reason = fields.Text("Termination Reason",
        states={
            'invisible': ~Eval('state').in_(['active', 'terminated']),
            'readonly': Eval('state') != 'active',
            })
    elevator_count = fields.Function(fields.Integer("Elevators"),
        'get_elevator_count')
    orders = fields.One2Many('elevator.maintenance.order', 'contract',
        "Maintenance Orders", readonly=True)
    notes = fields.Text("Notes")

    del _draft

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.maintenance_unit, Index.Range())),
                Index(t, (t.user_unit, Index.Range())),
                Index(t, (t.state, Index.Equality())),
                })
        cls._order = [('start_date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'proposed'),
            ('proposed', 'draft'),
            ('proposed', 'active'),
            ('active', 'expired'),
            ('active', 'terminated'),
            }
        cls._buttons.update({
                'propose': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'draft': {
                    'invisible': Eval('state') != 'proposed',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'accept': {
                    'invisible': Eval('state') != 'proposed',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'terminate': {
                    'invisible': Eval('state') != 'active',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_mode(cls):
        return 'regular'

    @classmethod
    def default_start_date(cls):
        return Pool().get('ir.date').today()

    def get_rec_name(self, name):
        firm = self.maintenance_unit.rec_name if self.maintenance_unit else ''
        return f'{self.number or self.reference or ""} {firm}'.strip()

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        bool_op = 'AND' if operator.startswith('!') or operator.startswith(
            'not ') else 'OR'
        return [bool_op,
            ('number', operator, operand, *extra),
            ('reference', operator, operand, *extra),
            ('maintenance_unit.rec_name', operator, operand, *extra),
            ]

    @classmethod
    def get_elevator_count(cls, contracts, name):
        pool = Pool()
        Relation = pool.get('elevator.maintenance.contract-elevator.elevator')
        relation = Relation.__table__()
        cursor = Transaction().connection.cursor()
        result = {c.id: 0 for c in contracts}
        from sql.aggregate import Count
        for sub_ids in grouped_slice([c.id for c in contracts], 10000):
            cursor.execute(*relation.select(
                    relation.contract, Count(relation.id),
                    where=SQL_OPERATORS['in'](relation.contract,
                        list(sub_ids)),
                    group_by=[relation.contract]))
            result.update(dict(cursor))
        return result

    @classmethod
    def get_amount(cls, contracts, name):
        return {c.id: (c.price * c.elevator_count).quantize(Decimal('0.01'))
            if c.price is not None else None for c in contracts}

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('number'):
            from .order import sequence_get
            values['number'] = sequence_get(
                'maintenance_contract_sequence', 'sequence_contract')
        return values

    @classmethod
    def check_modification(cls, mode, contracts, values=None,
            external=False):
        super().check_modification(mode, contracts, values=values,
            external=external)
        if mode == 'delete':
            for contract in contracts:
                if contract.state != 'draft':
                    raise AccessError(gettext(
                            'elevator_maintenance.msg_contract_delete',
                            contract=contract.rec_name))
        elif mode == 'write' and external:
            fixed = {'maintenance_unit', 'user_unit', 'elevators',
                'start_date', 'end_date', 'price', 'mode', 'number'}
            stamps = {'proposed_by', 'proposed_at', 'accepted_by',
                'accepted_at'} & set(values)
            if stamps:
                raise AccessError(gettext(
                        'elevator_maintenance.msg_contract_stamps',
                        contract=contracts[0].rec_name if contracts else '',
                        fields=', '.join(sorted(stamps))))
            for contract in contracts:
                if contract.state != 'draft' and fixed & set(values):
                    raise AccessError(gettext(
                            'elevator_maintenance.msg_contract_fixed',
                            contract=contract.rec_name))

    @classmethod
    def copy(cls, contracts, default=None):
        default = default.copy() if default is not None else {}
        for name in ['number', 'orders', 'termination_date',
                'termination_reason', 'proposed_by', 'proposed_at',
                'accepted_by', 'accepted_at']:
            default.setdefault(name, None)
        default.setdefault('state', 'draft')
        return super().copy(contracts, default=default)

    # -- workflow ------------------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('proposed')
    def propose(cls, contracts):
        """The firm proposes the contract to the user unit: its own firm,
        valid licence and qualification, elevators of that unit (or orphan
        elevators only, which the district accepts)."""
        pool = Pool()
        Date = pool.get('ir.date')
        today = Date.today()
        user_id = Transaction().user
        for contract in contracts:
            cls._check_contract(contract, today)
            if user_id:
                cls._check_side(contract, 'firm')
        cls.write(contracts, {
                'proposed_by': user_id or None,
                'proposed_at': dt.datetime.now().replace(microsecond=0),
                'accepted_by': None, 'accepted_at': None,
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, contracts):
        "Withdrawn by the firm or refused by the other side."
        if Transaction().user:
            for contract in contracts:
                try:
                    cls._check_side(contract, 'firm')
                except AccessError:
                    cls._check_side(contract, 'acceptor')
        cls.write(contracts, {'proposed_by': None, 'proposed_at': None})

    @classmethod
    @ModelView.button
    def accept(cls, contracts):
        """The user unit (the district regulator for orphan elevators)
        accepts the proposal: the contract is in force."""
        pool = Pool()
        Date = pool.get('ir.date')
        today = Date.today()
        user_id = Transaction().user
        contracts = [c for c in contracts if c.state == 'proposed']
        for contract in contracts:
            cls._check_contract(contract, today)
            if user_id:
                cls._check_side(contract, 'acceptor')
        if contracts:
            cls.write(contracts, {
                    'accepted_by': user_id or None,
                    'accepted_at': dt.datetime.now().replace(microsecond=0),
                    })
            cls.activate(contracts)

    @classmethod
    def _check_contract(cls, contract, today):
        "What a proposal and its acceptance need, whoever does them."
        if contract.end_date < today:
            raise ValidationError(gettext(
                    'elevator_maintenance.msg_contract_ended',
                    contract=contract.rec_name))
        if not contract.elevators:
            raise ValidationError(gettext(
                    'elevator_maintenance.msg_contract_no_elevator',
                    contract=contract.rec_name))
        orphans = [e for e in contract.elevators if cls._orphan(e)]
        if orphans and len(orphans) != len(contract.elevators):
            raise ValidationError(gettext(
                    'elevator_maintenance.msg_contract_orphan_mixed',
                    contract=contract.rec_name,
                    elevator=orphans[0].rec_name))
        for elevator in contract.elevators:
            if elevator.state == 'scrapped':
                raise ValidationError(gettext(
                        'elevator_maintenance.msg_contract_scrapped',
                        contract=contract.rec_name,
                        elevator=elevator.rec_name))
            owners = {p for p in [elevator.user_unit,
                    elevator.property_company] if p}
            if not cls._orphan(elevator) and contract.user_unit not in owners:
                raise ValidationError(gettext(
                        'elevator_maintenance.msg_contract_other_unit',
                        contract=contract.rec_name,
                        elevator=elevator.rec_name,
                        unit=contract.user_unit.rec_name))

    @staticmethod
    def _orphan(elevator):
        """三无: no user unit (nor property company) takes care of it; the
        district regulator accepts its contract."""
        return not (elevator.user_unit or elevator.property_company)

    @classmethod
    def _check_firm_valid(cls, contract, today):
        firm = contract.maintenance_unit
        for name, message in [
                ('licence_valid_until',
                    'elevator_maintenance.msg_contract_licence_expired'),
                ('qualification_valid_until',
                    'elevator_maintenance.msg_contract_qualification_expired'),
                ]:
            date = getattr(firm, name, None)
            if date and date < today:
                raise ValidationError(gettext(message,
                        contract=contract.rec_name, firm=firm.rec_name,
                        date=date.isoformat()))

    @classmethod
    def _check_side(cls, contract, side):
        """The user acts for the side: the firm (its units), or the
        acceptor: the user unit, or for orphan elevators the regulator of
        their district."""
        pool = Pool()
        User = pool.get('res.user')
        Date = pool.get('ir.date')
        Elevator = pool.get('elevator.elevator')
        ModelData = pool.get('ir.model.data')
        regions, units = User.get_elevator_scope()
        with without_check_access():
            cls._check_firm_valid(contract, Date.today())
            # The platform administrator registers contracts signed on
            # paper for both sides.
            if ModelData.get_id('res', 'group_admin') in User.get_groups():
                return
            if side == 'firm':
                if contract.maintenance_unit.id in units:
                    return
                raise AccessError(gettext(
                        'elevator_maintenance.msg_contract_not_firm',
                        contract=contract.rec_name,
                        firm=contract.maintenance_unit.rec_name))
            elevators = list(contract.elevators)
            if elevators and all(cls._orphan(e) for e in elevators):
                supervised = Elevator.search([
                        ('id', 'in', [e.id for e in elevators]),
                        ('region', 'child_of', regions, 'parent'),
                        ]) if regions else []
                if len(supervised) == len(elevators):
                    return
            elif contract.user_unit.id in units:
                return
            raise AccessError(gettext(
                    'elevator_maintenance.msg_contract_not_acceptor',
                    contract=contract.rec_name,
                    unit=contract.user_unit.rec_name))

    @classmethod
    @Workflow.transition('active')
    def activate(cls, contracts):
        """Put the accepted contract in force: its elevators get its
        maintenance unit and their visits are planned. Not a button: only
        `accept` (after `propose`) reaches it."""
        for contract in contracts:
            if not (contract.proposed_at and contract.accepted_at):
                raise AccessError(gettext(
                        'elevator_maintenance.msg_contract_not_agreed',
                        contract=contract.rec_name))
        cls._check_single_active(contracts)
        cls._assign_elevators(contracts)
        # The transition writes the state after this method.
        cls.write(contracts, {'state': 'active'})
        cls.generate_plan(contracts)

    @classmethod
    def _check_single_active(cls, contracts):
        "An elevator has at most one active contract."
        pool = Pool()
        Relation = pool.get('elevator.maintenance.contract-elevator.elevator')
        seen = {}
        for contract in contracts:
            for elevator in contract.elevators:
                if elevator.id in seen:
                    raise ValidationError(gettext(
                            'elevator_maintenance.msg_contract_overlap',
                            elevator=elevator.rec_name,
                            contract=contract.rec_name,
                            other=seen[elevator.id].rec_name))
                seen[elevator.id] = contract
        ids = [c.id for c in contracts]
        for sub_ids in grouped_slice(list(seen), 10000):
            relations = Relation.search([
                    ('elevator', 'in', list(sub_ids)),
                    ('contract.state', '=', 'active'),
                    ('contract', 'not in', ids),
                    ], limit=1)
            if relations:
                relation, = relations
                raise ValidationError(gettext(
                        'elevator_maintenance.msg_contract_overlap',
                        elevator=relation.elevator.rec_name,
                        contract=seen[relation.elevator.id].rec_name,
                        other=relation.contract.rec_name))

    @classmethod
    def _assign_elevators(cls, contracts):
        "The elevators' maintenance unit follows their active contract."
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        to_write = []
        for contract in contracts:
            elevators = [e for e in contract.elevators
                if e.maintenance_unit != contract.maintenance_unit]
            if elevators:
                to_write.extend((elevators, {
                            'maintenance_unit': contract.maintenance_unit.id,
                            }))
        if to_write:
            with without_check_access():
                Elevator.write(*to_write)

    @classmethod
    @ModelView.button
    @Workflow.transition('terminated')
    def terminate(cls, contracts):
        pool = Pool()
        Date = pool.get('ir.date')
        today = Date.today()
        to_write = []
        for contract in contracts:
            if not (contract.termination_reason or '').strip():
                raise ValidationError(gettext(
                        'elevator_maintenance.msg_contract_reason',
                        contract=contract.rec_name))
            if not contract.termination_date:
                to_write.extend(([contract], {'termination_date': today}))
        if to_write:
            cls.write(*to_write)
        cls._release(contracts)

    @classmethod
    @Workflow.transition('expired')
    def expire(cls, contracts):
        cls._release(contracts)

    @classmethod
    def _release(cls, contracts):
        """Cancel the visits planned after the end and take the elevators
        left without an active contract from the maintenance unit."""
        pool = Pool()
        Order = pool.get('elevator.maintenance.order')
        Elevator = pool.get('elevator.elevator')
        Relation = pool.get('elevator.maintenance.contract-elevator.elevator')
        orders = []
        for contract in contracts:
            end = contract.termination_date or contract.end_date
            orders.extend(Order.search([
                        ('contract', '=', contract.id),
                        ('state', '=', 'planned'),
                        ('planned_date', '>', end),
                        ]))
        if orders:
            Order.delete(orders)
        ids = [c.id for c in contracts]
        to_write = []
        for contract in contracts:
            elevator_ids = [e.id for e in contract.elevators]
            still = set()
            for sub_ids in grouped_slice(elevator_ids, 10000):
                still.update(r.elevator.id for r in Relation.search([
                            ('elevator', 'in', list(sub_ids)),
                            ('contract.state', '=', 'active'),
                            ('contract', 'not in', ids),
                            ]))
            released = [e for e in contract.elevators
                if e.id not in still
                and e.maintenance_unit == contract.maintenance_unit]
            if released:
                to_write.extend((released, {'maintenance_unit': None}))
        if to_write:
            with without_check_access():
                Elevator.write(*to_write)

    @classmethod
    def cron_plan(cls):
        """Daily: expire the contracts past their end and keep the visits of
        the active ones planned over the horizon."""
        pool = Pool()
        Date = pool.get('ir.date')
        today = Date.today()
        ended = cls.search([
                ('state', '=', 'active'),
                ('end_date', '<', today),
                ])
        if ended:
            cls.expire(ended)
        cls.generate_plan()

    # -- planning ------------------------------------------------------------

    @classmethod
    def _stretched_elevators(cls, elevator_ids):
        """Elevators of on-demand contracts that may wait longer between
        half-monthly visits: those monitored by an online IoT device
        (elevator_iot overrides)."""
        return set()

    @classmethod
    def generate_plan(cls, contracts=None, today=None):
        """Plan the visits of the active contracts (all of them, or those
        given) up to the horizon: half-monthly at the latest every rule
        interval after the last visit, the first visit of each quarter,
        half-year and year of the contract a quarterly, half-yearly or
        yearly one. Set-based: a few queries and batched inserts. Return
        the number of orders planned."""
        pool = Pool()
        Date = pool.get('ir.date')
        Configuration = pool.get('elevator.configuration')
        Rule = pool.get('elevator.maintenance.rule')
        Elevator = pool.get('elevator.elevator')
        Relation = pool.get('elevator.maintenance.contract-elevator.elevator')
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        today = today or Date.today()
        horizon = today + dt.timedelta(
            days=Configuration(1).maintenance_plan_days)
        rules = Rule.table()

        contract = cls.__table__()
        relation = Relation.__table__()
        elevator = Elevator.__table__()
        where = ((contract.state == 'active')
            & (contract.start_date <= horizon)
            & (contract.end_date >= today)
            & (elevator.state == 'in_use'))
        if contracts is not None:
            if not contracts:
                return 0
            where &= SQL_OPERATORS['in'](
                contract.id, [c.id for c in contracts])
        cursor.execute(*relation
            .join(contract, condition=relation.contract == contract.id)
            .join(elevator, condition=relation.elevator == elevator.id)
            .select(contract.id, contract.start_date, contract.end_date,
                contract.mode, contract.maintenance_unit, contract.user_unit,
                elevator.id, elevator.category, elevator.district,
                where=where))
        pairs = cursor.fetchall()
        if not pairs:
            return 0
        elevator_ids = sorted({p[6] for p in pairs})
        last, by_rank = cls._latest_visits(elevator_ids, today)
        stretched = cls._stretched_elevators(elevator_ids)

        rows = []
        for (contract_id, start, end, mode, firm, user_unit, elevator_id,
                category, district) in pairs:
            start, end = to_date(start), to_date(end)
            _, interval, on_demand, _ = rules[(category, 'half_monthly')]
            if mode == 'on_demand' and elevator_id in stretched:
                interval = on_demand
            step = dt.timedelta(days=interval)
            previous = last.get(elevator_id)
            if previous is None:
                date = max(start, today) + step
            else:
                date = max(previous + step, today, start)
            latest = by_rank[elevator_id]
            stop = min(horizon, end)
            while date <= stop:
                type_ = 'half_monthly'
                for candidate in ('yearly', 'half_yearly', 'quarterly'):
                    begin = period_start(start, date, TYPE_MONTHS[candidate])
                    done = latest.get(TYPE_RANK[candidate])
                    if done is None or done < begin:
                        type_ = candidate
                        break
                for rank in range(1, TYPE_RANK[type_] + 1):
                    latest[rank] = date
                rows.append([elevator_id, contract_id, firm, user_unit,
                        district, category, type_, date])
                date += step
        return cls._insert_plan(rows)

    @classmethod
    def _latest_visits(cls, elevator_ids, today):
        """The last visit date of each elevator (done or planned) and the
        latest date of each type rank and higher."""
        pool = Pool()
        Order = pool.get('elevator.maintenance.order')
        order = Order.__table__()
        cursor = Transaction().connection.cursor()
        since = today - dt.timedelta(days=400)
        last = {}
        by_rank = defaultdict(dict)
        for sub_ids in grouped_slice(elevator_ids, 10000):
            cursor.execute(*order.select(
                    order.elevator, order.type,
                    Max(Case((order.check_in == Null, order.planned_date),
                            else_=Null)),
                    Max(order.check_in),
                    where=SQL_OPERATORS['in'](order.elevator, list(sub_ids))
                    & (order.planned_date >= since),
                    group_by=[order.elevator, order.type]))
            for elevator_id, type_, planned, check_in in cursor:
                dates = [d for d in [to_date(planned),
                        local_date(to_datetime(check_in))] if d]
                if not dates:
                    continue
                date = max(dates)
                if elevator_id not in last or last[elevator_id] < date:
                    last[elevator_id] = date
                ranks = by_rank[elevator_id]
                for rank in range(1, TYPE_RANK[type_] + 1):
                    if rank not in ranks or ranks[rank] < date:
                        ranks[rank] = date
        return last, by_rank

    @classmethod
    def _insert_plan(cls, rows):
        "Insert the planned orders (and their history) in batches."
        pool = Pool()
        Order = pool.get('elevator.maintenance.order')
        if not rows:
            return 0
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        order = Order.__table__()
        columns = [order.create_uid, order.create_date, order.elevator,
            order.contract, order.maintenance_unit, order.user_unit,
            order.district, order.category, order.type, order.planned_date,
            order.state]
        user = transaction.user
        now = dt.datetime.now()
        database = transaction.database
        for batch in grouped_slice(rows, PLAN_BATCH):
            values = [[user, now, *row, 'planned'] for row in batch]
            if database.has_returning():
                cursor.execute(*order.insert(columns, values,
                        returning=[order.id]))
                ids = [r[0] for r in cursor]
            else:
                ids = []
                for value in values:
                    cursor.execute(*order.insert(columns, [value]))
                    ids.append(database.lastid(cursor))
            Order._insert_history(ids)
        transaction.counter += 1
        return len(rows)

    @classmethod
    def reschedule(cls, orders):
        """After visits, bring the next planned visits of their elevators
        forward so that no gap is longer than the rule's interval."""
        pool = Pool()
        Order = pool.get('elevator.maintenance.order')
        Rule = pool.get('elevator.maintenance.rule')
        latest = {}
        for order in orders:
            date = local_date(order.check_in)
            if date and (order.elevator not in latest
                    or latest[order.elevator][0] < date):
                latest[order.elevator] = (date, order)
        to_write = []
        for elevator, (date, order) in latest.items():
            _, interval, on_demand, _ = Rule.get(
                order.category or elevator.category, 'half_monthly')
            if (order.contract and order.contract.mode == 'on_demand'
                    and elevator.id in cls._stretched_elevators(
                        [elevator.id])):
                interval = on_demand
            step = dt.timedelta(days=interval)
            following = Order.search([
                    ('elevator', '=', elevator.id),
                    ('state', '=', 'planned'),
                    ], order=[('planned_date', 'ASC'), ('id', 'ASC')])
            previous = date
            for planned in following:
                if planned.planned_date > previous + step:
                    to_write.extend(([planned],
                            {'planned_date': previous + step}))
                    previous = previous + step
                else:
                    previous = max(previous, planned.planned_date)
        if to_write:
            Order.write(*to_write)


class ContractElevator(ModelSQL):
    "Maintenance Contract - Elevator"
    __name__ = 'elevator.maintenance.contract-elevator.elevator'
    _history = True

    contract = fields.Many2One('elevator.maintenance.contract', "Contract",
        required=True, ondelete='CASCADE')
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='RESTRICT')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('contract')
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.contract, Index.Range())),
                Index(t, (t.elevator, Index.Range())),
                })


class Elevator(metaclass=PoolMeta):
    __name__ = 'elevator.elevator'

    maintenance_contracts = fields.Many2Many(
        'elevator.maintenance.contract-elevator.elevator', 'elevator',
        'contract', "Maintenance Contracts", readonly=True)
    maintenance_orders = fields.One2Many('elevator.maintenance.order',
        'elevator', "Maintenance Orders", readonly=True)
    repair_orders = fields.One2Many('elevator.repair.order', 'elevator',
        "Fault History", readonly=True,
        help="Repair orders of the elevator, from faults, IoT alarms, "
        "complaints and rescues.")
    last_maintenance = fields.Function(fields.DateTime("Last Maintenance"),
        'get_last_maintenance')

    @classmethod
    def get_last_maintenance(cls, elevators, name):
        pool = Pool()
        Order = pool.get('elevator.maintenance.order')
        order = Order.__table__()
        cursor = Transaction().connection.cursor()
        result = {e.id: None for e in elevators}
        for sub_ids in grouped_slice([e.id for e in elevators], 10000):
            cursor.execute(*order.select(order.elevator, Max(order.check_in),
                    where=SQL_OPERATORS['in'](order.elevator, list(sub_ids))
                    & (order.check_in != Null),
                    group_by=[order.elevator]))
            for elevator_id, value in cursor:
                result[elevator_id] = to_datetime(value)
        return result

    @classmethod
    def copy(cls, elevators, default=None):
        default = default.copy() if default is not None else {}
        for name in ['maintenance_contracts', 'maintenance_orders',
                'repair_orders']:
            default.setdefault(name, None)
        return super().copy(elevators, default=default)

