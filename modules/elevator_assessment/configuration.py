"""Settings of the assessment: the credit grade thresholds and the data a
grade needs."""
from trytond.i18n import gettext
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError


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
