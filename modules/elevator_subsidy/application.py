"""Subsidy applications (补助申请) from user units, property companies and
investors, reviewed step by step as the programme configures it.

Who may decide is data: each step of the programme names a group, the
region the decider must supervise and how many different people must
approve. The two-person rule is Tryton's own: each step of several persons
has an ir.model.button.rule on the Approve button (number_user, group),
which lets the step complete only when enough different members clicked.
Every action is kept as an `elevator.subsidy.decision` (who, when, comment)
and an approved application's amount and elevators are frozen."""
import datetime as dt
from collections import defaultdict
from functools import wraps

from sql.aggregate import Sum
from sql.conditionals import Coalesce

from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, fields)
from trytond.modules.elevator.attachment import IMAGE_TYPES, PDF_TYPES
from trytond.modules.elevator.workflow import Workflow
from trytond.model.exceptions import AccessError, ValidationError
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.transaction import Transaction, without_check_access
from trytond.modules.elevator.common import Timestamp

from .program import (
    AMOUNT_DIGITS, COMMITTED_STATES, DEVICE_TYPES, PENDING_STATES, ZERO,
    format_amount, region_within, selection_label, to_amount)

STATES = [
    ('draft', "Draft"),
    ('submitted', "Submitted"),
    ('under_review', "Under Review"),
    ('returned', "Returned"),
    ('approved', "Approved"),
    ('paid', "Paid"),
    ('rejected', "Rejected"),
    ('cancelled', "Withdrawn"),
    ]
# The applicant may change the application in these states.
EDITABLE_STATES = ['draft', 'returned']
FINAL_STATES = ['paid', 'rejected', 'cancelled']
ACTIONS = [
    ('submit', "Submitted"),
    ('withdraw', "Withdrawn"),
    ('review', "Accepted for Review"),
    ('approve', "Approved"),
    ('return', "Returned"),
    ('reject', "Rejected"),
    ('pay', "Paid"),
    ]
DOCUMENT_TYPES = [
    (None, ""),
    ('invoice', "Invoice"),
    ('photo', "Installation Photo"),
    ('acceptance_report', "Acceptance Report"),
    ('other', "Other"),
    ]
# Documents the finance clerk needs before paying.
PAYMENT_DOCUMENTS = ['invoice', 'acceptance_report']
# Fields that only the workflow writes.
WORKFLOW_FIELDS = {
    'number', 'state', 'step', 'district', 'reached_groups', 'submitted_at',
    'approved_amount', 'approved_at', 'paid_amount', 'decisions'}
# What users may still change once the applicant no longer may.
STILL_EDITABLE = {
    'submitted': {'comment', 'attachments'},
    'under_review': {'comment', 'attachments'},
    'approved': {'comment', 'attachments', 'payment_reference', 'paid_date'},
    }
INSTALLATION_ORDER = ['none', 'planned', 'installed', 'connected', 'accepted']


def decision(action):
    """Check that the current user may take action on the applications
    (with a clear message when not), run the button and record one decision
    per application with the step and comment it had before.

    It wraps ModelView.button: the Approve button's rules may keep an
    application at its step until enough persons clicked, but every click is
    a decision on record."""
    def decorator(func):
        @wraps(func)
        def wrapper(cls, applications, *args, **kwargs):
            transaction = Transaction()
            if transaction.user and transaction.check_access:
                # The record rules first, as the button itself does.
                cls.read([a.id for a in applications], ['state'])
            cls.check_action(applications, action)
            before = [(a, a.decision_step, a.comment, a.amount)
                for a in applications]
            result = func(cls, applications, *args, **kwargs)
            cls.record_decisions(action, before)
            return result
        return wrapper
    return decorator


