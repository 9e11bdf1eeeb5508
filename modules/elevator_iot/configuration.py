"Settings of the IoT monitoring."
from trytond.model import ModelSingleton, ModelSQL, ModelView, Unique, fields


class Configuration(ModelSingleton, ModelSQL, ModelView):
    "IoT Configuration"
    __name__ = 'elevator.iot.configuration'

    offline_minutes = fields.Integer("Offline after (minutes)",
        required=True, domain=[('offline_minutes', '>', 0)],
        help="A device silent for this long is offline.")
    max_payload_bytes = fields.Integer("Maximum Payload (bytes)",
        required=True, domain=[('max_payload_bytes', '>', 0)])
    future_tolerance = fields.Integer("Future Tolerance (seconds)",
        required=True, domain=[('future_tolerance', '>=', 0)],
        help="Messages stamped further in the future are refused: "
        "the device clock is wrong.")
    minimum_video_retention = fields.Integer(
        "Minimum Video Retention (days)", required=True,
        help="Recordings must be kept at least a month.")
    token_lifetime = fields.Integer("Push Token Lifetime (seconds)",
        required=True, domain=[('token_lifetime', '>', 0)])

    @classmethod
    def default_offline_minutes(cls):
        return 10

    @classmethod
    def default_max_payload_bytes(cls):
        return 64 * 1024

    @classmethod
    def default_future_tolerance(cls):
        return 300

    @classmethod
    def default_minimum_video_retention(cls):
        return 30

    @classmethod
    def default_token_lifetime(cls):
        return 7200


class CoverageTarget(ModelSQL, ModelView):
    "Monitoring Coverage Target"
    __name__ = 'elevator.iot.coverage.target'

    year = fields.Integer("Year", required=True)
    share = fields.Float("Target Share (%)", required=True, digits=(5, 1),
        domain=[('share', '>=', 0), ('share', '<=', 100)])

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('year_unique', Unique(t, t.year),
                'elevator_iot.msg_coverage_target_year_unique'),
            ]
        cls._order = [('year', 'DESC'), ('id', 'DESC')]

    @classmethod
    def target_for(cls, year):
        "The target of the year, or of the latest year before it."
        targets = cls.search([('year', '<=', year)], limit=1)
        return targets[0].share if targets else None
