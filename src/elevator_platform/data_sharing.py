"""Records of the data-sharing register (`elevator.data.sharing`) for the
demo and the tests: written, submitted and approved the way the city
regulators do it, by two different members of the city regulator group
(created when the database has fewer than two)."""
import datetime as dt

PASSWORD = 'elevator-demo'
# The second city regulator of the demo (two-person approvals).
EXTRA_REGULATORS = [
    ('city', '莆田市市场监管局（市级监管）'),
    ('city2', '莆田市市场监管局（市级监管 二）'),
    ]


def city_regulators(pool):
    "Two users of the city regulator group, created when missing."
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    group = ModelData.get_id('elevator', 'group_city_regulator')
    users = User.search([('groups', '=', group)], order=[('id', 'ASC')])
    if len(users) >= 2:
        return users[:2]
    Lang = pool.get('ir.lang')
    language = Lang.search([('code', '=', 'zh_CN'),
            ('translatable', '=', True)], limit=1)
    taken = {u.login for u in User.search([
                ('login', 'in', [login for login, _ in EXTRA_REGULATORS]),
                ('active', 'in', [True, False]),
                ])}
    to_create = []
    for login, name in EXTRA_REGULATORS:
        if len(users) + len(to_create) >= 2:
            break
        if login in taken:
            continue
        to_create.append({
                'login': login, 'name': name, 'password': PASSWORD,
                'language': language[0].id if language else None,
                'groups': [('add', [group])],
                })
    users += User.create(to_create)
    return users[:2]


def approved_sharing(pool, name, requester, recipient, categories,
        purpose, days=365, start=None):
    """An approved elevator.data.sharing record from requester to
    recipient (parties or ids) for `days` days from start (default
    today)."""
    from trytond.transaction import Transaction
    Sharing = pool.get('elevator.data.sharing')
    first, second = city_regulators(pool)
    start = start or dt.date.today() - dt.timedelta(days=1)
    requester = getattr(requester, 'id', requester)
    recipient = getattr(recipient, 'id', recipient)
    with Transaction().set_user(first.id):
        record, = Sharing.create([{
                    'name': name,
                    'requester': requester,
                    'recipient': recipient,
                    'purpose': purpose,
                    'data_categories': list(categories),
                    'legal_basis': 'public_authority',
                    'start_date': start,
                    'expiry_date': start + dt.timedelta(days=days),
                    }])
        Sharing.submit([record])
        Sharing.approve([record])
    with Transaction().set_user(second.id):
        Sharing.approve([Sharing(record.id)])
    record = Sharing(record.id)
    assert record.state == 'approved', record.state
    return record
