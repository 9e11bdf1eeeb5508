"Faults reported by devices, and messages the platform could not take."
import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.modules.elevator.workflow import WorkflowStateMixin
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import without_check_access
from trytond.modules.elevator.common import Timestamp
from trytond.modules.elevator.res import (
    district_regulator_recipients, unit_recipients)

from .res import notify_district_regulators

PUTIAN = ZoneInfo('Asia/Shanghai')


def format_local(timestamp):
    "A naive UTC timestamp as Putian (Beijing) time, to the minute."
    if not timestamp:
        return ''
    return timestamp.replace(tzinfo=dt.timezone.utc).astimezone(
        PUTIAN).strftime('%Y-%m-%d %H:%M')

FOLLOW_UPS = [
    ('none', "None"),
    ('rescue_waiting', "Waiting for Rescue Dispatch"),
    ('rescue', "Rescue Ticket"),
    ('repair_waiting', "Waiting for Repair Order"),
    ('repair', "Repair Order"),
    ]


class Event(WorkflowStateMixin, ModelSQL, ModelView):
    "IoT Event"
    __name__ = 'elevator.iot.event'

    @classmethod
    def view_attributes(cls):
        # A tree's `visual` must reach the client PYSON-encoded: written
        # in the XML, sao could not parse it and showed no rows.
        return super().view_attributes() + [
            ('/tree', 'visual', If(Eval('state') == 'open',
                    If(Eval('reaction').in_(['rescue', 'critical']),
                        'danger', 'warning'), ''),
                ['state', 'reaction']),
            ]

    device = fields.Many2One('elevator.iot.device', "Device", required=True,
        ondelete='RESTRICT', readonly=True)
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='RESTRICT', readonly=True)
    district = fields.Many2One('elevator.region', "District", readonly=True,
        ondelete='SET NULL')
    fault_id = fields.Char("Fault ID", required=True, readonly=True,
        help="faultId of the device: one event per device and fault ID.")
    fault_type = fields.Many2One('elevator.iot.fault.type', "Fault Type",
        required=True, ondelete='RESTRICT', readonly=True)
    reaction = fields.Selection('get_reactions', "Reaction", readonly=True)
    state = fields.Selection([
            ('open', "Open"),
            ('cleared', "Cleared"),
            ], "State", required=True, readonly=True)
    occurred_at = Timestamp("Occurred", required=True, readonly=True)
    month = fields.Char("Month", readonly=True,
        help="Year and month of the occurrence, for statistics.")
    received_at = Timestamp("Received", readonly=True)
    cleared_at = Timestamp("Cleared", readonly=True)
    car_position = fields.Integer("Floor", readonly=True)
    image_url = fields.Char("Image", readonly=True)
    video_url = fields.Char("Video", readonly=True)
    source = fields.Selection([
            ('mqtt', "MQTT"),
            ('http', "HTTPS Push"),
            ], "Source", readonly=True)
    follow_up = fields.Selection(FOLLOW_UPS, "Follow-up", readonly=True)
    event_count = fields.Function(fields.Integer("Events"), 'get_event_count')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('device_fault_unique', Unique(t, t.device, t.fault_id),
                'elevator_iot.msg_event_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.elevator, Index.Range()),
                    (t.occurred_at, Index.Range())),
                Index(t, (t.state, Index.Equality()),
                    where=t.state == 'open'),
                Index(t, (t.follow_up, Index.Equality())),
                Index(t, (t.month, Index.Equality())),
                })
        cls.__access__.add('elevator')
        cls._order = [('occurred_at', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_state(cls):
        return 'open'

    @classmethod
    def default_follow_up(cls):
        return 'none'

    @classmethod
    def get_reactions(cls):
        from .fault import REACTIONS
        return [(None, '')] + REACTIONS

    @classmethod
    def get_event_count(cls, events, name):
        return {e.id: 1 for e in events}

    def get_rec_name(self, name):
        return f'{self.elevator.rec_name} {self.fault_type.rec_name}'

    @classmethod
    def react(cls, events):
        """What follows a newly raised fault, by its type's reaction.
        Called by the ingestion in the same transaction as the insert."""
        by_reaction = defaultdict(list)
        for event in events:
            if event.state == 'open':
                by_reaction[event.fault_type.reaction].append(event)
        if by_reaction['rescue']:
            cls.open_rescue(by_reaction['rescue'])
        if by_reaction['critical']:
            cls.flag_critical(by_reaction['critical'])
        repairs = by_reaction['repair'] + by_reaction['critical']
        if repairs:
            cls.open_repair(repairs)

    @classmethod
    def open_rescue(cls, events):
        """Open or join the rescue ticket of each elevator. Without the
        rescue module the events wait, typed, for it."""
        cls.write(events, {'follow_up': 'rescue_waiting'})

    @classmethod
    def open_repair(cls, events):
        """Open a repair order for the maintenance unit. Without the
        maintenance module the events wait, typed, for it."""
        cls.write(events, {'follow_up': 'repair_waiting'})

    @classmethod
    def flag_critical(cls, events):
        """Alert the regulators of the district of a critical safety fault
        (in the client), and through the outbox's rules (event
        iot_critical_fault) the regulators and the user unit."""
        Notification = Pool().get('elevator.notification')
        notify_district_regulators(cls, [
                ('id', 'in', [e.id for e in events]),
                ], 'elevator_iot.msg_notify_critical_fault',
            region_field='elevator.region')
        with without_check_access():
            for event in cls.browse(events):
                elevator = event.elevator
                place = elevator.place
                Notification.notify('iot_critical_fault', {
                        'district_regulators': (
                            lambda e=elevator: district_regulator_recipients(
                                e.region)),
                        'user_unit': lambda e=elevator: unit_recipients(
                            [e.user_unit] if e.user_unit else [],
                            groups=('group_user_unit',)),
                        }, {
                        'elevator': ' '.join(filter(None, [
                                    elevator.rescue_code,
                                    elevator.registration_code])),
                        'rescue_code': elevator.rescue_code or '',
                        'place': ' '.join(filter(None, [
                                    place.name if place else None,
                                    place.address if place else None])),
                        'fault': event.fault_type.rec_name,
                        'time': format_local(event.occurred_at),
                        }, elevator=elevator, origin=event)


class DeadLetter(ModelSQL, ModelView):
    "IoT Dead Letter"
    __name__ = 'elevator.iot.dead_letter'

    received_at = Timestamp("Received", required=True, readonly=True)
    source = fields.Selection([
            ('mqtt', "MQTT"),
            ('http', "HTTPS Push"),
            ], "Source", required=True, readonly=True)
    topic = fields.Char("Topic", readonly=True)
    device_serial = fields.Char("Device Serial", readonly=True)
    kind = fields.Char("Kind", readonly=True)
    reason = fields.Selection([
            ('too_large', "Payload Too Large"),
            ('not_json', "Not JSON"),
            ('invalid', "Invalid Field"),
            ('unknown_device', "Unknown Device"),
            ('retired_device', "Retired Device"),
            ('no_elevator', "Device Without Elevator"),
            ('topic_mismatch', "Topic and Device Mismatch"),
            ('unknown_kind', "Unknown Message Kind"),
            ('future', "Timestamp in the Future"),
            ('too_old', "Event Too Old"),
            ('unknown_fault', "Unknown Fault Code"),
            ], "Reason", required=True, readonly=True)
    detail = fields.Char("Detail", readonly=True)
    payload = fields.Binary("Payload", readonly=True)
    size = fields.Integer("Size (bytes)", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.received_at, Index.Range())))
        cls._order = [('received_at', 'DESC'), ('id', 'DESC')]
