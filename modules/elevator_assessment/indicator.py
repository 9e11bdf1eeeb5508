"""Assessment indicators (考核指标) as data: which formula, how much it
weighs, which way is better, the target that earns the full score and the
value that earns nothing."""
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields, sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pyson import Eval

from . import engine
from .common import DIRECTIONS, score

SCOPES = [
    ('district', "District"),
    ('unit', "Maintenance Unit"),
    ]
FORMULAS = [(f.code, f.string) for f in engine.FORMULAS.values()]
KINDS = [
    ('share', "Share (%)"),
    ('average', "Average"),
    ('per100', "Per 100 Elevators"),
    ('per_elevator', "Per Elevator"),
    ('count', "Count"),
    ]


class Indicator(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "Assessment Indicator"
    __string__ = "Assessment Indicator"
    __name__ = 'elevator.assessment.indicator'

    code = fields.Char("Code", required=True, strip=True)
    name = fields.Char("Name", required=True, translate=True)
    scope = fields.Selection(SCOPES, "Scope", required=True,
        help="District assessment table or maintenance units' credit "
        "evaluation.")
    source = fields.Selection(engine.SOURCES, "Source", required=True,
        sort=False, help="The module whose records the formula reads.")
    formula = fields.Selection(FORMULAS, "Formula", required=True,
        sort=False,
        domain=[('formula', 'in', Eval('formula_choices', []))],
        help="How the value is computed from the records of the period.")
    formula_choices = fields.Function(fields.MultiSelection(
            FORMULAS, "Formula Choices"),
        'on_change_with_formula_choices')
    kind = fields.Function(fields.Selection(KINDS, "Kind"),
        'on_change_with_kind')
    weight = fields.Float("Weight", required=True, digits=(16, 2),
        domain=[('weight', '>=', 0)],
        help="Share of the indicator in the total; the weights of "
        "indicators without data are shared out among the others.")
    direction = fields.Selection(DIRECTIONS, "Direction", required=True)
    target = fields.Float("Target", required=True, digits=(16, 2),
        help="A value reaching the target earns the full score (100). "
        "For the monitoring coverage, the city's yearly coverage target "
        "is used instead.")
    zero_at = fields.Float("Zero Score at", digits=(16, 2),
        help="A value at or beyond this earns no score; in between the "
        "score is proportional. Empty: all or nothing at the target.")
    available = fields.Function(fields.Boolean("Available",
            help="The module of the source is activated."),
        'get_available')
    description = fields.Text("Description", translate=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'elevator_assessment.msg_indicator_code_unique'),
            ]
        cls._order.insert(0, ('scope', 'ASC'))

    @classmethod
    def default_scope(cls):
        return 'district'

    @classmethod
    def default_direction(cls):
        return 'higher'

    @classmethod
    def default_weight(cls):
        return 10

    @fields.depends('scope', 'source')
    def on_change_with_formula_choices(self, name=None):
        return [f.code for f in engine.FORMULAS.values()
            if f.scope == self.scope and f.source == self.source]

    @fields.depends('formula')
    def on_change_with_kind(self, name=None):
        formula = engine.FORMULAS.get(self.formula)
        return formula.kind if formula else None

    @fields.depends('formula', 'source', 'scope', 'direction')
    def on_change_formula(self):
        formula = engine.FORMULAS.get(self.formula)
        if formula:
            self.source = formula.source
            self.scope = formula.scope
            self.direction = formula.direction

    def get_available(self, name):
        return engine.available(self.formula)

    @classmethod
    def validate_fields(cls, indicators, field_names):
        super().validate_fields(indicators, field_names)
        names = {'formula', 'source', 'scope', 'direction', 'target',
            'zero_at'}
        if field_names is not None and not (names & set(field_names)):
            return
        for indicator in indicators:
            formula = engine.FORMULAS.get(indicator.formula)
            if (formula.scope != indicator.scope
                    or formula.source != indicator.source):
                raise ValidationError(gettext(
                        'elevator_assessment.msg_indicator_formula_scope',
                        indicator=indicator.rec_name))
            if indicator.zero_at is not None:
                if indicator.direction == 'higher':
                    wrong = indicator.zero_at > indicator.target
                else:
                    wrong = indicator.zero_at < indicator.target
                if wrong:
                    raise ValidationError(gettext(
                            'elevator_assessment.msg_indicator_zero_at',
                            indicator=indicator.rec_name))

    def get_rec_name(self, name):
        return f'{self.code} {self.name}'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        bool_op = 'AND' if operator.startswith(('!', 'not ')) else 'OR'
        return [bool_op,
            ('code', operator, operand, *extra),
            ('name', operator, operand, *extra),
            ]

    def score(self, value, target=None):
        return score(value, self.direction,
            self.target if target is None else target, self.zero_at)

    @classmethod
    def for_scope(cls, scope):
        "The active indicators of scope whose module is activated."
        return [i for i in cls.search([('scope', '=', scope)])
            if engine.available(i.formula)]
