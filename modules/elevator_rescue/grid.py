"""Rescue grids (救援网格): regions served together, their on-duty
maintenance units (rosters by weekday and hour) and their fire station."""
import math

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields)
from trytond.model.exceptions import ValidationError
from trytond.modules.elevator.geo import CoordinatesMixin
from trytond.pool import Pool, PoolMeta

from .configuration import region_path

WEEKDAYS = [
    (None, "Every Day"),
    ('0', "Monday"),
    ('1', "Tuesday"),
    ('2', "Wednesday"),
    ('3', "Thursday"),
    ('4', "Friday"),
    ('5', "Saturday"),
    ('6', "Sunday"),
    ]

EARTH_RADIUS_KM = 6371.0


def distance_km(lat1, lon1, lat2, lon2):
    "Great-circle (straight-line) distance in km, None if unknown."
    if None in (lat1, lon1, lat2, lon2):
        return None
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = (math.sin(dphi / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(min(1, math.sqrt(a)))


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    is_fire_rescue = fields.Boolean("Fire Rescue Station",
        help="Fire rescue (消防救援) dispatched at level 3.")


class Grid(DeactivableMixin, ModelSQL, ModelView):
    "Rescue Grid"
    __name__ = 'elevator.rescue.grid'

    name = fields.Char("Name", required=True)
    code = fields.Char("Code", required=True, strip=True)
    regions = fields.Many2Many('elevator.rescue.grid-elevator.region',
        'grid', 'region', "Regions",
        help="The grid serves the elevators of these regions and of the "
        "regions below them.")
    fire_station = fields.Many2One('party.party', "Fire Station",
        domain=[('is_fire_rescue', '=', True)], ondelete='RESTRICT',
        help="Dispatched at level 3.")
    duties = fields.One2Many('elevator.rescue.grid.duty', 'grid',
        "Duty Roster")
    notes = fields.Text("Notes")

    _region_cache = Cache('elevator.rescue.grid.by_region', context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'elevator_rescue.msg_grid_code_unique'),
            ]
        cls._order.insert(0, ('code', 'ASC'))

    @classmethod
    def on_modification(cls, mode, grids, field_names=None):
        super().on_modification(mode, grids, field_names=field_names)
        cls._region_cache.clear()

    @classmethod
    def _by_region(cls):
        table = cls._region_cache.get(None)
        if table is None:
            table = {}
            for grid in cls.search([], order=[('id', 'ASC')]):
                for region in grid.regions:
                    table.setdefault(region.id, grid.id)
            cls._region_cache.set(None, table)
        return table

    @classmethod
    def for_regions(cls, regions):
        "Return {region id: grid} of the nearest grid covering each region."
        table = cls._by_region()
        result, grids = {}, {}
        for region in regions:
            if region is None:
                continue
            for ancestor in reversed(region_path(region)):
                if ancestor in table:
                    grid_id = table[ancestor]
                    if grid_id not in grids:
                        grids[grid_id] = cls(grid_id)
                    result[region.id] = grids[grid_id]
                    break
        return result

    @classmethod
    def duty_table(cls, grids):
        """{grid id: [duty line as a DutyLine]} of the grids, read in one
        query (the escalation pass looks them up for every ticket)."""
        pool = Pool()
        Duty = pool.get('elevator.rescue.grid.duty')
        table = {g.id: [] for g in grids}
        if not table:
            return table
        for row in Duty.search_read([('grid', 'in', list(table))],
                fields_names=['grid', 'unit', 'weekday', 'hour_from',
                    'hour_to', 'latitude', 'longitude'],
                order=[('id', 'ASC')]):
            table[row['grid']].append(DutyLine(row))
        return table

    def on_duty(self, local_time, duties=None):
        "Duty lines of the grid on duty at the local (naive) time."
        if duties is None:
            duties = self.duty_table([self])[self.id]
        return [d for d in duties if d.is_on_duty(local_time)]

    def nearest_units(self, latitude, longitude, local_time, exclude=(),
            duties=None):
        """[(unit id, duty id, distance km)] of the units on duty,
        nearest first (unknown distances last), one line per unit."""
        best = {}
        for duty in self.on_duty(local_time, duties):
            if duty.unit in exclude:
                continue
            km = distance_km(latitude, longitude,
                duty.latitude, duty.longitude)
            key = (km is None, km or 0, duty.id)
            if duty.unit not in best or key < best[duty.unit][0]:
                best[duty.unit] = (key, duty, km)
        return [(duty.unit, duty.id, km)
            for _, duty, km in sorted(best.values(), key=lambda x: x[0])]


class DutyLine:
    "A duty line as plain values."
    __slots__ = ('id', 'unit', 'weekday', 'hour_from', 'hour_to',
        'latitude', 'longitude')

    def __init__(self, row):
        for name in self.__slots__:
            setattr(self, name, row[name])

    def is_on_duty(self, local_time):
        return _on_duty(self.weekday, self.hour_from, self.hour_to,
            local_time)


def _on_duty(weekday_, hour_from, hour_to, local_time):
    """On duty at local_time: the weekday is the day the duty starts, so a
    Monday 20-8 duty covers Monday 20:00 to Tuesday 08:00."""
    hour = local_time.hour
    weekday = local_time.weekday()
    if hour_from < hour_to:
        return (hour_from <= hour < hour_to
            and weekday_ in (None, str(weekday)))
    # Over midnight.
    if hour >= hour_from:
        return weekday_ in (None, str(weekday))
    if hour < hour_to:
        return weekday_ in (None, str((weekday - 1) % 7))
    return False


class GridRegion(ModelSQL):
    "Rescue Grid - Region"
    __name__ = 'elevator.rescue.grid-elevator.region'

    grid = fields.Many2One('elevator.rescue.grid', "Grid", required=True,
        ondelete='CASCADE')
    region = fields.Many2One('elevator.region', "Region", required=True,
        ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('region_unique', Unique(t, t.region),
                'elevator_rescue.msg_grid_region_unique'),
            ]

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        Pool().get('elevator.rescue.grid')._region_cache.clear()


class Duty(CoordinatesMixin, ModelSQL, ModelView):
    "Rescue Grid Duty"
    __name__ = 'elevator.rescue.grid.duty'

    grid = fields.Many2One('elevator.rescue.grid', "Grid", required=True,
        ondelete='CASCADE')
    unit = fields.Many2One('party.party', "Maintenance Unit", required=True,
        ondelete='CASCADE', domain=[('is_maintenance_unit', '=', True)])
    weekday = fields.Selection(WEEKDAYS, "Weekday", sort=False)
    hour_from = fields.Integer("From Hour", required=True,
        help="0 to 23, local time.")
    hour_to = fields.Integer("To Hour", required=True,
        help="1 to 24, local time; smaller than the start hour for a duty "
        "over midnight (e.g. 20 to 8).")
    base = fields.Char("Standby Point",
        help="Where the on-duty team waits; its coordinates give the "
        "distance to the elevator.")
    phone = fields.Char("Duty Phone")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.grid, Index.Range())))
        cls._order = [('grid', 'ASC'), ('weekday', 'ASC NULLS FIRST'),
            ('hour_from', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_hour_from(cls):
        return 0

    @classmethod
    def default_hour_to(cls):
        return 24

    @classmethod
    def validate_fields(cls, duties, field_names):
        super().validate_fields(duties, field_names)
        for duty in duties:
            if (not 0 <= (duty.hour_from or 0) <= 23
                    or not 1 <= (duty.hour_to or 0) <= 24
                    or duty.hour_from == duty.hour_to):
                raise ValidationError(gettext(
                        'elevator_rescue.msg_duty_hours',
                        unit=duty.unit.rec_name,
                        hour_from=duty.hour_from, hour_to=duty.hour_to))

    def get_rec_name(self, name):
        return f'{self.unit.rec_name} {self.hour_from}-{self.hour_to}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('unit.rec_name',) + tuple(clause[1:])]

    def is_on_duty(self, local_time):
        """On duty at local_time: the weekday is the day the duty starts,
        so a Monday 20-8 duty covers Monday 20:00 to Tuesday 08:00."""
        return _on_duty(self.weekday, self.hour_from, self.hour_to,
            local_time)
