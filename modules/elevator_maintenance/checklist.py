"TSG T5002-2017 checklist items and the supervision rules of visits."
from trytond.cache import Cache
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields,
    sequence_ordered)
from trytond.modules.elevator.elevator import CATEGORIES
from trytond.pool import Pool
from trytond.pyson import Eval

from .common import CATEGORY_EQUIPMENT, EQUIPMENTS, MAINTENANCE_TYPES, TYPE_RANK


class ChecklistItem(DeactivableMixin, sequence_ordered(), ModelSQL,
        ModelView):
    "Maintenance Checklist Item"
    __name__ = 'elevator.maintenance.checklist.item'

    code = fields.Char("Code", required=True, strip=True,
        help="Annex, type and number in TSG T5002-2017, e.g. A1-05.")
    equipment = fields.Selection(EQUIPMENTS, "Equipment", required=True,
        sort=False)
    maintenance_type = fields.Selection(MAINTENANCE_TYPES,
        "Maintenance Type", required=True, sort=False,
        help="The item is checked at visits of this type and of every "
        "higher type.")
    name = fields.Char("Item", required=True)
    requirement = fields.Text("Requirement")
    mandatory = fields.Boolean("Mandatory",
        help="The visit cannot be checked out without a result here.")

    _items_cache = Cache('elevator_maintenance_checklist_item.items',
        context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'elevator_maintenance.msg_checklist_code_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.equipment, Index.Equality())))

    @classmethod
    def default_mandatory(cls):
        return True

    def get_rec_name(self, name):
        return f'{self.code} {self.name}'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        bool_op = 'AND' if operator.startswith('!') or operator.startswith(
            'not ') else 'OR'
        return [bool_op,
            ('code', operator, operand, *extra),
            ('name', operator, operand, *extra),
            ]

    @classmethod
    def on_modification(cls, mode, items, field_names=None):
        super().on_modification(mode, items, field_names=field_names)
        cls._items_cache.clear()

    @classmethod
    def items_for(cls, category, maintenance_type):
        """Values of the lines of a visit: the active items of the category's
        equipment, of the visit's type and every lower type."""
        equipment = CATEGORY_EQUIPMENT.get(category, 'traction')
        key = (equipment, maintenance_type)
        values = cls._items_cache.get(key)
        if values is None:
            rank = TYPE_RANK[maintenance_type]
            types = [t for t, r in TYPE_RANK.items() if r <= rank]
            items = cls.search([
                    ('equipment', '=', equipment),
                    ('maintenance_type', 'in', types),
                    ], order=[('sequence', 'ASC'), ('id', 'ASC')])
            values = [{
                    'item': i.id,
                    'sequence': i.sequence,
                    'code': i.code,
                    'name': i.name,
                    'requirement': i.requirement,
                    'maintenance_type': i.maintenance_type,
                    'mandatory': i.mandatory,
                    } for i in items]
            cls._items_cache.set(key, values)
        return [v.copy() for v in values]


class Rule(ModelSQL, ModelView):
    "Maintenance Supervision Rule"
    __name__ = 'elevator.maintenance.rule'

    # {type: (min duration, max interval, on-demand interval, max
    # distance)}, used only when an administrator removed the rules
    # (data/rule.xml).
    _fallback_rules = {
        'half_monthly': (30, 15, 30, 500),
        'quarterly': (60, 92, 92, 500),
        'half_yearly': (90, 183, 183, 500),
        'yearly': (120, 366, 366, 500),
        }

    category = fields.Selection([(None, "All Categories")] + CATEGORIES,
        "Category", sort=False,
        help="Empty: the rule applies to every category without a rule "
        "of its own.")
    maintenance_type = fields.Selection(MAINTENANCE_TYPES,
        "Maintenance Type", required=True, sort=False)
    min_duration = fields.Integer("Minimum Duration (min)", required=True,
        domain=[('min_duration', '>=', 0)],
        help="A visit shorter than this raises a warning.")
    max_interval = fields.Integer("Maximum Interval (days)", required=True,
        domain=[('max_interval', '>=', 1)],
        help="Longest time between two visits of this type or higher. "
        "For half-monthly visits, a longer gap is overdue.")
    on_demand_interval = fields.Integer("On-Demand Interval (days)",
        domain=['OR',
            ('on_demand_interval', '=', None),
            ('on_demand_interval', '>=', Eval('max_interval', 0)),
            ],
        states={
            'invisible': Eval('maintenance_type') != 'half_monthly',
            },
        help="Interval allowed instead, for on-demand (按需维保) contracts, "
        "on elevators monitored by an online IoT device.")
    max_distance = fields.Integer("Maximum Check-in Distance (m)",
        required=True, domain=[('max_distance', '>=', 0)],
        help="Checking in farther than this from the elevator raises a "
        "warning.")

    _rules_cache = Cache('elevator_maintenance_rule.table', context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('category_type_unique',
                Unique(t, t.category, t.maintenance_type),
                'elevator_maintenance.msg_rule_unique'),
            ]
        cls._order = [('maintenance_type', 'ASC'),
            ('category', 'ASC NULLS FIRST'), ('id', 'ASC')]

    @classmethod
    def default_max_distance(cls):
        return 500

    @classmethod
    def on_modification(cls, mode, rules, field_names=None):
        super().on_modification(mode, rules, field_names=field_names)
        cls._rules_cache.clear()

    @classmethod
    def table(cls):
        """{(category, type): (min duration, max interval, on-demand
        interval, max distance)} for every category and type."""
        table = cls._rules_cache.get(None)
        if table is None:
            rules = {(r.category, r.maintenance_type): r
                for r in cls.search([])}
            table = {}
            for category, _ in CATEGORIES:
                for type_, _ in MAINTENANCE_TYPES:
                    rule = rules.get((category, type_)) or rules.get(
                        (None, type_))
                    if rule:
                        values = (rule.min_duration, rule.max_interval,
                            rule.on_demand_interval or rule.max_interval,
                            rule.max_distance)
                    else:
                        values = cls._fallback_rules[type_]
                    table[(category, type_)] = values
            table = {f'{c}|{t}': v for (c, t), v in table.items()}
            cls._rules_cache.set(None, table)
        return {tuple(k.split('|')): tuple(v) for k, v in table.items()}

    @classmethod
    def get(cls, category, maintenance_type):
        return cls.table()[(category, maintenance_type)]


def rule_case(column_category, column_type, index):
    """A CASE expression of the rule value `index` (0 min duration, 1 max
    interval, 2 on-demand interval, 3 max distance) for SQL: by type, with
    the categories that differ from the type's usual value."""
    from collections import Counter

    from sql.conditionals import Case
    Rule = Pool().get('elevator.maintenance.rule')
    table = Rule.table()
    whens = []
    for type_, _ in MAINTENANCE_TYPES:
        values = {c: v[index] for (c, t), v in table.items() if t == type_}
        usual, _ = Counter(values.values()).most_common(1)[0]
        exceptions = [(column_category == c, v)
            for c, v in sorted(values.items()) if v != usual]
        value = Case(*exceptions, else_=usual) if exceptions else usual
        whens.append((column_type == type_, value))
    return Case(*whens, else_=None)


def rule_bounds(index):
    "The lowest and highest value of the rule value `index`."
    Rule = Pool().get('elevator.maintenance.rule')
    values = [v[index] for v in Rule.table().values()]
    return min(values), max(values)
