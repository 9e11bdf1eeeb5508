"Maintenance settings of the platform (on the elevator configuration)."
import datetime as dt

from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Id


def _default_sequence(xml_id):
    def default(cls):
        ModelData = Pool().get('ir.model.data')
        try:
            return ModelData.get_id('elevator_maintenance', xml_id)
        except KeyError:
            return None
    return classmethod(default)


class Configuration(metaclass=PoolMeta):
    __name__ = 'elevator.configuration'

    maintenance_contract_sequence = fields.Many2One('ir.sequence',
        "Maintenance Contract Sequence",
        domain=[('sequence_type', '=', Id(
                    'elevator_maintenance', 'sequence_type_contract'))])
    maintenance_order_sequence = fields.Many2One('ir.sequence',
        "Maintenance Order Sequence",
        domain=[('sequence_type', '=', Id(
                    'elevator_maintenance', 'sequence_type_order'))])
    repair_order_sequence = fields.Many2One('ir.sequence',
        "Repair Order Sequence",
        domain=[('sequence_type', '=', Id(
                    'elevator_maintenance', 'sequence_type_repair'))])
    maintenance_plan_days = fields.Integer("Planning Horizon (days)",
        required=True,
        domain=[('maintenance_plan_days', '>=', 1),
            ('maintenance_plan_days', '<=', 366)],
        help="The planning cron keeps the visits of every active contract "
        "planned this many days ahead.")
    maintenance_confirm_days = fields.Integer("Confirmation Delay (days)",
        required=True, domain=[('maintenance_confirm_days', '>=', 1)],
        help="A record the user unit has not confirmed after this many "
        "days raises a warning.")
    maintenance_min_technicians = fields.Integer("Technicians per Visit",
        required=True, domain=[('maintenance_min_technicians', '>=', 1)],
        help="At least this many technicians, one of them certified, "
        "record each visit.")
    maintenance_min_photos = fields.Integer("Photos per Visit",
        required=True, domain=[('maintenance_min_photos', '>=', 0)])
    maintenance_photo_max_size = fields.Integer("Photo Size Limit (KB)",
        required=True, domain=[('maintenance_photo_max_size', '>=', 10)],
        help="Largest photo accepted on a maintenance or repair record.")

    maintenance_check_in_max_lag = fields.Integer(
        "Check-in Time Lag (min)", required=True,
        domain=[('maintenance_check_in_max_lag', '>=', 1)],
        help="The time a phone sends for a check-in or check-out may be at "
        "most this many minutes older than the server's clock.")

    repair_deadline = fields.TimeDelta("Repair Deadline", required=True,
        help="Time the maintenance firm has to finish a repair order, "
        "counted from the report.")
    repair_urgent_deadline = fields.TimeDelta("Urgent Repair Deadline",
        required=True,
        help="Time to finish an urgent repair order (a critical safety "
        "fault), counted from the report.")

    default_maintenance_contract_sequence = _default_sequence(
        'sequence_contract')
    default_maintenance_order_sequence = _default_sequence('sequence_order')
    default_repair_order_sequence = _default_sequence('sequence_repair')

    @classmethod
    def default_maintenance_plan_days(cls):
        return 31

    @classmethod
    def default_maintenance_confirm_days(cls):
        return 7

    @classmethod
    def default_maintenance_min_technicians(cls):
        return 2

    @classmethod
    def default_maintenance_min_photos(cls):
        return 1

    @classmethod
    def default_maintenance_check_in_max_lag(cls):
        return 5

    @classmethod
    def default_maintenance_photo_max_size(cls):
        return 5120

    @classmethod
    def default_repair_deadline(cls):
        return dt.timedelta(hours=24)

    @classmethod
    def default_repair_urgent_deadline(cls):
        return dt.timedelta(hours=4)

    def repair_delay(self, urgent):
        "Time allowed for a repair order, urgent or not."
        if urgent:
            return self.repair_urgent_deadline or (
                self.default_repair_urgent_deadline())
        return self.repair_deadline or self.default_repair_deadline()
