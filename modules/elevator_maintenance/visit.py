"""What maintenance and repair orders share: the visit on site (check-in and
check-out with time and position, technicians, photos) and the sign-off by
the user unit, after which the record is immutable."""
import datetime as dt

from sql.aggregate import Count

from trytond.i18n import gettext
from trytond.model import Index, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.elevator.attachment import IMAGE_TYPES
from trytond.modules.elevator.elevator import CATEGORIES
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .common import CLOCK_SKEW, distance_m, local_date, parse_position

# Fields only the platform writes (through the buttons).
PROTECTED_FIELDS = {
    'number', 'maintenance_unit', 'user_unit', 'district', 'category',
    'check_in', 'check_in_latitude', 'check_in_longitude',
    'check_in_distance', 'check_out', 'check_out_latitude',
    'check_out_longitude', 'check_out_distance', 'duration', 'on_time',
    'confirmed_by', 'confirmed_at', 'disputed_by', 'disputed_at',
    'contract', 'check_in_received', 'check_out_received',
    }


class VisitMixin:
    "Recording of a visit and its sign-off."
    __slots__ = ()
    # States where the firm records the visit.
    _recording_states = ('in_progress', 'disputed')
    # Photos of the work: images only (checked by content).
    _attachment_types = IMAGE_TYPES

    maintenance_unit = fields.Many2One('party.party', "Maintenance Unit",
        ondelete='RESTRICT', readonly=True,
        domain=[('is_maintenance_unit', '=', True)])
    user_unit = fields.Many2One('party.party', "User Unit",
        ondelete='RESTRICT', readonly=True,
        help="The unit whose safety manager confirms the record.")
    district = fields.Many2One('elevator.region', "District",
        ondelete='RESTRICT', readonly=True)
    category = fields.Selection([(None, "")] + CATEGORIES, "Category",
        readonly=True, sort=False)
    check_in = fields.DateTime("Check-in", readonly=True)
    check_in_latitude = fields.Float("Check-in Latitude", digits=(9, 6),
        readonly=True)
    check_in_longitude = fields.Float("Check-in Longitude", digits=(9, 6),
        readonly=True)
    check_in_distance = fields.Float("Check-in Distance (m)", digits=(16, 0),
        readonly=True,
        help="Distance between the phone and the elevator at check-in.")
    check_in_received = fields.DateTime("Check-in Received", readonly=True,
        help="The server's clock when the check-in arrived, beside the "
        "phone's time.")
    check_out = fields.DateTime("Check-out", readonly=True)
    check_out_received = fields.DateTime("Check-out Received",
        readonly=True,
        help="The server's clock when the check-out arrived.")
    check_out_latitude = fields.Float("Check-out Latitude", digits=(9, 6),
        readonly=True)
    check_out_longitude = fields.Float("Check-out Longitude", digits=(9, 6),
        readonly=True)
    check_out_distance = fields.Float("Check-out Distance (m)",
        digits=(16, 0), readonly=True)
    duration = fields.Float("Duration (min)", digits=(16, 1), readonly=True)
    findings = fields.Text("Findings",
        states={'readonly': ~Eval('state').in_(['in_progress', 'disputed'])})
    parts_replaced = fields.Text("Parts Replaced",
        states={'readonly': ~Eval('state').in_(['in_progress', 'disputed'])})
    photo_count = fields.Function(fields.Integer("Photos"),
        'get_photo_count')
    confirmed_by = fields.Many2One('res.user', "Confirmed by",
        readonly=True, ondelete='RESTRICT')
    confirmed_at = fields.DateTime("Confirmed at", readonly=True)
    confirmation_note = fields.Char("Confirmation Note",
        states={'readonly': Eval('state') != 'done'})
    dispute_reason = fields.Text("Dispute Reason",
        states={
            'readonly': Eval('state') != 'done',
            'invisible': ~Eval('state').in_(['done', 'disputed']),
            })
    disputed_by = fields.Many2One('res.user', "Disputed by", readonly=True,
        ondelete='RESTRICT')
    disputed_at = fields.DateTime("Disputed at", readonly=True)

    @classmethod
    def get_photo_count(cls, records, name):
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        attachment = Attachment.__table__()
        cursor = Transaction().connection.cursor()
        result = {r.id: 0 for r in records}
        resources = {f'{cls.__name__},{r.id}': r.id for r in records}
        if resources:
            cursor.execute(*attachment.select(
                    attachment.resource, Count(attachment.id),
                    where=attachment.resource.in_(list(resources)),
                    group_by=[attachment.resource]))
            for resource, count in cursor:
                result[resources[resource]] = count
        return result

    # -- visit -------------------------------------------------------------

    @classmethod
    def _visit_values(cls, record, prefix, position, now):
        "Values of check_in or check_out from the phone's position."
        latitude, longitude, time, _ = parse_position(
            position, record.rec_name)
        time = time or now
        if time > now + CLOCK_SKEW:
            raise ValidationError(gettext(
                    'elevator_maintenance.msg_time_future',
                    record=record.rec_name))
        lag = Pool().get('elevator.configuration')(
            1).maintenance_check_in_max_lag or 5
        if time < now - dt.timedelta(minutes=lag):
            raise ValidationError(gettext(
                    'elevator_maintenance.msg_time_too_old',
                    record=record.rec_name, minutes=lag))
        elevator = record.elevator
        distance = distance_m(latitude, longitude,
            elevator.latitude, elevator.longitude)
        return {
            prefix: time,
            f'{prefix}_received': now,
            f'{prefix}_latitude': latitude,
            f'{prefix}_longitude': longitude,
            f'{prefix}_distance': (round(distance)
                if distance is not None else None),
            }

    @classmethod
    def _current_technicians(cls, record, technician_ids):
        """The technicians of the visit: those given (of the firm) and the
        user himself when he is a technician of the firm."""
        pool = Pool()
        Technician = pool.get('elevator.maintenance.technician')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        technicians = list(record.technicians)
        with without_check_access():
            if technician_ids:
                given = Technician.browse(technician_ids)
                for technician in given:
                    try:
                        firm, active = technician.firm, technician.active
                    except Exception:
                        firm, active = None, False
                    if firm != record.maintenance_unit or not active:
                        raise ValidationError(gettext(
                                'elevator_maintenance'
                                '.msg_technician_other_firm',
                                record=record.rec_name,
                                technician=technician.id))
                    if technician not in technicians:
                        technicians.append(technician)
            user_id = Transaction().user
            if user_id:
                own = Technician.search([
                        ('user', '=', user_id),
                        ('firm', '=', record.maintenance_unit.id
                            if record.maintenance_unit else None),
                        ])
                group_id = ModelData.get_id(
                    'elevator', 'group_technician')
                if not own and group_id in User.get_groups():
                    raise AccessError(gettext(
                            'elevator_maintenance.msg_not_firm_technician',
                            record=record.rec_name,
                            firm=record.maintenance_unit.rec_name
                            if record.maintenance_unit else ''))
                for technician in own:
                    if technician not in technicians:
                        technicians.insert(0, technician)
        return technicians

    @classmethod
    def _check_out_errors(cls, record):
        "Raise the first reason why the visit cannot be closed."
        pool = Pool()
        Configuration = pool.get('elevator.configuration')
        config = Configuration(1)
        technicians = list(record.technicians)
        if len(technicians) < config.maintenance_min_technicians:
            raise ValidationError(gettext(
                    'elevator_maintenance.msg_technicians_missing',
                    record=record.rec_name,
                    count=config.maintenance_min_technicians))
        date = local_date(record.check_in)
        if not any(t.is_certified(date) for t in technicians):
            raise ValidationError(gettext(
                    'elevator_maintenance.msg_certified_missing',
                    record=record.rec_name))
        if record.photo_count < config.maintenance_min_photos:
            raise ValidationError(gettext(
                    'elevator_maintenance.msg_photos_missing',
                    record=record.rec_name,
                    count=config.maintenance_min_photos))

    @classmethod
    def _close_visit(cls, records, position):
        "Write check_out and duration; check what a closed visit needs."
        now = dt.datetime.now().replace(microsecond=0)
        to_write = []
        for record in records:
            values = cls._visit_values(record, 'check_out', position, now)
            if values['check_out'] <= record.check_in:
                raise ValidationError(gettext(
                        'elevator_maintenance.msg_check_out_before_check_in',
                        record=record.rec_name,
                        check_in=record.check_in.replace(
                            tzinfo=dt.timezone.utc).isoformat(),
                        check_out=values['check_out'].replace(
                            tzinfo=dt.timezone.utc).isoformat()))
            cls._check_out_errors(record)
            values['duration'] = round(
                (values['check_out'] - record.check_in).total_seconds()
                / 60, 1)
            to_write.extend(([record], values))
        if to_write:
            cls.write(*to_write)

    # -- sign-off ------------------------------------------------------------

    @classmethod
    def _check_own_elevators(cls, records):
        """The user unit confirms only records of its own elevators."""
        pool = Pool()
        User = pool.get('res.user')
        user_id = Transaction().user
        if not user_id:
            return
        _, units = User.get_elevator_scope()
        units = set(units)
        with without_check_access():
            for record in records:
                elevator = record.elevator
                owners = {p.id for p in [record.user_unit,
                        elevator.user_unit, elevator.property_company] if p}
                if not owners & units:
                    raise AccessError(gettext(
                            'elevator_maintenance.msg_confirm_not_own',
                            record=record.rec_name,
                            elevator=elevator.rec_name))

    @classmethod
    def _confirm(cls, records):
        cls._check_own_elevators(records)
        cls.write(records, {
                'confirmed_by': Transaction().user or None,
                'confirmed_at': dt.datetime.now().replace(microsecond=0),
                })

    @classmethod
    def _dispute(cls, records, reason=None):
        cls._check_own_elevators(records)
        if reason is not None and not isinstance(reason, str):
            reason = None
        to_write = []
        for record in records:
            text = (reason or record.dispute_reason or '').strip()
            if not text:
                raise ValidationError(gettext(
                        'elevator_maintenance.msg_dispute_reason',
                        record=record.rec_name))
            to_write.extend(([record], {
                        'dispute_reason': text[:2000],
                        'disputed_by': Transaction().user or None,
                        'disputed_at': dt.datetime.now().replace(
                            microsecond=0),
                        }))
        if to_write:
            cls.write(*to_write)

    @classmethod
    def _check_immutable(cls, mode, records, values, external,
            deletable_states):
        if mode == 'delete':
            for record in records:
                if record.state not in deletable_states:
                    raise AccessError(gettext(
                            'elevator_maintenance.msg_visit_delete',
                            record=record.rec_name))
        if mode in {'write', 'delete'}:
            for record in records:
                if record.state == 'confirmed':
                    raise AccessError(gettext(
                            'elevator_maintenance.msg_visit_confirmed',
                            record=record.rec_name))
        if mode == 'write' and external:
            names = set(values)
            if names & PROTECTED_FIELDS:
                raise AccessError(gettext(
                        'elevator_maintenance.msg_visit_protected_field',
                        record=records[0].rec_name if records else '',
                        field=', '.join(sorted(names & PROTECTED_FIELDS))))
            for record in records:
                if record.state == 'done' and names - {
                        'dispute_reason', 'confirmation_note'}:
                    raise AccessError(gettext(
                            'elevator_maintenance.msg_visit_done',
                            record=record.rec_name))



class VisitTechnicianMixin:
    """The technicians of a visit (the order's `technicians`): the relation
    model of each kind of order defines `order` and inherits this; it
    cannot change once the order is confirmed."""
    __slots__ = ()

    technician = fields.Many2One('elevator.maintenance.technician',
        "Technician", required=True, ondelete='RESTRICT')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('order')
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.order, Index.Range())),
                Index(t, (t.technician, Index.Range())),
                })

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(mode, records, values=values,
            external=external)
        for record in records:
            if record.order.state == 'confirmed':
                raise AccessError(gettext(
                        'elevator_maintenance.msg_visit_confirmed',
                        record=record.order.rec_name))
