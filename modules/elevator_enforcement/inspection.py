"""Supervisory inspections (日常监督检查): a plan per district and period
drawn at random from the elevators in use, weighted to risk (monitoring
required but missing, a user unit under intensified inspection, recent
entrapments), and the visits' findings, of which a defect opens an
enforcement case."""
import datetime as dt
import math
import random

from sql import Null
from sql.aggregate import Count

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.elevator import clock
from trytond.modules.elevator.workflow import Workflow
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .case import district_of
from .lists import _utc_midnight, today

STATES = [
    ('planned', "Planned"),
    ('done', "Done"),
    ('cancelled', "Cancelled"),
    ]
RESULTS = [
    (None, ""),
    ('compliant', "Compliant"),
    ('defects', "Defects Found"),
    ]
# Weight of each risk; they multiply.
RISK_WEIGHTS = {
    'unmonitored': 2,
    'intensified': 2,
    'entrapments': 2,
    }
ENTRAPMENT_DAYS = 90


class Inspection(Workflow, ModelSQL, ModelView):
    "Supervisory Inspection"
    __string__ = "Supervisory Inspection"
    __name__ = 'elevator.supervision.inspection'

    _planned = {'readonly': Eval('state') != 'planned'}

    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='RESTRICT', states=_planned)
    region = fields.Many2One('elevator.region', "Region", required=True,
        ondelete='RESTRICT', readonly=True)
    district = fields.Many2One('elevator.region', "District", readonly=True,
        ondelete='RESTRICT')
    planned_date = fields.Date("Planned Date", required=True,
        states=_planned)
    weight = fields.Integer("Risk Weight", readonly=True,
        help="1, doubled for each risk: monitoring required but missing, "
        "user unit under intensified inspection, entrapments in the last "
        "90 days.")
    risks = fields.Char("Risks", readonly=True)
    inspector = fields.Many2One('res.user', "Inspector", states=_planned)
    result = fields.Selection(RESULTS, "Result", states=_planned)
    findings = fields.Text("Findings", states=_planned)
    latitude = fields.Float("Latitude", digits=(9, 6), states=_planned)
    longitude = fields.Float("Longitude", digits=(9, 6), states=_planned)
    state = fields.Selection(STATES, "State", required=True, readonly=True)
    done_by = fields.Many2One('res.user', "Recorded by", readonly=True)
    done_at = fields.DateTime("Recorded at", readonly=True)
    case = fields.Many2One('elevator.enforcement.case', "Case",
        readonly=True)

    del _planned

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.region, Index.Range())),
                Index(t, (t.planned_date, Index.Range())),
                })
        cls._order = [('planned_date', 'ASC'), ('id', 'ASC')]
        cls._transitions |= {
            ('planned', 'done'),
            ('planned', 'cancelled'),
            }
        cls._buttons.update({
                'record': {
                    'invisible': Eval('state') != 'planned',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': Eval('state') != 'planned',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'open_case': {
                    'invisible': ((Eval('state') != 'done')
                        | (Eval('result') != 'defects')
                        | Eval('case')),
                    'icon': 'tryton-launch',
                    'depends': ['state', 'result', 'case'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'planned'

    @classmethod
    def default_weight(cls):
        return 1

    def get_rec_name(self, name):
        return f'{self.elevator.rec_name} {self.planned_date}'

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        values = super().preprocess_values(mode, values)
        if values.get('elevator'):
            elevator = Elevator(values['elevator'])
            values['region'] = elevator.region.id
            district = district_of(elevator.region)
            values['district'] = district.id if district else None
        return values

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def record(cls, inspections):
        for inspection in inspections:
            if not inspection.result:
                raise ValidationError(gettext(
                        'elevator_enforcement.msg_inspection_result',
                        inspection=inspection.rec_name))
            if inspection.result == 'defects' and not inspection.findings:
                raise ValidationError(gettext(
                        'elevator_enforcement.msg_inspection_findings',
                        inspection=inspection.rec_name))
        cls.write(inspections, {'done_by': Transaction().user or None,
                'done_at': clock.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, inspections):
        pass

    @classmethod
    @ModelView.button
    def open_case(cls, inspections):
        pool = Pool()
        Case = pool.get('elevator.enforcement.case')
        for inspection in inspections:
            if (inspection.state != 'done' or inspection.result != 'defects'
                    or inspection.case):
                continue
            elevator = inspection.elevator
            party = elevator.user_unit or elevator.maintenance_unit
            case, = Case.open_from([{
                        'source': 'inspection',
                        'origin': str(inspection),
                        'elevator': elevator.id,
                        'party': party.id if party else None,
                        'region': inspection.region.id,
                        }])
            if inspection.findings and case.state == 'draft':
                Case.write([case], {'facts': inspection.findings})
            cls.write([inspection], {'case': case.id})

    @classmethod
    def risk_weights(cls, elevator_ids, moment=None):
        """{elevator id: (weight, [risks])} of the elevators: 1, doubled
        for each risk."""
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        Ticket = pool.get('elevator.rescue.ticket')
        cursor = Transaction().connection.cursor()
        elevator = Elevator.__table__()
        _, unmonitored, _ = Elevator.compliance_conditions(elevator)
        cursor.execute(*elevator.select(elevator.id,
                where=elevator.id.in_(elevator_ids or [-1]) & unmonitored))
        risky = {'unmonitored': {i for i, in cursor}}
        risky['intensified'] = {e.id for e in Elevator.browse(elevator_ids)
            if e.user_unit and e.user_unit.intensified_inspection}
        ticket = Ticket.__table__()
        since = (moment or clock.now()) - dt.timedelta(days=ENTRAPMENT_DAYS)
        cursor.execute(*ticket.select(ticket.elevator, Count(ticket.id),
                where=(ticket.reported_at >= since)
                & (ticket.elevator != Null)
                & ticket.elevator.in_(elevator_ids or [-1]),
                group_by=[ticket.elevator]))
        risky['entrapments'] = {i for i, n in cursor if n}
        result = {}
        for elevator_id in elevator_ids:
            risks = [r for r in RISK_WEIGHTS if elevator_id in risky[r]]
            weight = math.prod(RISK_WEIGHTS[r] for r in risks)
            result[elevator_id] = (weight, risks)
        return result

    @classmethod
    def generate_plan(cls, district, start, end, share, seed=None):
        """Plan inspections of `share` % of the elevators in use of the
        district (its subtree) between start and end, drawn at random
        weighted to risk (without replacement); return the inspections."""
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        elevators = Elevator.search([
                ('region', 'child_of', [district.id], 'parent'),
                ('state', '=', 'in_use'),
                ], order=[('id', 'ASC')])
        existing = {i.elevator.id for i in cls.search([
                    ('elevator', 'in', [e.id for e in elevators]),
                    ('planned_date', '>=', start),
                    ('planned_date', '<=', end),
                    ('state', '!=', 'cancelled'),
                    ])}
        candidates = [e.id for e in elevators if e.id not in existing]
        count = min(len(candidates),
            math.ceil(len(elevators) * share / 100) - len(existing))
        if count <= 0:
            return []
        weights = cls.risk_weights(candidates,
            moment=_utc_midnight(start))
        rng = random.Random(seed if seed is not None
            else f'{district.id}-{start}-{end}')
        # Efraimidis-Spirakis: the largest u ** (1 / w) are drawn.
        keyed = sorted(candidates,
            key=lambda i: rng.random() ** (1 / weights[i][0]), reverse=True)
        chosen = keyed[:count]
        days = (end - start).days + 1
        vlist = []
        for n, elevator_id in enumerate(sorted(chosen)):
            weight, risks = weights[elevator_id]
            vlist.append({
                    'elevator': elevator_id,
                    'planned_date': start + dt.timedelta(
                        days=n * days // len(chosen)),
                    'weight': weight,
                    'risks': ', '.join(risks) or None,
                    })
        return cls.create(vlist)


class PlanStart(ModelView):
    "Supervisory Inspection Plan"
    __string__ = "Supervisory Inspection Plan"
    __name__ = 'elevator.supervision.plan.start'

    district = fields.Many2One('elevator.region', "District", required=True,
        domain=[('level', 'in', ['district', 'zone'])])
    start = fields.Date("From Date", required=True)
    end = fields.Date("To Date", required=True,
        domain=[('end', '>=', Eval('start'))])
    share = fields.Integer("Share of Elevators (%)", required=True,
        domain=[('share', '>', 0), ('share', '<=', 100)])

    @classmethod
    def default_start(cls):
        return today()

    @classmethod
    def default_end(cls):
        return today() + dt.timedelta(days=29)

    @classmethod
    def default_share(cls):
        return 5


class Plan(Wizard):
    "Plan Supervisory Inspections"
    __name__ = 'elevator.supervision.plan'

    start = StateView('elevator.supervision.plan.start',
        'elevator_enforcement.plan_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Plan", 'plan', 'tryton-ok', default=True),
            ])
    plan = StateTransition()

    def transition_plan(self):
        Inspection = Pool().get('elevator.supervision.inspection')
        Inspection.generate_plan(self.start.district, self.start.start,
            self.start.end, self.start.share)
        return 'end'