class Application(Workflow, ModelSQL, ModelView):
    "Subsidy Application"
    __string__ = "Subsidy Application"
    __name__ = 'elevator.subsidy.application'
    _rec_name = 'number'
    _history = True
    # Invoices, acceptance reports, photos: PDF or images (by content).
    _attachment_types = PDF_TYPES | IMAGE_TYPES

    _editable = {'readonly': ~Eval('state').in_(EDITABLE_STATES)}

    number = fields.Char("Number", readonly=True)
    # The client offers the open programmes for a new application; the
    # server checks the programme at submission with a clear message (a
    # programme may close while an application is returned).
    program = fields.Many2One('elevator.subsidy.program', "Programme",
        required=True, ondelete='RESTRICT', states=_editable,
        domain=[If(Eval('id', -1) < 0, ('state', '=', 'open'), ())])
    applicant = fields.Many2One('party.party', "Applicant", required=True,
        ondelete='RESTRICT', states=_editable,
        domain=['OR',
            ('is_user_unit', '=', True),
            ('is_property_company', '=', True),
            ('is_investor', '=', True),
            ],
        help="The user unit, property company or investor that applies.")
    contact_name = fields.Char("Contact", states=_editable)
    contact_phone = fields.Char("Contact Phone", states=_editable)
    description = fields.Text("Description", states=_editable)
    district = fields.Many2One('elevator.region', "District", readonly=True,
        ondelete='RESTRICT',
        help="District of the application's elevators.")
    lines = fields.One2Many('elevator.subsidy.application.line',
        'application', "Elevators",
        states={
            'readonly': (~Eval('state').in_(EDITABLE_STATES)
                | ~Eval('program')),
            })
    amount = fields.Function(fields.Numeric("Requested (yuan)",
            digits=AMOUNT_DIGITS), 'get_amount')
    approved_amount = fields.Numeric("Approved (yuan)",
        digits=AMOUNT_DIGITS, readonly=True)
    paid_amount = fields.Numeric("Paid (yuan)", digits=AMOUNT_DIGITS,
        readonly=True)
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    step = fields.Many2One('elevator.subsidy.program.step', "Current Step",
        readonly=True, ondelete='RESTRICT')
    step_approvals = fields.Function(fields.Char("Approvals at this Step"),
        'get_step_approvals')
    reached_groups = fields.Many2Many(
        'elevator.subsidy.application-res.group', 'application', 'group',
        "Groups Reached", readonly=True,
        help="Groups whose step the application has reached.")
    comment = fields.Text("Comment",
        states={'readonly': Eval('state').in_(FINAL_STATES)},
        help="Recorded with your next action (submit, approve, return, "
        "reject, pay) and then cleared. Returning or rejecting needs one.")
    decisions = fields.One2Many('elevator.subsidy.decision', 'application',
        "Decisions", readonly=True)
    submitted_at = Timestamp("Submitted at", readonly=True)
    approved_at = Timestamp("Approved at", readonly=True)
    paid_date = fields.Date("Payment Date",
        states={'readonly': Eval('state') != 'approved'})
    payment_reference = fields.Char("Payment Reference",
        states={
            'readonly': Eval('state') != 'approved',
            'required': Eval('state') == 'paid',
            },
        help="Number of the payment voucher of the treasury.")
    attachments = fields.One2Many('ir.attachment', 'resource', "Documents",
        states={'readonly': Eval('state').in_(FINAL_STATES)},
        help="Invoices, photos and the acceptance report; the invoice and "
        "the acceptance report are needed for the payment.")
    installation_projects = fields.One2Many('elevator.installation.project',
        'application', "Installation Projects", readonly=True)
    installations_accepted = fields.Function(fields.Boolean(
            "Installations Accepted",
            help="Every planned device is installed and accepted."),
        'get_installations_accepted')
    can_decide = fields.Function(fields.Boolean("Can Decide"),
        'get_can_decide')

    del _editable

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('number_unique', Unique(t, t.number),
                'elevator_subsidy.msg_application_number_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.program, Index.Range()),
                    (t.state, Index.Equality())),
                Index(t, (t.applicant, Index.Range())),
                Index(t, (t.district, Index.Range())),
                Index(t, (t.state, Index.Equality())),
                })
        cls._order = [('number', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'submitted'),
            ('returned', 'submitted'),
            ('draft', 'cancelled'),
            ('returned', 'cancelled'),
            ('submitted', 'under_review'),
            ('under_review', 'approved'),
            ('submitted', 'returned'),
            ('under_review', 'returned'),
            ('submitted', 'rejected'),
            ('under_review', 'rejected'),
            ('approved', 'paid'),
            }
        decide = ~Eval('can_decide', False)
        cls._buttons.update({
                'submit': {
                    'invisible': ~Eval('state').in_(EDITABLE_STATES),
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'withdraw': {
                    'invisible': ~Eval('state').in_(EDITABLE_STATES),
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'review': {
                    'invisible': (Eval('state') != 'submitted') | decide,
                    'icon': 'tryton-forward',
                    'depends': ['state', 'can_decide'],
                    },
                'approve': {
                    'invisible': (Eval('state') != 'under_review') | decide,
                    'icon': 'tryton-ok',
                    'depends': ['state', 'can_decide'],
                    },
                'return_to_applicant': {
                    'invisible': (~Eval('state').in_(PENDING_STATES)
                        | decide),
                    'icon': 'tryton-back',
                    'depends': ['state', 'can_decide'],
                    },
                'reject': {
                    'invisible': (~Eval('state').in_(PENDING_STATES)
                        | decide),
                    'icon': 'tryton-cancel',
                    'depends': ['state', 'can_decide'],
                    },
                'pay': {
                    'invisible': Eval('state') != 'approved',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'plan_installation': {
                    'invisible': ~Eval('state').in_(COMMITTED_STATES),
                    'icon': 'tryton-launch',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_applicant(cls):
        "The unit the user acts for, when there is one."
        User = Pool().get('res.user')
        _, units = User.get_elevator_scope()
        if len(units) == 1:
            return units[0]

    @classmethod
    def default_program(cls):
        Program = Pool().get('elevator.subsidy.program')
        programs = Program.search([('state', '=', 'open')], limit=2)
        if len(programs) == 1:
            return programs[0].id

    @classmethod
    def get_amount(cls, applications, name):
        Line = Pool().get('elevator.subsidy.application.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        ids = [a.id for a in applications]
        amounts = dict.fromkeys(ids, ZERO)
        cursor.execute(*line.select(line.application,
                Sum(Coalesce(line.amount, 0)),
                where=SQL_OPERATORS['in'](line.application, ids),
                group_by=[line.application]))
        for application, amount in cursor:
            amounts[application] = to_amount(amount)
        return amounts

    def get_rec_name(self, name):
        return self.number or str(self.id)

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('number', operator, operand, *extra),
            ('applicant.name', operator, operand, *extra),
            ]

    # Route through the programme's steps

    @property
    def route(self):
        return self.program.route(self.amount)

    @property
    def first_step(self):
        route = self.route
        return route[0] if route else None

    @property
    def next_step(self):
        route = self.route
        if self.step in route:
            index = route.index(self.step)
            if index + 1 < len(route):
                return route[index + 1]

    @property
    def decision_step(self):
        "The step a reviewer decides at now."
        if self.state == 'under_review':
            return self.step
        if self.state == 'submitted':
            return self.first_step

    def is_own(self, user_id=None):
        "Whether the user acts for the applicant or wrote the application."
        User = Pool().get('res.user')
        user_id = Transaction().user if user_id is None else user_id
        _, units = User.get_elevator_scope()
        return (self.applicant.id in units
            or (self.create_uid and self.create_uid.id == user_id))

    def decider_error(self, action):
        """Return (message id, parameters) saying why the current user may
        not take action (review, approve, return, reject), or None."""
        pool = Pool()
        User = pool.get('res.user')
        user_id = Transaction().user
        params = {'application': self.rec_name}
        if action == 'review' and self.state != 'submitted':
            return 'elevator_subsidy.msg_application_not_submitted', dict(
                params, state=selection_label(self, 'state', self.state))
        if action == 'approve' and self.state != 'under_review':
            return 'elevator_subsidy.msg_application_not_under_review', dict(
                params, state=selection_label(self, 'state', self.state))
        if (action in {'return', 'reject'}
                and self.state not in PENDING_STATES):
            return 'elevator_subsidy.msg_application_not_pending', dict(
                params, state=selection_label(self, 'state', self.state))
        step = self.decision_step
        if not step:
            return 'elevator_subsidy.msg_application_no_step', params
        if user_id == 0:
            return
        if self.is_own(user_id):
            return 'elevator_subsidy.msg_own_application', params
        params['step'] = step.name
        user = User(user_id)
        if step.group not in user.groups:
            return 'elevator_subsidy.msg_not_step_group', dict(
                params, group=step.group.rec_name)
        region = (self.district if step.level == 'district'
            else self.program.region)
        if not _covers(region):
            return 'elevator_subsidy.msg_step_region', dict(params,
                region=region.rec_name if region else '-')
        if action == 'approve' and user_id in self.step_approvers():
            return 'elevator_subsidy.msg_already_approved', dict(params,
                number=step.number_user)

    def step_approvers(self):
        "Users whose approval of the current step is counted."
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        ButtonClick = pool.get('ir.model.button.click')
        if self.state != 'under_review':
            return []
        button = ModelData.get_id('elevator_subsidy',
            'application_approve_button')
        with without_check_access():
            clicks = ButtonClick.search([
                    ('button', '=', button),
                    ('record_id', '=', self.id),
                    ], order=[('id', 'ASC')])
            return list(dict.fromkeys(c.user.id for c in clicks if c.user))

    @classmethod
    def get_can_decide(cls, applications, name):
        result = {}
        for application in applications:
            action = ('approve' if application.state == 'under_review'
                else 'review')
            result[application.id] = (
                application.state in PENDING_STATES
                and application.decider_error(action) is None)
        return result

    @classmethod
    def get_step_approvals(cls, applications, name):
        User = Pool().get('res.user')
        result = {}
        for application in applications:
            step = application.step
            if application.state != 'under_review' or not step:
                result[application.id] = None
                continue
            with without_check_access():
                names = [u.rec_name for u in User.browse(
                        application.step_approvers())]
            text = f'{len(names)} / {step.number_user}'
            if names:
                text += ': ' + ', '.join(names)
            result[application.id] = text
        return result

    # Installations

    def missing_installations(self):
        """Return [(line, device types)] of the planned devices that are not
        accepted yet."""
        ProjectLine = Pool().get('elevator.installation.project.line')
        elevators = [l.elevator.id for l in self.lines]
        with without_check_access():
            accepted = {(l.elevator.id, l.device_type)
                for l in ProjectLine.search([
                        ('elevator', 'in', elevators),
                        ('state', '=', 'accepted'),
                        ])}
        missing = []
        for line in self.lines:
            types = [t for t in line.device_types
                if (line.elevator.id, t) not in accepted]
            if types:
                missing.append((line, types))
        return missing

    @classmethod
    def get_installations_accepted(cls, applications, name):
        return {a.id: bool(a.lines) and not a.missing_installations()
            for a in applications}

    # Modification rules

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            Configuration = Pool().get('elevator.configuration')
            sequence = Configuration(1).get_subsidy_sequence(
                'subsidy_application_sequence')
            values['number'] = sequence.get()
        return values

    @classmethod
    def check_modification(cls, mode, applications, values=None,
            external=False):
        super().check_modification(mode, applications, values=values,
            external=external)
        if mode == 'create' and external:
            # A new application starts as a draft, whatever the client sends.
            for application in applications:
                set_ = [f for f in sorted(
                        WORKFLOW_FIELDS - {'number', 'district', 'state'})
                    if getattr(application, f)]
                if application.state != 'draft':
                    set_.insert(0, 'state')
                if set_:
                    raise AccessError(gettext(
                            'elevator_subsidy.msg_application_workflow_fields',
                            fields=', '.join(set_)))
        elif mode == 'delete':
            for application in applications:
                if application.state != 'draft' or application.decisions:
                    raise AccessError(gettext(
                            'elevator_subsidy.msg_application_delete',
                            application=application.rec_name))
        elif mode == 'write' and external:
            fields_ = set(values)
            if fields_ & WORKFLOW_FIELDS:
                raise AccessError(gettext(
                        'elevator_subsidy.msg_application_workflow_fields',
                        fields=', '.join(sorted(fields_ & WORKFLOW_FIELDS))))
            for application in applications:
                if application.state in EDITABLE_STATES:
                    continue
                allowed = STILL_EDITABLE.get(application.state, set())
                if fields_ - allowed:
                    if application.state in COMMITTED_STATES:
                        message = 'elevator_subsidy.msg_application_frozen'
                    else:
                        message = 'elevator_subsidy.msg_application_locked'
                    raise AccessError(gettext(message,
                            application=application.rec_name,
                            state=selection_label(
                                application, 'state', application.state)))
                if 'comment' in fields_ and application.is_own():
                    raise AccessError(gettext(
                            'elevator_subsidy.msg_application_comment_own',
                            application=application.rec_name))

    @classmethod
    def on_modification(cls, mode, applications, field_names=None):
        super().on_modification(mode, applications, field_names=field_names)
        if mode == 'write' and 'program' in field_names:
            Line = Pool().get('elevator.subsidy.application.line')
            Line.update_amounts(sum((a.lines for a in applications), ()))

    @classmethod
    def update_district(cls, ids):
        """Set the district of the applications from their elevators, in one
        UPDATE."""
        pool = Pool()
        Line = pool.get('elevator.subsidy.application.line')
        Elevator = pool.get('elevator.elevator')
        table = cls.__table__()
        line = Line.__table__()
        elevator = Elevator.__table__()
        cursor = Transaction().connection.cursor()
        district = line.join(elevator,
            condition=line.elevator == elevator.id
            ).select(elevator.district,
            where=line.application == table.id,
            order_by=[line.id.asc], limit=1)
        cursor.execute(*table.update([table.district], [district],
                where=SQL_OPERATORS['in'](table.id, ids)))
        _forget(cls, ids)

    @classmethod
    def copy(cls, applications, default=None):
        default = default.copy() if default is not None else {}
        for name in ['number', 'step', 'district', 'submitted_at',
                'approved_amount', 'approved_at', 'paid_amount', 'paid_date',
                'payment_reference', 'comment']:
            default.setdefault(name, None)
        for name in ['decisions', 'reached_groups', 'attachments',
                'installation_projects']:
            default.setdefault(name, None)
        return super().copy(applications, default=default)

    # Actions

    @classmethod
    def check_action(cls, applications, action):
        "Raise a clear error when the user may not take action."
        for application in applications:
            if action in {'submit', 'withdraw'}:
                if application.state not in EDITABLE_STATES:
                    raise AccessError(gettext(
                            'elevator_subsidy.msg_application_not_editable',
                            application=application.rec_name,
                            state=selection_label(
                                application, 'state', application.state)))
            elif action == 'pay':
                if application.state != 'approved':
                    raise AccessError(gettext(
                            'elevator_subsidy.msg_application_not_approved',
                            application=application.rec_name,
                            state=selection_label(
                                application, 'state', application.state)))
            else:
                error = application.decider_error(action)
                if error:
                    message, params = error
                    raise AccessError(gettext(message, **params))
                if action in {'return', 'reject'} and not (
                        application.comment or '').strip():
                    raise ValidationError(gettext(
                            'elevator_subsidy.msg_reason_required',
                            application=application.rec_name))

    @classmethod
    def record_decisions(cls, action, before):
        """Keep who took action, when, at which step, with which comment;
        clear the comments and tell the people concerned."""
        pool = Pool()
        Decision = pool.get('elevator.subsidy.decision')
        transaction = Transaction()
        now = dt.datetime.now()
        vlist = []
        for application, step, comment, amount in before:
            if action == 'pay':
                amount = application.approved_amount
            vlist.append({
                    'application': application.id,
                    'action': action,
                    'step': step.id if step else None,
                    'step_name': step.name if step else None,
                    'user': transaction.user,
                    'date': now,
                    'comment': comment,
                    'amount': amount,
                    })
        with without_check_access():
            Decision.create(vlist)
            applications = cls.browse([a for a, *_ in before])
            commented = [a for a, _, comment, _ in before if comment]
            if commented:
                cls.write(cls.browse(commented), {'comment': None})
        cls.notify(applications, action)

    @classmethod
    @decision('submit')
    @ModelView.button
    @Workflow.transition('submitted')
    def submit(cls, applications):
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        Date = pool.get('ir.date')
        today = Date.today()
        if not applications:
            return
        # One submission at a time per elevator: the double-subsidy check
        # sees the others.
        Elevator.lock(list({l.elevator for a in applications
                    for l in a.lines}))
        for application in applications:
            application.check_submittable(today)
        cls.write(applications, {
                'submitted_at': dt.datetime.now(),
                'step': None,
                })

    def check_submittable(self, today):
        params = {'application': self.rec_name,
            'program': self.program.rec_name}
        program = self.program
        if program.state != 'open':
            raise AccessError(gettext(
                    'elevator_subsidy.msg_program_not_open', **params))
        if not program.window_start <= today <= program.window_end:
            raise AccessError(gettext(
                    'elevator_subsidy.msg_program_window', **params,
                    start=program.window_start, end=program.window_end))
        if not self.lines:
            raise ValidationError(gettext(
                    'elevator_subsidy.msg_application_no_lines', **params))
        Line = Pool().get('elevator.subsidy.application.line')
        Line.check_lines(self.lines)
        if not self.amount:
            raise ValidationError(gettext(
                    'elevator_subsidy.msg_application_no_amount', **params))

    @classmethod
    @decision('withdraw')
    @ModelView.button
    @Workflow.transition('cancelled')
    def withdraw(cls, applications):
        pass

    @classmethod
    @decision('review')
    @ModelView.button
    @Workflow.transition('under_review')
    def review(cls, applications):
        cls.enter_steps([(a, a.first_step) for a in applications])

    @classmethod
    def enter_steps(cls, moves):
        "Put applications at steps (application, step) and tell deciders."
        args = []
        for application, step in moves:
            args.extend(([application], {
                        'step': step.id,
                        'reached_groups': [('add', [step.group.id])],
                        }))
        if args:
            cls.write(*args)

    @classmethod
    @decision('approve')
    @ModelView.button
    def approve(cls, applications):
        # Called by the button with the applications whose step has enough
        # approvals (ir.model.button.rule of the step).
        pool = Pool()
        ButtonClick = pool.get('ir.model.button.click')
        moves, final = [], []
        for application in applications:
            next_step = application.next_step
            if next_step:
                moves.append((application, next_step))
            else:
                final.append(application)
        cls.enter_steps(moves)
        if final:
            cls.commit_budget(final)
            now = dt.datetime.now()
            cls.write(*sum((([a], {
                                'state': 'approved',
                                'step': None,
                                'approved_amount': a.amount,
                                'approved_at': now,
                                }) for a in final), ()))
            cls.log(final, 'transition', 'state:approved')
        # The next step counts its own approvals.
        ButtonClick.reset(cls.__name__, ['approve'], applications)

    @classmethod
    def commit_budget(cls, applications):
        """Refuse to commit more than the programmes' budgets; the programmes
        are locked so that concurrent approvals are counted."""
        Program = Pool().get('elevator.subsidy.program')
        by_program = defaultdict(list)
        for application in applications:
            by_program[application.program].append(application)
        programs = list(by_program)
        Program.lock(programs)
        committed = Program.get_amounts(programs, ['committed_amount'])[
            'committed_amount']
        for program, applications_ in by_program.items():
            total = committed[program.id]
            budget = to_amount(program.budget)
            for application in applications_:
                total += application.amount
                if total > budget:
                    raise AccessError(gettext(
                            'elevator_subsidy.msg_budget_exceeded',
                            application=application.rec_name,
                            amount=format_amount(application.amount),
                            program=program.rec_name,
                            budget=format_amount(budget),
                            available=format_amount(
                                budget - (total - application.amount))))

    @classmethod
    @decision('return')
    @ModelView.button
    @Workflow.transition('returned')
    def return_to_applicant(cls, applications):
        cls.write(applications, {'step': None})

    @classmethod
    @decision('reject')
    @ModelView.button
    @Workflow.transition('rejected')
    def reject(cls, applications):
        cls.write(applications, {'step': None})

    @classmethod
    @decision('pay')
    @ModelView.button
    @Workflow.transition('paid')
    def pay(cls, applications):
        Date = Pool().get('ir.date')
        today = Date.today()
        if not applications:
            return
        for application in applications:
            application.check_payable()
        cls.write(*sum((([a], {
                            'paid_amount': a.approved_amount,
                            'paid_date': a.paid_date or today,
                            }) for a in applications), ()))

    def check_payable(self):
        params = {'application': self.rec_name}
        if not (self.payment_reference or '').strip():
            raise ValidationError(gettext(
                    'elevator_subsidy.msg_payment_reference_required',
                    **params))
        documents = {a.subsidy_document for a in self.attachments}
        missing = [t for t in PAYMENT_DOCUMENTS if t not in documents]
        if missing:
            Attachment = Pool().get('ir.attachment')
            labels = dict(Attachment.fields_get(['subsidy_document'])[
                    'subsidy_document']['selection'])
            raise ValidationError(gettext(
                    'elevator_subsidy.msg_payment_documents_missing',
                    documents=', '.join(labels[t] for t in missing),
                    **params))
        missing = self.missing_installations()
        if missing:
            line, types = missing[0]
            raise AccessError(gettext(
                    'elevator_subsidy.msg_payment_not_accepted',
                    elevator=line.elevator.rec_name,
                    devices=', '.join(selection_label(line, 'device_types', t)
                        for t in types),
                    count=len(missing), **params))

    @classmethod
    @ModelView.button
    def plan_installation(cls, applications):
        "Start an installation project with the application's devices."
        Project = Pool().get('elevator.installation.project')
        vlist = []
        for application in applications:
            if application.installation_projects:
                continue
            vlist.append({
                    'name': application.program.name,
                    'owner': application.applicant.id,
                    'application': application.id,
                    'lines': [('create', [{
                                    'elevator': line.elevator.id,
                                    'device_type': device_type,
                                    } for line in application.lines
                                for device_type in line.device_types])],
                    })
        if vlist:
            Project.create(vlist)

    # Notifications

    @classmethod
    def notify(cls, applications, action):
        "In-client notifications to the next deciders or to the applicant."
        to_decide = [a for a in applications if a.state in PENDING_STATES]
        notifications = []
        if to_decide:
            notifications += cls._decider_notifications(to_decide)
        message = {
            'return': 'elevator_subsidy.msg_notify_returned',
            'reject': 'elevator_subsidy.msg_notify_rejected',
            'pay': 'elevator_subsidy.msg_notify_paid',
            }.get(action)
        if action == 'approve':
            applications = [a for a in applications if a.state == 'approved']
            message = 'elevator_subsidy.msg_notify_approved'
        if message and applications:
            notifications += cls._applicant_notifications(
                applications, message)
        if notifications:
            Notification = Pool().get('elevator.notification')
            with without_check_access():
                Notification.notify_users(notifications)

    @classmethod
    def _decider_notifications(cls, applications):
        pool = Pool()
        User = pool.get('res.user')
        notifications = []
        with without_check_access():
            for application in applications:
                step = application.decision_step
                if not step:
                    continue
                region = (application.district if step.level == 'district'
                    else application.program.region)
                users = User.search([('groups', '=', step.group.id)])
                for user in users:
                    regions = [r.id for r in user.elevator_regions]
                    if regions and not (region and _covers(region, regions)):
                        continue
                    units = [p.id for p in user.elevator_units]
                    if application.applicant.id in units:
                        continue
                    notifications.append(_notification(user, application,
                            'elevator_subsidy.msg_notify_to_decide',
                            step=step.name))
        return notifications

    @classmethod
    def _applicant_notifications(cls, applications, message):
        User = Pool().get('res.user')
        notifications = []
        with without_check_access():
            for application in applications:
                for user in User.search([
                            ('elevator_units', '=', application.applicant.id),
                            ]):
                    notifications.append(_notification(user, application,
                            message,
                            amount=format_amount(application.approved_amount
                                or application.amount)))
        return notifications


def _notification(user, application, message, **params):
    "An in-client notification for the outbox's notify_users."
    return (user, application.__name__, application.id, message,
        dict(params, application=application.rec_name))


def _covers(region, regions=None):
    """Whether the regions (by default those the user supervises) include
    region; no supervised region means the whole city."""
    User = Pool().get('res.user')
    if regions is None:
        regions, _ = User.get_elevator_scope()
    if not regions:
        return True
    if not region:
        return False
    return region_within(region, regions)


def _forget(Model, ids=None):
    """Forget cached values of records (by default all) changed behind the
    ORM's back."""
    transaction = Transaction()
    transaction.counter += 1
    for cache in transaction.cache.values():
        if Model.__name__ in cache:
            model_cache = cache[Model.__name__]
            if ids is None:
                model_cache.clear()
                continue
            for id_ in ids:
                model_cache.pop(id_, None)


class ApplicationLine(ModelSQL, ModelView):
    "Subsidy Application Elevator"
    __string__ = "Subsidy Application Elevator"
    __name__ = 'elevator.subsidy.application.line'
    _history = True

    application = fields.Many2One('elevator.subsidy.application',
        "Application", required=True, ondelete='CASCADE')
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='RESTRICT')
    device_types = fields.MultiSelection(DEVICE_TYPES, "Devices Planned",
        required=True, sort=False)
    amount = fields.Numeric("Amount (yuan)", digits=AMOUNT_DIGITS,
        readonly=True)
    place = fields.Function(fields.Many2One('elevator.place', "Place"),
        'on_change_with_place')
    district = fields.Function(fields.Many2One('elevator.region',
            "District"), 'on_change_with_district')
    installation_state = fields.Function(fields.Selection([
                ('none', "Not Planned"),
                ('planned', "Planned"),
                ('installed', "Installed"),
                ('connected', "Connected"),
                ('accepted', "Accepted"),
                ], "Installation"), 'get_installation_state')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('application')
        t = cls.__table__()
        cls._sql_constraints += [
            ('elevator_unique', Unique(t, t.application, t.elevator),
                'elevator_subsidy.msg_line_elevator_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.elevator, Index.Range())))

    @classmethod
    def default_device_types(cls):
        return ['controller_terminal']

    @fields.depends('elevator', '_parent_elevator.place')
    def on_change_with_place(self, name=None):
        return self.elevator.place if self.elevator else None

    @fields.depends('elevator', '_parent_elevator.district')
    def on_change_with_district(self, name=None):
        return self.elevator.district if self.elevator else None

    @fields.depends('application', 'device_types',
        '_parent_application.program')
    def on_change_with_amount(self):
        if self.application and self.application.program:
            return self.application.program.line_amount(self.device_types)

    def get_rec_name(self, name):
        return self.elevator.rec_name

    @classmethod
    def get_installation_state(cls, lines, name):
        ProjectLine = Pool().get('elevator.installation.project.line')
        with without_check_access():
            installations = ProjectLine.search([
                    ('elevator', 'in', [l.elevator.id for l in lines]),
                    ])
        best = {}
        for installation in installations:
            key = (installation.elevator.id, installation.device_type)
            rank = INSTALLATION_ORDER.index(installation.state)
            best[key] = max(best.get(key, 0), rank)
        result = {}
        for line in lines:
            ranks = [best.get((line.elevator.id, t), 0)
                for t in line.device_types]
            result[line.id] = INSTALLATION_ORDER[min(ranks, default=0)]
        return result

    @classmethod
    def check_modification(cls, mode, lines, values=None, external=False):
        super().check_modification(mode, lines, values=values,
            external=external)
        if mode == 'write' and not external and set(values) <= {'amount'}:
            return
        for line in lines:
            application = line.application
            if application.state in EDITABLE_STATES:
                continue
            if application.state in COMMITTED_STATES:
                message = 'elevator_subsidy.msg_application_frozen'
            else:
                message = 'elevator_subsidy.msg_application_locked'
            raise AccessError(gettext(message,
                    application=application.rec_name,
                    state=selection_label(
                        application, 'state', application.state)))

    @classmethod
    def validate(cls, lines):
        super().validate(lines)
        cls.check_lines(lines)

    @classmethod
    def check_lines(cls, lines):
        """Each elevator must be eligible, the applicant's (unless an
        investor applies), not subsidised twice for a device, and in the
        district of the application's other elevators."""
        for line in lines:
            line.check_eligible()
        cls.check_double(lines)
        by_application = defaultdict(set)
        for line in lines:
            by_application[line.application].add(line.elevator.district)
        for application, districts in by_application.items():
            districts |= {l.elevator.district for l in application.lines}
            if len(districts) > 1:
                raise ValidationError(gettext(
                        'elevator_subsidy.msg_application_one_district',
                        application=application.rec_name,
                        districts=', '.join(sorted(
                                d.rec_name if d else '-'
                                for d in districts))))

    def check_eligible(self):
        application = self.application
        program = application.program
        error = program.elevator_error(self.elevator)
        if error:
            message, params = error
            raise ValidationError(gettext(message, **params))
        applicant = application.applicant
        if not applicant.is_investor and applicant not in {
                self.elevator.user_unit, self.elevator.property_company}:
            raise ValidationError(gettext(
                    'elevator_subsidy.msg_elevator_not_applicant',
                    elevator=self.elevator.rec_name,
                    applicant=applicant.rec_name))
        rates = program.rate_amounts
        for device_type in self.device_types:
            if device_type not in rates:
                raise ValidationError(gettext(
                        'elevator_subsidy.msg_device_not_subsidised',
                        elevator=self.elevator.rec_name,
                        device=selection_label(
                            self, 'device_types', device_type),
                        program=program.rec_name))

    @classmethod
    def check_double(cls, lines):
        "An elevator gets one subsidy per device type."
        elevators = {l.elevator.id for l in lines}
        with without_check_access():
            others = cls.search([
                    ('elevator', 'in', list(elevators)),
                    ('application.state', 'in',
                        PENDING_STATES + COMMITTED_STATES),
                    ])
        for line in lines:
            for other in others:
                if (other.elevator != line.elevator
                        or other.application == line.application):
                    continue
                common = set(other.device_types) & set(line.device_types)
                if not common:
                    continue
                if other.application.state in COMMITTED_STATES:
                    message = 'elevator_subsidy.msg_double_subsidy'
                else:
                    message = 'elevator_subsidy.msg_double_application'
                raise ValidationError(gettext(message,
                        elevator=line.elevator.rec_name,
                        devices=', '.join(selection_label(line,
                                'device_types', t) for t, _ in DEVICE_TYPES
                            if t in common),
                        other=other.application.rec_name,
                        state=selection_label(other.application, 'state',
                            other.application.state)))

    @classmethod
    def on_modification(cls, mode, lines, field_names=None):
        super().on_modification(mode, lines, field_names=field_names)
        if mode == 'create' or (mode == 'write' and (
                    {'device_types', 'application'} & set(field_names))):
            cls.update_amounts(lines)
        if mode == 'create' or (mode == 'write' and (
                    {'elevator', 'application'} & set(field_names))):
            Application = Pool().get('elevator.subsidy.application')
            Application.update_district(
                list({l.application.id for l in lines}))

    @classmethod
    def on_delete(cls, lines):
        callbacks = super().on_delete(lines)
        ids = list({l.application.id for l in lines})

        def update():
            Application = Pool().get('elevator.subsidy.application')
            Application.update_district(ids)
        callbacks.append(update)
        return callbacks

    @classmethod
    def update_amounts(cls, lines):
        "Compute the amounts from the programme, one UPDATE per amount."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        by_amount = defaultdict(list)
        for line in lines:
            amount = line.application.program.line_amount(line.device_types)
            if line.amount is None or to_amount(line.amount) != amount:
                by_amount[amount].append(line.id)
        for amount, ids in by_amount.items():
            cursor.execute(*table.update([table.amount], [amount],
                    where=SQL_OPERATORS['in'](table.id, ids)))
        if by_amount:
            _forget(cls, [l.id for l in lines])


class ApplicationGroup(ModelSQL):
    "Subsidy Application - Group Reached"
    __string__ = "Subsidy Application - Group Reached"
    __name__ = 'elevator.subsidy.application-res.group'

    application = fields.Many2One('elevator.subsidy.application',
        "Application", required=True, ondelete='CASCADE')
    group = fields.Many2One('res.group', "Group", required=True,
        ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('application')
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.application, Index.Range()),
                (t.group, Index.Range())))


class Decision(ModelSQL, ModelView):
    "Subsidy Decision"
    __string__ = "Subsidy Decision"
    __name__ = 'elevator.subsidy.decision'

    application = fields.Many2One('elevator.subsidy.application',
        "Application", required=True, ondelete='RESTRICT', readonly=True)
    action = fields.Selection(ACTIONS, "Action", required=True,
        readonly=True, sort=False)
    step = fields.Many2One('elevator.subsidy.program.step', "Step",
        ondelete='SET NULL', readonly=True)
    step_name = fields.Char("Step", readonly=True)
    user = fields.Many2One('res.user', "By", required=True,
        ondelete='RESTRICT', readonly=True)
    date = Timestamp("Date", required=True, readonly=True)
    comment = fields.Text("Comment", readonly=True)
    amount = fields.Numeric("Amount (yuan)", digits=AMOUNT_DIGITS,
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('application')
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.application, Index.Range()),
                (t.date, Index.Range())))
        cls._order = [('date', 'ASC'), ('id', 'ASC')]

    @classmethod
    def check_modification(cls, mode, decisions, values=None,
            external=False):
        super().check_modification(mode, decisions, values=values,
            external=external)
        # Decisions are on record: only the workflow writes them, once.
        if external or mode != 'create':
            raise AccessError(gettext(
                    'elevator_subsidy.msg_decision_readonly'))


class Attachment(metaclass=PoolMeta):
    __name__ = 'ir.attachment'

    subsidy_document = fields.Selection(DOCUMENT_TYPES, "Subsidy Document",
        help="What the document proves for a subsidy: the finance clerk "
        "needs the invoice and the acceptance report to pay.")

    @classmethod
    def check_modification(cls, mode, attachments, values=None,
            external=False):
        super().check_modification(mode, attachments, values=values,
            external=external)
        for attachment in attachments:
            resource = attachment.resource
            if (getattr(resource, '__name__', None)
                    == 'elevator.subsidy.application'
                    and resource.id is not None and resource.id >= 0
                    and resource.state in FINAL_STATES):
                raise AccessError(gettext(
                        'elevator_subsidy.msg_application_documents_frozen',
                        application=resource.rec_name,
                        state=selection_label(
                            resource, 'state', resource.state)))
