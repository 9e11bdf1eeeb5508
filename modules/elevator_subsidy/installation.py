"""Installation of monitoring devices and cameras (监测装置安装) tracked by
property companies elevator by elevator: planned, installed, connected
(confirmed by the IoT data when elevator_iot is activated), accepted."""
from collections import defaultdict

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, fields)
from trytond.modules.elevator.workflow import Workflow, WorkflowStateMixin
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.transaction import Transaction

from .program import DEVICE_TYPES, VIDEO_DEVICE_TYPES, selection_label

LINE_STATES = [
    ('planned', "Planned"),
    ('installed', "Installed"),
    ('connected', "Connected"),
    ('accepted', "Accepted"),
    ]
# Fields that only the workflow writes.
LINE_WORKFLOW_FIELDS = {
    'state', 'connected_date', 'accepted_date', 'accepted_by', 'iot_device'}


class Project(WorkflowStateMixin, ModelSQL, ModelView):
    "Installation Project"
    __string__ = "Installation Project"
    __name__ = 'elevator.installation.project'
    _rec_name = 'number'
    _history = True

    number = fields.Char("Number", readonly=True)
    name = fields.Char("Name", required=True)
    owner = fields.Many2One('party.party', "Owner", required=True,
        ondelete='RESTRICT',
        domain=['OR',
            ('is_user_unit', '=', True),
            ('is_property_company', '=', True),
            ('is_investor', '=', True),
            ],
        states={'readonly': Bool(Eval('lines', [0]))},
        help="The property company, user unit or investor that has the "
        "devices installed.")
    installer = fields.Many2One('party.party', "Installer",
        ondelete='RESTRICT',
        help="The company that installs the devices.")
    installer_contact = fields.Char("Installer Contact")
    application = fields.Many2One('elevator.subsidy.application',
        "Subsidy Application", ondelete='RESTRICT',
        domain=[
            ('applicant', '=', Eval('owner', -1)),
            ('state', 'in', ['approved', 'paid']),
            ])
    planned_start = fields.Date("Planned Start")
    planned_end = fields.Date("Planned End",
        domain=[If(Eval('planned_start') & Eval('planned_end'),
                ('planned_end', '>=', Eval('planned_start')), ())])
    lines = fields.One2Many('elevator.installation.project.line', 'project',
        "Devices")
    state = fields.Selection([
            ('planned', "Planned"),
            ('in_progress', "In Progress"),
            ('done', "Done"),
            ], "State", readonly=True, required=True, sort=False)
    planned_count = fields.Function(fields.Integer("Planned"), 'get_counts')
    installed_count = fields.Function(fields.Integer("Installed"),
        'get_counts')
    connected_count = fields.Function(fields.Integer("Connected"),
        'get_counts')
    accepted_count = fields.Function(fields.Integer("Accepted"),
        'get_counts')
    notes = fields.Text("Notes")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('number_unique', Unique(t, t.number),
                'elevator_subsidy.msg_project_number_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.owner, Index.Range())),
                Index(t, (t.application, Index.Range())),
                })
        cls._order = [('number', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_state(cls):
        return 'planned'

    @classmethod
    def default_owner(cls):
        User = Pool().get('res.user')
        _, units = User.get_elevator_scope()
        if len(units) == 1:
            return units[0]

    @classmethod
    def get_counts(cls, projects, names):
        result = {n: {} for n in names}
        for project in projects:
            reached = defaultdict(int)
            for line in project.lines:
                # A line counts in its state and in every state before it.
                for state, _ in LINE_STATES:
                    reached[state] += 1
                    if state == line.state:
                        break
            for name in names:
                result[name][project.id] = reached[name[:-len('_count')]]
        return result

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('number'):
            Configuration = Pool().get('elevator.configuration')
            sequence = Configuration(1).get_subsidy_sequence(
                'installation_project_sequence')
            values['number'] = sequence.get()
        return values

    @classmethod
    def copy(cls, projects, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('number', None)
        default.setdefault('lines', None)
        default.setdefault('state', 'planned')
        return super().copy(projects, default=default)

    @classmethod
    def check_modification(cls, mode, projects, values=None,
            external=False):
        super().check_modification(mode, projects, values=values,
            external=external)
        protected = {'number', 'state'} & set(values or [])
        if mode == 'write' and external and protected:
            raise AccessError(gettext(
                    'elevator_subsidy.msg_installation_workflow_fields',
                    fields=', '.join(sorted(protected))))
        if mode == 'delete':
            for project in projects:
                if any(l.state == 'accepted' for l in project.lines):
                    raise AccessError(gettext(
                            'elevator_subsidy.msg_project_delete_accepted',
                            project=project.rec_name))

    @classmethod
    def update_state(cls, projects):
        "Planned, in progress or done from the state of the devices."
        by_state = defaultdict(list)
        for project in cls.browse([int(p) for p in projects]):
            states = {l.state for l in project.lines}
            if not states or states == {'planned'}:
                state = 'planned'
            elif states == {'accepted'}:
                state = 'done'
            else:
                state = 'in_progress'
            if project.state != state:
                by_state[state].append(project)
        for state, projects_ in by_state.items():
            cls.write(projects_, {'state': state})


class ProjectLine(Workflow, ModelSQL, ModelView):
    "Device Installation"
    __string__ = "Device Installation"
    __name__ = 'elevator.installation.project.line'
    _history = True

    _accepted = {'readonly': Eval('state') == 'accepted'}

    project = fields.Many2One('elevator.installation.project', "Project",
        required=True, ondelete='CASCADE',
        states={'readonly': Eval('state') != 'planned'})
    elevator = fields.Many2One('elevator.elevator', "Elevator",
        required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'planned'})
    device_type = fields.Selection(DEVICE_TYPES, "Device Type",
        required=True, sort=False,
        states={'readonly': Eval('state') != 'planned'})
    serial = fields.Char("Serial Number", strip=True, states=_accepted)
    state = fields.Selection(LINE_STATES, "State", readonly=True,
        required=True, sort=False)
    planned_date = fields.Date("Planned Date", states=_accepted)
    installed_date = fields.Date("Installed on", states=_accepted)
    connected_date = fields.Date("Connected on", readonly=True)
    accepted_date = fields.Date("Accepted on", readonly=True)
    accepted_by = fields.Many2One('res.user', "Accepted by", readonly=True,
        ondelete='RESTRICT')
    place = fields.Function(fields.Many2One('elevator.place', "Place"),
        'on_change_with_place')
    notes = fields.Char("Notes", states=_accepted)

    del _accepted

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('project')
        t = cls.__table__()
        cls._sql_constraints += [
            ('device_unique',
                Unique(t, t.project, t.elevator, t.device_type),
                'elevator_subsidy.msg_installation_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.elevator, Index.Range()),
                    (t.state, Index.Equality())),
                Index(t, (t.state, Index.Equality())),
                })
        cls._order = [('project', 'DESC'), ('elevator', 'ASC'),
            ('device_type', 'ASC'), ('id', 'ASC')]
        cls._transitions |= {
            ('planned', 'installed'),
            ('installed', 'planned'),
            ('installed', 'connected'),
            ('connected', 'accepted'),
            }
        cls._buttons.update({
                'install': {
                    'invisible': Eval('state') != 'planned',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'unplan': {
                    'invisible': Eval('state') != 'installed',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'connect': {
                    'invisible': Eval('state') != 'installed',
                    'icon': 'tryton-link',
                    'depends': ['state'],
                    },
                'accept': {
                    'invisible': Eval('state') != 'connected',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'planned'

    @classmethod
    def default_device_type(cls):
        return 'controller_terminal'

    @fields.depends('elevator', '_parent_elevator.place')
    def on_change_with_place(self, name=None):
        return self.elevator.place if self.elevator else None

    def get_rec_name(self, name):
        return (f'{self.elevator.rec_name} '
            f'{selection_label(self, "device_type", self.device_type)}')

    @classmethod
    def validate_fields(cls, lines, field_names):
        super().validate_fields(lines, field_names)
        if field_names is None or {'elevator', 'project'} & field_names:
            for line in lines:
                owner = line.project.owner
                if not owner.is_investor and owner not in {
                        line.elevator.user_unit,
                        line.elevator.property_company}:
                    raise ValidationError(gettext(
                            'elevator_subsidy.msg_installation_not_owner',
                            elevator=line.elevator.rec_name,
                            owner=owner.rec_name))

    @classmethod
    def check_modification(cls, mode, lines, values=None, external=False):
        super().check_modification(mode, lines, values=values,
            external=external)
        if mode == 'create' and external:
            for line in lines:
                set_ = [f for f in sorted(LINE_WORKFLOW_FIELDS - {'state'})
                    if getattr(line, f, None)]
                if line.state != 'planned':
                    set_.insert(0, 'state')
                if set_:
                    raise AccessError(gettext('elevator_subsidy.'
                            'msg_installation_workflow_fields',
                            fields=', '.join(set_)))
        if mode == 'write' and external and (
                set(values) & LINE_WORKFLOW_FIELDS):
            raise AccessError(gettext(
                    'elevator_subsidy.msg_installation_workflow_fields',
                    fields=', '.join(sorted(
                            set(values) & LINE_WORKFLOW_FIELDS))))
        if mode in {'write', 'delete'}:
            for line in lines:
                if line.state == 'accepted' and (
                        mode == 'delete' or external):
                    raise AccessError(gettext(
                            'elevator_subsidy.msg_installation_accepted',
                            installation=line.rec_name))

    @classmethod
    def on_modification(cls, mode, lines, field_names=None):
        super().on_modification(mode, lines, field_names=field_names)
        if mode == 'create' or (mode == 'write' and (
                    {'state', 'project'} & set(field_names))):
            Project = Pool().get('elevator.installation.project')
            Project.update_state(list({l.project.id for l in lines}))

    @classmethod
    def on_delete(cls, lines):
        callbacks = super().on_delete(lines)
        ids = list({l.project.id for l in lines})

        def update():
            Project = Pool().get('elevator.installation.project')
            Project.update_state(Project.search([('id', 'in', ids)]))
        callbacks.append(update)
        return callbacks

    @classmethod
    def copy(cls, lines, default=None):
        default = default.copy() if default is not None else {}
        for name in ['serial', 'installed_date', 'connected_date',
                'accepted_date', 'accepted_by']:
            default.setdefault(name, None)
        default.setdefault('state', 'planned')
        return super().copy(lines, default=default)

    @classmethod
    @ModelView.button
    @Workflow.transition('installed')
    def install(cls, lines):
        Date = Pool().get('ir.date')
        today = Date.today()
        to_write = [l for l in lines if not l.installed_date]
        if to_write:
            cls.write(to_write, {'installed_date': today})

    @classmethod
    @ModelView.button
    @Workflow.transition('planned')
    def unplan(cls, lines):
        cls.write(lines, {'installed_date': None})

    @classmethod
    def confirmed_by_iot(cls, lines):
        """Return {line: values} of the lines whose connection the IoT data
        confirms, or None when there is no IoT data (elevator_iot is not
        activated): the owner then confirms the connection by hand."""
        return None

    @classmethod
    @ModelView.button
    @Workflow.transition('connected')
    def connect(cls, lines):
        Date = Pool().get('ir.date')
        today = Date.today()
        confirmed = cls.confirmed_by_iot(lines)
        if confirmed is None:
            confirmed = {l: {} for l in lines}
        else:
            missing = [l for l in lines if l not in confirmed]
            if missing:
                raise UserError(gettext(
                        'elevator_subsidy.msg_installation_not_online',
                        installation=missing[0].rec_name,
                        count=len(missing)))
        args = []
        for line, values in confirmed.items():
            args.extend(([line], {'connected_date': today, **values}))
        if args:
            cls.write(*args)

    @classmethod
    def cron_confirm_connections(cls):
        """Hourly: installed devices that the IoT data shows online become
        connected without anybody clicking."""
        lines = cls.search([('state', '=', 'installed')])
        confirmed = cls.confirmed_by_iot(lines) if lines else None
        if confirmed:
            cls.connect(list(confirmed))
        return list(confirmed or [])

    @classmethod
    @ModelView.button
    @Workflow.transition('accepted')
    def accept(cls, lines):
        pool = Pool()
        Date = pool.get('ir.date')
        Elevator = pool.get('elevator.elevator')
        cls.write(lines, {
                'accepted_date': Date.today(),
                'accepted_by': Transaction().user,
                })
        # An accepted camera is video monitoring of the elevator.
        cameras = list({l.elevator for l in lines
                if l.device_type in VIDEO_DEVICE_TYPES
                and not l.elevator.has_video})
        if cameras:
            Elevator.write(cameras, {'has_video': True})
