"Statutory inspections (定期检验) recorded by the inspection agency."
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from .workflow import Workflow
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval

from .res import notify_district_regulators

CONCLUSIONS = [
    ('qualified', "Qualified"),
    ('qualified_after_recheck', "Qualified after Re-check"),
    ('unqualified', "Unqualified"),
    ]
DEVICE_FINDINGS = [
    ('conforming', "Present and Conforming"),
    ('missing', "Missing"),
    ('nonconforming', "Non-conforming"),
    ]


class Inspection(Workflow, ModelSQL, ModelView):
    "Elevator Inspection"
    __name__ = 'elevator.inspection'
    _history = True

    _readonly = {'readonly': Eval('state') != 'draft'}

    elevator = fields.Many2One('elevator.elevator', "Elevator", required=True,
        ondelete='RESTRICT', states=_readonly)
    agency = fields.Many2One('party.party', "Inspection Agency",
        required=True, ondelete='RESTRICT', states=_readonly,
        domain=[('is_inspection_agency', '=', True)])
    report_number = fields.Char("Report Number", states=_readonly)
    kind = fields.Selection([
            ('periodic', "Periodic"),
            ('acceptance', "Installation Acceptance"),
            ('recheck', "Re-check"),
            ], "Kind", required=True, states=_readonly)
    date = fields.Date("Date", required=True, states=_readonly)
    conclusion = fields.Selection(CONCLUSIONS, "Conclusion", required=True,
        states=_readonly)
    next_due_date = fields.Date("Next Due Date", required=True,
        states=_readonly,
        domain=[('next_due_date', '>', Eval('date'))])
    video = fields.Selection(DEVICE_FINDINGS, "Video Monitoring",
        required=True, states=_readonly)
    monitoring_device = fields.Selection(DEVICE_FINDINGS,
        "Remote Monitoring Device", required=True, states=_readonly)
    notes = fields.Text("Notes", states=_readonly)
    state = fields.Selection([
            ('draft', "Draft"),
            ('done', "Signed Off"),
            ], "State", readonly=True, required=True)

    del _readonly

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # Who sees the elevator sees its inspections.
        cls.__access__.add('elevator')
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.elevator, Index.Range()),
                (t.date, Index.Range())))
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {('draft', 'done')}
        cls._buttons.update({
                'sign_off': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_kind(cls):
        return 'periodic'

    @classmethod
    def default_video(cls):
        return 'conforming'

    @classmethod
    def default_monitoring_device(cls):
        return 'conforming'

    @fields.depends('date', 'next_due_date')
    def on_change_date(self):
        if self.date and not self.next_due_date:
            # Elevators are inspected yearly (TSG T7001).
            try:
                self.next_due_date = self.date.replace(
                    year=self.date.year + 1)
            except ValueError:
                self.next_due_date = self.date.replace(
                    year=self.date.year + 1, day=28)

    def get_rec_name(self, name):
        return f'{self.elevator.rec_name} {self.date}'

    @classmethod
    def check_modification(cls, mode, inspections, values=None,
            external=False):
        super().check_modification(mode, inspections, values=values,
            external=external)
        if mode in {'write', 'delete'}:
            for inspection in inspections:
                if (inspection.state == 'done'
                        and (mode == 'delete' or set(values) - {'state'})):
                    raise AccessError(gettext(
                            'elevator.msg_inspection_signed_off',
                            inspection=inspection.rec_name))

    @property
    def device_findings(self):
        return self.video != 'conforming' or (
            self.monitoring_device != 'conforming')

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def sign_off(cls, inspections):
        pool = Pool()
        Elevator = pool.get('elevator.elevator')
        latest = {}
        for inspection in sorted(inspections, key=lambda i: i.date):
            latest[inspection.elevator] = inspection
        to_write = []
        for elevator, inspection in latest.items():
            if (elevator.last_inspection_date
                    and elevator.last_inspection_date > inspection.date):
                continue
            to_write.extend(([elevator], {
                        'last_inspection_date': inspection.date,
                        'last_inspection_conclusion': inspection.conclusion,
                        'next_inspection_date': inspection.next_due_date,
                        }))
        if to_write:
            Elevator.write(*to_write)
        with_findings = [i for i in inspections if i.device_findings]
        if with_findings:
            notify_district_regulators(cls, [
                    ('id', 'in', [i.id for i in with_findings]),
                    ], 'elevator.msg_notify_device_findings',
                region_field='elevator.region')
