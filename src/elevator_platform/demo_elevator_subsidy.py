"""Demo data of the module elevator_subsidy: two subsidy programmes of
Putian with applications in every state and their decisions, installation
projects elevator by elevator, the monitoring coverage of the last months
and the compliance flags.

`generate(pool, rng, elevators)` runs inside the demo's transaction as
admin, after the registry and the demo users exist. Everything is created
with batched ORM calls; a database that already has the demo programmes is
left alone, so running the demo again changes nothing.

What happened in the past (submissions, reviews, payments, installations)
is written as records with past dates rather than replayed through the
buttons: the decisions name the demo users who took them. The coverage of
the past months is a ramp towards today's figures, computed from the
registry: the registry keeps no history of its devices.
"""
import datetime as dt
from collections import defaultdict
from decimal import Decimal

PASSWORD = 'elevator-demo'
LANGUAGE = 'zh_CN'
PROGRAM_PAST = '老旧小区及“三无”电梯物联网监测装置补助'
PROGRAM_CURRENT = '公益性电梯及“三无”电梯视频监控补助'
INVESTOR = ('莆田市惠民物联网科技投资有限公司', '91350300MA8UDEMO1X')
INSTALLERS = ['福建省安信物联科技有限公司', '莆田市梯联智能科技有限公司']
# The second finance clerk of the two-person step (DESIGN §5 has one).
EXTRA_USERS = [('finance2', '财政经办 二', 'group_finance')]
LINES_PER_APPLICATION = 8
HISTORY_MONTHS = 18


def generate(pool, rng, elevators):
    """Create the demo of the subsidies for the demo elevators; return a
    summary dict (empty when the demo programmes already exist)."""
    from trytond.transaction import Transaction
    Program = pool.get('elevator.subsidy.program')
    if Program.search([('name', 'in', [PROGRAM_PAST, PROGRAM_CURRENT])],
            limit=1):
        return {}
    today = pool.get('ir.date').today()
    with Transaction().set_context(active_test=False, language=LANGUAGE):
        users = _users(pool)
        _flag_places(pool, rng, elevators)
        investor = _investor(pool)
        installers = _installers(pool)
        past, current = _programs(pool, today)
        in_use = [e for e in elevators if e.state == 'in_use']
        summary = {}
        summary['past'] = _applications(pool, rng, past, in_use, users,
            investor, today, past=True)
        Program.close([past])
        summary['current'] = _applications(pool, rng, current, in_use,
            users, investor, today, past=False)
        summary['projects'] = _projects(pool, rng, installers, users, today)
        summary['coverage'] = _coverage(pool, today)
        Coverage = pool.get('elevator.subsidy.coverage')
        summary['intensified'] = Coverage.update_compliance(today)
    return summary


def _users(pool):
    "The demo users by login, with finance2 created when missing."
    User = pool.get('res.user')
    Lang = pool.get('ir.lang')
    ModelData = pool.get('ir.model.data')
    existing = {u.login: u for u in User.search([])}
    language = Lang.search([('code', '=', LANGUAGE)], limit=1)
    to_create = []
    for login, name, group in EXTRA_USERS:
        if login not in existing:
            to_create.append({
                    'login': login,
                    'name': name,
                    'password': PASSWORD,
                    'language': language[0].id if language else None,
                    'groups': [('add', [ModelData.get_id('elevator', group)])],
                    })
    for user in User.create(to_create):
        existing[user.login] = user
    admin = existing.get('admin')

    def get(login):
        return existing.get(login) or admin
    return get


