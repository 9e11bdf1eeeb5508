"""The MQTT bridges' state, as each bridge reports it every few seconds
(the bridge's Reporter writes the rows with plain SQL): what the health
endpoint (health.py) shows and judges. Not edited by anyone."""
from trytond.model import ModelSQL, ModelView, Unique, fields


class Bridge(ModelSQL, ModelView):
    "IoT Bridge"
    __name__ = 'elevator.iot.bridge'

    name = fields.Char("Client ID", required=True, readonly=True)
    hostname = fields.Char("Host", readonly=True)
    pid = fields.Integer("Process", readonly=True)
    reported_at = fields.Timestamp("Reported", readonly=True)
    connected = fields.Boolean("Connected", readonly=True)
    subscribed = fields.Boolean("Subscribed", readonly=True)
    heartbeat_at = fields.Timestamp("Last Heartbeat", readonly=True,
        help="When the heartbeat the bridge sends itself through its "
        "subscription last came back (the least recent of its lanes).")
    heartbeat_rtt = fields.Float("Heartbeat Round Trip (s)", readonly=True)
    backlog = fields.Integer("Backlog", readonly=True,
        help="Messages received and not yet committed.")
    shed = fields.Integer("Shed", readonly=True,
        help="QoS 0 running messages shed under overload since the "
        "bridge started.")
    # Not `state`: that name is for workflow fields (see elevator.workflow).
    lanes = fields.Text("Lanes", readonly=True,
        help="The bridge's state per lane, as JSON.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('name_unique', Unique(t, t.name),
                'elevator_iot.msg_bridge_unique'),
            ]
        cls._order = [('name', 'ASC'), ('id', 'ASC')]
