"Cron methods of the IoT monitoring."
from trytond.pool import PoolMeta

from trytond.modules.elevator.res import notify_district_regulators

__all__ = ['Cron', 'notify_district_regulators']


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('elevator.iot.device|cron_offline', "Detect Offline Devices"))
