"""With elevator_iot activated, the IoT data decides: an elevator is
monitored as elevator_iot defines it (Elevator.monitored_query), and an
installed device is connected when a device of that type of that elevator
has been online (elevator.iot.device: elevator, type, state, last_seen)."""
from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import without_check_access


class ProjectLine(metaclass=PoolMeta):
    __name__ = 'elevator.installation.project.line'

    iot_device = fields.Many2One('elevator.iot.device', "IoT Device",
        readonly=True, ondelete='RESTRICT',
        help="The device whose data confirmed the connection.")

    @classmethod
    def confirmed_by_iot(cls, lines):
        Device = Pool().get('elevator.iot.device')
        with without_check_access():
            devices = Device.search([
                    ('elevator', 'in', list({l.elevator.id for l in lines})),
                    ('state', '!=', 'retired'),
                    ('last_seen', '!=', None),
                    ], order=[('last_seen', 'ASC')])
        # The device seen last wins.
        seen = {(d.elevator.id, d.type): d for d in devices}
        confirmed = {}
        for line in lines:
            device = seen.get((line.elevator.id, line.device_type))
            if device:
                confirmed[line] = {'iot_device': device.id}
        return confirmed

    @classmethod
    def copy(cls, lines, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('iot_device', None)
        return super().copy(lines, default=default)
