"The city's yearly targets for the remote monitoring of elevators."
from trytond.model import ModelSQL, ModelView, Unique, fields


class CoverageTarget(ModelSQL, ModelView):
    """Monitoring Coverage Target

    One per year: the share of the elevators in use that must be remotely
    monitored by the end of it (Putian: 40 % in 2022, 80 % in 2023, all
    from 2024). The IoT coverage, the subsidy programme's coverage and the
    district assessment all measure against it."""
    __string__ = "Monitoring Coverage Target"
    __name__ = 'elevator.coverage.target'

    year = fields.Integer("Year", required=True)
    share = fields.Float("Monitored Share (%)", required=True, digits=(5, 1),
        domain=[('share', '>=', 0), ('share', '<=', 100)],
        help="Share of the elevators in use that must be remotely "
        "monitored by the end of the year.")
    description = fields.Char("Description")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('year_unique', Unique(t, t.year),
                'elevator.msg_coverage_target_year_unique'),
            ]
        cls._order = [('year', 'DESC'), ('id', 'DESC')]

    @classmethod
    def target_for(cls, year):
        "The target of the year, or of the latest year before it."
        targets = cls.search([('year', '<=', year)], limit=1)
        return targets[0].share if targets else None
