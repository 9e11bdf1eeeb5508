"Settings of the IoT monitoring."
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields


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
    past_window = fields.Integer("Fault Age Limit (days)",
        required=True, domain=[('past_window', '>', 0)],
        help="Fault events whose occurTime is older than this many days "
        "are refused (HTTPS push: 422; MQTT: dead letter): the device "
        "clock is wrong or the event is a replay of the past.")
    minimum_video_retention = fields.Integer(
        "Minimum Video Retention (days)", required=True,
        help="Recordings must be kept at least a month.")
    token_lifetime = fields.Integer("Push Token Lifetime (seconds)",
        required=True, domain=[('token_lifetime', '>', 0)])
    monitored_days = fields.Integer("Monitored if Heard Within (days)",
        required=True, domain=[('monitored_days', '>', 0)],
        help="An elevator counts as monitored when one of its devices "
        "that is not retired sent a message within this many days. "
        "Every coverage figure uses it.")

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
    def default_past_window(cls):
        return 7

    @classmethod
    def default_minimum_video_retention(cls):
        return 30

    @classmethod
    def default_token_lifetime(cls):
        return 7200

    @classmethod
    def default_monitored_days(cls):
        return 7

