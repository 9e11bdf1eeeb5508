"""Settings of the 96196 rescue dispatch and the SLA (deadlines) per region,
kept as data (DESIGN §7)."""
import zoneinfo

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import (
    ModelSingleton, ModelSQL, ModelView, Unique, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Id


class Configuration(ModelSingleton, ModelSQL, ModelView):
    "Rescue Configuration"
    __name__ = 'elevator.rescue.configuration'

    ticket_sequence = fields.Many2One('ir.sequence', "Ticket Sequence",
        required=True,
        domain=[('sequence_type', '=',
                Id('elevator_rescue', 'sequence_type_ticket'))])
    auto_dispatch_minutes = fields.Integer("Automatic Dispatch (min)",
        required=True,
        domain=[('auto_dispatch_minutes', '>=', 0)],
        help="A ticket left undispatched this long (an IoT alarm nobody "
        "took up) is dispatched to its level automatically.")
    accept_minutes = fields.Integer("Default Acceptance Time (min)",
        required=True, domain=[('accept_minutes', '>', 0)],
        help="Used where no SLA of the region or its parents applies.")
    arrive_minutes = fields.Integer("Default Arrival Time (min)",
        required=True, domain=[('arrive_minutes', '>', 0)],
        help="Used where no SLA of the region or its parents applies.")
    level2_units = fields.Integer("Units Dispatched at Level 2",
        required=True, domain=[('level2_units', '>', 0)],
        help="How many on-duty units of the grid, nearest first, are asked "
        "at once at level 2.")
    fire_station = fields.Many2One('party.party', "Fire Rescue (119)",
        domain=[('is_fire_rescue', '=', True)], ondelete='RESTRICT',
        help="Dispatched at level 3 where the grid has no fire station.")
    timezone = fields.Selection('get_timezones', "Time Zone", required=True,
        help="Time zone of the duty rosters.")
    repeat_days = fields.Integer("Repeated Entrapment Window (days)",
        required=True, domain=[('repeat_days', '>', 0)])
    repeat_count = fields.Integer("Repeated Entrapment Count",
        required=True, domain=[('repeat_count', '>', 1)],
        help="An elevator with at least this many entrapments within the "
        "window is listed as repeatedly trapping passengers.")

    arrival_max_distance = fields.Integer("Arrival Distance Limit (m)",
        required=True, domain=[('arrival_max_distance', '>', 0)],
        help="An arrival recorded on the phone farther than this from the "
        "elevator (or without a position) is a warning on the ticket.")

    caller_retention_years = fields.Integer(
        "Caller Data Retention (years)", required=True,
        domain=[('caller_retention_years', '>', 0)],
        help="The caller's name and phone number of a ticket are erased "
        "this many years after it was closed or cancelled (on the ticket, "
        "its alarms, their history and the public request); the "
        "statistics are kept.")

    @classmethod
    def get_timezones(cls):
        return [(z, z) for z in sorted(zoneinfo.available_timezones())]

    @classmethod
    def default_ticket_sequence(cls):
        try:
            return Pool().get('ir.model.data').get_id(
                'elevator_rescue', 'sequence_ticket')
        except KeyError:
            return None

    @classmethod
    def default_arrival_max_distance(cls):
        return 500

    @classmethod
    def default_caller_retention_years(cls):
        return 3

    @classmethod
    def default_auto_dispatch_minutes(cls):
        return 3

    @classmethod
    def default_accept_minutes(cls):
        return 5

    @classmethod
    def default_arrive_minutes(cls):
        return 60

    @classmethod
    def default_level2_units(cls):
        return 2

    @classmethod
    def default_fire_station(cls):
        try:
            return Pool().get('ir.model.data').get_id(
                'elevator_rescue', 'party_fire_119')
        except KeyError:
            return None

    @classmethod
    def default_timezone(cls):
        return 'Asia/Shanghai'

    @classmethod
    def default_repeat_days(cls):
        return 90

    @classmethod
    def default_repeat_count(cls):
        return 3

    @property
    def zone(self):
        return zoneinfo.ZoneInfo(self.timezone or 'Asia/Shanghai')


class SLA(ModelSQL, ModelView):
    "Rescue SLA"
    __name__ = 'elevator.rescue.sla'

    region = fields.Many2One('elevator.region', "Region", required=True,
        ondelete='CASCADE',
        help="Applies to the elevators of this region and of the regions "
        "below it that have no SLA of their own.")
    accept_minutes = fields.Integer("Acceptance Time (min)", required=True,
        help="A dispatched unit must accept within this time, or the "
        "ticket escalates to the next level.")
    arrive_minutes = fields.Integer("Arrival Time (min)", required=True,
        help="A dispatched unit must be on site within this time after "
        "the dispatch, or the ticket escalates to the next level.")

    _sla_cache = Cache('elevator.rescue.sla.by_region', context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('region_unique', Unique(t, t.region),
                'elevator_rescue.msg_sla_region_unique'),
            ]

    @classmethod
    def validate_fields(cls, slas, field_names):
        super().validate_fields(slas, field_names)
        for sla in slas:
            if ((sla.accept_minutes or 0) <= 0
                    or (sla.arrive_minutes or 0) <= 0):
                raise ValidationError(gettext(
                        'elevator_rescue.msg_sla_minutes',
                        region=sla.region.rec_name))
            if sla.accept_minutes >= sla.arrive_minutes:
                raise ValidationError(gettext(
                        'elevator_rescue.msg_sla_accept_before_arrive',
                        region=sla.region.rec_name))

    def get_rec_name(self, name):
        return self.region.rec_name

    @classmethod
    def on_modification(cls, mode, slas, field_names=None):
        super().on_modification(mode, slas, field_names=field_names)
        cls._sla_cache.clear()

    @classmethod
    def _by_region(cls):
        table = cls._sla_cache.get(None)
        if table is None:
            table = {s.region.id: (s.accept_minutes, s.arrive_minutes)
                for s in cls.search([])}
            cls._sla_cache.set(None, table)
        return table

    @classmethod
    def minutes(cls, regions):
        """Return {region id: (accept minutes, arrive minutes)} from the SLA
        of the region or of its nearest parent, else the configuration."""
        pool = Pool()
        Configuration = pool.get('elevator.rescue.configuration')
        config = Configuration(1)
        default = (config.accept_minutes, config.arrive_minutes)
        table = cls._by_region()
        result = {}
        for region in regions:
            if region is None:
                continue
            found = default
            for ancestor in reversed(region_path(region)):
                if ancestor in table:
                    found = table[ancestor]
                    break
            result[region.id] = found
        return result


def region_path(region):
    "Ids of the region and its parents, root first."
    if region.path:
        return [int(i) for i in region.path.split('/') if i]
    ids = []
    while region:
        ids.insert(0, region.id)
        region = region.parent
    return ids
