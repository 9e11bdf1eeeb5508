"""Settings of the assessment: the credit grade thresholds and the data a
grade needs."""
from trytond.i18n import gettext
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError

# The grades a consequence may be attached to.
CONSEQUENCE_GRADES = [('A', "A"), ('B', "B"), ('C', "C"), ('D', "D")]


class Configuration(ModelSingleton, ModelSQL, ModelView):
    "Assessment Configuration"
    __string__ = "Assessment Configuration"
    __name__ = 'elevator.assessment.configuration'

    grade_a = fields.Float("Lowest Score of Grade A", required=True,
        digits=(5, 2), domain=[('grade_a', '<=', 100)],
        help="Units scoring at least this are graded A (trustworthy).")
    grade_b = fields.Float("Lowest Score of Grade B", required=True,
        digits=(5, 2))
    grade_c = fields.Float("Lowest Score of Grade C", required=True,
        digits=(5, 2), domain=[('grade_c', '>=', 0)],
        help="Units scoring less are graded D (interview and "
        "rectification).")
    minimum_rated_weight = fields.Float("Data Needed for a Grade (%)",
        required=True, digits=(5, 1),
        domain=[('minimum_rated_weight', '>=', 0),
            ('minimum_rated_weight', '<=', 100)],
        help="Share of the weight of the indicators that must have a "
        "value for the unit to be graded; with less, the unit is not "
        "rated, with the reason.")
    contract_refused_grades = fields.MultiSelection(CONSEQUENCE_GRADES,
        "Grades Refused New Contracts",
        help="A maintenance unit whose latest published grade is one of "
        "these cannot put a new contract in force until it is graded "
        "again.")
    inspection_weighted_grades = fields.MultiSelection(CONSEQUENCE_GRADES,
        "Grades Weighted in Inspection Plans",
        help="The elevators of a maintenance unit whose latest published "
        "grade is one of these are drawn more often into the supervisory "
        "inspection plans.")
    inspection_grade_weight = fields.Integer("Inspection Weight of the Grade",
        required=True, domain=[('inspection_grade_weight', '>=', 1)],
        help="Multiplies the risk weight of those elevators in the "
        "inspection plans.")

    @classmethod
    def default_grade_a(cls):
        return 90.0

    @classmethod
    def default_grade_b(cls):
        return 75.0

    @classmethod
    def default_grade_c(cls):
        return 60.0

    @classmethod
    def default_minimum_rated_weight(cls):
        return 50.0

    @classmethod
    def default_contract_refused_grades(cls):
        return ('D',)

    @classmethod
    def default_inspection_weighted_grades(cls):
        return ('C', 'D')

    @classmethod
    def default_inspection_grade_weight(cls):
        return 2

    @property
    def thresholds(self):
        return (self.grade_a, self.grade_b, self.grade_c)

    @classmethod
    def validate_fields(cls, configurations, field_names):
        super().validate_fields(configurations, field_names)
        for configuration in configurations:
            a, b, c = configuration.thresholds
            if not a > b > c:
                raise ValidationError(gettext(
                        'elevator_assessment.msg_grade_thresholds',
                        a=a, b=b, c=c))
