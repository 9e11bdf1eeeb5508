"""Demo data of elevator_public: the public's submissions of the last three
months in every state of their handling (a few overdue), ratings of the
last year with a quality that differs from one maintenance firm to the
next, and one more published article.

Called by `elevator demo-data` as generate(pool, rng, elevators) inside its
transaction; everything is written with batched calls.
"""
import datetime as dt

BATCH = 500

TEXTS = {
    'complaint': [
        '电梯经常停在两层之间，物业一直没有处理。',
        '维保人员来了十分钟就走了，保养记录却写了一个小时。',
        '电梯内的检验合格证已经过期，请核实。',
        '轿厢内照明坏了一个多星期，晚上乘坐很不安全。',
        '电梯开关门太快，老人进出时被门夹到。',
        ],
    'fault_report': [
        '电梯运行时有明显异响和抖动。',
        '8楼外呼按钮失灵，按了没有反应。',
        '电梯平层不准，出门时有台阶，容易绊倒。',
        '轿厢内对讲电话打不通。',
        '扶梯扶手带与梯级速度不一致。',
        ],
    'rescue_request': [
        '有人被困在电梯里，已按警铃无人应答。',
        '电梯停在12楼和13楼之间，里面有两个人。',
        ],
    'message': [
        '建议在电梯内张贴维保单位的联系电话。',
        '感谢维保师傅及时处理故障。',
        '希望加装电梯视频监控。',
        ],
    }
REPLIES = [
    '经核实，维保单位已于当日到场维修，电梯恢复正常运行。',
    '已责令使用单位限期整改，并将跟踪复查。',
    '已通知维保单位加强日常保养，感谢您的监督。',
    '经现场检查，电梯运行正常，已向您电话说明情况。',
    ]
COMMENTS = ['维保及时', '师傅很负责', '经常出故障', '电梯干净整洁', '希望加快维修',
    None, None, None]
ARTICLES = [{
        'title': '带孩子和老人乘梯要注意',
        'category': 'children',
        'sequence': 40,
        'summary': '儿童乘梯须有成人陪同，老人进出放慢脚步。',
        'body': '1. 儿童乘坐电梯、扶梯须有成人陪同，不要让孩子单独乘梯。\n\n'
        '2. 不要让孩子在轿厢内蹦跳、倚靠轿门或玩弄按钮。\n\n'
        '3. 老人进出电梯时放慢脚步，注意轿厢与楼层是否平齐。',
        }]


def _phone(rng):
    return rng.choice(['138', '139', '135', '136', '150', '158', '186',
            '189', '177', '199']) + ''.join(
        str(rng.randrange(10)) for _ in range(8))


