"""Coverage of remote monitoring and video per district and for the city
against the yearly targets (40 % / 80 % / 100 % for 2022-2024), kept as
daily snapshots for the graph over time and the district assessment, and
the compliance lists of elevators that must be monitored or filmed."""
import datetime as dt
import math

from sql import Literal, Null
from sql.aggregate import Count, Max
from sql.conditionals import Case, Coalesce

from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import StateAction, StateTransition, Wizard

from .application import _forget

# States of an installation whose device counts as monitoring when there is
# no IoT data (elevator_iot not activated).
CONNECTED_STATES = ['connected', 'accepted']


def _in(column, values):
    "column IN values, false for no value (IN () is not SQL)."
    return column.in_(list(values)) if values else Literal(False)


class Place(metaclass=PoolMeta):
    __name__ = 'elevator.place'

    low_maintenance_fund = fields.Boolean("Insufficient Maintenance Funds",
        help="The estate lacks the maintenance funds (维修资金) to equip "
        "its elevators: eligible for subsidies that target such estates.")
    public_welfare = fields.Boolean("Public Welfare",
        help="Schools, hospitals, care homes, stations and other "
        "public-welfare sites: eligible for subsidies of public-welfare "
        "elevators.")

    @classmethod
    def default_low_maintenance_fund(cls):
        return False

    @classmethod
    def default_public_welfare(cls):
        return False


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    intensified_inspection = fields.Boolean("Intensified Inspection",
        readonly=True,
        help="The unit uses elevators on a compliance list (remote "
        "monitoring or video missing): the regulator's plan inspects it "
        "more often. Updated daily.")
    intensified_since = fields.Date("Intensified Inspection Since",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t,
                (t.intensified_inspection, Index.Equality()),
                where=t.intensified_inspection == Literal(True)))

    @classmethod
    def copy(cls, parties, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('intensified_inspection', None)
        default.setdefault('intensified_since', None)
        return super().copy(parties, default=default)


class Elevator(metaclass=PoolMeta):
    __name__ = 'elevator.elevator'

    monitoring_active = fields.Function(fields.Boolean("Monitoring Online",
            help="The elevator is monitored: with IoT data, a device sent a "
            "message within the monitoring window of the IoT "
            "configuration; without, a connected or accepted "
            "installation."),
        'get_monitoring_active', searcher='search_monitoring_active')
    monitoring_required = fields.Function(fields.Boolean(
            "Monitoring Required",
            help="Put into service since the Fujian regulation took effect "
            "(2019-10-01) or used in a public gathering place, office, "
            "government body, public institution or state-owned "
            "enterprise."),
        'get_compliance', searcher='search_monitoring_required')
    video_required = fields.Function(fields.Boolean("Video Required",
            help="Used in a public gathering place or a residential "
            "estate."),
        'get_compliance', searcher='search_video_required')
    device_installations = fields.One2Many(
        'elevator.installation.project.line', 'elevator',
        "Device Installations", readonly=True)
    subsidy_lines = fields.One2Many('elevator.subsidy.application.line',
        'elevator', "Subsidies", readonly=True)

    @classmethod
    def monitored_query(cls, moment=None, live=False):
        """SQL query of the ids of the elevators monitored at moment (now
        by default). With elevator_iot activated, its definition (a device
        heard within the monitoring window) is the only one; without IoT
        data, a monitoring installation that is connected or accepted."""
        iot_query = getattr(super(), 'monitored_query', None)
        if iot_query is not None:
            return iot_query(moment, live=live)
        ProjectLine = Pool().get('elevator.installation.project.line')
        line = ProjectLine.__table__()
        return line.select(line.elevator,
            where=line.state.in_(CONNECTED_STATES))

    @classmethod
    def get_monitoring_active(cls, elevators, name):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        ids = [e.id for e in elevators]
        monitored = cls.monitored_query()
        cursor.execute(*table.select(table.id,
                where=SQL_OPERATORS['in'](table.id, ids)
                & table.id.in_(monitored)))
        active = {i for i, in cursor}
        return {i: i in active for i in ids}

    @classmethod
    def search_monitoring_active(cls, name, clause):
        _, operator, value = clause[:3]
        positive = (operator == '=') == bool(value)
        monitored = cls.monitored_query()
        return [('id', 'in' if positive else 'not in', monitored)]

    @classmethod
    def get_compliance(cls, elevators, names):
        Configuration = Pool().get('elevator.configuration')
        since, monitoring, video = Configuration(1).compliance_settings
        result = {n: {} for n in names}
        for elevator in elevators:
            if 'monitoring_required' in names:
                result['monitoring_required'][elevator.id] = bool(
                    (elevator.commissioning_date
                        and elevator.commissioning_date >= since)
                    or elevator.place_category in monitoring)
            if 'video_required' in names:
                result['video_required'][elevator.id] = (
                    elevator.place_category in video)
        return result

    @classmethod
    def search_monitoring_required(cls, name, clause):
        Configuration = Pool().get('elevator.configuration')
        since, categories, _ = Configuration(1).compliance_settings
        _, operator, value = clause[:3]
        required = ['OR',
            ('commissioning_date', '>=', since),
            ('place_category', 'in', categories),
            ]
        if (operator == '=') == bool(value):
            return required
        return [
            ['OR',
                ('commissioning_date', '=', None),
                ('commissioning_date', '<', since),
                ],
            ('place_category', 'not in', categories),
            ]

    @classmethod
    def search_video_required(cls, name, clause):
        Configuration = Pool().get('elevator.configuration')
        _, _, categories = Configuration(1).compliance_settings
        _, operator, value = clause[:3]
        if (operator == '=') == bool(value):
            return [('place_category', 'in', categories)]
        return [('place_category', 'not in', categories)]

    @classmethod
    def compliance_conditions(cls, table, moment=None):
        """SQL conditions on the elevator table: (monitored, must be
        monitored but is not, video required but missing)."""
        Configuration = Pool().get('elevator.configuration')
        since, monitoring, video = Configuration(1).compliance_settings
        monitored = table.id.in_(cls.monitored_query(moment))
        required = ((table.commissioning_date >= since)
            | _in(table.place_category, monitoring))
        has_video = Coalesce(table.has_video, Literal(False)) == Literal(True)
        return (monitored, required & ~monitored,
            _in(table.place_category, video) & ~has_video)


class Coverage(ModelSQL, ModelView):
    "Monitoring Coverage"
    __string__ = "Monitoring Coverage"
    __name__ = 'elevator.subsidy.coverage'

    date = fields.Date("Date", required=True, readonly=True)
    year = fields.Integer("Year", required=True, readonly=True)
    region = fields.Many2One('elevator.region', "Region", required=True,
        readonly=True, ondelete='CASCADE',
        help="A district (or management committee), or the city.")
    level = fields.Function(fields.Selection('get_levels', "Level"),
        'get_level', searcher='search_level')
    in_use = fields.Integer("Elevators in Use", readonly=True)
    monitored = fields.Integer("Monitored", readonly=True,
        help="Elevators in use with a device that sent a message within "
        "the monitoring window of the IoT configuration.")
    with_video = fields.Integer("With Video", readonly=True)
    monitoring_missing = fields.Integer("Must Be Monitored, Are Not",
        readonly=True)
    video_missing = fields.Integer("Video Required, Missing", readonly=True)
    monitored_share = fields.Float("Monitored (%)", digits=(5, 1),
        readonly=True)
    video_share = fields.Float("With Video (%)", digits=(5, 1),
        readonly=True)
    target = fields.Float("Target (%)", digits=(5, 1), readonly=True)
    gap = fields.Integer("Still to Monitor", readonly=True,
        help="Elevators to connect to reach the year's target.")
    on_target = fields.Boolean("On Target", readonly=True)
    latest = fields.Boolean("Latest", readonly=True,
        help="The most recent figures of the region.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('date_region_unique', Unique(t, t.date, t.region),
                'elevator_subsidy.msg_coverage_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.region, Index.Range()), (t.date, Index.Range())),
                Index(t, (t.date, Index.Range())),
                })
        cls._order = [('date', 'DESC'), ('region.code', 'ASC'), ('id', 'ASC')]

    @classmethod
    def get_levels(cls):
        Region = Pool().get('elevator.region')
        return Region.fields_get(['level'])['level']['selection']

    def get_level(self, name):
        return self.region.level

    @classmethod
    def search_level(cls, name, clause):
        return [('region.level',) + tuple(clause[1:])]

    @classmethod
    def compute(cls, date=None):
        """Store the figures of date (today by default) for every district
        and city, replacing those of the same date; return the snapshots.
        One aggregate query over the elevators."""
        pool = Pool()
        Date = pool.get('ir.date')
        Elevator = pool.get('elevator.elevator')
        Region = pool.get('elevator.region')
        Target = pool.get('elevator.coverage.target')
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        today = Date.today()
        date = date or today
        moment = (dt.datetime.now() if date >= today
            else dt.datetime.combine(date + dt.timedelta(days=1), dt.time()))

        elevator = Elevator.__table__()
        monitored, monitoring_missing, video_missing = (
            Elevator.compliance_conditions(elevator, moment))
        has_video = Coalesce(
            elevator.has_video, Literal(False)) == Literal(True)
        key = Coalesce(elevator.district, elevator.region)
        cursor.execute(*elevator.select(key,
                Count(elevator.id),
                Count(Case((monitored, elevator.id))),
                Count(Case((has_video, elevator.id))),
                Count(Case((monitoring_missing, elevator.id))),
                Count(Case((video_missing, elevator.id))),
                where=elevator.state == 'in_use',
                group_by=[key]))
        rows = cursor.fetchall()

        with transaction.set_context(active_test=False):
            regions = Region.search([
                    ['OR',
                        ('level', 'in', ['city', 'district', 'zone']),
                        ('id', 'in', [r[0] for r in rows]),
                        ],
                    ])
        regions = {r.id: r for r in regions}
        figures = {}

        def add(region, values):
            totals = figures.setdefault(region.id, [0] * 5)
            for i, value in enumerate(values):
                totals[i] += int(value or 0)

        for region in regions.values():
            if region.level in {'city', 'district', 'zone'}:
                figures.setdefault(region.id, [0] * 5)
        for region_id, *values in rows:
            region = regions[region_id]
            if region.level in {'district', 'zone'}:
                add(region, values)
            city = region
            while city and city.level != 'city':
                city = city.parent
            if city:
                add(city, values)

        target = Target.target_for(date.year)
        vlist = []
        for region_id, (in_use, monitored_, video, missing, no_video) in (
                figures.items()):
            monitored_share = (
                round(monitored_ * 100 / in_use, 1) if in_use else 0.0)
            vlist.append({
                    'date': date,
                    'year': date.year,
                    'region': region_id,
                    'in_use': in_use,
                    'monitored': monitored_,
                    'with_video': video,
                    'monitoring_missing': missing,
                    'video_missing': no_video,
                    'monitored_share': monitored_share,
                    'video_share': (
                        round(video * 100 / in_use, 1) if in_use else 0.0),
                    'target': target,
                    'gap': (max(math.ceil(target * in_use / 100 - 1e-9)
                            - monitored_, 0) if target is not None else 0),
                    'on_target': (monitored_share >= target
                        if target is not None else True),
                    'latest': False,
                    })
        with without_check_access():
            cls.delete(cls.search([('date', '=', date)]))
            snapshots = cls.create(vlist)
        cls.update_latest()
        return snapshots

    @classmethod
    def update_latest(cls):
        "Flag the most recent snapshot of each region."
        table = cls.__table__()
        other = cls.__table__()
        cursor = Transaction().connection.cursor()
        newest = other.select(Max(other.date),
            where=other.region == table.region)
        cursor.execute(*table.update([table.latest],
                [table.date == newest]))
        _forget(cls)

    @classmethod
    def figures(cls, date=None):
        """{region id: snapshot} of date, or the latest of each region: what
        the district assessment reads."""
        domain = [('date', '=', date)] if date else [('latest', '=', True)]
        return {s.region.id: s for s in cls.search(domain)}

    @classmethod
    def update_compliance(cls, date=None):
        """Flag the user units with elevators on a compliance list for
        intensified inspection; clear the flag of the others. Two UPDATEs;
        return the number of units flagged."""
        pool = Pool()
        Date = pool.get('ir.date')
        Elevator = pool.get('elevator.elevator')
        Party = pool.get('party.party')
        cursor = Transaction().connection.cursor()
        date = date or Date.today()
        elevator = Elevator.__table__()
        party = Party.__table__()
        _, monitoring_missing, video_missing = (
            Elevator.compliance_conditions(elevator))
        listed = elevator.select(elevator.user_unit,
            where=(elevator.state == 'in_use')
            & (elevator.user_unit != Null)
            & (monitoring_missing | video_missing))
        flagged = Coalesce(party.intensified_inspection, Literal(False))
        cursor.execute(*party.update(
                [party.intensified_inspection, party.intensified_since],
                [Literal(True), date],
                where=party.id.in_(listed) & (flagged == Literal(False))))
        cursor.execute(*party.update(
                [party.intensified_inspection, party.intensified_since],
                [Literal(False), Null],
                where=(flagged == Literal(True)) & ~party.id.in_(listed)))
        _forget(Party)
        with without_check_access():
            return Party.search([('intensified_inspection', '=', True)],
                count=True)

    @classmethod
    def cron_update(cls):
        "Daily: today's coverage and the compliance flags."
        cls.compute()
        cls.update_compliance()


class CoverageUpdate(Wizard):
    "Update Coverage"
    __string__ = "Update Coverage"
    __name__ = 'elevator.subsidy.coverage.update'
    start_state = 'update'
    update = StateTransition()
    open_ = StateAction('elevator_subsidy.act_coverage')

    def transition_update(self):
        Coverage = Pool().get('elevator.subsidy.coverage')
        Coverage.compute()
        Coverage.update_compliance()
        return 'open_'

    def do_open_(self, action):
        return action, {}


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('elevator.subsidy.coverage|cron_update',
                    "Update Monitoring Coverage and Compliance Lists"),
                ('elevator.installation.project.line|'
                    'cron_confirm_connections',
                    "Confirm Device Connections from IoT Data"),
                ])
