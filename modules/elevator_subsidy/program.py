"""Subsidy programmes (补助项目): budget, eligibility, amounts per device
type and the approval steps every application goes through."""
from decimal import Decimal

from sql.aggregate import Sum
from sql.conditionals import Case, Coalesce

from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, fields, sequence_ordered)
from trytond.modules.elevator.workflow import Workflow
from trytond.model.exceptions import AccessError, ValidationError
from trytond.model.fields import SQL_OPERATORS
from trytond.modules.elevator.elevator import CATEGORIES
from trytond.pool import Pool
from trytond.pyson import Eval, If, PYSONEncoder
from trytond.transaction import Transaction, without_check_access

AMOUNT_DIGITS = (16, 2)
ZERO = Decimal('0.00')
CENT = Decimal('0.01')

ELIGIBILITY = [
    ('orphan', "Orphan Elevators (三无)"),
    ('low_fund', "Estates without Enough Maintenance Funds"),
    ('public_welfare', "Public-Welfare Elevators"),
    ('any', "Any Elevator in Use"),
    ]
# The device types of elevator_iot (elevator.iot.device.type).
DEVICE_TYPES = [
    ('controller_terminal', "Controller Data Terminal"),
    ('presence_sensor', "Human-Presence Sensor"),
    ('ai_camera', "AI Camera"),
    ('gateway', "Gateway"),
    ]
VIDEO_DEVICE_TYPES = {'ai_camera'}
STEP_LEVELS = [
    ('district', "District of the Application"),
    ('program', "Region of the Programme"),
    ]
# States of applications whose amount is committed or asked for.
COMMITTED_STATES = ['approved', 'paid']
PENDING_STATES = ['submitted', 'under_review']


def to_amount(value):
    "Decimal rounded to the fen (分) from what the database returns."
    if value is None:
        return ZERO
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(CENT)


def region_within(region, ancestors):
    "Whether region is one of the ancestors or below one of them."
    Region = Pool().get('elevator.region')
    ancestors = [int(r) for r in ancestors]
    if region.id in ancestors:
        return True
    with without_check_access():
        return bool(Region.search([
                    ('id', '=', region.id),
                    ('parent', 'child_of', ancestors, 'parent'),
                    ], count=True))


def selection_label(record, field_name, value):
    "The label of value in the selection field, in the user's language."
    selection = record.fields_get([field_name])[field_name]['selection']
    return dict(selection).get(value, value)


def format_amount(value):
    "The amount with thousands separators in the user's language."
    Lang = Pool().get('ir.lang')
    return Lang.get().format_number(to_amount(value), digits=2)


