"""With elevator_maintenance: the consequence of a low grade is enforced,
not only displayed. A maintenance unit whose latest published credit grade
is one of the configured grades (default D) cannot put a new contract in
force until it is graded again."""
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta


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
        """Refuse the contracts of units whose latest published grade is
        one of the configuration's refused grades."""
        pool = Pool()
        Evaluation = pool.get('elevator.credit.evaluation')
        Configuration = pool.get('elevator.assessment.configuration')
        refused = set(Configuration(1).contract_refused_grades or ())
        units = {c.maintenance_unit for c in contracts}
        if not refused or not units:
            return
        latest = Evaluation.latest_published([u.id for u in units])
        for unit in sorted(units, key=lambda u: u.id):
            evaluation = latest.get(unit.id)
            if evaluation and evaluation.grade in refused:
                raise UserError(gettext(
                        'elevator_assessment.msg_contract_refused_grade',
                        unit=unit.rec_name, grade=evaluation.grade,
                        year=evaluation.year))
