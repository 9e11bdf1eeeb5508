"""Statistics for the regulator (SQL views over the orders and warnings):
on-time rate, average duration, unconfirmed rate and warnings, by firm,
district and type, for the period of the context."""
import datetime as dt

from sql import Literal, Null
from sql.aggregate import Count, Sum
from sql.conditionals import Case

from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction

from .common import MAINTENANCE_TYPES, TYPE_RANK


class StatisticsContext(ModelView):
    "Maintenance Statistics Context"
    __name__ = 'elevator.maintenance.statistics.context'

    from_date = fields.Date("From Date", required=True,
        domain=[If(Eval('to_date') & Eval('from_date'),
                ('from_date', '<=', Eval('to_date')), ())])
    to_date = fields.Date("To Date", required=True,
        domain=[If(Eval('to_date') & Eval('from_date'),
                ('to_date', '>=', Eval('from_date')), ())])

    @classmethod
    def default_from_date(cls):
        today = Pool().get('ir.date').today()
        return Transaction().context.get(
            'from_date', today - dt.timedelta(days=90))

    @classmethod
    def default_to_date(cls):
        return Transaction().context.get(
            'to_date', Pool().get('ir.date').today())


class StatisticsMixin:
    "Measures of the visits of a group of orders."
    __slots__ = ()

    orders_due = fields.Integer("Visits Due",
        help="Visits planned in the period, up to today.")
    orders_on_time = fields.Integer("Visits on Time")
    on_time_rate = fields.Float("On-Time Rate (%)", digits=(16, 1))
    orders_done = fields.Integer("Visits Done",
        help="Visits checked out in the period.")
    average_duration = fields.Float("Average Duration (min)",
        digits=(16, 1))
    unconfirmed = fields.Integer("Unconfirmed",
        help="Visits done in the period still not confirmed by the user "
        "unit after the confirmation delay.")
    unconfirmed_rate = fields.Float("Unconfirmed Rate (%)", digits=(16, 1))
    warnings = fields.Integer("Warnings",
        help="Warnings raised in the period.")

    @classmethod
    def _period(cls):
        pool = Pool()
        Date_ = pool.get('ir.date')
        context = Transaction().context
        today = Date_.today()
        from_date = context.get('from_date') or today - dt.timedelta(days=90)
        to_date = context.get('to_date') or today
        if isinstance(from_date, str):
            from_date = dt.date.fromisoformat(from_date)
        if isinstance(to_date, str):
            to_date = dt.date.fromisoformat(to_date)
        return from_date, to_date, today

    @classmethod
    def _dimension(cls, table):
        "The column of order and warning tables to group by."
        raise NotImplementedError

    @classmethod
    def _key_id(cls, key):
        "The id of the row for the key."
        return key

    @classmethod
    def _warning_dimension(cls, warning):
        "The table of warnings to count and the column to group by."
        return warning, cls._dimension(warning)

    @classmethod
    def _key_columns(cls, key):
        "(field name, expression of the key) of the dimension's fields."
        raise NotImplementedError

    @classmethod
    def table_query(cls):
        pool = Pool()
        Order = pool.get('elevator.maintenance.order')
        Warning_ = pool.get('elevator.maintenance.warning')
        Configuration = pool.get('elevator.configuration')
        order = Order.__table__()
        warning = Warning_.__table__()
        from_date, to_date, today = cls._period()
        due_to = min(to_date, today)
        # The days of Putian (UTC+8) and of the server (UTC) both.
        start = dt.datetime.combine(from_date, dt.time()) - dt.timedelta(
            hours=8)
        end = dt.datetime.combine(to_date + dt.timedelta(days=1), dt.time())
        late = dt.datetime.now() - dt.timedelta(
            days=Configuration(1).maintenance_confirm_days)

        due = (order.planned_date >= from_date) & (
            order.planned_date <= due_to)
        done = ((order.check_out >= start) & (order.check_out < end)
            & order.state.in_(['done', 'confirmed', 'disputed']))
        one, zero = Literal(1), Literal(0)
        key = cls._dimension(order)
        orders = order.select(
            key.as_('key'),
            Sum(Case((due, one), else_=zero)).as_('due'),
            Sum(Case((due & (order.on_time == Literal(True)), one),
                    else_=zero)).as_('on_time'),
            Sum(Case((done, one), else_=zero)).as_('done'),
            Sum(Case((done, order.duration), else_=zero)).as_('duration'),
            Sum(Case((done & (order.state == 'done')
                        & (order.check_out < late), one),
                    else_=zero)).as_('unconfirmed'),
            where=(due | done) & (key != Null),
            group_by=[key])
        wtable, wkey = cls._warning_dimension(warning)
        warnings = wtable.select(
            wkey.as_('key'),
            Count(warning.id).as_('count'),
            where=(warning.raised_at >= start) & (warning.raised_at < end)
            & (wkey != Null),
            group_by=[wkey])
        query = orders.join(warnings, 'LEFT',
            condition=orders.key == warnings.key)

        def rate(numerator, denominator):
            return cls.on_time_rate.sql_cast(Case(
                    (denominator > zero,
                        numerator * Literal(100.0) / denominator),
                    else_=Null))
        columns = [cls._key_id(orders.key).as_('id')]
        columns += [expression.as_(name)
            for name, expression in cls._key_columns(orders.key)]
        columns += [
            orders.due.as_('orders_due'),
            orders.on_time.as_('orders_on_time'),
            rate(orders.on_time, orders.due).as_('on_time_rate'),
            orders.done.as_('orders_done'),
            cls.average_duration.sql_cast(Case(
                    (orders.done > zero, orders.duration / orders.done),
                    else_=Null)).as_('average_duration'),
            orders.unconfirmed.as_('unconfirmed'),
            rate(orders.unconfirmed, orders.done).as_('unconfirmed_rate'),
            Case((warnings.count != Null, warnings.count),
                else_=zero).as_('warnings'),
            ]
        return query.select(*columns)