def _flag_places(pool, rng, elevators):
    """Estates with orphan elevators and some other old estates lack
    maintenance funds; government and public-institution sites, hospitals
    and schools are public welfare."""
    Place = pool.get('elevator.place')
    places = {}
    orphan_places = set()
    for elevator in elevators:
        if elevator.place:
            places[elevator.place.id] = elevator.place
            if elevator.orphan:
                orphan_places.add(elevator.place.id)
    low_fund, welfare = [], []
    for place in places.values():
        if place.category == 'residential' and (place.id in orphan_places
                or rng.random() < 0.12):
            low_fund.append(place)
        if place.category in {'government', 'public_institution'} or (
                place.category == 'public_gathering' and rng.random() < 0.3):
            welfare.append(place)
    args = []
    if low_fund:
        args.extend([low_fund, {'low_maintenance_fund': True}])
    if welfare:
        args.extend([welfare, {'public_welfare': True}])
    if args:
        Place.write(*args)


def _investor(pool):
    "The investor that applies for the orphan elevators (三无电梯)."
    Party = pool.get('party.party')
    name, _ = INVESTOR
    parties = Party.search([('name', '=', name)], limit=1)
    if parties:
        return parties[0]
    party, = Party.create([{'name': name, 'is_investor': True}])
    return party


def _installers(pool):
    Party = pool.get('party.party')
    found = {p.name: p for p in Party.search([('name', 'in', INSTALLERS)])}
    missing = [{'name': n} for n in INSTALLERS if n not in found]
    for party in Party.create(missing):
        found[party.name] = party
    return [found[n] for n in INSTALLERS]


def _programs(pool, today):
    """Last year's programme for monitoring terminals (closed once its
    applications are in) and this year's for cameras (open); both with
    three steps, finance by two
    clerks, the city only from 10,000 yuan."""
    Program = pool.get('elevator.subsidy.program')
    Region = pool.get('elevator.region')
    ModelData = pool.get('ir.model.data')
    city, = Region.search([('level', '=', 'city')], limit=1)

    def group(name):
        return ModelData.get_id('elevator', name)

    def steps():
        return [('create', [{
                        'sequence': 10,
                        'name': '区市场监管局初审',
                        'group': group('group_district_regulator'),
                        'level': 'district',
                        'number_user': 1,
                        }, {
                        'sequence': 20,
                        'name': '财政局审核（双人复核）',
                        'group': group('group_finance'),
                        'level': 'program',
                        'number_user': 2,
                        }, {
                        'sequence': 30,
                        'name': '市市场监管局审批',
                        'group': group('group_city_regulator'),
                        'level': 'program',
                        'number_user': 1,
                        'minimum_amount': Decimal('10000'),
                        }])]
    last_year = today.year - 1
    past, current = Program.create([{
                'name': PROGRAM_PAST,
                'year': last_year,
                'region': city.id,
                'budget': Decimal('1500000'),
                'eligibility': ['orphan', 'low_fund'],
                'categories': ['3110', '3120', '3130', '3200'],
                'max_per_elevator': Decimal('3000'),
                'window_start': dt.date(last_year, 3, 1),
                'window_end': dt.date(last_year, 10, 31),
                'description': '对老旧小区及“三无”电梯加装物联网远程监测装置'
                '给予补助，按验收合格的装置拨付。',
                'rates': [('create', [
                            {'device_type': 'controller_terminal',
                                'amount': Decimal('1800')},
                            {'device_type': 'presence_sensor',
                                'amount': Decimal('300')},
                            ])],
                'steps': steps(),
                }, {
                'name': PROGRAM_CURRENT,
                'year': today.year,
                'region': city.id,
                'budget': Decimal('800000'),
                'eligibility': ['public_welfare', 'orphan', 'low_fund'],
                'categories': ['3110', '3120', '3130', '3200'],
                'max_per_elevator': Decimal('3500'),
                'window_start': today - dt.timedelta(days=60),
                'window_end': today + dt.timedelta(days=120),
                'description': '对公益性电梯、“三无”电梯及维修资金不足小区'
                '电梯加装 AI 视频监控给予补助。',
                'rates': [('create', [
                            {'device_type': 'ai_camera',
                                'amount': Decimal('1500')},
                            {'device_type': 'gateway',
                                'amount': Decimal('500')},
                            ])],
                'steps': steps(),
                }])
    Program.open([past, current])
    return Program.browse([past.id, current.id])


