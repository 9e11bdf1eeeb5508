"The elevator registry (特种设备: 电梯) and its ID card."
import datetime as dt
import secrets

from sql import Literal, Null
from sql.conditionals import Case, Coalesce
from sql.operators import Concat

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, fields)
from .workflow import Workflow
from trytond.model.exceptions import ValidationError
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.report import Report
from trytond.transaction import Transaction

from .geo import CoordinatesMixin
from .place import PLACE_CATEGORIES
from .res import notify_district_regulators

# TSG 08-2017 special equipment catalogue, elevator part.
CATEGORIES = [
    ('3110', "Traction passenger lift"),
    ('3120', "Traction freight lift"),
    ('3130', "Traction bed lift"),
    ('3200', "Hydraulic lift"),
    ('3310', "Escalator"),
    ('3320', "Moving walk"),
    ('3400', "Dumbwaiter"),
    ('3500', "Explosion-proof lift"),
    ('3600', "Other lift"),
    ]
CATEGORY_CODES = {c for c, _ in CATEGORIES}

STATES = [
    ('draft', "Draft"),
    ('in_use', "In Use"),
    ('suspended', "Suspended"),
    ('scrapped', "Scrapped"),
    ]

INSPECTION_STATUS = [
    ('unknown', "Unknown"),
    ('ok', "Valid"),
    ('due_soon', "Due Soon"),
    ('overdue', "Overdue"),
    ]


def registration_code_error(code, known_authorities, today=None):
    """Return (message id, parameters) of what is wrong with a registration
    code (注册代码: category 4 + authority 6 + year 4 + sequence 6), or None.
    Shared by the ORM validation and the bulk import."""
    if not code or len(code) != 20 or not code.isdigit():
        return 'elevator.msg_registration_code_format', {}
    if code[:4] not in CATEGORY_CODES:
        return 'elevator.msg_registration_code_category', {
            'category': code[:4]}
    if code[4:10] not in known_authorities:
        return 'elevator.msg_registration_code_authority', {
            'authority': code[4:10]}
    year = int(code[10:14])
    today = today or dt.date.today()
    if not 1950 <= year <= today.year:
        return 'elevator.msg_registration_code_year', {'year': year}


def equipment_code_error(code):
    if code and (not 18 <= len(code) <= 19 or not code.isalnum()):
        return 'elevator.msg_equipment_code_format', {}


def rescue_code_error(code, length):
    if code and (len(code) != length or not code.isdigit()):
        return 'elevator.msg_rescue_code_format', {'length': length}


def new_public_token():
    "An unguessable token for the QR code on the car."
    return secrets.token_urlsafe(16)


