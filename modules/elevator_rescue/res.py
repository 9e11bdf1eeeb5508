"Escalation every minute and retention of callers' data (ir.cron)."
from trytond.pool import PoolMeta


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('elevator.rescue.ticket|cron_escalate',
                "Escalate Rescue Tickets"))
        cls.method.selection.append(
            ('elevator.rescue.ticket|cron_erase_caller_data',
                "Erase Rescue Callers' Data after Retention"))
