"Monitoring coverage per district against the yearly targets."
import datetime as dt

from sql import Null
from sql.aggregate import Count

from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval, If


class Coverage(ModelSQL, ModelView):
    "IoT Coverage per District"
    __name__ = 'elevator.iot.coverage'

    @classmethod
    def view_attributes(cls):
        # A tree's `visual` must reach the client PYSON-encoded: written
        # in the XML, sao could not parse it and showed no rows.
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('gap', 0) > 0, 'warning', 'success'), ['gap']),
            ]

    district = fields.Many2One('elevator.region', "District", readonly=True)
    in_use = fields.Integer("Elevators in Use", readonly=True)
    monitored = fields.Integer("Monitored", readonly=True,
        help="Elevators in use with a device that sent a message within "
        "the monitoring window of the IoT configuration.")
    share = fields.Function(fields.Float("Coverage (%)", digits=(5, 1)),
        'get_share')
    target = fields.Function(fields.Float("Target (%)", digits=(5, 1)),
        'get_target')
    gap = fields.Function(fields.Float("Gap to Target (%)", digits=(5, 1)),
        'get_gap')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('district', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        elevator = Elevator.__table__()
        monitored = Elevator.monitored_query()
        query = elevator.join(monitored, 'LEFT',
            condition=monitored.elevator == elevator.id
            ).select(
                elevator.district.as_('id'),
                elevator.district.as_('district'),
                Count(elevator.id).as_('in_use'),
                Count(monitored.elevator).as_('monitored'),
                where=(elevator.state == 'in_use')
                & (elevator.district != Null),
                group_by=[elevator.district])
        return query

    def get_share(self, name):
        if self.in_use:
            return round(self.monitored * 100.0 / self.in_use, 1)

    @classmethod
    def get_target(cls, records, name):
        Target = Pool().get('elevator.coverage.target')
        target = Target.target_for(dt.date.today().year)
        return {r.id: target for r in records}

    def get_gap(self, name):
        if self.target is None:
            return None
        return max(self.target - (self.share or 0), 0)
