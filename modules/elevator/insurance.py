"""Elevator safety liability insurance (电梯安全责任保险, "保险+服务"): the
policies of the insurers, per elevator. An insurer's users see the
policies it issued and the elevators they cover (record rules of
insurance.xml)."""
from sql import Null

from trytond.model import Check, Index, ModelSQL, ModelView, Unique, fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval, If


class Policy(ModelSQL, ModelView):
    "Elevator Insurance Policy"
    __name__ = 'elevator.insurance.policy'
    insurer = fields.Many2One('party.party', "Insurer", required=True,
        ondelete='RESTRICT', domain=[('is_insurer', '=', True)])
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='RESTRICT')
    number = fields.Char("Policy Number", required=True)
    cover_amount = fields.Numeric("Cover Amount (CNY)", digits=(16, 2),
        required=True, domain=[('cover_amount', '>', 0)])
    start_date = fields.Date("Start Date", required=True)
    end_date = fields.Date("End Date", required=True,
        domain=[If(Eval('start_date'),
                ('end_date', '>', Eval('start_date')), ())])

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('number_unique', Unique(t, t.insurer, t.number),
                'elevator.msg_insurance_policy_number_unique'),
            ('cover_positive', Check(t, (t.cover_amount > 0)
                    | (t.cover_amount == Null)),
                'elevator.msg_insurance_policy_cover_positive'),
            ]
        cls._sql_indexes.add(Index(t, (t.elevator, Index.Range())))
        cls._order = [('end_date', 'DESC'), ('id', 'DESC')]

    def get_rec_name(self, name):
        return self.number


class Elevator(metaclass=PoolMeta):
    __name__ = 'elevator.elevator'
    insurance_policies = fields.One2Many('elevator.insurance.policy',
        'elevator', "Insurance Policies", readonly=True)
