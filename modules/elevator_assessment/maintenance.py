"""With elevator_maintenance: the consequence of a D grade is enforced, not
only displayed. A maintenance unit whose latest published credit grade is
D cannot put a new contract in force until it is graded again."""
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.transaction import without_check_access

# The grades whose holders may not take new contracts.
REFUSED_GRADES = {'D'}


class Contract(metaclass=PoolMeta):
    __name__ = 'elevator.maintenance.contract'

    # The firm is told when it proposes; the acceptance and the coming
    # into force check again (a grade published in between).

    @classmethod
    def propose(cls, contracts):
        cls.check_credit_grade(contracts)
        super().propose(contracts)

    @classmethod
    def accept(cls, contracts):
        cls.check_credit_grade(
            [c for c in contracts if c.state == 'proposed'])
        super().accept(contracts)

    @classmethod
    def activate(cls, contracts):
        cls.check_credit_grade(contracts)
        super().activate(contracts)

    @classmethod
    def check_credit_grade(cls, contracts):
        "Refuse the contracts of units whose latest published grade is D."
        Evaluation = Pool().get('elevator.credit.evaluation')
        units = {c.maintenance_unit for c in contracts}
        for unit in sorted(units, key=lambda u: u.id):
            with without_check_access():
                latest = Evaluation.search([
                        ('maintenance_unit', '=', unit.id),
                        ('state', '=', 'published'),
                        ], order=[('year', 'DESC')], limit=1)
            if latest and latest[0].grade in REFUSED_GRADES:
                evaluation, = latest
                raise UserError(gettext(
                        'elevator_assessment.msg_contract_refused_grade',
                        unit=unit.rec_name, grade=evaluation.grade,
                        year=evaluation.year))
