"""The monitoring side of an elevator.

"Monitored" has one meaning on the platform, defined here: a device of the
elevator that is not retired sent a message within the configured window
(`elevator.iot.configuration.monitored_days`, 7 days by default). A device
registered but never connected does not make an elevator monitored. Every
coverage figure (IoT coverage, district indicator, dashboards, brief,
subsidy coverage and compliance, public card) uses `monitored_query`."""
import datetime as dt

from sql import Literal, Null
from sql.conditionals import Coalesce
from sql.functions import AtTimeZone, CurrentTimestamp

from trytond.model import fields
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access


class Elevator(metaclass=PoolMeta):
    __name__ = 'elevator.elevator'

    devices = fields.One2Many('elevator.iot.device', 'elevator', "Devices")
    monitored = fields.Function(fields.Boolean("Monitored",
            help="A device that is not retired sent a message within the "
            "monitoring window of the IoT configuration."),
        'get_monitored', searcher='search_monitored')
    live_status = fields.Function(fields.Many2One('elevator.iot.status',
            "Live Status"), 'get_live_status')
    iot_events = fields.One2Many('elevator.iot.event', 'elevator',
        "Fault History", readonly=True)

    @classmethod
    def monitored_window(cls):
        "The monitoring window (timedelta) of the IoT configuration."
        Configuration = Pool().get('elevator.iot.configuration')
        with without_check_access():
            days = Configuration(1).monitored_days
        return dt.timedelta(days=days or 7)

    @classmethod
    def monitored_query(cls, moment=None, live=False):
        """SQL query of the ids of the elevators monitored at `moment`
        (naive UTC, now by default): a device that is not retired sent a
        message within the window before it.

        A device keeps only its latest message time (`last_seen`): for a
        moment in the past, a device installed by then and heard since the
        start of the window counts.

        With `live`, the query reads the clock and the window when it runs
        (for SQL compiled once and kept, like the public card's)."""
        pool = Pool()
        Device = pool.get('elevator.iot.device')
        device = Device.__table__()
        where = (device.state != 'retired') & (device.elevator != Null)
        if live:
            Configuration = pool.get('elevator.iot.configuration')
            config = Configuration.__table__()
            days = Coalesce(config.select(config.monitored_days,
                    order_by=[config.id.asc], limit=1), 7)
            since = (AtTimeZone(CurrentTimestamp(), 'UTC')
                - Literal(dt.timedelta(days=1)) * days)
            return device.select(device.elevator,
                where=where & (device.last_seen >= since),
                group_by=[device.elevator])
        now = dt.datetime.now()
        moment = min(moment or now, now)
        where &= device.last_seen >= moment - cls.monitored_window()
        if moment < now - dt.timedelta(minutes=1):
            where &= ((device.install_date <= moment.date())
                | ((device.install_date == Null)
                    & (device.create_date <= moment)))
        return device.select(device.elevator, where=where,
            group_by=[device.elevator])

    @classmethod
    def get_monitored(cls, elevators, name):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        ids = [e.id for e in elevators]
        cursor.execute(*table.select(table.id,
                where=SQL_OPERATORS['in'](table.id, ids)
                & table.id.in_(cls.monitored_query())))
        monitored = {i for i, in cursor}
        return {i: i in monitored for i in ids}

    @classmethod
    def search_monitored(cls, name, clause):
        _, operator, value = clause[:3]
        positive = (operator == '=') == bool(value)
        return [('id', 'in' if positive else 'not in',
                cls.monitored_query())]

    @classmethod
    def get_live_status(cls, elevators, name):
        Status = Pool().get('elevator.iot.status')
        statuses = Status.search([
                ('elevator', 'in', [e.id for e in elevators])])
        by_elevator = {s.elevator.id: s.id for s in statuses}
        return {e.id: by_elevator.get(e.id) for e in elevators}
