"""Credit evaluation of the maintenance units (维保单位质量安全信用等级评价):
per unit and year, the indicators of its maintenance, rescues, complaints,
ratings and faults, a score and a grade A-D with its consequence; the
published grades are what the public API of elevator_public serves."""
import datetime as dt

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, fields)
from trytond.modules.elevator.workflow import Workflow
from trytond.pool import Pool
from trytond.pyson import Eval, PYSONEncoder
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import (
    Button, StateAction, StateTransition, StateView, Wizard)
from trytond.modules.elevator.common import Timestamp

from . import engine
from .common import (
    DIRECTIONS, GRADES, STATES, dumps, grade, local_date, ranks,
    round_half_up, score, total, utc_now)
from .district import snapshot_language
from .indicator import KINDS
from .publication import Publication

CONSEQUENCES = {
    'A': 'elevator_assessment.msg_consequence_a',
    'B': 'elevator_assessment.msg_consequence_b',
    'C': 'elevator_assessment.msg_consequence_c',
    'D': 'elevator_assessment.msg_consequence_d',
    }


def consequence(grade_):
    "What the grade means for the unit, in the user's language."
    return gettext(CONSEQUENCES[grade_]) if grade_ in CONSEQUENCES else ''


class Evaluation(Publication, Workflow, ModelSQL, ModelView):
    "Maintenance Unit Credit Evaluation"
    __string__ = "Credit Evaluation"
    __name__ = 'elevator.credit.evaluation'
    _history = True
    _published_error = (
        'elevator_assessment.msg_evaluation_published', 'evaluation')

    maintenance_unit = fields.Many2One('party.party', "Maintenance Unit",
        required=True, readonly=True, ondelete='RESTRICT',
        domain=[('is_maintenance_unit', '=', True)])
    year = fields.Integer("Year", required=True, readonly=True)
    state = fields.Selection(STATES, "State", readonly=True, required=True)
    published = fields.Function(fields.Boolean("Published"),
        'get_published', searcher='search_published')
    elevator_count = fields.Integer("Elevators Maintained", readonly=True,
        help="Elevators in use maintained by the unit when evaluated.")
    score = fields.Float("Score", digits=(5, 2), readonly=True)
    grade = fields.Selection(GRADES, "Grade", readonly=True)
    not_rated_reason = fields.Char("Why Not Rated", readonly=True,
        states={'invisible': Eval('grade') != 'not_rated'},
        help="Why the unit has no grade: too little data to grade it.")
    consequence = fields.Function(fields.Char("Consequence"),
        'get_consequence')
    rank = fields.Integer("Rank", readonly=True)
    evaluation_count = fields.Function(fields.Integer("Evaluations"),
        'get_evaluation_count')
    grade_a = fields.Float("Lowest Score of A", digits=(5, 2),
        readonly=True)
    grade_b = fields.Float("Lowest Score of B", digits=(5, 2),
        readonly=True)
    grade_c = fields.Float("Lowest Score of C", digits=(5, 2),
        readonly=True)
    lines = fields.One2Many('elevator.credit.evaluation.line', 'evaluation',
        "Indicators", readonly=True)
    as_of = Timestamp("Data as of", readonly=True)
    computed_at = Timestamp("Computed at", readonly=True)
    authority = fields.Char("Authority", readonly=True)
    parameters = fields.Text("Parameters", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('unit_year_unique', Unique(t, t.maintenance_unit, t.year),
                'elevator_assessment.msg_evaluation_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.year, Index.Range()),
                    (t.state, Index.Equality())),
                Index(t, (t.maintenance_unit, Index.Range())),
                })
        cls._order = [('year', 'DESC'), ('rank', 'ASC NULLS LAST'),
            ('id', 'ASC')]

    def get_published(self, name):
        return self.state == 'published'

    @classmethod
    def search_published(cls, name, clause):
        _, operator, value = clause
        positive = (operator == '=') == bool(value)
        return [('state', '=' if positive else '!=', 'published')]

    @classmethod
    def get_evaluation_count(cls, evaluations, name):
        "1 per evaluation: what the graph of the grades adds up."
        return {e.id: 1 for e in evaluations}

    def get_consequence(self, name):
        if self.grade == 'not_rated':
            return self.not_rated_reason
        return consequence(self.grade)

    def get_rec_name(self, name):
        return f'{self.maintenance_unit.rec_name} {self.year}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('maintenance_unit.rec_name',) + tuple(clause[1:])]

    @classmethod
    def evaluate(cls, year, as_of=None):
        """Evaluate every maintenance unit with elevators in use for the
        year, replacing the draft evaluations of the year; a year whose
        evaluations are published is not evaluated again."""
        pool = Pool()
        Indicator = pool.get('elevator.assessment.indicator')
        Configuration = pool.get('elevator.assessment.configuration')
        ElevatorConfiguration = pool.get('elevator.configuration')
        as_of = as_of or utc_now()
        if cls.search([('year', '=', year), ('state', '=', 'published')],
                limit=1):
            raise UserError(gettext(
                    'elevator_assessment.msg_evaluation_year_published',
                    year=year))
        end = dt.date(year, 12, 31)
        if local_date(as_of) < dt.date(year, 1, 1):
            raise UserError(gettext(
                    'elevator_assessment.msg_evaluation_future',
                    year=year))
        ctx = engine.Context(dt.date(year, 1, 1), end, as_of)
        with Transaction().set_context(language=snapshot_language()):
            indicators = Indicator.for_scope('unit')
        keys = engine.elevators_in_use('maintenance_unit')
        table = engine.compute('unit', indicators, ctx, keys)
        configuration = Configuration(1)
        thresholds = configuration.thresholds
        minimum_weight = configuration.minimum_rated_weight
        if minimum_weight is None:
            minimum_weight = 50.0
        authority = ElevatorConfiguration(1).authority_name
        now = utc_now()

        vlist = []
        for unit, elevators in keys.items():
            lines = []
            for sequence, (indicator, numerator, denominator,
                    value) in enumerate(table[unit], 1):
                lines.append({
                        'sequence': sequence,
                        'indicator': indicator.id,
                        'code': indicator.code,
                        'name': indicator.name,
                        'formula': indicator.formula,
                        'kind': engine.FORMULAS[indicator.formula].kind,
                        'weight': indicator.weight,
                        'direction': indicator.direction,
                        'target': indicator.target,
                        'zero_at': indicator.zero_at,
                        'numerator': numerator,
                        'denominator': denominator,
                        'value': round_half_up(value, 4),
                        'score': score(value, indicator.direction,
                            indicator.target, indicator.zero_at),
                        })
            score_ = total([(l['score'], l['weight']) for l in lines])
            weight = sum(l['weight'] or 0 for l in lines)
            if not weight:
                # Nothing to evaluate the unit on (no indicator available).
                continue
            # Indicators without a value drop out of the score: a unit
            # whose score rests on too little is not rated, never A.
            share = round_half_up(sum(l['weight'] or 0 for l in lines
                    if l['score'] is not None) * 100 / weight, 1)
            if score_ is None or share < minimum_weight:
                grade_ = 'not_rated'
                with Transaction().set_context(
                        language=snapshot_language()):
                    reason = gettext(
                        'elevator_assessment.msg_not_rated_little_data',
                        share=share, minimum=minimum_weight)
            else:
                grade_ = grade(score_, thresholds)
                reason = None
            vlist.append({
                    'maintenance_unit': unit,
                    'year': year,
                    'elevator_count': elevators,
                    'score': score_,
                    'grade': grade_,
                    'not_rated_reason': reason,
                    'grade_a': thresholds[0],
                    'grade_b': thresholds[1],
                    'grade_c': thresholds[2],
                    'as_of': as_of,
                    'computed_at': now,
                    'authority': authority,
                    'lines': [('create', lines)],
                    })
        rank_of = ranks({i: v['score'] if v['grade'] != 'not_rated'
                else None for i, v in enumerate(vlist)})
        for i, values in enumerate(vlist):
            values['rank'] = rank_of[i]
        params = dumps({
                'as_of': as_of.isoformat(),
                'year': year,
                'thresholds': thresholds,
                'minimum_rated_weight': minimum_weight,
                'indicators': [{
                        'code': i.code, 'formula': i.formula,
                        'weight': i.weight, 'direction': i.direction,
                        'target': i.target, 'zero_at': i.zero_at,
                        } for i in indicators],
                'unavailable': sorted(
                    {code for code, f in engine.FORMULAS.items()
                        if f.scope == 'unit' and not engine.available(f)}),
                **ctx.params,
                })
        for values in vlist:
            values['parameters'] = params
        with without_check_access():
            cls.delete(cls.search([('year', '=', year)]))
            return cls.create(vlist)

    @classmethod
    @ModelView.button
    @Workflow.transition('published')
    def publish(cls, evaluations):
        cls.stamp_publication(evaluations)

    @classmethod
    def latest_published(cls, unit_ids):
        """{unit id: evaluation} of the latest published evaluation of each
        unit: the grade whose consequences apply."""
        with without_check_access():
            evaluations = cls.search([
                    ('maintenance_unit', 'in', list(unit_ids)),
                    ('state', '=', 'published'),
                    ], order=[('year', 'ASC'), ('id', 'ASC')])
        return {e.maintenance_unit.id: e for e in evaluations}


