"""Retention of raw IoT data, applied daily by cron (docs/operations.md).

- Dead letters (elevator.iot.dead_letter) older than the configured number
  of days are deleted: they keep the raw bytes of bad messages for the
  investigation of a device or a manufacturer's platform, not forever.
- Daily statistics (elevator.iot.daily) of days older than configured are
  deleted: the yearly figures and the assessments are computed long before.
- Personal data of closed public submissions belongs to the public module,
  which erases it with its own cron; when that module is activated, this
  cron calls the same erasure too, so that one run applies the whole
  retention policy (the erasure is idempotent).

An empty number of days keeps the data. Deletion is set-based SQL (one
DELETE per table): these tables are written by the bridge with SQL, nothing
refers to their rows, and they have no history.
"""
import datetime as dt
import logging

from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.transaction import Transaction

logger = logging.getLogger(__name__)

DEAD_LETTER_DAYS = 90
DAILY_DAYS = 3 * 365 + 1


class Configuration(metaclass=PoolMeta):
    __name__ = 'elevator.iot.configuration'

    dead_letter_retention_days = fields.Integer(
        "Dead Letter Retention (days)",
        domain=[If(Eval('dead_letter_retention_days'),
                ('dead_letter_retention_days', '>', 0), ())],
        help="Dead letters older than this are deleted by the daily "
        "retention cron. Empty: kept for ever.")
    daily_retention_days = fields.Integer(
        "Daily Statistics Retention (days)",
        domain=[If(Eval('daily_retention_days'),
                ('daily_retention_days', '>', 0), ())],
        help="Daily statistics of days older than this are deleted by the "
        "daily retention cron. Empty: kept for ever.")

    @classmethod
    def __register__(cls, module):
        table_h = cls.__table_handler__(module)
        table = cls.__table__()
        new = [n for n in ['dead_letter_retention_days',
                'daily_retention_days'] if not table_h.column_exist(n)]
        super().__register__(module)
        # A configuration saved before keeps its values; the new settings
        # start at their defaults, not empty (which would mean "keep").
        cursor = Transaction().connection.cursor()
        for name in new:
            default = getattr(cls, 'default_' + name)()
            cursor.execute(*table.update([getattr(table, name)], [default]))

    @classmethod
    def default_dead_letter_retention_days(cls):
        return DEAD_LETTER_DAYS

    @classmethod
    def default_daily_retention_days(cls):
        return DAILY_DAYS

    @classmethod
    def cron_retention(cls, now=None):
        """Apply the retention policy; return {what: rows affected}."""
        pool = Pool()
        DeadLetter = pool.get('elevator.iot.dead_letter')
        Daily = pool.get('elevator.iot.daily')
        config = cls(1)
        # Tryton stores timestamps in UTC without offset.
        now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        cursor = Transaction().connection.cursor()
        result = {}

        days = config.dead_letter_retention_days
        if days:
            table = DeadLetter.__table__()
            cursor.execute(*table.delete(
                    where=table.received_at < now - dt.timedelta(days=days)))
            result['dead_letters'] = cursor.rowcount
        days = config.daily_retention_days
        if days:
            table = Daily.__table__()
            # Days are Putian's (UTC+8), a day more or less is no matter.
            cursor.execute(*table.delete(
                    where=table.date < (now - dt.timedelta(days=days)).date()))
            result['daily'] = cursor.rowcount

        try:
            Feedback = pool.get('elevator.public.feedback')
        except KeyError:
            Feedback = None
        erase = getattr(Feedback, 'cron_erase_personal_data', None)
        if erase is not None:
            result['feedback_contacts'] = len(erase() or [])
        logger.info('retention applied: %s', result)
        return result


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('elevator.iot.configuration|cron_retention',
                "Apply IoT Data Retention"))