class Elevator(CoordinatesMixin, Workflow, ModelSQL, ModelView):
    "Elevator"
    __name__ = 'elevator.elevator'
    _history = True

    _states_readonly = {'readonly': Eval('state') == 'scrapped'}

    registration_code = fields.Char("Registration Code", required=True,
        strip=True, size=20, states=_states_readonly,
        help="注册代码: 20 digits, category + registering authority "
        "+ year + sequence.")
    equipment_code = fields.Char("Equipment Code", strip=True,
        states=_states_readonly,
        help="设备代码: 18 or 19 characters given by the manufacturer.")
    certificate_number = fields.Char("Use Registration Certificate",
        strip=True, states=_states_readonly)
    rescue_code = fields.Char("Rescue Code", strip=True,
        states=_states_readonly,
        help="应急救援识别码 posted in the car and read out to 96196. "
        "Given from the sequence when left empty.")
    category = fields.Selection(CATEGORIES, "Category", required=True,
        sort=False, states=_states_readonly)
    brand = fields.Char("Brand", states=_states_readonly)
    model = fields.Char("Model", states=_states_readonly)
    place = fields.Many2One('elevator.place', "Place", ondelete='RESTRICT',
        states=_states_readonly)
    building = fields.Char("Building / Unit", states=_states_readonly,
        help="Building and unit inside the place, e.g. '3号楼2单元'.")
    region = fields.Many2One('elevator.region', "Region", required=True,
        ondelete='RESTRICT', states=_states_readonly)
    district = fields.Many2One('elevator.region', "District", readonly=True,
        ondelete='RESTRICT',
        help="District, county or management committee of the region; "
        "kept in step with the region.")
    place_category = fields.Selection(PLACE_CATEGORIES, "Place Category",
        required=True, sort=False, states=_states_readonly)
    user_unit = fields.Many2One('party.party', "User Unit",
        ondelete='RESTRICT', states=_states_readonly,
        domain=[('is_user_unit', '=', True)])
    property_company = fields.Many2One('party.party', "Property Company",
        ondelete='RESTRICT', states=_states_readonly,
        domain=[('is_property_company', '=', True)])
    maintenance_unit = fields.Many2One('party.party', "Maintenance Unit",
        ondelete='RESTRICT', states=_states_readonly,
        domain=[('is_maintenance_unit', '=', True)])
    manufacturer = fields.Many2One('party.party', "Manufacturer",
        ondelete='RESTRICT', states=_states_readonly,
        domain=[('is_manufacturer', '=', True)])
    inspection_agency = fields.Many2One('party.party', "Inspection Agency",
        ondelete='RESTRICT', states=_states_readonly,
        domain=[('is_inspection_agency', '=', True)])
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    orphan = fields.Boolean("Orphan (三无)", states=_states_readonly,
        help="No user unit, no maintenance funds, no maintenance: "
        "三无电梯.")
    has_video = fields.Boolean("Video Monitoring", states=_states_readonly)
    floors = fields.Integer("Floors", states=_states_readonly,
        domain=[If(Eval('floors'), ('floors', '>', 0), ())])
    rated_load = fields.Integer("Rated Load (kg)", states=_states_readonly)
    rated_speed = fields.Float("Rated Speed (m/s)", digits=(4, 2),
        states=_states_readonly)
    manufacture_date = fields.Date("Manufacture Date",
        states=_states_readonly)
    commissioning_date = fields.Date("Commissioning Date",
        states=_states_readonly)
    last_inspection_date = fields.Date("Last Inspection", readonly=True)
    last_inspection_conclusion = fields.Selection([
            (None, ""),
            ('qualified', "Qualified"),
            ('qualified_after_recheck', "Qualified after Re-check"),
            ('unqualified', "Unqualified"),
            ], "Last Conclusion", readonly=True)
    next_inspection_date = fields.Date("Next Inspection",
        states=_states_readonly)
    inspection_status = fields.Selection(INSPECTION_STATUS,
        "Inspection Status", readonly=True, sort=False)
    public_token = fields.Char("Public Token", readonly=True, required=True,
        help="Unguessable key of the public page reached by the QR code.")
    inspections = fields.One2Many('elevator.inspection', 'elevator',
        "Inspections", readonly=True)
    elevator_count = fields.Function(fields.Integer("Elevators"),
        'get_elevator_count')

    del _states_readonly

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('registration_code_unique', Unique(t, t.registration_code),
                'elevator.msg_registration_code_unique'),
            ('rescue_code_unique', Unique(t, t.rescue_code),
                'elevator.msg_rescue_code_unique'),
            ('public_token_unique', Unique(t, t.public_token),
                'elevator.msg_public_token_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.region, Index.Range())),
                Index(t, (t.district, Index.Range()), (t.category, Index.Equality())),
                Index(t, (t.maintenance_unit, Index.Range())),
                Index(t, (t.user_unit, Index.Range())),
                Index(t, (t.property_company, Index.Range())),
                Index(t, (t.next_inspection_date, Index.Range())),
                Index(t, (t.state, Index.Equality())),
                # The ORM searches an optional Char as COALESCE(column,
                # ''): without these, a dispatcher's lookup by rescue or
                # equipment code scans the whole registry.
                Index(t, (Coalesce(t.rescue_code, ''),
                        Index.Equality(cardinality='high'))),
                Index(t, (Coalesce(t.equipment_code, ''),
                        Index.Equality(cardinality='high'))),
                })
        cls._order = [('registration_code', 'ASC'), ('id', 'ASC')]
        cls._transitions |= {
            ('draft', 'in_use'),
            ('in_use', 'suspended'),
            ('suspended', 'in_use'),
            ('suspended', 'scrapped'),
            }
        cls._buttons.update({
                'put_in_use': {
                    'invisible': ~Eval('state').in_(['draft', 'suspended']),
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'suspend': {
                    'invisible': Eval('state') != 'in_use',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'scrap': {
                    'invisible': Eval('state') != 'suspended',
                    'icon': 'tryton-delete',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_place_category(cls):
        return 'residential'

    @classmethod
    def default_inspection_status(cls):
        return 'unknown'

    @classmethod
    def default_public_token(cls):
        return new_public_token()

    @classmethod
    def default_orphan(cls):
        return False

    # The codes an elevator is found by, in order of precedence: the
    # short rescue code read out on the phone, the registration code, the
    # manufacturer's equipment code, the token of the QR code in the car.
    _lookup_codes = [
        'rescue_code', 'registration_code', 'equipment_code', 'public_token']

    @classmethod
    def find_by_code(cls, code):
        """The elevator whose rescue, registration or equipment code or
        public token is code, among those the user may read, or None.

        Spaces around the code are ignored and a URL stands for its last
        path segment (the public URL of the QR code ends with the token);
        anything but ASCII letters, digits, '-' and '_' is no code."""
        if not isinstance(code, str):
            return None
        code = code.strip()
        if '/' in code:
            code = code.split('?', 1)[0].split('#', 1)[0].rstrip('/')
            code = code.rsplit('/', 1)[-1]
        if (not code or len(code) > 64 or not code.isascii()
                or not all(c.isalnum() or c in '-_' for c in code)):
            return None
        # Each code has its (unique or COALESCE) index, and the record
        # rules of the user apply.
        elevators = cls.search(['OR',
                *((name, '=', code) for name in cls._lookup_codes)])
        for name in cls._lookup_codes:
            for elevator in elevators:
                if getattr(elevator, name) == code:
                    return elevator
        return None

    @classmethod
    def default_has_video(cls):
        return False

    @classmethod
    def get_elevator_count(cls, elevators, name):
        "1 per elevator: what the graph views add up."
        return {e.id: 1 for e in elevators}

    @fields.depends('place', 'latitude', 'longitude', '_parent_place.region',
        '_parent_place.category', '_parent_place.latitude',
        '_parent_place.longitude', '_parent_place.property_company')
    def on_change_place(self):
        if self.place:
            self.region = self.place.region
            self.place_category = self.place.category
            self.property_company = self.place.property_company
            if self.latitude is None:
                self.latitude = self.place.latitude
                self.longitude = self.place.longitude

    def get_rec_name(self, name):
        if self.rescue_code:
            return f'{self.rescue_code} {self.registration_code}'
        return self.registration_code

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('registration_code', operator, operand, *extra),
            ('rescue_code', operator, operand, *extra),
            ('equipment_code', operator, operand, *extra),
            ('place.name', operator, operand, *extra),
            ]

    @classmethod
    def known_authorities(cls):
        "Codes of the regions that may register elevators."
        Region = Pool().get('elevator.region')
        regions = Region.search([
                ('level', 'in', ['city', 'district']),
                ])
        return {r.code for r in regions}

    @classmethod
    def validate_fields(cls, elevators, field_names):
        super().validate_fields(elevators, field_names)
        pool = Pool()
        Configuration = pool.get('elevator.configuration')
        fields_ = {'registration_code', 'equipment_code', 'rescue_code'}
        if field_names is not None and not (fields_ & field_names):
            return
        authorities = cls.known_authorities()
        length = Configuration(1).rescue_code_length
        for elevator in elevators:
            for error in (
                    registration_code_error(
                        elevator.registration_code, authorities),
                    equipment_code_error(elevator.equipment_code),
                    rescue_code_error(elevator.rescue_code, length)):
                if error:
                    msg, params = error
                    raise ValidationError(gettext(msg,
                            elevator=elevator.registration_code, **params))

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            if not values.get('rescue_code'):
                values['rescue_code'] = cls.next_rescue_code()
            if not values.get('public_token'):
                values['public_token'] = new_public_token()
        return values

    @classmethod
    def next_rescue_code(cls):
        pool = Pool()
        Configuration = pool.get('elevator.configuration')
        config = Configuration(1)
        if config.rescue_code_sequence:
            return config.rescue_code_sequence.get()

    @classmethod
    def on_modification(cls, mode, elevators, field_names=None):
        super().on_modification(mode, elevators, field_names=field_names)
        if mode == 'create' or (mode == 'write' and field_names
                and {'region', 'next_inspection_date'} & set(field_names)):
            cls._sync_derived(elevators)

    @classmethod
    def copy(cls, elevators, default=None):
        default = default.copy() if default is not None else {}
        # A copy is a new elevator: it needs its own codes and token.
        default['public_token'] = None
        default['rescue_code'] = None
        default.setdefault('state', 'draft')
        default.setdefault('inspections', None)
        return super().copy(elevators, default=default)

    @classmethod
    def _sync_derived(cls, elevators):
        """Set the district from the region and the inspection status from
        the due date, in set-based SQL for the given elevators."""
        ids = [e.id for e in elevators]
        cls.update_district(ids)
        cls.flag_inspections(ids=ids)
        _invalidate_cache(cls, ids)

    @classmethod
    def update_district(cls, ids=None):
        pool = Pool()
        Region = pool.get('elevator.region')
        table = cls.__table__()
        region = Region.__table__()
        ancestor = Region.__table__()
        cursor = Transaction().connection.cursor()
        district = region.join(ancestor,
            condition=region.path.like(Concat(ancestor.path, '%'))
            ).select(ancestor.id,
            where=(region.id == table.region)
            & ancestor.level.in_(['district', 'zone']),
            limit=1)
        where = _ids_where(table, ids)
        cursor.execute(*table.update([table.district], [district],
                where=where))

    @classmethod
    def flag_inspections(cls, ids=None, today=None):
        """Flag elevators whose inspection is overdue or due within the
        warning period. Run daily by cron; one UPDATE per batch."""
        pool = Pool()
        Date = pool.get('ir.date')
        Configuration = pool.get('elevator.configuration')
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        today = today or Date.today()
        soon = today + dt.timedelta(
            days=Configuration(1).inspection_warning_days)
        status = Case(
            (table.next_inspection_date == Null, 'unknown'),
            (table.next_inspection_date < today, 'overdue'),
            (table.next_inspection_date <= soon, 'due_soon'),
            else_='ok')
        where = _ids_where(table, ids) & (status != Coalesce(
                table.inspection_status, ''))
        cursor.execute(*table.update([table.inspection_status], [status],
                where=where))

    @classmethod
    def cron_flag_inspections(cls):
        "Daily: flag due/overdue inspections and tell district regulators."
        cls.flag_inspections()
        notify_district_regulators(
            cls, [('inspection_status', '=', 'overdue'),
                ('state', '=', 'in_use')],
            'elevator.msg_notify_inspection_overdue')

    @classmethod
    @ModelView.button
    @Workflow.transition('in_use')
    def put_in_use(cls, elevators):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('suspended')
    def suspend(cls, elevators):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('scrapped')
    def scrap(cls, elevators):
        pass


def _invalidate_cache(Model, ids):
    "Forget cached values of records changed behind the ORM's back."
    transaction = Transaction()
    transaction.counter += 1
    for cache in transaction.cache.values():
        if Model.__name__ in cache:
            model_cache = cache[Model.__name__]
            for id_ in ids:
                model_cache.pop(id_, None)


def _ids_where(table, ids):
    "Condition on table.id for ids (None: every row)."
    if ids is None:
        return Literal(True)
    # 'in' of the ORM sends one array parameter on PostgreSQL.
    return SQL_OPERATORS['in'](table.id, ids)


class IdCard(Report):
    "Elevator ID card (PDF with QR code, rescue code and the 96196 hotline)"
    __name__ = 'elevator.elevator.id_card'

    @classmethod
    def _execute(cls, records, header, data, action):
        # Rendered with reportlab rather than a relatorio template: the card
        # needs a QR code and an embedded CJK font.
        from trytond.modules.elevator.reports.fonts import CJKFontNotFound
        from trytond.modules.elevator.reports.idcard import render_id_cards
        Configuration = Pool().get('elevator.configuration')
        try:
            return 'pdf', render_id_cards(records, Configuration(1))
        except CJKFontNotFound as exception:
            raise UserError(gettext('elevator.msg_report_font_missing',
                    detail=str(exception))) from exception
