"Fault, event and alarm codes of GB/T 24476 data and the platform's reaction."
from trytond.model import ModelSQL, ModelView, Unique, fields

REACTIONS = [
    ('rescue', "Rescue Ticket"),
    ('critical', "Critical Safety Fault"),
    ('repair', "Repair Order"),
    ('none', "Record Only"),
    ]


class FaultType(ModelSQL, ModelView):
    "IoT Fault Type"
    __name__ = 'elevator.iot.fault.type'

    code = fields.Char("Code", required=True, readonly=True,
        help="faultNo of the payloads.")
    name = fields.Char("Name", required=True)
    kind = fields.Selection([
            ('fault', "Fault"),
            ('alarm', "Alarm"),
            ('event', "Event"),
            ], "Kind", required=True)
    applies_to = fields.Selection([
            ('elevator', "Elevator"),
            ('escalator', "Escalator and Moving Walk"),
            ], "Applies To", required=True)
    reaction = fields.Selection(REACTIONS, "Reaction", required=True,
        help="What the platform does when the fault is raised.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'elevator_iot.msg_fault_type_code_unique'),
            ]
        cls._order = [('id', 'ASC')]

    def get_rec_name(self, name):
        return f'{self.code} {self.name}'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        bool_op = 'AND' if operator.startswith(('!', 'not ')) else 'OR'
        return [bool_op,
            ('code', operator, operand, *extra),
            ('name', operator, operand, *extra),
            ]