def _eligible(program, elevators):
    return [e for e in elevators
        if program.elevator_error(e) is None and e.district]


def _applications(pool, rng, program, elevators, users, investor, today,
        past):
    """Applications of the programme grouped by applicant and district, in
    realistic states with their decisions."""
    Application = pool.get('elevator.subsidy.application')
    devices = (['controller_terminal'] if past else ['ai_camera'])
    candidates = _eligible(program, elevators)
    rng.shuffle(candidates)
    groups = defaultdict(list)
    for elevator in candidates:
        applicant = (investor if elevator.orphan or not (
                elevator.property_company or elevator.user_unit)
            else (elevator.property_company or elevator.user_unit))
        groups[(applicant.id, elevator.district.id)].append(elevator)
    property_unit = None
    property_user = users('property1')
    if property_user and property_user.elevator_units:
        property_unit = property_user.elevator_units[0].id
    keys = sorted(groups, key=lambda k: (k[0] != property_unit, k))
    limit = 24 if past else 14
    keys = keys[:limit]
    vlist = []
    for applicant, _ in keys:
        lifts = groups[(applicant, _)][:LINES_PER_APPLICATION]
        lines = []
        for elevator in lifts:
            types = list(devices)
            if past and rng.random() < 0.4:
                types.append('presence_sensor')
            if not past and rng.random() < 0.2:
                types.append('gateway')
            lines.append({'elevator': elevator.id, 'device_types': types})
        vlist.append({
                'program': program.id,
                'applicant': applicant,
                'contact_name': rng.choice(['林经理', '陈主任', '黄女士',
                        '吴工', '郑经理', '王主任']),
                'contact_phone': f'0594-{rng.randint(2200000, 2999999)}',
                'lines': [('create', lines)],
                })
    applications = Application.create(vlist)
    if past:
        states = ['paid'] * len(applications)
        if len(states) > 3:
            states[-1] = 'rejected'
            states[-2] = 'approved'
    else:
        cycle = ['approved', 'finance_half', 'under_review', 'submitted',
            'returned', 'draft', 'approved', 'finance_half', 'under_review',
            'rejected', 'draft', 'submitted', 'approved', 'under_review']
        states = [cycle[i % len(cycle)] for i in range(len(applications))]
        # property1 finds one of each of its applications' interesting
        # states first.
    _history(pool, rng, program, applications, states, users, today, past)
    return len(applications)


