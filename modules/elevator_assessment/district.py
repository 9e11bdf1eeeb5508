"""District assessment tables (区县电梯安全考核表): one row per district and
period with each indicator's value and score, the total and the rank,
computed in one action by set-based SQL over the period; published tables
never change again and keep what they were computed from."""
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, fields)
from trytond.modules.elevator.workflow import Workflow
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction, without_check_access
from trytond.modules.elevator.common import Timestamp

from . import engine
from .common import (
    DIRECTIONS, PERIOD_KINDS, STATES, dumps, period_bounds, period_name,
    ranks, round_half_up, score, total, utc_now)
from .indicator import KINDS
from .publication import Publication


REPORT_LANGUAGE = 'zh_CN'


def snapshot_language():
    """The language of the indicator names kept with the tables and of the
    printed reports: Chinese when it is loaded (the reports are the
    bureau's documents), else the database's default language."""
    pool = Pool()
    Lang = pool.get('ir.lang')
    if Lang.search([
                ('code', '=', REPORT_LANGUAGE),
                ('translatable', '=', True),
                ], limit=1):
        return REPORT_LANGUAGE
    return pool.get('ir.configuration').get_language()


class Period(Publication, Workflow, ModelSQL, ModelView):
    "Assessment Period"
    __string__ = "Assessment Period"
    __name__ = 'elevator.assessment.period'
    _history = True
    _published_error = ('elevator_assessment.msg_period_published', 'period')

    _draft = {'readonly': Eval('state') != 'draft'}

    name = fields.Char("Name", required=True, states=_draft)
    kind = fields.Selection(PERIOD_KINDS, "Kind", required=True,
        states=_draft)
    start_date = fields.Date("Start Date", required=True, states=_draft,
        domain=[('start_date', '<=', Eval('end_date', None))])
    end_date = fields.Date("End Date", required=True,
        states={
            'readonly': (Eval('state') != 'draft')
            | (Eval('kind') != 'custom'),
            },
        domain=[('end_date', '>=', Eval('start_date', None))])
    state = fields.Selection(STATES, "State", readonly=True, required=True)
    districts = fields.One2Many('elevator.assessment.district', 'period',
        "Districts", readonly=True)
    computed_at = Timestamp("Computed at", readonly=True)
    computed_by = fields.Many2One('res.user', "Computed by", readonly=True,
        ondelete='RESTRICT')
    as_of = Timestamp("Data as of", readonly=True,
        help="Time of the data the table was computed from.")
    authority = fields.Char("Authority", readonly=True,
        help="The bureau named on the table, as when it was computed.")
    parameters = fields.Text("Parameters", readonly=True,
        help="The indicators and the settings of the other modules the "
        "table was computed with.")

    del _draft

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('dates_unique', Unique(t, t.start_date, t.end_date),
                'elevator_assessment.msg_period_unique'),
            ]
        cls._order = [('start_date', 'DESC'), ('id', 'DESC')]
        cls._buttons.update({
                'compute': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                })
        cls._buttons['publish'].update({
                'readonly': ~Bool(Eval('computed_at')),
                'depends': ['state', 'computed_at'],
                })

    @classmethod
    def default_kind(cls):
        return 'quarter'

    @fields.depends('kind', 'start_date', 'end_date', 'name')
    def on_change_kind(self):
        self._set_bounds()

    @fields.depends(methods=['on_change_kind'])
    def on_change_start_date(self):
        self._set_bounds()

    @fields.depends('end_date', methods=['_set_name'])
    def on_change_end_date(self):
        self._set_name()

    @fields.depends('kind', 'start_date', 'end_date', methods=['_set_name'])
    def _set_bounds(self):
        if self.kind and self.kind != 'custom' and self.start_date:
            self.start_date, self.end_date = period_bounds(
                self.kind, self.start_date)
        self._set_name()

    @fields.depends('kind', 'start_date', 'end_date')
    def _set_name(self):
        if self.kind and self.start_date and self.end_date:
            self.name = period_name(self.kind, self.start_date,
                self.end_date)

    @classmethod
    def copy(cls, periods, default=None):
        default = default.copy() if default is not None else {}
        for name in ['districts', 'computed_at', 'computed_by', 'as_of',
                'published_at', 'published_by', 'parameters', 'authority']:
            default.setdefault(name, None)
        return super().copy(periods, default=default)

    @classmethod
    def get_or_create(cls, kind, start_date, end_date):
        "The period of these dates, created (draft) when missing."
        periods = cls.search([
                ('start_date', '=', start_date),
                ('end_date', '=', end_date),
                ])
        if periods:
            return periods[0]
        period, = cls.create([{
                    'kind': kind,
                    'start_date': start_date,
                    'end_date': end_date,
                    'name': period_name(kind, start_date, end_date),
                    }])
        return period

    @classmethod
    @ModelView.button
    def compute(cls, periods, as_of=None):
        """Compute the table of each draft period again from the current
        data (as of now)."""
        for period in periods:
            if period.state != 'draft':
                raise AccessError(gettext(
                        'elevator_assessment.msg_period_published',
                        period=period.rec_name))
            period._compute(as_of or utc_now())

    def _compute(self, as_of):
        pool = Pool()
        Indicator = pool.get('elevator.assessment.indicator')
        District = pool.get('elevator.assessment.district')
        Configuration = pool.get('elevator.configuration')
        ctx = engine.Context(self.start_date, self.end_date, as_of)
        with Transaction().set_context(language=snapshot_language()):
            indicators = Indicator.for_scope('district')
        elevators = engine.elevators_in_use('district')
        districts = engine.districts()
        keys = {d: elevators.get(d, 0) for d, _ in districts}
        table = engine.compute('district', indicators, ctx, keys)
        iot_target = ctx.params.get('iot_coverage_target')

        rows = {}
        for district, _ in districts:
            lines = []
            for sequence, (indicator, numerator, denominator,
                    value) in enumerate(table[district], 1):
                target = indicator.target
                if (indicator.formula == 'district_iot_coverage'
                        and iot_target is not None):
                    target = iot_target
                lines.append({
                        'sequence': sequence,
                        'period': self.id,
                        'district': district,
                        'indicator': indicator.id,
                        'code': indicator.code,
                        'name': indicator.name,
                        'formula': indicator.formula,
                        'kind': engine.FORMULAS[indicator.formula].kind,
                        'weight': indicator.weight,
                        'direction': indicator.direction,
                        'target': target,
                        'zero_at': indicator.zero_at,
                        'numerator': numerator,
                        'denominator': denominator,
                        'value': round_half_up(value, 4),
                        'score': score(value, indicator.direction, target,
                            indicator.zero_at),
                        })
            if not keys[district] and all(
                    l['value'] is None for l in lines):
                # A district without elevators nor activity.
                continue
            rows[district] = {
                'period': self.id,
                'district': district,
                'elevator_count': keys[district],
                'total': total([(l['score'], l['weight']) for l in lines]),
                'lines': [('create', lines)],
                }
        for district, rank in ranks(
                {d: r['total'] for d, r in rows.items()}).items():
            rows[district]['rank'] = rank
        params = {
            'as_of': as_of.isoformat(),
            'start_date': self.start_date.isoformat(),
            'end_date': self.end_date.isoformat(),
            'indicators': [{
                    'code': i.code, 'formula': i.formula,
                    'weight': i.weight, 'direction': i.direction,
                    'target': i.target, 'zero_at': i.zero_at,
                    } for i in indicators],
            'unavailable': sorted(
                {code for code, f in engine.FORMULAS.items()
                    if f.scope == 'district' and not engine.available(f)}),
            **ctx.params,
            }
        with without_check_access():
            District.delete(District.search([('period', '=', self.id)]))
            District.create(list(rows.values()))
        self.__class__.write([self], {
                'computed_at': utc_now(),
                'computed_by': Transaction().user or None,
                'as_of': as_of,
                'authority': Configuration(1).authority_name,
                'parameters': dumps(params),
                })

    @classmethod
    @ModelView.button
    @Workflow.transition('published')
    def publish(cls, periods):
        for period in periods:
            if not period.computed_at:
                raise UserError(gettext(
                        'elevator_assessment.msg_period_not_computed',
                        period=period.rec_name))
        cls.stamp_publication(periods)


