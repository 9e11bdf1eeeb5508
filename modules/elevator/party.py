"Party roles of the elevator registry (user unit, maintenance unit, ...)."
from trytond.model import fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval, Not

# The party module stores the unified social credit code (GB 32100-2015,
# stdnum.cn.uscc) under the generic tax identifier name of China.
USCC_TYPE = 'cn_vat'

ROLES = [
    'is_user_unit', 'is_maintenance_unit', 'is_manufacturer',
    'is_inspection_agency', 'is_property_company', 'is_investor',
    'is_insurer']


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    is_user_unit = fields.Boolean("User Unit",
        help="The unit legally responsible for the safe use of elevators "
        "(使用单位).")
    is_maintenance_unit = fields.Boolean("Maintenance Unit")
    is_manufacturer = fields.Boolean("Manufacturer")
    is_inspection_agency = fields.Boolean("Inspection Agency")
    is_property_company = fields.Boolean("Property Company")
    is_investor = fields.Boolean("Investor")
    is_insurer = fields.Boolean("Insurer",
        help="Issues elevator safety liability policies (保险+服务).")
    licence_number = fields.Char("Licence Number",
        states={'invisible': Not(Eval('is_maintenance_unit', False))},
        help="Special-equipment production licence of the maintenance unit.")
    licence_valid_until = fields.Date("Licence Valid Until",
        states={'invisible': Not(Eval('is_maintenance_unit', False))},
        help="A maintenance unit whose licence has expired cannot propose "
        "or accept a maintenance contract.")
    qualification = fields.Selection([
            (None, ""),
            ('A', "Grade A"),
            ('B', "Grade B"),
            ('C', "Grade C"),
            ], "Qualification",
        states={'invisible': Not(Eval('is_maintenance_unit', False))})
    qualification_valid_until = fields.Date("Qualification Valid Until",
        states={'invisible': Not(Eval('is_maintenance_unit', False))})
    public_phone = fields.Char("Public Phone",
        help="Service phone published to the public.")
    uscc = fields.Function(fields.Char("Unified Social Credit Code"),
        'get_uscc', searcher='search_uscc')

    def get_uscc(self, name):
        for identifier in self.identifiers:
            if identifier.type == USCC_TYPE:
                return identifier.code

    @classmethod
    def search_uscc(cls, name, clause):
        _, operator, operand, *extra = clause
        return [('identifiers', 'where', [
                    ('type', '=', USCC_TYPE),
                    ('code', operator, operand, *extra),
                    ])]
