"Administrative regions: city, districts, towns, communities (GB/T 2260)."
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields, tree)
from trytond.model.exceptions import ValidationError

LEVELS = [
    ('city', "City"),
    ('district', "District / County"),
    ('zone', "Management Committee"),
    ('town', "Town / Street"),
    ('community', "Community / Village"),
    ]


class Region(DeactivableMixin, tree(separator=' / '), ModelSQL, ModelView):
    "Region"
    __name__ = 'elevator.region'

    code = fields.Char("Code", required=True, strip=True,
        help="GB/T 2260 administrative division code (6 digits) "
        "or a longer statistical code for towns and communities.")
    name = fields.Char("Name", required=True)
    level = fields.Selection(LEVELS, "Level", required=True, sort=False)
    parent = fields.Many2One(
        'elevator.region', "Parent", path='path', ondelete='RESTRICT')
    path = fields.Char("Path")
    children = fields.One2Many('elevator.region', 'parent', "Children")
    urban = fields.Boolean("Urban",
        help="Urban districts must be reached by rescuers within 30 minutes "
        "(60 minutes elsewhere).")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code), 'elevator.msg_region_code_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.path, Index.Similarity(begin=True))))
        cls._order.insert(0, ('code', 'ASC'))

    @classmethod
    def validate_fields(cls, regions, field_names):
        super().validate_fields(regions, field_names)
        if field_names is None or 'code' in field_names:
            for region in regions:
                if not region.code.isdigit():
                    raise ValidationError(gettext(
                            'elevator.msg_region_code_digits',
                            code=region.code))

    def get_rec_name(self, name):
        return self.name

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('name', operator, operand, *extra),
            ('code', operator, operand, *extra),
            ]