def _history(pool, rng, program, applications, targets, users, today,
        past):
    """Write the decisions and the state of each application as if the
    users had clicked: submit, review, approve step by step (two finance
    clerks), return, reject, pay."""
    Application = pool.get('elevator.subsidy.application')
    Decision = pool.get('elevator.subsidy.decision')
    ButtonClick = pool.get('ir.model.button.click')
    Attachment = pool.get('ir.attachment')
    ModelData = pool.get('ir.model.data')
    approve_button = ModelData.get_id('elevator_subsidy',
        'application_approve_button')
    district_users = {}
    for login in ['chengxiang', 'hanjiang', 'licheng', 'xiuyu', 'xianyou']:
        user = users(login)
        for region in user.elevator_regions:
            district_users[region.id] = user
    decisions, clicks, args = [], [], []
    start = (dt.datetime.combine(program.window_start, dt.time(9))
        if past else dt.datetime.combine(today, dt.time(9))
        - dt.timedelta(days=50))
    for application, target in zip(applications, targets):
        if target == 'draft':
            continue
        route = application.route
        moment = start + dt.timedelta(days=rng.randint(0, 20),
            minutes=rng.randint(0, 480))
        regulator = district_users.get(application.district.id,
            users('city'))
        amount = application.amount
        values = {'submitted_at': moment}
        reached = set()

        def decide(action, user, step=None, comment=None, hours=(4, 60)):
            nonlocal moment
            moment += dt.timedelta(hours=rng.randint(*hours))
            decisions.append({
                    'application': application.id,
                    'action': action,
                    'step': step.id if step else None,
                    'step_name': step.name if step else None,
                    'user': user.id,
                    'date': moment,
                    'comment': comment,
                    'amount': amount,
                    })
            if step:
                reached.add(step.group.id)

        decide('submit', users('property1') if application.applicant
            in users('property1').elevator_units else users('admin'),
            comment='申请补助，材料见附件。', hours=(0, 1))
        if target == 'submitted':
            args.extend(([application], dict(values, state='submitted')))
            continue
        first = route[0]
        decide('review', regulator, first)
        if target == 'returned':
            decide('return', regulator, first,
                comment='请补充电梯使用登记证复印件及现场照片。')
            args.extend(([application], dict(values, state='returned',
                        reached_groups=[('add', list(reached))])))
            continue
        if target == 'rejected':
            decide('reject', regulator, first,
                comment='经核实，该批电梯已由开发商承诺加装，不属补助范围。')
            args.extend(([application], dict(values, state='rejected',
                        reached_groups=[('add', list(reached))])))
            continue
        decide('approve', regulator, first, comment='现场核实，情况属实。')
        if target == 'under_review':
            args.extend(([application], dict(values, state='under_review',
                        step=route[1].id,
                        reached_groups=[('add', list(reached | {
                                            route[1].group.id}))])))
            continue
        finance_step = route[1]
        decide('approve', users('finance'), finance_step,
            comment='预算内，同意。')
        if target == 'finance_half':
            clicks.append({
                    'button': approve_button,
                    'record_id': application.id,
                    'user': users('finance').id,
                    })
            args.extend(([application], dict(values, state='under_review',
                        step=finance_step.id,
                        reached_groups=[('add', list(reached))])))
            continue
        decide('approve', users('finance2'), finance_step,
            comment='复核无误。')
        if len(route) > 2:
            decide('approve', users('city'), route[2], comment='同意。')
        values.update({
                'state': 'approved',
                'approved_amount': amount,
                'approved_at': moment,
                'reached_groups': [('add', list(reached))],
                })
        if target == 'paid':
            decide('pay', users('finance'), hours=(24 * 40, 24 * 120))
            values.update({
                    'state': 'paid',
                    'paid_amount': amount,
                    'paid_date': min(moment.date(), today),
                    'payment_reference': (
                        f'PTCZ-{moment.year}-{rng.randint(1000, 9999)}'),
                    })
        args.extend(([application], values))
    if decisions:
        Decision.create(decisions)
    if clicks:
        ButtonClick.create(clicks)
    # The documents came with the applications, before the payment.
    documents = []
    for application, target in zip(applications, targets):
        if target != 'paid':
            continue
        for name, document in [('发票.txt', 'invoice'),
                ('验收报告.txt', 'acceptance_report'),
                ('安装照片说明.txt', 'photo')]:
            documents.append({
                    'name': name,
                    'type': 'data',
                    'data': (f'演示数据：{application.number} {name[:-4]}'
                        .encode('utf-8')),
                    'subsidy_document': document,
                    'resource': str(application),
                    })
    if documents:
        Attachment.create(documents)
    if args:
        Application.write(*args)