def generate(pool, rng, elevators, today=None):
    from trytond.transaction import Transaction
    Feedback = pool.get('elevator.public.feedback')
    Rating = pool.get('elevator.public.rating')
    Article = pool.get('elevator.knowledge.article')
    now = dt.datetime.combine(today, dt.time(12)) if today else (
        dt.datetime.now())
    Elevator = pool.get('elevator.elevator')
    # Plain values read in batches: random access to 30,000 records would
    # make the ORM read them again and again.
    rows = []
    ids = [e.id for e in elevators]
    for i in range(0, len(ids), 5000):
        rows += Elevator.read(ids[i:i + 5000], ['state', 'maintenance_unit',
                'user_unit', 'property_company'])
    in_use = [r for r in rows if r['state'] == 'in_use'] or rows
    if not in_use:
        return

    # Submissions of the last 90 days.
    count = max(10, min(400, len(elevators) // 40))
    types = rng.choices(['complaint', 'fault_report', 'rescue_request',
            'message'], [35, 40, 5, 20], k=count)
    vlist, plans = [], []
    for type_ in types:
        elevator = rng.choice(in_use)
        age = dt.timedelta(days=rng.uniform(0, 90))
        submitted = now - age
        state = rng.choices(['received', 'assigned', 'replied', 'closed'],
            [15, 20, 15, 50])[0]
        if age < dt.timedelta(days=2):
            state = rng.choice(['received', 'assigned'])
        vlist.append({
                'type': type_,
                'elevator': elevator['id'],
                'contact_phone': _phone(rng),
                'text': rng.choice(TEXTS[type_]),
                'channel': rng.choices(
                    ['h5', 'api', 'staff'], [70, 20, 10])[0],
                'client_key': f'demo{rng.randrange(10 ** 6):06d}',
                'submitted_at': submitted,
                })
        plans.append((state, elevator))
    feedbacks = []
    for i in range(0, len(vlist), BATCH):
        feedbacks += Feedback.create(vlist[i:i + BATCH])
    to_write = []
    for feedback, (state, elevator) in zip(feedbacks, plans):
        if state == 'received':
            continue
        assigned_to = feedback.assigned_to
        unit = None
        if assigned_to == 'maintenance_unit':
            unit = elevator['maintenance_unit']
        elif assigned_to == 'user_unit':
            unit = elevator['user_unit'] or elevator['property_company']
        if assigned_to != 'district' and not unit:
            assigned_to, unit = 'district', None
        assigned_at = feedback.submitted_at + dt.timedelta(
            hours=rng.uniform(1, 30))
        values = {
            'state': state,
            'assigned_to': assigned_to,
            'assigned_unit': unit,
            'assigned_at': min(assigned_at, now),
            }
        if state in {'replied', 'closed'}:
            late = rng.random() < 0.12
            span = feedback.deadline - feedback.submitted_at
            replied = feedback.submitted_at + span * (
                rng.uniform(1.05, 1.6) if late else rng.uniform(0.1, 0.9))
            replied = min(replied, now)
            values.update({
                    'reply': rng.choice(REPLIES),
                    'replied_at': replied,
                    'replied_late': replied > feedback.deadline,
                    })
            if state == 'closed':
                values.update({
                        'resolution': rng.choices(
                            ['resolved', 'invalid', 'duplicate'],
                            [85, 10, 5])[0],
                        'closed_at': min(replied + dt.timedelta(
                                days=rng.uniform(0, 5)), now),
                        })
        to_write.extend(([feedback], values))
    for i in range(0, len(to_write), 2 * BATCH):
        Feedback.write(*to_write[i:i + 2 * BATCH])

    # Ratings of the last year; each firm has its own level of quality.
    firms = sorted({e['maintenance_unit'] for e in in_use
            if e['maintenance_unit']})
    quality = {f: rng.uniform(2.6, 4.8) for f in firms}
    rated = [e for e in in_use if e['maintenance_unit']]
    count = max(20, min(3000, len(elevators) // 10))
    vlist, ages = [], []
    for n in range(count if rated else 0):
        elevator = rng.choice(rated)
        mean = quality[elevator['maintenance_unit']]
        vlist.append({
                'elevator': elevator['id'],
                'score_maintenance': max(1, min(5, round(
                            rng.gauss(mean, 0.9)))),
                'score_user_unit': max(1, min(5, round(
                            rng.gauss(3.8, 1.0)))),
                'comment': rng.choice(COMMENTS),
                'channel': rng.choices(['h5', 'api'], [80, 20])[0],
                'client_key': f'demo{n:06d}',
                })
        ages.append(rng.randrange(365))
    ratings = []
    for i in range(0, len(vlist), BATCH):
        ratings += Rating.create(vlist[i:i + BATCH])
    if ratings:
        # Spread the ratings over the year (create_date is set by the ORM).
        table = Rating.__table__()
        cursor = Transaction().connection.cursor()
        by_age = {}
        for rating, age in zip(ratings, ages):
            by_age.setdefault(age, []).append(rating.id)
        from trytond.model.fields import SQL_OPERATORS
        for age, ids in by_age.items():
            cursor.execute(*table.update([table.create_date],
                    [now - dt.timedelta(days=age, hours=rng.uniform(0, 12))],
                    where=SQL_OPERATORS['in'](table.id, ids)))

    titles = {a.title for a in Article.search([])}
    new = [a for a in ARTICLES if a['title'] not in titles]
    if new:
        Article.publish(Article.create(new))
