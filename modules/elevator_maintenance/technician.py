"Technicians of the maintenance firms (电梯作业人员)."
import datetime as dt

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access
from trytond.modules.elevator.sharing import SharedExportMixin


class Technician(SharedExportMixin, DeactivableMixin, ModelSQL, ModelView):
    "Maintenance Technician"
    __name__ = 'elevator.maintenance.technician'
    # Bulk exports of these need a data-sharing approval.
    _personal_fields = {'phone', 'certificate_number'}

    name = fields.Char("Name", required=True)
    firm = fields.Many2One('party.party', "Maintenance Unit", required=True,
        ondelete='RESTRICT', domain=[('is_maintenance_unit', '=', True)])
    user = fields.Many2One('res.user', "Platform Account",
        ondelete='SET NULL',
        help="The account the technician logs in with on the phone; it "
        "must act for the maintenance unit.")
    phone = fields.Char("Phone", loading='lazy',
        help="Personal data: read by the own firm, dispatch and the "
        "regulators.")
    rescue_duty = fields.Boolean("On Rescue Duty",
        help="Gets the SMS of the firm's rescue dispatches (the firm's "
        "on-duty roster).")
    certificate_number = fields.Char("Certificate Number", loading='lazy',
        help="特种设备安全管理和作业人员证, item T (电梯修理). "
        "Read by the own firm, dispatch and the regulators.")
    certificate_valid_until = fields.Date("Certificate Valid Until")
    certified = fields.Function(fields.Boolean("Certified"),
        'get_certified', searcher='search_certified')
    maintenance_orders = fields.Many2Many(
        'elevator.maintenance.order-technician', 'technician', 'order',
        "Maintenance Orders", readonly=True)
    repair_orders = fields.Many2Many(
        'elevator.repair.order-technician', 'technician', 'order',
        "Repair Orders", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('user_firm_unique', Unique(t, t.user, t.firm),
                'elevator_maintenance.msg_technician_user_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.firm, Index.Range())),
                Index(t, (t.user, Index.Range())),
                })
        cls._order = [('name', 'ASC'), ('id', 'ASC')]

    def is_certified(self, date=None):
        if date is None:
            date = Pool().get('ir.date').today()
        # Whether the certificate is valid is no secret, its number is
        # (field access): checked for any user, e.g. at a sign-off.
        with without_check_access():
            technician = (self.__class__(self.id)
                if self.id is not None and self.id >= 0 else self)
            return bool(technician.certificate_number
                and technician.certificate_valid_until
                and technician.certificate_valid_until >= date)

    @classmethod
    def get_certified(cls, technicians, name):
        today = Pool().get('ir.date').today()
        return {t.id: t.is_certified(today) for t in technicians}

    @classmethod
    def search_certified(cls, name, clause):
        today = Pool().get('ir.date').today()
        _, operator, value = clause[:3]
        positive = (operator == '=') == bool(value)
        domain = [
            ('certificate_number', '!=', None),
            ('certificate_number', '!=', ''),
            ('certificate_valid_until', '>=', today),
            ]
        if positive:
            return domain
        return ['OR',
            ('certificate_number', '=', None),
            ('certificate_number', '=', ''),
            ('certificate_valid_until', '=', None),
            ('certificate_valid_until', '<', today),
            ]

    @classmethod
    def validate_fields(cls, technicians, field_names):
        super().validate_fields(technicians, field_names)
        if field_names is None or {'user', 'firm'} & set(field_names):
            with without_check_access():
                for technician in technicians:
                    user = technician.user
                    if user and technician.firm not in user.elevator_units:
                        raise ValidationError(gettext(
                                'elevator_maintenance'
                                '.msg_technician_user_firm',
                                technician=technician.name,
                                user=user.login,
                                firm=technician.firm.rec_name))

    @classmethod
    def of_current_user(cls, firm=None):
        "The technician records of the user (for the firm)."
        user_id = Transaction().user
        domain = [('user', '=', user_id)]
        if firm:
            domain.append(('firm', '=', firm.id))
        with without_check_access():
            return cls.search(domain)


def certified_on(technicians, date):
    return [t for t in technicians if t.is_certified(date or dt.date.today())]
