"""The live figures behind the city and district dashboards (board views
of graph and list actions): coverage, open rescues, warnings and
complaints per district, and the monthly trends."""
import datetime as dt

from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

from . import engine, figures
from .common import LOCAL_TZ


class DashboardContext(ModelView):
    "Dashboard Context"
    __string__ = "Dashboard Context"
    __name__ = 'elevator.assessment.dashboard.context'

    district = fields.Many2One('elevator.region', "District",
        domain=[('level', 'in', ['district', 'zone'])],
        help="Leave empty for every district.")

    @classmethod
    def default_district(cls):
        "The district the user supervises, when he supervises one."
        pool = Pool()
        User = pool.get('res.user')
        Region = pool.get('elevator.region')
        context = Transaction().context
        if context.get('district'):
            return context['district']
        regions, _ = User.get_elevator_scope()
        districts = Region.search([
                ('parent', 'parent_of', regions),
                ('level', 'in', ['district', 'zone']),
                ], order=[('code', 'ASC')]) if regions else []
        if len(districts) == 1:
            return districts[0].id


class Live(ModelSQL, ModelView):
    "Live District Figures"
    __string__ = "Live District Figures"
    __name__ = 'elevator.assessment.live'

    district = fields.Many2One('elevator.region', "District", readonly=True)
    elevators = fields.Integer("Elevators in Use", readonly=True)
    monitored = fields.Integer("Monitored", readonly=True,
        help="Elevators in use with a device that sent a message within "
        "the monitoring window of the IoT configuration.")
    coverage = fields.Float("Monitoring Coverage (%)", digits=(5, 1),
        readonly=True)
    coverage_target = fields.Function(fields.Float("Coverage Target (%)",
            digits=(5, 1)), 'get_coverage_target')
    video_required = fields.Integer("Video Required", readonly=True,
        help="Elevators in use in public gathering places and "
        "residential estates.")
    with_video = fields.Integer("With Video", readonly=True)
    video_coverage = fields.Float("Video Coverage (%)", digits=(5, 1),
        readonly=True)
    inspection_overdue = fields.Integer("Inspection Overdue",
        readonly=True)
    open_rescues = fields.Integer("Open Rescues", readonly=True)
    open_warnings = fields.Integer("Open Maintenance Warnings",
        readonly=True)
    open_complaints = fields.Integer("Open Complaints", readonly=True)
    faults_30d = fields.Integer("Faults (30 days)", readonly=True)
    critical_open = fields.Integer("Open Critical Faults", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('district', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        return figures.live_query(cls)

    @classmethod
    def get_coverage_target(cls, records, name):
        target = engine.coverage_target(
            dt.datetime.now(LOCAL_TZ).date().year)
        return {r.id: target for r in records}


class Trend(ModelSQL, ModelView):
    "Monthly District Trend"
    __string__ = "Monthly District Trend"
    __name__ = 'elevator.assessment.trend'

    district = fields.Many2One('elevator.region', "District", readonly=True)
    month = fields.Char("Month", readonly=True)
    month_index = fields.Integer("Month Index", readonly=True)
    faults = fields.Integer("IoT Faults", readonly=True)
    entrapments = fields.Integer("Entrapments", readonly=True)
    rescues_in_time = fields.Integer("Rescues on Site in Time",
        readonly=True)
    warnings = fields.Integer("Maintenance Warnings", readonly=True)
    complaints = fields.Integer("Complaints", readonly=True)
    visits = fields.Integer("Maintenance Visits", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('month_index', 'ASC'), ('district', 'ASC'),
            ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        today = Pool().get('ir.date').today()
        return figures.trend_query(cls, today)
