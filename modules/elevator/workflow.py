"""Workflow fields change only through their buttons.

Tryton's `Workflow.transition` writes the new state itself, and buttons
(`ModelView.button`) run their method without access checking; so does every
server-side caller (cron, queue, routes as root). A direct `write` or `create`
of the state by a user through RPC (or any other code run with access
checking) is the only path that arrives here with `external` set: it is
refused, whatever the model. Platform administrators (`res.group_admin`)
keep the right to repair data by hand.

Every model of the platform with a workflow field uses `Workflow` of this
module (or `WorkflowStateMixin` for a state computed by the server);
`tests/test_workflow_rights.py` walks the pool and fails for any model with a
`state` field that lacks it.
"""
from trytond.i18n import gettext
from trytond.model import Workflow as _Workflow
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.transaction import Transaction


def _is_admin():
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    user_id = Transaction().user
    if not user_id:
        return True
    return ModelData.get_id('res', 'group_admin') in User.get_groups()


class WorkflowStateMixin:
    "The state field changes only through the model's buttons."
    __slots__ = ()
    _transition_state = 'state'
    # Marks the models guarded by this mixin (checked by the tests).
    _workflow_state_guarded = True

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(mode, records, values=values,
            external=external)
        if not external or mode == 'delete':
            return
        name = cls._transition_state
        if mode == 'write':
            if name not in (values or {}):
                return
            refused = records
        else:
            default = cls._defaults.get(name)
            default = default() if default else None
            refused = [r for r in records if getattr(r, name) != default]
        if refused and not _is_admin():
            names = cls.__names__(field=name)
            try:
                record = refused[0].rec_name
            except Exception:
                record = str(refused[0].id)
            raise AccessError(gettext(
                    'elevator.msg_workflow_state_write',
                    field=names['field'], model=names['model'],
                    record=record))


class Workflow(WorkflowStateMixin, _Workflow):
    "Tryton's Workflow whose state field only its transitions write."
    __slots__ = ()