class Program(Workflow, ModelSQL, ModelView):
    "Subsidy Programme"
    __string__ = "Subsidy Programme"
    __name__ = 'elevator.subsidy.program'
    _history = True

    _draft = {'readonly': Eval('state') != 'draft'}
    _closed = {'readonly': Eval('state') == 'closed'}

    name = fields.Char("Name", required=True, states=_closed)
    year = fields.Integer("Year", required=True, states=_draft)
    region = fields.Many2One('elevator.region', "Region", required=True,
        ondelete='RESTRICT', states=_draft,
        domain=[('level', 'in', ['city', 'district', 'zone'])],
        help="Elevators of this region and of the regions below it may "
        "be subsidised.")
    budget = fields.Numeric("Budget (yuan)", digits=AMOUNT_DIGITS,
        required=True, states=_closed,
        domain=[('budget', '>=', 0)])
    eligibility = fields.MultiSelection(ELIGIBILITY, "Eligible Elevators",
        sort=False, states=_draft,
        help="Elevators of at least one of these kinds may be subsidised.")
    categories = fields.MultiSelection(CATEGORIES, "Elevator Categories",
        sort=False, states=_draft,
        help="Leave empty for every category.")
    max_per_elevator = fields.Numeric("Maximum per Elevator (yuan)",
        digits=AMOUNT_DIGITS, states=_draft,
        domain=[If(Eval('max_per_elevator'),
                ('max_per_elevator', '>', 0), ())],
        help="Upper limit of the subsidy of one elevator, whatever the "
        "devices.")
    window_start = fields.Date("Applications From", required=True,
        states=_closed)
    window_end = fields.Date("Applications Until", required=True,
        states=_closed,
        domain=[If(Eval('window_start') & Eval('window_end'),
                ('window_end', '>=', Eval('window_start')), ())])
    description = fields.Text("Description")
    rates = fields.One2Many('elevator.subsidy.program.rate', 'program',
        "Amounts per Device", states=_draft)
    steps = fields.One2Many('elevator.subsidy.program.step', 'program',
        "Approval Steps", states=_draft,
        help="Every application goes through these steps in order.")
    state = fields.Selection([
            ('draft', "Draft"),
            ('open', "Open"),
            ('closed', "Closed"),
            ], "State", readonly=True, required=True, sort=False)
    committed_amount = fields.Function(fields.Numeric("Committed (yuan)",
            digits=AMOUNT_DIGITS,
            help="Approved amounts, paid or not."), 'get_amounts')
    paid_amount = fields.Function(fields.Numeric("Paid (yuan)",
            digits=AMOUNT_DIGITS), 'get_amounts')
    pending_amount = fields.Function(fields.Numeric("Under Review (yuan)",
            digits=AMOUNT_DIGITS,
            help="Requested by applications being reviewed."), 'get_amounts')
    available_amount = fields.Function(fields.Numeric("Available (yuan)",
            digits=AMOUNT_DIGITS,
            help="Budget not yet committed."), 'get_amounts')
    applications = fields.One2Many('elevator.subsidy.application',
        'program', "Applications", readonly=True)

    del _draft, _closed

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.state, Index.Equality())))
        cls._order = [('year', 'DESC'), ('name', 'ASC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'open'),
            ('open', 'draft'),
            ('open', 'closed'),
            ('closed', 'open'),
            }
        cls._buttons.update({
                'draft': {
                    'invisible': Eval('state') != 'open',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'open': {
                    'invisible': Eval('state') == 'open',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': Eval('state') != 'open',
                    'icon': 'tryton-close',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_year(cls):
        return Pool().get('ir.date').today().year

    @classmethod
    def default_eligibility(cls):
        return ['orphan', 'low_fund', 'public_welfare']

    @classmethod
    def default_categories(cls):
        return ['3110', '3120', '3130', '3200']

    @classmethod
    def get_amounts(cls, programs, names):
        pool = Pool()
        Application = pool.get('elevator.subsidy.application')
        Line = pool.get('elevator.subsidy.application.line')
        application = Application.__table__()
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        ids = [p.id for p in programs]
        committed = {i: ZERO for i in ids}
        paid = {i: ZERO for i in ids}
        pending = {i: ZERO for i in ids}
        cursor.execute(*application.select(
                application.program,
                Sum(Case((application.state.in_(COMMITTED_STATES),
                            Coalesce(application.approved_amount, 0)),
                        else_=0)),
                Sum(Case((application.state == 'paid',
                            Coalesce(application.paid_amount, 0)),
                        else_=0)),
                where=SQL_OPERATORS['in'](application.program, ids),
                group_by=[application.program]))
        for program, committed_, paid_ in cursor:
            committed[program] = to_amount(committed_)
            paid[program] = to_amount(paid_)
        cursor.execute(*line.join(application,
                condition=line.application == application.id
                ).select(
                application.program,
                Sum(Coalesce(line.amount, 0)),
                where=SQL_OPERATORS['in'](application.program, ids)
                & application.state.in_(PENDING_STATES),
                group_by=[application.program]))
        for program, amount in cursor:
            pending[program] = to_amount(amount)
        result = {
            'committed_amount': committed,
            'paid_amount': paid,
            'pending_amount': pending,
            'available_amount': {p.id: to_amount(p.budget) - committed[p.id]
                for p in programs},
            }
        return {n: result[n] for n in names}

    def get_rec_name(self, name):
        return f'{self.year} {self.name}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('name',) + tuple(clause[1:])]

    @classmethod
    def check_modification(cls, mode, programs, values=None, external=False):
        super().check_modification(mode, programs, values=values,
            external=external)
        if mode == 'delete':
            for program in programs:
                if program.state != 'draft':
                    raise AccessError(gettext(
                            'elevator_subsidy.msg_program_delete',
                            program=program.rec_name))
        elif external and (
                (mode == 'write' and 'state' in values)
                or (mode == 'create'
                    and any(p.state != 'draft' for p in programs))):
            # Opening checks the programme: only the buttons change states.
            raise AccessError(gettext(
                    'elevator_subsidy.msg_application_workflow_fields',
                    fields='state'))

    @classmethod
    def validate_fields(cls, programs, field_names):
        super().validate_fields(programs, field_names)
        if field_names is None or 'budget' in field_names:
            cls.check_budget(programs)

    @classmethod
    def check_budget(cls, programs):
        "The budget may not go below what is already committed."
        programs = [p for p in programs if p.id is not None and p.id >= 0]
        if not programs:
            return
        committed = cls.get_amounts(programs, ['committed_amount'])[
            'committed_amount']
        for program in programs:
            if to_amount(program.budget) < committed[program.id]:
                raise ValidationError(gettext(
                        'elevator_subsidy.msg_budget_below_committed',
                        program=program.rec_name,
                        budget=format_amount(program.budget),
                        committed=format_amount(committed[program.id])))

    @classmethod
    def copy(cls, programs, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('applications', None)
        return super().copy(programs, default=default)

    # Eligibility and amounts

    def elevator_error(self, elevator):
        """Return (message id, parameters) saying why the elevator may not
        be subsidised by the programme, or None."""
        params = {
            'elevator': elevator.rec_name,
            'program': self.rec_name,
            }
        if elevator.state != 'in_use':
            return 'elevator_subsidy.msg_elevator_not_in_use', params
        if not region_within(elevator.region, [self.region]):
            return 'elevator_subsidy.msg_elevator_outside_region', dict(
                params, region=self.region.rec_name)
        if self.categories and elevator.category not in self.categories:
            return 'elevator_subsidy.msg_elevator_category', dict(
                params, category=selection_label(
                    elevator, 'category', elevator.category))
        if not self.is_eligible_kind(elevator):
            return 'elevator_subsidy.msg_elevator_not_eligible', dict(
                params, eligibility=', '.join(self.eligibility_labels()))

    def is_eligible_kind(self, elevator):
        kinds = set(self.eligibility or [])
        place = elevator.place
        return bool(
            'any' in kinds
            or ('orphan' in kinds and elevator.orphan)
            or ('low_fund' in kinds and place
                and place.low_maintenance_fund)
            or ('public_welfare' in kinds and place and place.public_welfare))

    def eligibility_labels(self):
        return [selection_label(self, 'eligibility', k)
            for k, _ in ELIGIBILITY if k in (self.eligibility or [])]

    @property
    def rate_amounts(self):
        return {r.device_type: to_amount(r.amount) for r in self.rates}

    def line_amount(self, device_types):
        "Subsidy of one elevator for the device types."
        rates = self.rate_amounts
        amount = sum((rates.get(t, ZERO) for t in device_types or []), ZERO)
        if self.max_per_elevator:
            amount = min(amount, to_amount(self.max_per_elevator))
        return to_amount(amount)

    def route(self, amount):
        "The steps an application of this amount goes through, in order."
        amount = to_amount(amount)
        return [s for s in self.steps
            if not s.minimum_amount or amount >= s.minimum_amount]

    # Workflow

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, programs):
        pool = Pool()
        Application = pool.get('elevator.subsidy.application')
        for program in programs:
            submitted = Application.search([
                    ('program', '=', program.id),
                    ('state', 'not in', ['draft', 'cancelled']),
                    ], limit=1)
            if submitted:
                raise AccessError(gettext(
                        'elevator_subsidy.msg_program_draft_submitted',
                        program=program.rec_name,
                        application=submitted[0].rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('open')
    def open(cls, programs):
        for program in programs:
            if not program.eligibility:
                raise ValidationError(gettext(
                        'elevator_subsidy.msg_program_no_eligibility',
                        program=program.rec_name))
            if not program.rates:
                raise ValidationError(gettext(
                        'elevator_subsidy.msg_program_no_rates',
                        program=program.rec_name))
            if not program.steps:
                raise ValidationError(gettext(
                        'elevator_subsidy.msg_program_no_steps',
                        program=program.rec_name))
            if program.steps[0].minimum_amount:
                raise ValidationError(gettext(
                        'elevator_subsidy.msg_program_first_step_amount',
                        program=program.rec_name,
                        step=program.steps[0].name))

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, programs):
        pass


class _ProgramPart(ModelSQL):
    "Parts of a programme are its configuration: fixed once it is open."
    __slots__ = ()

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('program')

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(mode, records, values=values,
            external=external)
        if mode == 'write' and 'button_rule' in values:
            if external:
                raise AccessError(gettext(
                        'elevator_subsidy.msg_application_workflow_fields',
                        fields='button_rule'))
            if set(values) == {'button_rule'}:
                return
        for record in records:
            if record.program.state != 'draft':
                raise AccessError(gettext(
                        'elevator_subsidy.msg_program_frozen',
                        program=record.program.rec_name))


class ProgramRate(_ProgramPart, ModelView):
    "Subsidy Amount per Device Type"
    __string__ = "Subsidy Amount per Device Type"
    __name__ = 'elevator.subsidy.program.rate'

    program = fields.Many2One('elevator.subsidy.program', "Programme",
        required=True, ondelete='CASCADE')
    device_type = fields.Selection(DEVICE_TYPES, "Device Type",
        required=True, sort=False)
    amount = fields.Numeric("Amount per Elevator (yuan)",
        digits=AMOUNT_DIGITS, required=True,
        domain=[('amount', '>', 0)])

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('device_type_unique', Unique(t, t.program, t.device_type),
                'elevator_subsidy.msg_rate_device_type_unique'),
            ]


class ProgramStep(sequence_ordered(), _ProgramPart, ModelView):
    "Subsidy Approval Step"
    __string__ = "Subsidy Approval Step"
    __name__ = 'elevator.subsidy.program.step'

    program = fields.Many2One('elevator.subsidy.program', "Programme",
        required=True, ondelete='CASCADE')
    name = fields.Char("Name", required=True,
        help="For example: district market supervision, district finance.")
    group = fields.Many2One('res.group', "Deciding Group", required=True,
        ondelete='RESTRICT',
        help="Members of this group decide at this step.")
    level = fields.Selection(STEP_LEVELS, "Decided for", required=True,
        sort=False,
        help="Which region the deciders must supervise: the district of "
        "the application's elevators, or the programme's region. Users "
        "without supervised regions act for the whole city.")
    number_user = fields.Integer("Persons Required", required=True,
        domain=[('number_user', '>=', 1), ('number_user', '<=', 5)],
        help="Number of different members of the group who must approve "
        "(2 for the two-person rule).")
    minimum_amount = fields.Numeric("Only from Amount (yuan)",
        digits=AMOUNT_DIGITS,
        domain=[If(Eval('minimum_amount'),
                ('minimum_amount', '>', 0), ())],
        help="Leave empty for every application; otherwise the step "
        "applies only to applications requesting at least this amount.")
    button_rule = fields.Many2One('ir.model.button.rule', "Button Rule",
        readonly=True, ondelete='SET NULL',
        help="Rule of the Approve button that counts the approvals of "
        "this step.")

    @classmethod
    def default_level(cls):
        return 'district'

    @classmethod
    def default_number_user(cls):
        return 1

    def get_rec_name(self, name):
        return self.name

    @classmethod
    def copy(cls, steps, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('button_rule', None)
        return super().copy(steps, default=default)

    @classmethod
    def on_modification(cls, mode, steps, field_names=None):
        super().on_modification(mode, steps, field_names=field_names)
        if mode == 'create' or (mode == 'write'
                and {'group', 'number_user', 'name'} & set(field_names)):
            cls.sync_button_rules(steps)

    @classmethod
    def on_delete(cls, steps):
        callbacks = super().on_delete(steps)
        rules = [s.button_rule for s in steps if s.button_rule]
        if rules:
            def delete_rules():
                ButtonRule = Pool().get('ir.model.button.rule')
                with without_check_access():
                    ButtonRule.delete(ButtonRule.browse(rules))
            callbacks.append(delete_rules)
        return callbacks

    @classmethod
    def sync_button_rules(cls, steps):
        """Give each step of several persons a rule on the Approve button of
        applications: the step completes when that many different members
        of its group have clicked (ir.model.button.rule, number_user)."""
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        ButtonRule = pool.get('ir.model.button.rule')
        button = ModelData.get_id('elevator_subsidy',
            'application_approve_button')
        encoder = PYSONEncoder()
        to_create, created_for, to_write, to_delete = [], [], [], []
        for step in steps:
            values = {
                'button': button,
                'description': f'{step.program.rec_name}: {step.name}',
                'number_user': step.number_user,
                'group': step.group.id,
                'condition': encoder.encode(
                    Eval('self.step', -1) == step.id),
                }
            if step.number_user > 1:
                if step.button_rule:
                    to_write.extend(([step.button_rule], values))
                else:
                    to_create.append(values)
                    created_for.append(step)
            elif step.button_rule:
                to_delete.append(step.button_rule)
        with without_check_access():
            if to_write:
                ButtonRule.write(*to_write)
            if to_create:
                rules = ButtonRule.create(to_create)
                args = []
                for step, rule in zip(created_for, rules):
                    args.extend(([step], {'button_rule': rule.id}))
                cls.write(*args)
            if to_delete:
                cls.write([s for s in steps if s.button_rule in to_delete],
                    {'button_rule': None})
                ButtonRule.delete(to_delete)
