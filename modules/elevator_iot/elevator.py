"The monitoring side of an elevator."
from trytond.model import fields
from trytond.pool import Pool, PoolMeta


class Elevator(metaclass=PoolMeta):
    __name__ = 'elevator.elevator'

    devices = fields.One2Many('elevator.iot.device', 'elevator', "Devices")
    monitored = fields.Function(fields.Boolean("Monitored",
            help="A monitoring device that is not retired is installed."),
        'get_monitored', searcher='search_monitored')
    live_status = fields.Function(fields.Many2One('elevator.iot.status',
            "Live Status"), 'get_live_status')
    iot_events = fields.One2Many('elevator.iot.event', 'elevator',
        "Fault History", readonly=True)

    @classmethod
    def get_monitored(cls, elevators, name):
        Device = Pool().get('elevator.iot.device')
        devices = Device.search([
                ('elevator', 'in', [e.id for e in elevators]),
                ('state', '!=', 'retired'),
                ])
        with_device = {d.elevator.id for d in devices}
        return {e.id: e.id in with_device for e in elevators}

    @classmethod
    def search_monitored(cls, name, clause):
        _, operator, value = clause
        positive = (operator == '=') == bool(value)
        return [('devices', 'where' if positive else 'not where',
                [('state', '!=', 'retired')])]

    @classmethod
    def get_live_status(cls, elevators, name):
        Status = Pool().get('elevator.iot.status')
        statuses = Status.search([
                ('elevator', 'in', [e.id for e in elevators])])
        by_elevator = {s.elevator.id: s.id for s in statuses}
        return {e.id: by_elevator.get(e.id) for e in elevators}
