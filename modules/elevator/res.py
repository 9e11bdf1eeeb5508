"""Data scope of users (分层级、分区域、有限授权访问): the regions a regulator
covers and the units (firm, user unit) a portal user acts for, handed to the
record rules as `elevator_regions` and `elevator_units`."""

from trytond.cache import Cache
from trytond.model import ModelSQL, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access


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
    his regions match domain, with a link to them (in the client, through
    the notification outbox)."""
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    Notification = pool.get('elevator.notification')
    group_id = ModelData.get_id('elevator', 'group_district_regulator')
    entries = []
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
            entries.append((user, Model.__name__,
                    [r.id for r in records][:1000], message,
                    {'count': len(records)}))
    return Notification.notify_users(entries)


def group_users(*xml_ids):
    "Active users of the groups elevator.<xml_id>."
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    with Transaction().set_user(0), without_check_access():
        return User.search([
                ('groups', 'in',
                    [ModelData.get_id('elevator', x) for x in xml_ids]),
                ])


def dispatcher_recipients():
    "The 96196 dispatchers as recipients of the notification outbox."
    from .notification import users_recipients
    return users_recipients(group_users('group_dispatcher'))


def district_regulator_recipients(region):
    """The district regulators whose regions hold region (itself or an
    ancestor), as recipients of the notification outbox."""
    from .notification import users_recipients
    if not region:
        return []
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    ancestors = []
    with without_check_access():
        while region:
            ancestors.append(region.id)
            region = region.parent
        with Transaction().set_user(0):
            users = User.search([
                    ('groups', '=', ModelData.get_id(
                            'elevator', 'group_district_regulator')),
                    ('elevator_regions', 'in', ancestors),
                    ])
    return users_recipients(users)


def unit_recipients(units, groups=('group_firm_manager',)):
    """The users of groups acting for each unit, and the unit's own
    mobile (else phone) and e-mail."""
    from .notification import party_recipients, users_recipients
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    unit_ids = [int(u) for u in units if u]
    if not unit_ids:
        return []
    with Transaction().set_user(0), without_check_access():
        users = User.search([
                ('groups', 'in',
                    [ModelData.get_id('elevator', g) for g in groups]),
                ('elevator_units', 'in', unit_ids),
                ])
        parties = pool.get('party.party').browse(unit_ids)
        return users_recipients(users) + party_recipients(parties)


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('elevator.elevator|cron_flag_inspections',
                    "Flag Due and Overdue Inspections"),
                ('elevator.notification|send_queued',
                    "Send Queued Notifications"),
                ])
        cls.method.selection.append(
            ('elevator.data.sharing|cron_expire',
                "Expire Data-Sharing Approvals"))
