"""Enforcement cases (执法案件): 立案 filed → 责令整改 ordered (notice with a
deadline) → 整改 rectifying (the unit answers with evidence) → 复查 review
(the regulator verifies) → 结案 closed with the outcome (rectified, penalty
with amount and legal basis, transferred).

Every step is stamped with who and when, logged, and cannot be changed
afterwards; the state changes only through the buttons (`Workflow` of the
elevator module); the unit sees and answers only its own cases (record
rules); the cron flags the cases whose deadline passed and tells the
district regulators."""
from collections import defaultdict
from decimal import Decimal

from sql import Null
from sql.aggregate import Count, Sum
from sql.conditionals import Case as SQLCase

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.elevator import clock
from trytond.modules.elevator.res import notify_district_regulators
from trytond.modules.elevator.workflow import Workflow, _is_admin
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.report import Report
from trytond.transaction import Transaction, without_check_access

from .lists import _utc_midnight, today

SOURCES = [
    ('manual', "Manual"),
    ('uncontracted', "No Maintenance Contract"),
    ('unmaintained', "Maintenance Overdue"),
    ('inactive_firm', "Firm Not Using the Platform"),
    ('dispatch', "Rescue Dispatch Not Answered"),
    ('unmonitored', "Monitoring Missing"),
    ('credit', "Credit Grade"),
    ('inspection', "Inspection Report"),
    ('repair_overdue', "Repair Overdue"),
    ]
STATES = [
    ('draft', "Filed"),
    ('ordered', "Rectification Ordered"),
    ('rectifying', "Rectifying"),
    ('review', "Under Review"),
    ('closed', "Closed"),
    ]
OUTCOMES = [
    (None, ""),
    ('rectified', "Rectified"),
    ('penalty', "Penalty"),
    ('transferred', "Transferred"),
    ]
REVIEW_METHODS = [
    (None, ""),
    ('visit', "On-Site Visit"),
    ('documents', "Documents"),
    ]
ACTIONS = [
    ('file', "Filed"),
    ('order', "Rectification Ordered"),
    ('acknowledge', "Notice Received"),
    ('submit', "Evidence Submitted"),
    ('return_', "Returned for Rectification"),
    ('close', "Closed"),
    ('overdue', "Deadline Passed"),
    ]
REGULATOR_GROUPS = ['group_admin', 'group_city_regulator',
    'group_district_regulator']
UNIT_GROUPS = ['group_firm_manager', 'group_user_unit']

# What a user may write, by state; everything else is the workflow's.
REGULATOR_FIELDS = {
    'draft': {'source', 'origin', 'elevator', 'party', 'region', 'facts',
        'requirement', 'legal_basis', 'deadline'},
    'ordered': {'review_method', 'review_note', 'outcome', 'penalty_amount',
        'penalty_basis', 'transferred_to', 'closing_note'},
    'rectifying': {'review_method', 'review_note', 'outcome',
        'penalty_amount', 'penalty_basis', 'transferred_to', 'closing_note'},
    'review': {'review_method', 'review_note', 'outcome', 'penalty_amount',
        'penalty_basis', 'transferred_to', 'closing_note'},
    'closed': set(),
    }
UNIT_FIELDS = {
    'rectifying': {'reply', 'evidence'},
    }


def _groups():
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    groups = set(User.get_groups())
    regulator = bool(groups & {ModelData.get_id('elevator', g)
            for g in REGULATOR_GROUPS})
    unit = bool(groups & {ModelData.get_id('elevator', g)
            for g in UNIT_GROUPS})
    return regulator, unit


def district_of(region):
    "The district (or zone) of a region, the region itself at the top."
    while region and region.level not in {'district', 'zone', 'city'}:
        region = region.parent
    return region


