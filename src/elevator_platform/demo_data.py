"""`elevator demo-data`: fill a database (module `elevator` activated) with
the demo world of demo_world.py and the demo users of DESIGN §5.

Idempotent: regions, parties (by USCC), places (by name and region) and
users (by login) are created when missing, elevators go through the
registry loader of `elevator import` (created or updated by registration
code), inspections are added once per elevator. Everything is written with
batched ORM calls.
"""
import datetime as dt
import random
import sys

from . import tryton_env
from .demo_world import DemoWorld
from .progress import ProgressBar
from .registry_file import write_csv, write_xlsx
from .registry_format import COLUMNS, chinese_label

PASSWORD = 'elevator-demo'
FINDING_NOTES = {'missing': '缺失', 'nonconforming': '不符合要求'}
LANGUAGE = 'zh_CN'
BATCH = 1000

# login, name, group (module elevator), scope: district code, 'firm' (the
# first demo maintenance firm), 'property' (the demo property company) or,
# linked once the registry and the module demos are loaded (see
# ensure_party_scopes), 'agency', 'street', 'insurer', 'investor'.
USERS = [
    ('admin', '系统管理员', 'group_admin', None),
    ('city', '莆田市市场监管局（市级监管）', 'group_city_regulator', None),
    ('chengxiang', '城厢区市场监管局', 'group_district_regulator', '350302'),
    ('hanjiang', '涵江区市场监管局', 'group_district_regulator', '350303'),
    ('licheng', '荔城区市场监管局', 'group_district_regulator', '350304'),
    ('xiuyu', '秀屿区市场监管局', 'group_district_regulator', '350305'),
    ('xianyou', '仙游县市场监管局', 'group_district_regulator', '350322'),
    ('dispatcher', '96196 调度员', 'group_dispatcher', None),
    ('firm1', '维保单位负责人', 'group_firm_manager', 'firm'),
    ('tech1', '维保人员 一', 'group_technician', 'firm'),
    ('tech2', '维保人员 二', 'group_technician', 'firm'),
    ('property1', '物业管理员', 'group_user_unit', 'property'),
    ('fire', '消防救援', 'group_fire', None),
    ('finance', '财政经办', 'group_finance', None),
    ('auditor', '审计员', 'group_auditor', None),
    # The other parties of the notice (issue 17).
    ('agency1', '检验检测机构 检验员', 'group_agency', 'agency'),
    ('street1', '乡镇（街道）办 工作人员', 'group_street', 'street'),
    ('housing', '住房和城乡建设局', 'group_housing', None),
    ('emergency', '应急管理局', 'group_emergency', None),
    ('association', '电梯行业协会', 'group_association', None),
    ('insurer1', '保险机构 业务员', 'group_insurer', 'insurer'),
    ('investor1', '物联网终端投资单位', 'group_investor', 'investor'),
    ]
# The demo insurer of insurer1 and the demo investor of investor1 (one of
# the investors of demo_elevator_iot).
DEMO_INSURER = '中国太平洋财产保险股份有限公司莆田中心支公司'
DEMO_INVESTOR = '莆田市国有资产投资经营集团有限公司'


def add_parser(subparsers):
    parser = subparsers.add_parser('demo-data',
        help="fill the database with a realistic Putian demo registry",
        description="Fill a database where the module elevator is "
        "activated with a deterministic Putian demo: regions, units, "
        "places, elevators, inspections and the demo users (password "
        f"{PASSWORD}). Running it again changes nothing.")
    tryton_env.add_arguments(parser)
    parser.add_argument('--elevators', type=int, default=2000,
        help="number of elevators (default: 2000)")
    parser.add_argument('--seed', type=int, default=1,
        help="random seed; the same seed gives the same data (default: 1)")
    parser.add_argument('--write-registry', metavar='FILE',
        help="only write the generated registry to FILE (.csv or .xlsx), "
        "in the format of `elevator import`, without a database")
    parser.add_argument('--quiet', action='store_true',
        help="no progress bar")
    parser.set_defaults(func=run)


