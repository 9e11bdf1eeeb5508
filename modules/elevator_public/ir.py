from trytond.pool import PoolMeta


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('elevator.public.feedback|cron_warn_overdue',
                    "Warn of Overdue Public Feedback"),
                ('elevator.public.feedback|cron_erase_personal_data',
                    "Erase Expired Contact Data of Public Feedback"),
                ])