class Case(Workflow, ModelSQL, ModelView):
    "Enforcement Case"
    __string__ = "Enforcement Case"
    __name__ = 'elevator.enforcement.case'
    _rec_name = 'number'

    _draft = {'readonly': Eval('state') != 'draft'}
    _review = {'readonly': ~Eval('state').in_(
            ['ordered', 'rectifying', 'review'])}

    number = fields.Char("Number", readonly=True)
    source = fields.Selection(SOURCES, "Source", required=True,
        states=_draft, sort=False)
    origin = fields.Reference("Origin", selection='get_origins',
        states=_draft)
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        ondelete='RESTRICT', states=_draft)
    party = fields.Many2One('party.party', "Unit", required=True,
        ondelete='RESTRICT', states=_draft,
        help="The maintenance firm, user unit or property company the case "
        "is against: its users see and answer the case.")
    region = fields.Many2One('elevator.region', "Region", required=True,
        ondelete='RESTRICT', states=_draft)
    district = fields.Many2One('elevator.region', "District", readonly=True,
        ondelete='RESTRICT')
    facts = fields.Text("Facts", required=True, states=_draft,
        help="What was found, as written in the notice.")
    state = fields.Selection(STATES, "State", required=True, readonly=True,
        sort=False)
    filed_by = fields.Many2One('res.user', "Filed by", readonly=True)
    filed_at = fields.DateTime("Filed at", readonly=True)

    requirement = fields.Text("Requirement", states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('state') == 'ordered',
            }, help="What the unit must do, as written in the notice.")
    legal_basis = fields.Char("Legal Basis", states=_draft)
    deadline = fields.Date("Deadline", states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('state') == 'ordered',
            })
    ordered_by = fields.Many2One('res.user', "Ordered by", readonly=True)
    ordered_at = fields.DateTime("Ordered at", readonly=True)
    overdue = fields.Boolean("Overdue", readonly=True,
        help="The deadline passed before the unit submitted its evidence.")
    overdue_since = fields.Date("Overdue Since", readonly=True)

    acknowledged_by = fields.Many2One('res.user', "Received by",
        readonly=True)
    acknowledged_at = fields.DateTime("Received at", readonly=True)
    reply = fields.Text("Reply of the Unit",
        states={'readonly': Eval('state') != 'rectifying'})
    evidence = fields.One2Many('elevator.enforcement.evidence', 'case',
        "Evidence", states={'readonly': Eval('state') != 'rectifying'})
    submitted_by = fields.Many2One('res.user', "Submitted by",
        readonly=True)
    submitted_at = fields.DateTime("Submitted at", readonly=True)

    review_method = fields.Selection(REVIEW_METHODS, "Review Method",
        states=_review)
    review_note = fields.Text("Review Note", states=_review)
    reviewed_by = fields.Many2One('res.user', "Reviewed by", readonly=True)
    reviewed_at = fields.DateTime("Reviewed at", readonly=True)

    outcome = fields.Selection(OUTCOMES, "Outcome", states=_review,
        sort=False)
    penalty_amount = fields.Numeric("Penalty (CNY)", digits=(16, 2),
        states={
            'readonly': _review['readonly'],
            'invisible': Eval('outcome') != 'penalty',
            })
    penalty_basis = fields.Char("Legal Basis of the Penalty", states={
            'readonly': _review['readonly'],
            'invisible': Eval('outcome') != 'penalty',
            })
    transferred_to = fields.Char("Transferred to", states={
            'readonly': _review['readonly'],
            'invisible': Eval('outcome') != 'transferred',
            })
    closing_note = fields.Text("Closing Note", states=_review)
    closed_by = fields.Many2One('res.user', "Closed by", readonly=True)
    closed_at = fields.DateTime("Closed at", readonly=True)
    steps = fields.One2Many('elevator.enforcement.case.log', 'case', "Steps",
        readonly=True)

    del _draft, _review

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.region, Index.Range())),
                Index(t, (t.district, Index.Range())),
                Index(t, (t.party, Index.Range())),
                Index(t, (t.state, Index.Equality()),
                    where=t.state != 'closed'),
                })
        cls._order = [('filed_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'ordered'),
            ('ordered', 'rectifying'),
            ('rectifying', 'review'),
            ('review', 'rectifying'),
            ('ordered', 'closed'),
            ('rectifying', 'closed'),
            ('review', 'closed'),
            }
        cls._buttons.update({
                'order': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'acknowledge': {
                    'invisible': Eval('state') != 'ordered',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'submit': {
                    'invisible': Eval('state') != 'rectifying',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'return_': {
                    'invisible': Eval('state') != 'review',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': ~Eval('state').in_(
                        ['ordered', 'rectifying', 'review']),
                    'icon': 'tryton-close',
                    'depends': ['state'],
                    },
                'notice': {
                    'invisible': Eval('state') == 'draft',
                    'icon': 'tryton-print',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_source(cls):
        return 'manual'

    @classmethod
    def default_overdue(cls):
        return False

    @classmethod
    def get_origins(cls):
        pool = Pool()
        Model = pool.get('ir.model')
        names = ['elevator.rescue.dispatch', 'elevator.maintenance.warning',
            'elevator.credit.evaluation', 'elevator.supervision.inspection']
        names = [n for n in names if _in_pool(n)]
        return [(None, '')] + [(n, Model.get_name(n)) for n in names]

    @fields.depends('elevator', 'region', 'party')
    def on_change_elevator(self):
        if self.elevator:
            if not self.region:
                self.region = self.elevator.region
            if not self.party:
                self.party = self.elevator.user_unit

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual', If(Bool(Eval('overdue')), 'danger', '')),
            ]

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Region = pool.get('elevator.region')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            values['number'] = _sequence_next()
            values['filed_by'] = Transaction().user or None
            values['filed_at'] = clock.now()
            for name in ['ordered_by', 'ordered_at', 'acknowledged_by',
                    'acknowledged_at', 'submitted_by', 'submitted_at',
                    'reviewed_by', 'reviewed_at', 'closed_by', 'closed_at',
                    'overdue_since']:
                values.pop(name, None)
            values['overdue'] = False
        if values.get('region'):
            district = district_of(Region(values['region']))
            values['district'] = district.id if district else None
        return values

    @classmethod
    def on_modification(cls, mode, cases, field_names=None):
        super().on_modification(mode, cases, field_names=field_names)
        if mode == 'create':
            cls._log(cases, 'file')

    @classmethod
    def check_modification(cls, mode, cases, values=None, external=False):
        super().check_modification(mode, cases, values=values,
            external=external)
        if not external or _is_admin():
            return
        if mode == 'delete':
            raise AccessError(gettext(
                    'elevator_enforcement.msg_case_delete'))
        if mode != 'write':
            return
        regulator, unit = _groups()
        for case in cases:
            allowed = set()
            if regulator:
                allowed |= REGULATOR_FIELDS.get(case.state, set())
            if unit:
                allowed |= UNIT_FIELDS.get(case.state, set())
            refused = set(values) - allowed
            if refused:
                names = cls.__names__(field=sorted(refused)[0])
                raise AccessError(gettext(
                        'elevator_enforcement.msg_case_write',
                        field=names['field'], case=case.rec_name,
                        state=case.state_string))

    @property
    def state_string(self):
        return dict(self.fields_get(['state'])['state']['selection'])[
            self.state]

    @classmethod
    def _log(cls, cases, action, note=None):
        Log = Pool().get('elevator.enforcement.case.log')
        user = Transaction().user or None
        now = clock.now()
        with without_check_access():
            Log.create([{
                        'case': c.id, 'action': action, 'user': user,
                        'at': now, 'note': note,
                        } for c in cases])

    @classmethod
    def _stamp(cls, cases, values):
        "Write the workflow's values as the server (stamps are readonly)."
        with without_check_access():
            cls.write(list(cases), values)

    @classmethod
    @ModelView.button
    @Workflow.transition('ordered')
    def order(cls, cases):
        day = today()
        for case in cases:
            if not case.requirement or not case.deadline:
                raise ValidationError(gettext(
                        'elevator_enforcement.msg_case_order_incomplete',
                        case=case.rec_name))
            if case.deadline < day:
                raise ValidationError(gettext(
                        'elevator_enforcement.msg_case_deadline_past',
                        case=case.rec_name, deadline=case.deadline))
        cls._stamp(cases, {'ordered_by': Transaction().user or None,
                'ordered_at': clock.now()})
        cls._log(cases, 'order')
        cls._notify_units(cases, 'elevator_enforcement.msg_notify_ordered')

    @classmethod
    @ModelView.button
    @Workflow.transition('rectifying')
    def acknowledge(cls, cases):
        cls._stamp(cases, {'acknowledged_by': Transaction().user or None,
                'acknowledged_at': clock.now()})
        cls._log(cases, 'acknowledge')

    @classmethod
    @ModelView.button
    @Workflow.transition('review')
    def submit(cls, cases):
        for case in cases:
            if not case.evidence:
                raise ValidationError(gettext(
                        'elevator_enforcement.msg_case_no_evidence',
                        case=case.rec_name))
        cls._stamp(cases, {'submitted_by': Transaction().user or None,
                'submitted_at': clock.now()})
        cls._log(cases, 'submit')

    @classmethod
    @ModelView.button
    @Workflow.transition('rectifying')
    def return_(cls, cases):
        for case in cases:
            if not case.review_note:
                raise ValidationError(gettext(
                        'elevator_enforcement.msg_case_return_note',
                        case=case.rec_name))
        for case in cases:
            cls._log([case], 'return_', case.review_note)
        cls._stamp(cases, {'review_note': None})
        cls._notify_units(cases, 'elevator_enforcement.msg_notify_returned')

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, cases):
        for case in cases:
            case.check_outcome()
        now = clock.now()
        user = Transaction().user or None
        reviewed = [c for c in cases if c.state == 'review']
        if reviewed:
            cls._stamp(reviewed, {'reviewed_by': user, 'reviewed_at': now})
        cls._stamp(cases, {'closed_by': user, 'closed_at': now})
        for case in cases:
            cls._log([case], 'close', case.outcome_string)

    @property
    def outcome_string(self):
        return dict(self.fields_get(['outcome'])['outcome']['selection'])[
            self.outcome]

    def check_outcome(self):
        if not self.outcome:
            raise ValidationError(gettext(
                    'elevator_enforcement.msg_case_outcome_required',
                    case=self.rec_name))
        if self.outcome == 'rectified':
            if self.state != 'review':
                raise ValidationError(gettext(
                        'elevator_enforcement.msg_case_rectified_review',
                        case=self.rec_name))
            if not self.review_method:
                raise ValidationError(gettext(
                        'elevator_enforcement.msg_case_review_method',
                        case=self.rec_name))
        elif self.outcome == 'penalty':
            if (not self.penalty_amount or self.penalty_amount <= 0
                    or not self.penalty_basis):
                raise ValidationError(gettext(
                        'elevator_enforcement.msg_case_penalty_incomplete',
                        case=self.rec_name))
        elif self.outcome == 'transferred':
            if not self.transferred_to:
                raise ValidationError(gettext(
                        'elevator_enforcement.msg_case_transferred_to',
                        case=self.rec_name))

    @classmethod
    @ModelView.button_action('elevator_enforcement.report_notice')
    def notice(cls, cases):
        pass

    @classmethod
    def _notify_units(cls, cases, message):
        "Tell the users acting for the case's unit, in their language."
        pool = Pool()
        User = pool.get('res.user')
        Notification = pool.get('res.notification')
        by_unit = defaultdict(list)
        for case in cases:
            by_unit[case.party.id].append(case)
        notifications = []
        with without_check_access():
            users = User.search([('elevator_units', 'in', list(by_unit))])
            for user in users:
                mine = [c for u in user.elevator_units
                    for c in by_unit.get(u.id, [])]
                language = user.language.code if user.language else None
                with Transaction().set_context(language=language):
                    for case in mine:
                        notifications.append({
                                'user': user.id,
                                'label': gettext(message, number=case.number,
                                    deadline=case.deadline or ''),
                                'model': cls.__name__,
                                'records': f'[{case.id}]',
                                })
            if notifications:
                Notification.create(notifications)
        return notifications

    @classmethod
    def cron_watch_deadlines(cls):
        """Flag the cases whose deadline passed before the unit submitted
        its evidence, once, and tell the district regulators."""
        day = today()
        with without_check_access():
            cases = cls.search([
                    ('state', 'in', ['ordered', 'rectifying']),
                    ('deadline', '<', day),
                    ('overdue', '=', False),
                    ])
            if not cases:
                return []
            cls.write(cases, {'overdue': True, 'overdue_since': day})
            cls._log(cases, 'overdue')
        notify_district_regulators(cls, [('id', 'in', [c.id for c in cases])],
            'elevator_enforcement.msg_notify_overdue')
        return cases

    @classmethod
    def open_from(cls, rows):
        """Cases for the rows of the non-compliance lists: the open case of
        the same source, unit and elevator if there is one, else a new
        filed case. Return the cases."""
        pool = Pool()
        Region = pool.get('elevator.region')
        Party = pool.get('party.party')
        Elevator = pool.get('elevator.elevator')
        result, to_create = [], []
        for values in rows:
            if not values.get('party'):
                raise ValidationError(gettext(
                        'elevator_enforcement.msg_case_no_party'))
            existing = cls.search([
                    ('source', '=', values['source']),
                    ('party', '=', values['party']),
                    ('elevator', '=', values.get('elevator')),
                    ('state', '!=', 'closed'),
                    ], limit=1)
            if existing:
                result.extend(existing)
                continue
            facts = gettext(
                f"elevator_enforcement.msg_facts_{values['source']}",
                party=Party(values['party']).rec_name,
                elevator=(Elevator(values['elevator']).rec_name
                    if values.get('elevator') else ''),
                region=Region(values['region']).rec_name
                if values.get('region') else '')
            to_create.append({**values, 'facts': facts})
        if to_create:
            result.extend(cls.create(to_create))
        return result

    @classmethod
    def rectification_query(cls, start=None, end=None):
        """SQL query of (district, rectified, closed): per district, the
        cases closed within [start, end) (naive UTC; open bounds by
        default) after a rectification order, and how many of them were
        closed as rectified. The district assessment reads it too."""
        table = cls.__table__()
        where = ((table.state == 'closed') & (table.ordered_at != Null)
            & (table.district != Null))
        if start:
            where &= table.closed_at >= start
        if end:
            where &= table.closed_at < end
        rectified = Sum(SQLCase((table.outcome == 'rectified', 1), else_=0))
        return table.select(table.district, rectified, Count(table.id),
            where=where, group_by=[table.district])

    @classmethod
    def rectification_rates(cls, start=None, end=None, districts=None):
        """{district id: (closed, rectified, rate %)} of the cases whose
        rectification was ordered and that were closed from the Putian
        date start to the date end (excluded); all time by default."""
        cursor = Transaction().connection.cursor()
        cursor.execute(*cls.rectification_query(
                _utc_midnight(start) if start else None,
                _utc_midnight(end) if end else None))
        return {d: (n, int(r), round(Decimal(100) * r / n, 1))
            for d, r, n in cursor
            if districts is None or d in districts}


def _in_pool(name):
    try:
        Pool().get(name)
    except KeyError:
        return False
    return True


def _sequence_next():
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    Sequence = pool.get('ir.sequence')
    with without_check_access():
        return Sequence(ModelData.get_id(
                'elevator_enforcement', 'sequence_case')).get()


class CaseLog(ModelSQL, ModelView):
    "Enforcement Case Step"
    __string__ = "Enforcement Case Step"
    __name__ = 'elevator.enforcement.case.log'

    case = fields.Many2One('elevator.enforcement.case', "Case",
        required=True, ondelete='CASCADE', readonly=True)
    action = fields.Selection(ACTIONS, "Step", required=True, readonly=True)
    user = fields.Many2One('res.user', "By", readonly=True)
    at = fields.DateTime("At", required=True, readonly=True)
    note = fields.Text("Note", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('case')
        cls._order = [('at', 'ASC'), ('id', 'ASC')]

    @classmethod
    def check_modification(cls, mode, logs, values=None, external=False):
        super().check_modification(mode, logs, values=values,
            external=external)
        if external and not _is_admin():
            raise AccessError(gettext(
                    'elevator_enforcement.msg_log_readonly'))


class Evidence(ModelSQL, ModelView):
    "Enforcement Evidence"
    __string__ = "Rectification Evidence"
    __name__ = 'elevator.enforcement.evidence'

    case = fields.Many2One('elevator.enforcement.case', "Case",
        required=True, ondelete='CASCADE')
    description = fields.Char("Description", required=True)
    data = fields.Binary("File", filename='filename')
    filename = fields.Char("File Name")
    uploaded_by = fields.Function(fields.Many2One('res.user', "Uploaded by"),
        'get_uploaded')
    uploaded_at = fields.Function(fields.DateTime("Uploaded at"),
        'get_uploaded')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('case')
        cls._order = [('create_date', 'ASC'), ('id', 'ASC')]

    def get_uploaded(self, name):
        if name == 'uploaded_by':
            return self.create_uid.id if self.create_uid else None
        return self.create_date.replace(microsecond=0)

    @classmethod
    def check_modification(cls, mode, evidence, values=None,
            external=False):
        super().check_modification(mode, evidence, values=values,
            external=external)
        if not external or _is_admin():
            return
        for record in evidence:
            if record.case.state != 'rectifying':
                raise AccessError(gettext(
                        'elevator_enforcement.msg_evidence_locked',
                        case=record.case.rec_name))


class Notice(Report):
    "Rectification Notice (责令改正通知书)"
    __name__ = 'elevator.enforcement.case.notice'

    @classmethod
    def _execute(cls, records, header, data, action):
        from trytond.exceptions import UserError
        from trytond.modules.elevator.reports.fonts import CJKFontNotFound

        from .notice import render_notices
        for record in records:
            if record.state == 'draft':
                raise UserError(gettext(
                        'elevator_enforcement.msg_notice_draft',
                        case=record.rec_name))
        try:
            return 'pdf', render_notices(records)
        except CJKFontNotFound as exception:
            raise UserError(gettext('elevator.msg_report_font_missing',
                    detail=str(exception))) from exception