def run(args):
    if args.write_registry:
        world = DemoWorld(args.elevators, args.seed)
        write_registry(args.write_registry, world.registry_rows())
        print(f"elevator demo-data: {args.elevators} elevators written to "
            f"{args.write_registry}", file=sys.stderr)
        return 0
    with tryton_env.transaction(args.database,
            config_file=args.config) as pool:
        bar = ProgressBar(args.elevators, label='demo-data',
            enabled=not args.quiet)
        world, result = load_demo(pool, args.elevators, args.seed,
            progress=bar)
        bar.close()
    for error in result.errors:
        print(f"row {error.row}, {error.column}: {error.message}",
            file=sys.stderr)
    print(f"elevator demo-data: {len(world.regions)} regions, "
        f"{len(world.units())} units, {len(world.sites)} places, "
        f"{result.created} elevators created, {result.updated} updated, "
        f"{result.unchanged} unchanged; users: "
        + ', '.join(login for login, *_ in USERS)
        + f" (password {PASSWORD})", file=sys.stderr)
    return 1 if result.errors else 0


def write_registry(path, rows):
    "Write registry rows as CSV or XLSX (by suffix) with Chinese headers."
    headers = [c.headers[0] for c in COLUMNS]
    table = [[chinese_label(c.key, values.get(c.key)) for c in COLUMNS]
        for _, values in rows]
    if path.lower().endswith('.xlsx'):
        write_xlsx(path, headers, table)
    else:
        write_csv(path, headers, table)


def load_demo(pool, elevators=2000, seed=1, progress=None, today=None):
    """Create the demo world in the current transaction (committing batch by
    batch); return (world, loader result)."""
    from trytond.transaction import Transaction

    from .registry_loader import RegistryLoader
    Configuration = pool.get('elevator.configuration')
    transaction = Transaction()
    world = DemoWorld(elevators, seed, today=today,
        rescue_code_length=Configuration(1).rescue_code_length)
    ensure_regions(pool, world.regions)
    transaction.commit()
    parties = ensure_parties(pool, world.units())
    ensure_places(pool, world, parties)
    ensure_users(pool, world, parties)
    transaction.commit()
    result = RegistryLoader(pool, progress=progress).load(
        world.registry_rows())
    ensure_inspections(pool, world)
    ensure_insurance(pool, world)
    transaction.commit()
    load_module_demos(pool, world)
    ensure_party_scopes(pool, world)
    transaction.commit()
    return world, result


def demo_street(world):
    """The town or street of street1: the one with the most orphan
    elevators (三无电梯) of the demo."""
    parents = {r.code: r.parent for r in world.regions}
    levels = {r.code: r.level for r in world.regions}
    counts = {}
    for values in world.elevators:
        code = values['region']
        while code in levels and levels[code] != 'town':
            code = parents.get(code)
        if code in levels:
            counts[code] = counts.get(code, 0) + (
                100 if values['orphan'] else 1)
    return max(sorted(counts), key=lambda c: counts[c])


