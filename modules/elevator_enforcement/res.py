"""The last login of each user, for the list of firms that do not use the
platform, and the cron of the case deadlines."""
from trytond.model import fields
from trytond.modules.elevator import clock
from trytond.pool import PoolMeta
from trytond.transaction import Transaction


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    elevator_last_login = fields.DateTime("Last Login", readonly=True)

    @classmethod
    def get_login(cls, login, parameters):
        user_id = super().get_login(login, parameters)
        if user_id:
            # A stamp, not a modification of the user: plain SQL, so that
            # no cache is cleared and no check runs at each login.
            table = cls.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.update([table.elevator_last_login],
                    [clock.now()], where=table.id == user_id))
        return user_id


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('elevator.enforcement.case|cron_watch_deadlines',
                "Watch Enforcement Deadlines"))
