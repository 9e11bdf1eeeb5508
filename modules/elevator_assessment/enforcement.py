"""With elevator_enforcement: the elevators of a maintenance unit whose
latest published credit grade is one of the configured grades (default C
and D) weigh more when the supervisory inspection plans are drawn."""
from sql import Null

from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

RISK = 'credit_grade'


class Inspection(metaclass=PoolMeta):
    __name__ = 'elevator.supervision.inspection'

    @classmethod
    def risk_weights(cls, elevator_ids, moment=None):
        pool = Pool()
        Configuration = pool.get('elevator.assessment.configuration')
        Evaluation = pool.get('elevator.credit.evaluation')
        Elevator = pool.get('elevator.elevator')
        result = super().risk_weights(elevator_ids, moment=moment)
        config = Configuration(1)
        grades = set(config.inspection_weighted_grades or ())
        if not grades or not result:
            return result
        elevator = Elevator.__table__()
        cursor = Transaction().connection.cursor()
        units = {}
        for sub_ids in grouped_slice(list(result), 10000):
            cursor.execute(*elevator.select(elevator.id,
                    elevator.maintenance_unit,
                    where=SQL_OPERATORS['in'](elevator.id, list(sub_ids))
                    & (elevator.maintenance_unit != Null)))
            units.update(cursor)
        latest = Evaluation.latest_published(set(units.values()))
        weighted = {u for u, e in latest.items() if e.grade in grades}
        weight = config.inspection_grade_weight or 1
        for elevator_id, unit in units.items():
            if unit in weighted:
                value, risks = result[elevator_id]
                result[elevator_id] = (value * weight, risks + [RISK])
        return result