def ensure_insurance(pool, world):
    """The demo insurer and its elevator safety liability policies for
    about one elevator in use in five (保险+服务); elevators already insured
    are left alone, so a second run adds nothing."""
    Party = pool.get('party.party')
    Elevator = pool.get('elevator.elevator')
    Policy = pool.get('elevator.insurance.policy')
    insurers = Party.search([('name', '=', DEMO_INSURER)], limit=1)
    if insurers:
        insurer, = insurers
    else:
        insurer, = Party.create([{'name': DEMO_INSURER, 'is_insurer': True}])
    rnd = random.Random(world.seed * 6151 + 29)
    candidates = [v['registration_code'] for v in world.elevators
        if v['state'] == 'in_use']
    chosen = sorted(rnd.sample(candidates,
            min(len(candidates), max(5, len(candidates) // 5))))
    today = world.today
    vlist = []
    for i in range(0, len(chosen), BATCH):
        for elevator in Elevator.search([
                    ('registration_code', 'in', chosen[i:i + BATCH]),
                    ('insurance_policies', '=', None),
                    ], order=[('registration_code', 'ASC')]):
            start = today - dt.timedelta(days=rnd.randint(0, 300))
            vlist.append({
                    'insurer': insurer.id,
                    'elevator': elevator.id,
                    'number': f'PDZA{start.year}3503{len(vlist) + 1:08d}',
                    'cover_amount': rnd.choice([500000, 1000000, 2000000]),
                    'start_date': start,
                    'end_date': start.replace(year=start.year + 1)
                    - dt.timedelta(days=1),
                    })
    for i in range(0, len(vlist), BATCH):
        Policy.create(vlist[i:i + BATCH])
    return len(vlist)


def ensure_party_scopes(pool, world):
    """Link agency1, street1, insurer1 and investor1 to their party or
    region, once these exist (the investors come with the IoT demo)."""
    Party = pool.get('party.party')
    Region = pool.get('elevator.region')
    User = pool.get('res.user')
    units = {}
    from trytond.modules.elevator.party import USCC_TYPE
    agencies = Party.search([
            ('identifiers', 'where', [
                    ('type', '=', USCC_TYPE),
                    ('code_compact', '=', world.agency.uscc),
                    ]),
            ], limit=1)
    if agencies:
        units['agency'] = agencies[0]
    for key, domain in [
            ('insurer', [('name', '=', DEMO_INSURER)]),
            ('investor', [('name', '=', DEMO_INVESTOR),
                    ('is_investor', '=', True)]),
            ]:
        found = Party.search(domain, order=[('id', 'ASC')], limit=1)
        if found:
            units[key] = found[0]
    streets = Region.search([('code', '=', demo_street(world))], limit=1)
    users = {u.login: u for u in User.search([
                ('login', 'in', [login for login, *_ in USERS]),
                ])}
    args = []
    for login, _, _, scope in USERS:
        user = users.get(login)
        if not user:
            continue
        if scope in units and units[scope] not in user.elevator_units:
            args.extend([[user], {
                        'elevator_units': [('add', [units[scope].id])]}])
        elif (scope == 'street' and streets
                and streets[0] not in user.elevator_regions):
            args.extend([[user], {
                        'elevator_regions': [('add', [streets[0].id])]}])
    if args:
        User.write(*args)


# Demo data of the other modules, in dependency order: the module, the
# model whose records show that its demo data is already there, and the
# generator elevator_platform.demo_<module>.generate(pool, rng, elevators).
MODULE_DEMOS = [
    ('elevator_iot', 'elevator.iot.device'),
    ('elevator_maintenance', 'elevator.maintenance.contract'),
    ('elevator_rescue', 'elevator.rescue.ticket'),
    ('elevator_public', 'elevator.public.feedback'),
    ('elevator_subsidy', 'elevator.subsidy.program'),
    ('elevator_assessment', 'elevator.assessment.district'),
    ('elevator_enforcement', 'elevator.enforcement.case'),
    ]


def load_module_demos(pool, world):
    """Run the demo generator of every activated module whose data is not
    there yet (a second run adds nothing), committing after each."""
    import importlib

    from trytond.transaction import Transaction
    Module = pool.get('ir.module')
    Elevator = pool.get('elevator.elevator')
    activated = {m.name for m in Module.search([('state', '=', 'activated')])}
    elevators = None
    for index, (module, marker) in enumerate(MODULE_DEMOS):
        if module not in activated:
            continue
        if pool.get(marker).search([], limit=1):
            continue
        name = f'elevator_platform.demo_{module}'
        try:
            generator = importlib.import_module(name)
        except ModuleNotFoundError as exception:
            if exception.name != name:
                raise
            continue
        if elevators is None:
            elevators = Elevator.search([], order=[('id', 'ASC')])
        generator.generate(pool,
            random.Random(world.seed * 104729 + index), elevators)
        Transaction().commit()


def ensure_regions(pool, regions):
    "Create the regions missing by code, parents first."
    from trytond.transaction import Transaction
    Region = pool.get('elevator.region')
    with Transaction().set_context(active_test=False):
        ids = {r.code: r.id for r in Region.search([])}
    levels = ['district', 'zone', 'town', 'community']
    for level in levels:
        vlist = [{
                'code': r.code,
                'name': r.name,
                'level': r.level,
                'parent': ids[r.parent],
                'urban': r.urban,
                } for r in regions
            if r.level == level and r.code not in ids]
        for region in Region.create(vlist):
            ids[region.code] = region.id
    return ids


def ensure_parties(pool, units):
    """Create the units missing by USCC, give the others their roles;
    return {USCC: party id}."""
    from trytond.modules.elevator.party import USCC_TYPE
    Party = pool.get('party.party')
    Identifier = pool.get('party.identifier')
    ids = {}
    usccs = [u.uscc for u in units]
    for i in range(0, len(usccs), BATCH):
        for identifier in Identifier.search([
                    ('type', '=', USCC_TYPE),
                    ('code_compact', 'in', usccs[i:i + BATCH]),
                    ]):
            ids[identifier.code_compact] = identifier.party
    missing = [u for u in units if u.uscc not in ids]
    vlist = []
    for unit in missing:
        values = {
            'name': unit.name,
            'identifiers': [('create', [{
                            'type': USCC_TYPE, 'code': unit.uscc}])],
            'public_phone': unit.public_phone,
            'licence_number': unit.licence_number,
            'qualification': unit.qualification,
            'qualification_valid_until': unit.qualification_valid_until,
            }
        values.update({role: True for role in unit.roles})
        vlist.append(values)
    for i in range(0, len(vlist), BATCH):
        for unit, party in zip(missing[i:i + BATCH],
                Party.create(vlist[i:i + BATCH])):
            ids[unit.uscc] = party
    # Existing parties keep their data but get the roles of the demo.
    args = []
    for unit in units:
        party = ids[unit.uscc]
        lacking = {r: True for r in unit.roles if not getattr(party, r)}
        if lacking:
            args.extend([[party], lacking])
    if args:
        Party.write(*args)
    return {uscc: party.id for uscc, party in ids.items()}


def ensure_places(pool, world, parties):
    "Create the sites missing by (name, region); return {name: id}."
    Place = pool.get('elevator.place')
    Region = pool.get('elevator.region')
    regions = {r.code: r.id for r in Region.search([
                ('code', 'in', sorted({s.region for s in world.sites})),
                ])}
    names = [s.name for s in world.sites]
    existing = {}
    for i in range(0, len(names), BATCH):
        for place in Place.search([('name', 'in', names[i:i + BATCH])]):
            existing[(place.name, place.region.id)] = place.id
    vlist = []
    for site in world.sites:
        if (site.name, regions[site.region]) in existing:
            continue
        vlist.append({
                'name': site.name,
                'category': site.category,
                'region': regions[site.region],
                'address': site.address,
                'latitude': site.latitude,
                'longitude': site.longitude,
                'property_company': (parties[site.property_company.uscc]
                    if site.property_company else None),
                })
    for i in range(0, len(vlist), BATCH):
        Place.create(vlist[i:i + BATCH])


def demo_property_company(world):
    "The property company of property1: the one with the most elevators."
    counts = {}
    for values in world.elevators:
        if values['property_company_uscc']:
            key = values['property_company_uscc']
            counts[key] = counts.get(key, 0) + 1
    return max(world.property_companies,
        key=lambda u: (counts.get(u.uscc, 0), u.uscc))


def ensure_users(pool, world, parties):
    "Create or update the demo users of DESIGN §5 (password, groups, scope)."
    from trytond.transaction import Transaction
    User = pool.get('res.user')
    Lang = pool.get('ir.lang')
    ModelData = pool.get('ir.model.data')
    Region = pool.get('elevator.region')
    language, = Lang.search([('code', '=', LANGUAGE)])
    if not language.translatable:
        Lang.write([language], {'translatable': True})
    units = {
        'firm': parties[world.firms[0].uscc],
        'property': parties[demo_property_company(world).uscc],
        }
    regions = {r.code: r.id for r in Region.search([
                ('code', 'in', [s for *_, s in USERS if s and s.isdigit()]),
                ])}
    with Transaction().set_context(active_test=False):
        existing = {u.login: u for u in User.search([
                    ('login', 'in', [login for login, *_ in USERS]),
                    ])}
    to_create, args = [], []
    for login, name, group, scope in USERS:
        values = {
            'password': PASSWORD,
            'language': language.id,
            'active': True,
            'groups': [('add', [ModelData.get_id('elevator', group)])],
            }
        if name:
            values['name'] = name
        if scope in regions:
            values['elevator_regions'] = [('add', [regions[scope]])]
        elif scope in units:
            values['elevator_units'] = [('add', [units[scope]])]
        if login in existing:
            args.extend([[existing[login]], values])
        else:
            to_create.append({'login': login, **values})
    if to_create:
        User.create(to_create)
    if args:
        User.write(*args)


def ensure_inspections(pool, world):
    """Signed-off periodic inspections for about one elevator in twelve,
    some finding video or remote monitoring missing or non-conforming (the
    sign-off notifies the district regulators). Elevators already
    inspected are left alone, so a second run adds nothing."""
    from trytond.modules.elevator.party import USCC_TYPE
    Elevator = pool.get('elevator.elevator')
    Inspection = pool.get('elevator.inspection')
    Party = pool.get('party.party')
    # Apart from the world's generator, so that the registry stays the same
    # whatever is decided here.
    rnd = random.Random(world.seed * 7919 + 17)
    candidates = [v for v in world.elevators if v['state'] == 'in_use']
    chosen = rnd.sample(candidates, min(len(candidates),
            max(10, len(world.elevators) // 12)))
    agency, = Party.search([
            ('identifiers', 'where', [
                    ('type', '=', USCC_TYPE),
                    ('code_compact', '=', world.agency.uscc),
                    ]),
            ])
    vlist = []
    for i in range(0, len(chosen), BATCH):
        batch = chosen[i:i + BATCH]
        ids = {e.registration_code: e.id for e in Elevator.search([
                    ('registration_code', 'in',
                        [v['registration_code'] for v in batch]),
                    ('inspections', '=', None),
                    ])}
        for n, values in enumerate(batch, i + 1):
            if values['registration_code'] not in ids:
                continue
            due = values['next_inspection_date']
            date = due - dt.timedelta(days=365)
            if values['has_video']:
                video = rnd.choices(['conforming', 'nonconforming'],
                    [95, 5])[0]
            else:
                video = rnd.choices(['missing', 'conforming'], [70, 30])[0]
            monitoring = rnd.choices(
                ['conforming', 'missing', 'nonconforming'], [60, 35, 5])[0]
            notes = '；'.join(
                device + FINDING_NOTES[finding]
                for device, finding in [
                    ('视频监控', video), ('远程监测装置', monitoring)]
                if finding != 'conforming')
            vlist.append({
                    'elevator': ids[values['registration_code']],
                    'agency': agency.id,
                    'report_number': f'FJTJ-PT-{date.year}-{n:05d}',
                    'kind': 'periodic',
                    'date': date,
                    'next_due_date': due,
                    'conclusion': rnd.choices(['qualified',
                            'qualified_after_recheck', 'unqualified'],
                        [92, 6, 2])[0],
                    'video': video,
                    'monitoring_device': monitoring,
                    'notes': notes or None,
                    })
    for i in range(0, len(vlist), BATCH):
        Inspection.sign_off(Inspection.create(vlist[i:i + BATCH]))
    return len(vlist)