class EvaluationLine(ModelSQL, ModelView):
    "Credit Evaluation Indicator"
    __string__ = "Credit Evaluation Indicator"
    __name__ = 'elevator.credit.evaluation.line'
    _history = True

    evaluation = fields.Many2One('elevator.credit.evaluation', "Evaluation",
        required=True, readonly=True, ondelete='CASCADE')
    maintenance_unit = fields.Function(fields.Many2One('party.party',
            "Maintenance Unit"), 'get_evaluation_field',
        searcher='search_evaluation_field')
    year = fields.Function(fields.Integer("Year"), 'get_evaluation_field',
        searcher='search_evaluation_field')
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
    numerator = fields.Float("Numerator", digits=(16, 2), readonly=True)
    denominator = fields.Float("Denominator", digits=(16, 2), readonly=True)
    value = fields.Float("Value", digits=(16, 4), readonly=True)
    score = fields.Float("Score", digits=(5, 2), readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('evaluation')
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.evaluation, Index.Range())))
        cls._order = [('evaluation', 'DESC'), ('sequence', 'ASC'),
            ('id', 'ASC')]

    def get_evaluation_field(self, name):
        value = getattr(self.evaluation, name)
        return getattr(value, 'id', value)

    @classmethod
    def search_evaluation_field(cls, name, clause):
        return [('evaluation.' + clause[0],) + tuple(clause[1:])]

    def get_rec_name(self, name):
        return f'{self.evaluation.rec_name} {self.code}'

    @classmethod
    def check_modification(cls, mode, lines, values=None, external=False):
        super().check_modification(mode, lines, values=values,
            external=external)
        if mode in {'write', 'delete'}:
            Evaluation = Pool().get('elevator.credit.evaluation')
            Evaluation.check_published([l.evaluation for l in lines])


class EvaluateStart(ModelView):
    "Evaluate Maintenance Units"
    __string__ = "Evaluate Maintenance Units"
    __name__ = 'elevator.credit.evaluate.start'

    year = fields.Integer("Year", required=True,
        help="The draft evaluations of the year are computed again from "
        "the current data.")

    @classmethod
    def default_year(cls):
        today = Pool().get('ir.date').today()
        # The year just ended in its first months, else the current one.
        return today.year - 1 if today.month <= 3 else today.year


class Evaluate(Wizard):
    "Evaluate Maintenance Units"
    __name__ = 'elevator.credit.evaluate'

    start = StateView('elevator.credit.evaluate.start',
        'elevator_assessment.evaluate_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Evaluate", 'evaluate', 'tryton-ok', default=True),
            ])
    evaluate = StateTransition()
    open_ = StateAction('elevator_assessment.act_evaluation')

    def transition_evaluate(self):
        Evaluation = Pool().get('elevator.credit.evaluation')
        Evaluation.evaluate(self.start.year)
        return 'open_'

    def do_open_(self, action):
        action['pyson_domain'] = PYSONEncoder().encode(
            [('year', '=', self.start.year)])
        action['name'] += f' {self.start.year}'
        return action, {}