def _projects(pool, rng, installers, users, today):
    """An installation project for each approved or paid application: all
    devices accepted for the paid ones, on the way for the others."""
    Application = pool.get('elevator.subsidy.application')
    Project = pool.get('elevator.installation.project')
    Line = pool.get('elevator.installation.project.line')
    Elevator = pool.get('elevator.elevator')
    applications = Application.search([
            ('state', 'in', ['approved', 'paid']),
            ('installation_projects', '=', None),
            ])
    vlist = []
    for application in applications:
        start = (application.approved_at.date()
            if application.approved_at else today)
        lines = []
        for line in application.lines:
            for device_type in line.device_types:
                lines.append({
                        'elevator': line.elevator.id,
                        'device_type': device_type,
                        'planned_date': start + dt.timedelta(days=30),
                        })
        vlist.append({
                'name': application.program.name,
                'owner': application.applicant.id,
                'installer': rng.choice(installers).id,
                'installer_contact': f'138{rng.randint(10000000, 99999999)}',
                'application': application.id,
                'planned_start': start + dt.timedelta(days=10),
                'planned_end': start + dt.timedelta(days=60),
                'lines': [('create', lines)],
                })
    projects = Project.create(vlist)
    args, cameras = [], set()
    regulators = {}
    for login in ['chengxiang', 'hanjiang', 'licheng', 'xiuyu', 'xianyou']:
        for region in users(login).elevator_regions:
            regulators[region.id] = users(login)
    for project, application in zip(projects, applications):
        paid = application.state == 'paid'
        for n, line in enumerate(project.lines, 1):
            installed = project.planned_start + dt.timedelta(
                days=rng.randint(0, 30))
            if installed > today:
                installed = today
            if paid:
                state = 'accepted'
            else:
                state = rng.choices(['planned', 'installed', 'connected',
                        'accepted'], [2, 3, 3, 2])[0]
            values = {'state': state}
            if state != 'planned':
                values.update({
                        'installed_date': installed,
                        'serial': f'PT{line.device_type[:2].upper()}'
                        f'{project.id:04d}{n:03d}',
                        })
            if state in {'connected', 'accepted'}:
                values['connected_date'] = min(
                    installed + dt.timedelta(days=2), today)
            if state == 'accepted':
                district = line.elevator.district
                values.update({
                        'accepted_date': min(
                            installed + dt.timedelta(days=10), today),
                        'accepted_by': regulators.get(
                            district.id if district else None,
                            users('city')).id,
                        })
                if line.device_type == 'ai_camera':
                    cameras.add(line.elevator.id)
            args.extend(([line], values))
    if args:
        Line.write(*args)
    if cameras:
        Elevator.write(Elevator.browse(sorted(cameras)), {'has_video': True})
    Project.update_state(projects)
    return len(projects)


def _coverage(pool, today):
    """Today's coverage from the registry, and a monthly ramp towards it
    for the past months (the graph over time)."""
    Coverage = pool.get('elevator.subsidy.coverage')
    Target = pool.get('elevator.coverage.target')
    current = Coverage.compute(today)
    vlist = []
    for months_back in range(HISTORY_MONTHS, 0, -1):
        year, month = today.year, today.month - months_back
        while month <= 0:
            year, month = year - 1, month + 12
        date = dt.date(year, month, 1)
        factor = 0.35 + 0.65 * (HISTORY_MONTHS - months_back) / HISTORY_MONTHS
        target = Target.target_for(date.year)
        for snapshot in current:
            in_use = max(int(round(snapshot.in_use * (0.9 + 0.1 * factor))),
                0)
            monitored = min(int(snapshot.monitored * factor), in_use)
            video = min(int(snapshot.with_video * (0.6 + 0.4 * factor)),
                in_use)
            share = round(monitored * 100 / in_use, 1) if in_use else 0.0
            vlist.append({
                    'date': date,
                    'year': date.year,
                    'region': snapshot.region.id,
                    'in_use': in_use,
                    'monitored': monitored,
                    'with_video': video,
                    'monitoring_missing': int(
                        snapshot.monitoring_missing / max(factor, 0.35)),
                    'video_missing': int(
                        snapshot.video_missing / max(factor, 0.6)),
                    'monitored_share': share,
                    'video_share': (
                        round(video * 100 / in_use, 1) if in_use else 0.0),
                    'target': target,
                    'gap': (max(int(-(-target * in_use // 100)) - monitored,
                            0) if target is not None else 0),
                    'on_target': (share >= target
                        if target is not None else True),
                    'latest': False,
                    })
    existing = {(c.date, c.region.id) for c in Coverage.search([
                ('date', 'in', list({v['date'] for v in vlist})),
                ])}
    vlist = [v for v in vlist if (v['date'], v['region']) not in existing]
    Coverage.create(vlist)
    Coverage.update_latest()
    return len(vlist) + len(current)
