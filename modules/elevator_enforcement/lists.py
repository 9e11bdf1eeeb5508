"""Non-compliance lists (莆政综〔2021〕129号 §五): who does not do what the
notice requires, computed live by SQL views over the registry, the
contracts, the maintenance records, the rescue dispatches and the IoT data,
each scoped to the regulator's district by record rules and each with an
"Open Case" action that files an enforcement case against the subject.

The rules are the platform's, read where they live: the maintenance
interval from `elevator.maintenance.rule` (`rule_case`), "monitored" from
elevator_iot (`Elevator.monitored_query`), "monitoring required" from the
compliance settings (`Elevator.compliance_conditions`)."""
import datetime as dt

from sql import Literal, Null
from sql.aggregate import Count, Max, Min
from sql.conditionals import Case
from sql.functions import CurrentTimestamp
from sql.operators import Exists

from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.elevator import clock
from trytond.modules.elevator_maintenance.checklist import rule_case
from trytond.modules.elevator_maintenance.common import LOCAL_TZ, local_date
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import StateAction, StateTransition, Wizard



def today():
    "Today in Putian."
    return clock.now().replace(tzinfo=dt.timezone.utc).astimezone(
        LOCAL_TZ).date()


def _utc_midnight(date):
    "Naive UTC of the start of a Putian day."
    local = dt.datetime.combine(date, dt.time(), tzinfo=LOCAL_TZ)
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _period():
    "(start, end) naive UTC of the period of the context (last 30 days)."
    context = Transaction().context
    to_date = context.get('to_date') or today()
    from_date = context.get('from_date') or to_date - dt.timedelta(days=29)
    return (_utc_midnight(from_date),
        _utc_midnight(to_date + dt.timedelta(days=1)))


class ListContext(ModelView):
    "Enforcement List Context"
    __string__ = "Enforcement List Context"
    __name__ = 'elevator.enforcement.list.context'

    from_date = fields.Date("From Date",
        domain=['OR', ('from_date', '=', None),
            ('from_date', '<=', Eval('to_date'))])
    to_date = fields.Date("To Date")

    @classmethod
    def default_to_date(cls):
        return today()

    @classmethod
    def default_from_date(cls):
        return today() - dt.timedelta(days=29)


class ListMixin(ModelSQL, ModelView):
    __slots__ = ()
    _case_source = None

    region = fields.Many2One('elevator.region', "Region")
    district = fields.Many2One('elevator.region', "District")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'open_case': {'icon': 'tryton-launch'},
                })

    @classmethod
    def _audit_columns(cls):
        return [
            Literal(0).as_('create_uid'),
            CurrentTimestamp().as_('create_date'),
            cls.write_uid.sql_cast(Literal(None)).as_('write_uid'),
            cls.write_date.sql_cast(Literal(None)).as_('write_date'),
            ]

    def case_values(self):
        "Values of the enforcement case opened from this row."
        return {
            'source': self._case_source,
            'region': self.region.id if self.region else None,
            }

    @classmethod
    @ModelView.button_action('elevator_enforcement.wizard_open_case')
    def open_case(cls, records):
        pass


class ElevatorListMixin(ListMixin):
    __slots__ = ()

    elevator = fields.Many2One('elevator.elevator', "Elevator")
    user_unit = fields.Many2One('party.party', "User Unit")

    def case_values(self):
        values = super().case_values()
        values['elevator'] = self.elevator.id
        return values