class _PeriodStateMixin:
    "The state of the period the record belongs to; immutable published."
    __slots__ = ()

    state = fields.Function(fields.Selection(STATES, "State"),
        'get_state', searcher='search_state')

    def get_state(self, name):
        return self.period.state

    @classmethod
    def search_state(cls, name, clause):
        return [('period.state',) + tuple(clause[1:])]

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(mode, records, values=values,
            external=external)
        if mode in {'write', 'delete'}:
            Period = Pool().get('elevator.assessment.period')
            Period.check_published([r.period for r in records])


class District(_PeriodStateMixin, ModelSQL, ModelView):
    "District Assessment"
    __string__ = "District Assessment"
    __name__ = 'elevator.assessment.district'
    _history = True

    period = fields.Many2One('elevator.assessment.period', "Period",
        required=True, readonly=True, ondelete='CASCADE')
    district = fields.Many2One('elevator.region', "District", required=True,
        readonly=True, ondelete='RESTRICT')
    start_date = fields.Function(fields.Date("Start Date"),
        'get_period_field')
    end_date = fields.Function(fields.Date("End Date"), 'get_period_field')
    elevator_count = fields.Integer("Elevators in Use", readonly=True)
    total = fields.Float("Total Score", digits=(5, 2), readonly=True)
    rank = fields.Integer("Rank", readonly=True)
    lines = fields.One2Many('elevator.assessment.district.line',
        'assessment', "Indicators", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('period_district_unique', Unique(t, t.period, t.district),
                'elevator_assessment.msg_district_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.district, Index.Range())))
        cls._order = [('period', 'DESC'), ('rank', 'ASC NULLS LAST'),
            ('id', 'ASC')]

    def get_period_field(self, name):
        return getattr(self.period, name)

    def get_rec_name(self, name):
        return f'{self.period.rec_name} {self.district.rec_name}'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        bool_op = 'AND' if operator.startswith(('!', 'not ')) else 'OR'
        return [bool_op,
            ('period.name', operator, operand, *extra),
            ('district.name', operator, operand, *extra),
            ]


class DistrictLine(_PeriodStateMixin, ModelSQL, ModelView):
    "District Assessment Indicator"
    __string__ = "District Assessment Indicator"
    __name__ = 'elevator.assessment.district.line'
    _history = True

    assessment = fields.Many2One('elevator.assessment.district',
        "Assessment", required=True, readonly=True, ondelete='CASCADE')
    period = fields.Many2One('elevator.assessment.period', "Period",
        required=True, readonly=True, ondelete='CASCADE')
    district = fields.Many2One('elevator.region', "District", required=True,
        readonly=True, ondelete='RESTRICT')
    sequence = fields.Integer("Sequence", readonly=True)
    indicator = fields.Many2One('elevator.assessment.indicator',
        "Indicator", readonly=True, ondelete='SET NULL')
    code = fields.Char("Code", readonly=True)
    name = fields.Char("Indicator Name", readonly=True)
    formula = fields.Char("Formula", readonly=True)
    kind = fields.Selection(KINDS, "Kind", readonly=True)
    weight = fields.Float("Weight", digits=(16, 2), readonly=True)
    direction = fields.Selection(DIRECTIONS, "Direction", readonly=True)
    target = fields.Float("Target", digits=(16, 2), readonly=True)
    zero_at = fields.Float("Zero Score at", digits=(16, 2), readonly=True)
    numerator = fields.Float("Numerator", digits=(16, 2), readonly=True,
        help="What was counted (visits on time, rescues in time, amount "
        "paid ...).")
    denominator = fields.Float("Denominator", digits=(16, 2), readonly=True,
        help="What it was counted out of (visits due, rescues, budget, "
        "elevators ...).")
    value = fields.Float("Value", digits=(16, 4), readonly=True)
    score = fields.Float("Score", digits=(5, 2), readonly=True)
    latest = fields.Function(fields.Boolean("Latest Period"),
        'get_latest', searcher='search_latest')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # Who sees the district's row sees its indicators.
        cls.__access__.add('assessment')
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.assessment, Index.Range())),
                Index(t, (t.district, Index.Range()),
                    (t.code, Index.Equality())),
                })
        cls._order = [('period', 'DESC'), ('district', 'ASC'),
            ('sequence', 'ASC'), ('id', 'ASC')]

    def get_rec_name(self, name):
        return f'{self.assessment.rec_name} {self.code}'

    @classmethod
    def _latest_period(cls):
        Period = Pool().get('elevator.assessment.period')
        periods = Period.search([('computed_at', '!=', None)],
            order=[('end_date', 'DESC'), ('id', 'DESC')], limit=1)
        return periods[0].id if periods else None

    @classmethod
    def get_latest(cls, lines, name):
        latest = cls._latest_period()
        return {l.id: l.period.id == latest for l in lines}

    @classmethod
    def search_latest(cls, name, clause):
        _, operator, value = clause
        positive = (operator == '=') == bool(value)
        latest = cls._latest_period() or -1
        return [('period', '=' if positive else '!=', latest)]