class StatisticsFirm(StatisticsMixin, ModelSQL, ModelView):
    "Maintenance Statistics per Firm"
    __name__ = 'elevator.maintenance.statistics.firm'

    maintenance_unit = fields.Many2One('party.party', "Maintenance Unit")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('on_time_rate', 'ASC NULLS LAST'), ('id', 'ASC')]

    @classmethod
    def _dimension(cls, table):
        return table.maintenance_unit

    @classmethod
    def _key_columns(cls, key):
        return [('maintenance_unit', key)]


class StatisticsDistrict(StatisticsMixin, ModelSQL, ModelView):
    "Maintenance Statistics per District"
    __name__ = 'elevator.maintenance.statistics.district'

    district = fields.Many2One('elevator.region', "District")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('district', 'ASC'), ('id', 'ASC')]

    @classmethod
    def _dimension(cls, table):
        return table.district

    @classmethod
    def _key_columns(cls, key):
        return [('district', key)]


class StatisticsType(StatisticsMixin, ModelSQL, ModelView):
    "Maintenance Statistics per Type"
    __name__ = 'elevator.maintenance.statistics.type'

    type = fields.Selection(MAINTENANCE_TYPES, "Type", sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'ASC')]

    @classmethod
    def _dimension(cls, table):
        return table.type

    @classmethod
    def _key_id(cls, key):
        return Case(*[(key == t, Literal(r)) for t, r in TYPE_RANK.items()],
            else_=Literal(0))

    @classmethod
    def _warning_dimension(cls, warning):
        pool = Pool()
        Order = pool.get('elevator.maintenance.order')
        order = Order.__table__()
        return (warning.join(order, condition=warning.order == order.id),
            order.type)

    @classmethod
    def _key_columns(cls, key):
        return [('type', key)]