class Uncontracted(ElevatorListMixin):
    "Elevator in Use without Maintenance Contract"
    __string__ = "Elevator in Use without Maintenance Contract"
    __name__ = 'elevator.enforcement.list.uncontracted'
    _case_source = 'uncontracted'

    maintenance_unit = fields.Many2One('party.party',
        "Maintenance Unit (Registry)")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('district', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        Contract = pool.get('elevator.maintenance.contract')
        Relation = pool.get('elevator.maintenance.contract-elevator.elevator')
        elevator = Elevator.__table__()
        contract = Contract.__table__()
        relation = Relation.__table__()
        day = today()
        covered = relation.join(contract,
            condition=relation.contract == contract.id).select(
            relation.elevator,
            where=(relation.elevator == elevator.id)
            & (contract.state == 'active')
            & (contract.start_date <= day) & (contract.end_date >= day))
        return elevator.select(
            elevator.id.as_('id'), *cls._audit_columns(),
            elevator.id.as_('elevator'),
            elevator.region.as_('region'),
            elevator.district.as_('district'),
            elevator.user_unit.as_('user_unit'),
            elevator.maintenance_unit.as_('maintenance_unit'),
            where=(elevator.state == 'in_use') & ~Exists(covered))

    def case_values(self):
        values = super().case_values()
        values['party'] = self.user_unit.id if self.user_unit else None
        return values


class Unmaintained(ElevatorListMixin):
    "Elevator under Contract without Maintenance"
    __string__ = "Elevator under Contract without Maintenance"
    __name__ = 'elevator.enforcement.list.unmaintained'
    _case_source = 'unmaintained'

    maintenance_unit = fields.Many2One('party.party', "Maintenance Unit")
    contract = fields.Many2One('elevator.maintenance.contract', "Contract")
    last_maintenance = fields.DateTime("Last Maintenance")
    contract_start = fields.Date("Contract Start")
    days = fields.Function(fields.Integer("Days Without Maintenance",
            help="Days since the last visit (or the contract's start)."),
        'get_days')
    limit = fields.Integer("Allowed Days",
        help="The half-monthly interval of the maintenance rules.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('last_maintenance', 'ASC NULLS FIRST'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        Contract = pool.get('elevator.maintenance.contract')
        Relation = pool.get('elevator.maintenance.contract-elevator.elevator')
        Order = pool.get('elevator.maintenance.order')
        Rule = pool.get('elevator.maintenance.rule')
        elevator = Elevator.__table__()
        contract = Contract.__table__()
        relation = Relation.__table__()
        order = Order.__table__()
        day = today()
        last = order.select(order.elevator.as_('elevator'),
            Max(order.check_in).as_('check_in'),
            where=order.check_in != Null,
            group_by=[order.elevator])
        # The half-monthly interval of the rules; on-demand contracts of
        # monitored elevators may wait the on-demand interval instead.
        interval = rule_case(elevator.category, Literal('half_monthly'), 1)
        stretched = rule_case(elevator.category, Literal('half_monthly'), 2)
        limit = Case(
            ((contract.mode == 'on_demand')
                & elevator.id.in_(Elevator.monitored_query()), stretched),
            else_=interval)
        # Overdue: the Putian date of the last visit and the contract's
        # start are both before today - limit. Date arithmetic is done
        # here, per distinct limit, so the SQL runs on SQLite too.
        limits = sorted({v for (c, t), r in Rule.table().items()
                if t == 'half_monthly' for v in r[1:3]})
        since = {n: day - dt.timedelta(days=n) for n in limits}
        date_whens = [(limit == n, Literal(since[n])) for n in limits]
        time_whens = [(limit == n, Literal(_utc_midnight(since[n])))
            for n in limits]
        overdue = ((contract.start_date < Case(*date_whens, else_=Null))
            & ((last.check_in == Null)
                | (last.check_in < Case(*time_whens, else_=Null))))
        return (relation
            .join(contract, condition=relation.contract == contract.id)
            .join(elevator, condition=relation.elevator == elevator.id)
            .join(last, 'LEFT', condition=last.elevator == elevator.id)
            .select(
                relation.id.as_('id'), *cls._audit_columns(),
                elevator.id.as_('elevator'),
                elevator.region.as_('region'),
                elevator.district.as_('district'),
                elevator.user_unit.as_('user_unit'),
                contract.maintenance_unit.as_('maintenance_unit'),
                contract.id.as_('contract'),
                contract.start_date.as_('contract_start'),
                last.check_in.as_('last_maintenance'),
                limit.as_('limit'),
                where=(elevator.state == 'in_use')
                & (contract.state == 'active')
                & (contract.start_date <= day)
                & (contract.end_date >= day)
                & overdue))

    def get_days(self, name):
        reference = self.contract_start
        if self.last_maintenance:
            reference = max(reference, local_date(self.last_maintenance))
        return (today() - reference).days

    def case_values(self):
        values = super().case_values()
        values['party'] = self.maintenance_unit.id
        return values


class InactiveFirm(ListMixin):
    "Maintenance Firm Not Using the Platform"
    __string__ = "Maintenance Firm Not Using the Platform"
    __name__ = 'elevator.enforcement.list.inactive_firm'
    _case_source = 'inactive_firm'

    firm = fields.Many2One('party.party', "Maintenance Firm")
    elevators = fields.Integer("Elevators under Contract")
    records = fields.Integer("Maintenance Records in Period")
    last_login = fields.DateTime("Last Login of a Firm User")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('elevators', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        """Per firm and district: elevators in use under its active
        contracts, none of which has a maintenance record checked in
        within the period, and no user of the firm logged in then."""
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        Contract = pool.get('elevator.maintenance.contract')
        Relation = pool.get('elevator.maintenance.contract-elevator.elevator')
        Order = pool.get('elevator.maintenance.order')
        User = pool.get('res.user')
        UserUnit = pool.get('res.user-elevator.unit')
        elevator = Elevator.__table__()
        contract = Contract.__table__()
        relation = Relation.__table__()
        order = Order.__table__()
        user = User.__table__()
        user_unit = UserUnit.__table__()
        start, end = _period()
        day = today()
        recorded = order.select(order.elevator,
            where=(order.elevator == elevator.id)
            & (order.check_in >= start) & (order.check_in < end))
        logins = user_unit.join(user,
            condition=user_unit.user == user.id).select(
            user_unit.party.as_('party'),
            Max(user.elevator_last_login).as_('last_login'),
            group_by=[user_unit.party])
        records = Count(Case((Exists(recorded), 1), else_=Null))
        return (relation
            .join(contract, condition=relation.contract == contract.id)
            .join(elevator, condition=relation.elevator == elevator.id)
            .join(logins, 'LEFT',
                condition=logins.party == contract.maintenance_unit)
            .select(
                Min(relation.id).as_('id'), *cls._audit_columns(),
                contract.maintenance_unit.as_('firm'),
                elevator.district.as_('region'),
                elevator.district.as_('district'),
                Count(elevator.id).as_('elevators'),
                records.as_('records'),
                Max(logins.last_login).as_('last_login'),
                where=(elevator.state == 'in_use')
                & (contract.state == 'active')
                & (contract.start_date <= day)
                & (contract.end_date >= day),
                group_by=[contract.maintenance_unit, elevator.district],
                having=(records == 0)
                & ((Max(logins.last_login) == Null)
                    | (Max(logins.last_login) < start))))

    def case_values(self):
        values = super().case_values()
        values['party'] = self.firm.id
        return values


class MissedDispatch(ListMixin):
    "Rescue Dispatch Not Answered in Time"
    __string__ = "Rescue Dispatch Not Answered in Time"
    __name__ = 'elevator.enforcement.list.dispatch'
    _case_source = 'dispatch'

    unit = fields.Many2One('party.party', "Unit")
    dispatch = fields.Many2One('elevator.rescue.dispatch', "Dispatch")
    ticket = fields.Many2One('elevator.rescue.ticket', "Rescue Ticket")
    elevator = fields.Many2One('elevator.elevator', "Elevator")
    level = fields.Integer("Level",
        help="1: the contracted maintenance unit; 2: a grid's on-duty "
        "unit.")
    missed = fields.Selection([
            ('accept', "Acceptance"),
            ('arrive', "Arrival"),
            ], "Missed Deadline")
    dispatched_at = fields.DateTime("Dispatched At")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('dispatched_at', 'DESC'), ('id', 'DESC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Dispatch = pool.get('elevator.rescue.dispatch')
        Ticket = pool.get('elevator.rescue.ticket')
        dispatch = Dispatch.__table__()
        ticket = Ticket.__table__()
        start, end = _period()
        return dispatch.join(ticket,
            condition=dispatch.ticket == ticket.id).select(
            dispatch.id.as_('id'), *cls._audit_columns(),
            dispatch.unit.as_('unit'),
            dispatch.id.as_('dispatch'),
            ticket.id.as_('ticket'),
            ticket.elevator.as_('elevator'),
            ticket.region.as_('region'),
            ticket.district.as_('district'),
            dispatch.level.as_('level'),
            dispatch.missed.as_('missed'),
            dispatch.dispatched_at.as_('dispatched_at'),
            where=(dispatch.missed != Null)
            & dispatch.level.in_([1, 2])
            & (dispatch.dispatched_at >= start)
            & (dispatch.dispatched_at < end))

    def case_values(self):
        values = super().case_values()
        values.update({
                'party': self.unit.id,
                'elevator': self.elevator.id if self.elevator else None,
                'origin': str(self.dispatch),
                })
        return values


class Unmonitored(ElevatorListMixin):
    "Elevator without Required Monitoring"
    __string__ = "Elevator without Required Monitoring"
    __name__ = 'elevator.enforcement.list.unmonitored'
    _case_source = 'unmonitored'

    place_category = fields.Selection('get_place_categories',
        "Place Category")
    commissioning_date = fields.Date("Commissioning Date")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('district', 'ASC'), ('id', 'ASC')]

    @classmethod
    def get_place_categories(cls):
        Elevator = Pool().get('elevator.elevator')
        return Elevator.fields_get(['place_category'])['place_category'][
            'selection']

    @classmethod
    def table_query(cls):
        Elevator = Pool().get('elevator.elevator')
        elevator = Elevator.__table__()
        _, unmonitored, _ = Elevator.compliance_conditions(elevator)
        return elevator.select(
            elevator.id.as_('id'), *cls._audit_columns(),
            elevator.id.as_('elevator'),
            elevator.region.as_('region'),
            elevator.district.as_('district'),
            elevator.user_unit.as_('user_unit'),
            elevator.place_category.as_('place_category'),
            elevator.commissioning_date.as_('commissioning_date'),
            where=(elevator.state == 'in_use') & unmonitored)

    def case_values(self):
        values = super().case_values()
        values['party'] = self.user_unit.id if self.user_unit else None
        return values


class OpenCase(Wizard):
    "Open Enforcement Case"
    __name__ = 'elevator.enforcement.case.open'

    start = StateTransition()
    open_ = StateAction('elevator_enforcement.act_case')

    def transition_start(self):
        pool = Pool()
        Case_ = pool.get('elevator.enforcement.case')
        self.cases = Case_.open_from([r.case_values() for r in self.records])
        return 'open_'

    def do_open_(self, action):
        ids = [c.id for c in getattr(self, 'cases', [])]
        action['domains'] = []
        return action, {'res_id': ids}

    def end(self):
        return 'reload'
