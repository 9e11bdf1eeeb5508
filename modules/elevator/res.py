"""Data scope of users (分层级、分区域、有限授权访问): the regions a regulator
covers and the units (firm, user unit) a portal user acts for, handed to the
record rules as `elevator_regions` and `elevator_units`."""
import json

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import ModelSQL, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    elevator_regions = fields.Many2Many('res.user-elevator.region', 'user',
        'region', "Supervised Regions",
        help="A district regulator sees the elevators of these regions "
        "and of the regions below them.")
    elevator_units = fields.Many2Many('res.user-elevator.unit', 'user',
        'party', "Units",
        help="The maintenance firm, user unit or property company the user "
        "acts for; portal users see only these units' elevators.")
    _scope_cache = Cache('res_user.get_elevator_scope', context=False)

    @classmethod
    def get_elevator_scope(cls):
        "Return (region ids, unit ids) of the current user."
        user_id = Transaction().user
        scope = cls._scope_cache.get(user_id)
        if scope is None:
            user = cls(user_id)
            scope = (
                sorted(r.id for r in user.elevator_regions),
                sorted(p.id for p in user.elevator_units))
            cls._scope_cache.set(user_id, scope)
        return scope

    @classmethod
    def on_modification(cls, mode, users, field_names=None):
        super().on_modification(mode, users, field_names=field_names)
        cls._scope_cache.clear()
        Pool().get('ir.rule')._domain_get_cache.clear()


class UserRegion(ModelSQL):
    "User - Supervised Region"
    __name__ = 'res.user-elevator.region'
    user = fields.Many2One('res.user', "User", ondelete='CASCADE',
        required=True)
    region = fields.Many2One('elevator.region', "Region",
        ondelete='CASCADE', required=True)

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        _clear_scope_caches()


class UserUnit(ModelSQL):
    "User - Unit"
    __name__ = 'res.user-elevator.unit'
    user = fields.Many2One('res.user', "User", ondelete='CASCADE',
        required=True)
    party = fields.Many2One('party.party', "Unit", ondelete='CASCADE',
        required=True)

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        _clear_scope_caches()


def _clear_scope_caches():
    pool = Pool()
    pool.get('res.user')._scope_cache.clear()
    pool.get('ir.rule')._domain_get_cache.clear()


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _get_cache_key(cls, model_names):
        User = Pool().get('res.user')
        key = super()._get_cache_key(model_names)
        regions, units = User.get_elevator_scope()
        return (*key, tuple(regions), tuple(units))

    @classmethod
    def _get_context(cls, model_name):
        User = Pool().get('res.user')
        context = super()._get_context(model_name)
        context['elevator_regions'], context['elevator_units'] = (
            User.get_elevator_scope())
        return context


def notify_district_regulators(Model, domain, message, region_field='region'):
    """Tell each district regulator, in his language, how many records of
    his regions match domain, with a link to them."""
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    Notification = pool.get('res.notification')
    group_id = ModelData.get_id('elevator', 'group_district_regulator')
    notifications = []
    with Transaction().set_user(0):
        regulators = User.search([
                ('groups', '=', group_id),
                ('elevator_regions', '!=', None),
                ])
        for user in regulators:
            records = Model.search(domain + [
                    (region_field, 'child_of',
                        [r.id for r in user.elevator_regions], 'parent'),
                    ])
            if not records:
                continue
            language = user.language.code if user.language else None
            with Transaction().set_context(language=language):
                label = gettext(message, count=len(records))
            notifications.append({
                    'user': user.id,
                    'label': label,
                    'model': Model.__name__,
                    'records': json.dumps([r.id for r in records][:1000]),
                    })
        if notifications:
            Notification.create(notifications)
    return notifications


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('elevator.elevator|cron_flag_inspections',
                "Flag Due and Overdue Inspections"))
        cls.method.selection.append(
            ('elevator.data.sharing|cron_expire',
                "Expire Data-Sharing Approvals"))
