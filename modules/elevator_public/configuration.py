"Settings of the public supervision service, on the elevator configuration."
import datetime as dt

from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Id

DEFAULT_DEADLINES = {
    # The bureau answers a rescue request that did not go through 96196
    # within hours, a fault report within two days, a complaint within
    # the 7 days of the complaint rules, a message within 15 days.
    'rescue_request': dt.timedelta(hours=2),
    'fault_report': dt.timedelta(days=2),
    'complaint': dt.timedelta(days=7),
    'message': dt.timedelta(days=15),
    }


class Configuration(metaclass=PoolMeta):
    __name__ = 'elevator.configuration'

    feedback_sequence = fields.Many2One('ir.sequence', "Feedback Sequence",
        domain=[('sequence_type', '=',
                Id('elevator_public', 'sequence_type_feedback'))],
        help="Numbers the public's submissions; the submitter follows a "
        "submission with its number.")
    complaint_deadline = fields.TimeDelta("Complaint Deadline",
        required=True, help="Time to reply to a complaint.")
    fault_report_deadline = fields.TimeDelta("Fault Report Deadline",
        required=True, help="Time to reply to a fault report.")
    rescue_request_deadline = fields.TimeDelta("Rescue Request Deadline",
        required=True,
        help="Time to reply to a rescue request sent through the public "
        "pages (the rescue itself follows the 96196 ticket).")
    message_deadline = fields.TimeDelta("Message Deadline", required=True,
        help="Time to reply to a message.")
    feedback_retention = fields.TimeDelta("Contact Retention", required=True,
        help="The submitter's phone number is erased this long after the "
        "submission is closed.")
    rating_window = fields.TimeDelta("Rating Interval", required=True,
        help="A client may rate the same elevator once in this interval.")

    public_salt = fields.Char("Public Salt", readonly=True,
        help="Secret key of the hashes that stand for the clients' network "
        "addresses in the rate limits; set at the first submission.")

    @classmethod
    def default_feedback_sequence(cls):
        try:
            return Pool().get('ir.model.data').get_id(
                'elevator_public', 'sequence_feedback')
        except KeyError:
            return None

    @classmethod
    def default_complaint_deadline(cls):
        return DEFAULT_DEADLINES['complaint']

    @classmethod
    def default_fault_report_deadline(cls):
        return DEFAULT_DEADLINES['fault_report']

    @classmethod
    def default_rescue_request_deadline(cls):
        return DEFAULT_DEADLINES['rescue_request']

    @classmethod
    def default_message_deadline(cls):
        return DEFAULT_DEADLINES['message']

    @classmethod
    def default_feedback_retention(cls):
        return dt.timedelta(days=180)

    @classmethod
    def default_rating_window(cls):
        return dt.timedelta(days=1)

    def feedback_deadline(self, type_):
        return (getattr(self, f'{type_}_deadline', None)
            or DEFAULT_DEADLINES[type_])
