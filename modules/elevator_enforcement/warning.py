"""A repair order not done by its deadline raises a maintenance warning
(elevator_maintenance); from it the regulator opens an enforcement case
against the maintenance firm."""
from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval

# Warnings a case can be opened from, with the source of the case.
CASE_SOURCES = {
    'repair_overdue': 'repair_overdue',
    }


class Warning_(metaclass=PoolMeta):
    __name__ = 'elevator.maintenance.warning'

    case = fields.Many2One('elevator.enforcement.case', "Case",
        readonly=True, ondelete='SET NULL',
        states={'invisible': ~Eval('type').in_(list(CASE_SOURCES))})

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'open_case': {
                    'invisible': (~Eval('type').in_(list(CASE_SOURCES))
                        | Eval('case')),
                    'icon': 'tryton-launch',
                    'depends': ['type', 'case'],
                    },
                })

    @classmethod
    @ModelView.button
    def open_case(cls, warnings):
        """Open (or join: Case.open_from) the case against the maintenance
        firm of the warning, and keep the warning linked to it."""
        pool = Pool()
        Case = pool.get('elevator.enforcement.case')
        for warning in warnings:
            if (warning.type not in CASE_SOURCES or warning.case
                    or not warning.maintenance_unit):
                continue
            elevator = warning.elevator
            case, = Case.open_from([{
                        'source': CASE_SOURCES[warning.type],
                        'origin': str(warning),
                        'elevator': elevator.id,
                        'party': warning.maintenance_unit.id,
                        'region': elevator.region.id,
                        }])
            cls.write([warning], {'case': case.id})
