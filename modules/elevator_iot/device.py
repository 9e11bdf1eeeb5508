"Monitoring devices installed in elevators and their MQTT credentials."
import datetime as dt
import re

from sql.conditionals import Coalesce

from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, fields)
from trytond.modules.elevator.workflow import Workflow
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction
from trytond.modules.elevator.common import Timestamp

from .ingest import returned
from .passwords import hash_password
from .res import notify_district_regulators

DEVICE_TYPES = [
    ('ai_camera', "AI Camera"),
    ('presence_sensor', "Human-Presence Sensor"),
    ('controller_terminal', "Controller Data Terminal"),
    ('gateway', "Gateway"),
    ]
VIDEO_TYPES = {'ai_camera'}
# A serial is a topic level: no wildcard, separator or space may enter it.
SERIAL_PATTERN = re.compile(r'^[A-Za-z0-9_.:-]{4,64}$')


class Device(Workflow, ModelSQL, ModelView):
    "IoT Device"
    __name__ = 'elevator.iot.device'
    _rec_name = 'serial'

    serial = fields.Char("Serial Number", required=True, strip=True,
        states={'readonly': Eval('id', -1) >= 0},
        help="device_sn of the MQTT topics elevator/v1/{device_sn}/...")
    type = fields.Selection(DEVICE_TYPES, "Type", required=True)
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='RESTRICT')
    region = fields.Function(fields.Many2One('elevator.region', "Region"),
        'on_change_with_region', searcher='search_region')
    vendor = fields.Many2One('party.party', "Vendor", ondelete='RESTRICT')
    investor = fields.Many2One('party.party', "Investor",
        ondelete='RESTRICT', domain=[('is_investor', '=', True)])
    install_date = fields.Date("Install Date")
    state = fields.Selection([
            ('registered', "Registered"),
            ('online', "Online"),
            ('offline', "Offline"),
            ('retired', "Retired"),
            ], "State", readonly=True, required=True, sort=False)
    last_seen = Timestamp("Last Seen", readonly=True)
    firmware = fields.Char("Firmware")
    video_retention_days = fields.Integer("Video Retention (days)",
        states={'invisible': ~Eval('type').in_(list(VIDEO_TYPES))},
        domain=[If(Eval('video_retention_days'),
                ('video_retention_days', '>=', 0), ())])
    retention_warning = fields.Function(fields.Boolean(
            "Retention Too Short",
            help="Recordings must be kept at least a month."),
        'get_retention_warning', searcher='search_retention_warning')
    # Lazy: only the administrator may read it (field access), so clients
    # reading a device's eager fields (proteus, exports) must not ask it.
    password_hash = fields.Char("Password Hash", readonly=True,
        loading='lazy')
    password = fields.Function(fields.Char("Password",
            help="Set to give the device new MQTT credentials; only a hash "
            "is stored."),
        getter='get_password', setter='set_password')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('serial_unique', Unique(t, t.serial),
                'elevator_iot.msg_device_serial_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.elevator, Index.Range())),
                Index(t, (t.state, Index.Equality()),
                    (t.last_seen, Index.Range())),
                # The ingestion's check that the registry changed.
                Index(t, (Coalesce(t.write_date, t.create_date),
                        Index.Range())),
                })
        cls.__access__.add('elevator')
        cls._order = [('serial', 'ASC'), ('id', 'ASC')]
        cls._transitions |= {
            ('registered', 'retired'),
            ('online', 'retired'),
            ('offline', 'retired'),
            ('retired', 'registered'),
            }
        cls._buttons.update({
                'retire': {
                    'invisible': Eval('state') == 'retired',
                    'depends': ['state'],
                    },
                'reactivate': {
                    'invisible': Eval('state') != 'retired',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'registered'

    @classmethod
    def default_type(cls):
        return 'controller_terminal'

    @fields.depends('elevator', '_parent_elevator.region')
    def on_change_with_region(self, name=None):
        return self.elevator.region if self.elevator else None

    @classmethod
    def search_region(cls, name, clause):
        return [('elevator.region',) + tuple(clause[1:])]

    @classmethod
    def get_retention_warning(cls, devices, name):
        minimum = Pool().get('elevator.iot.configuration')(
            1).minimum_video_retention
        return {d.id: (d.type in VIDEO_TYPES
                and (d.video_retention_days or 0) < minimum)
            for d in devices}

    @classmethod
    def search_retention_warning(cls, name, clause):
        minimum = Pool().get('elevator.iot.configuration')(
            1).minimum_video_retention
        _, operator, value = clause
        short = ['AND', ('type', 'in', list(VIDEO_TYPES)), ['OR',
                ('video_retention_days', '=', None),
                ('video_retention_days', '<', minimum)]]
        positive = (operator == '=') == bool(value)
        return short if positive else ['NOT', short]

    def get_password(self, name):
        return 'x' * 10 if self.password_hash else None

    @classmethod
    def set_password(cls, devices, name, value):
        if value == 'x' * 10:
            return
        cls.write(devices, {
                'password_hash': hash_password(value) if value else None,
                })

    @classmethod
    def validate_fields(cls, devices, field_names):
        super().validate_fields(devices, field_names)
        if field_names is None or 'serial' in field_names:
            for device in devices:
                if not SERIAL_PATTERN.match(device.serial):
                    raise ValidationError(gettext(
                            'elevator_iot.msg_device_serial_invalid',
                            serial=device.serial))

    @classmethod
    def copy(cls, devices, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('password_hash', None)
        default.setdefault('last_seen', None)
        default.setdefault('state', 'registered')
        return super().copy(devices, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition('retired')
    def retire(cls, devices):
        # A retired device may no longer connect: drop its credentials.
        cls.write(devices, {'password_hash': None})

    @classmethod
    @ModelView.button
    @Workflow.transition('registered')
    def reactivate(cls, devices):
        pass

    @classmethod
    def cron_offline(cls):
        """Every minute: devices silent too long go offline; an elevator
        whose controller data terminal goes offline warns its regulator."""
        changed = cls.mark_offline()
        if changed:
            notify_district_regulators(cls, [
                    ('id', 'in', changed),
                    ('type', '=', 'controller_terminal'),
                    ], 'elevator_iot.msg_notify_terminal_offline',
                region_field='elevator.region')

    @classmethod
    def mark_offline(cls, now=None):
        """Set offline the devices silent for longer than configured, in one
        UPDATE; return the ids that changed."""
        pool = Pool()
        Configuration = pool.get('elevator.iot.configuration')
        Status = pool.get('elevator.iot.status')
        now = now or dt.datetime.now()
        limit = now - dt.timedelta(
            minutes=Configuration(1).offline_minutes)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.state], ['offline'],
                where=(table.state == 'online') & (table.last_seen < limit),
                returning=returned('id', 'elevator')))
        changed = cursor.fetchall()
        Status.set_offline([e for _, e in changed if e])
        return [i for i, _ in changed]
