"""Demo data of the module elevator_maintenance, for `elevator demo-data`.

`generate(pool, rng, elevators)` gives the demo's elevators in use, per
user unit (or property company) and maintenance unit, a maintenance
contract, registers each firm's technicians (the demo users tech1 and tech2
as technicians of their firm), records the visits since each contract
began (70 to 330 days ago, so that every quarter of the assessment tables
has the visits it assesses; the checklists of the last month) with
their TSG T5002 checklists (a few visits too short, checked in too far
away, not confirmed, disputed), plans the coming month, raises the
warnings, and opens a few repair orders. Elevators already under a
contract are left alone, so a second run adds nothing.

Bulk rows (past visits and their checklist lines) are inserted with
set-based SQL; the rest with batched ORM calls.
"""
import datetime as dt
from decimal import Decimal

BATCH = 500
# Visits are recorded from the start of each contract, at most this long
# ago: a firm with contracts and no records would count as missing every
# maintenance in the assessment.
HISTORY_DAYS = 330
# Checklist lines are kept for the visits of the last CHECKLIST_DAYS.
CHECKLIST_DAYS = 30
MODES = [('regular', 80), ('on_demand', 8), ('iot', 8), ('insurance', 4)]
SURNAMES = '王李张刘陈林黄吴郑蔡许杨方朱翁余肖'
GIVEN = ['建国', '志强', '明辉', '海峰', '国华', '文斌', '晓东', '俊杰',
    '秋萍', '丽娟', '永福', '金水', '伟', '强', '勇', '杰', '斌', '磊']
FINDINGS = ['制动器间隙偏大，已调整。', '层门自闭力不足，已调整。',
    '导靴油杯缺油，已加油。', '轿厢照明灯管损坏，已更换。',
    '门刀与门球间隙偏小，已调整。', '底坑有积水，已清理并告知物业。',
    '对讲装置音量偏低，已调整。', '曳引钢丝绳油腻，已清洁。']
REPAIRS = [
    ('fault', "开关门异响，门机皮带松动"),
    ('complaint', "业主投诉电梯运行时抖动明显"),
    ('iot', "物联网终端报：门锁回路断路"),
    ('rescue', "困人救援后检查：层门门锁触点烧蚀"),
    ('fault', "外呼按钮失灵（8楼上行）"),
    ('complaint', "轿厢内对讲无法接通值班室"),
    ]


def generate(pool, rng, elevators):
    """Create the maintenance demo for the given elevators (records of
    elevator.elevator); return a dict of counts."""
    from trytond.transaction import Transaction
    transaction = Transaction()
    Contract = pool.get('elevator.maintenance.contract')
    Relation = pool.get('elevator.maintenance.contract-elevator.elevator')
    Warning_ = pool.get('elevator.maintenance.warning')
    Date = pool.get('ir.date')
    today = Date.today()

    taken = set()
    ids = [e.id for e in elevators]
    for i in range(0, len(ids), BATCH):
        taken.update(r.elevator.id for r in Relation.search([
                    ('elevator', 'in', ids[i:i + BATCH])]))
    groups = {}
    for elevator in elevators:
        unit = elevator.user_unit or elevator.property_company
        if (elevator.id in taken or elevator.state != 'in_use'
                or not elevator.maintenance_unit or not unit):
            continue
        groups.setdefault((elevator.maintenance_unit, unit), []).append(
            elevator)
    if not groups:
        return {'contracts': 0}

    firms = sorted({firm for firm, _ in groups}, key=lambda p: p.id)
    technicians = _technicians(pool, rng, firms, today)

    vlist, members = [], []
    for (firm, unit), group in sorted(groups.items(),
            key=lambda g: (g[0][0].id, g[0][1].id)):
        for i in range(0, len(group), 60):
            chunk = group[i:i + 60]
            start = today - dt.timedelta(days=rng.randrange(70, 330))
            vlist.append({
                    'maintenance_unit': firm.id,
                    'user_unit': unit.id,
                    'reference': f'WB-{start.year}-{len(vlist) + 1:04d}',
                    'start_date': start,
                    'end_date': start + dt.timedelta(
                        days=rng.choice([365, 730]) - 1),
                    'price': Decimal(rng.choice(
                            [1800, 2400, 2800, 3200, 3600, 4800])),
                    'mode': rng.choices([m for m, _ in MODES],
                        [w for _, w in MODES])[0],
                    'elevators': [('add', [e.id for e in chunk])],
                    })
            members.append(chunk)
    contracts = []
    for i in range(0, len(vlist), BATCH):
        contracts.extend(Contract.create(vlist[i:i + BATCH]))

    orders = _history(pool, rng, contracts, members, technicians, today)
    transaction.commit()
    # In force: the plan of the coming month follows the last visits. Both
    # sides agreed on paper; the platform administrator who registered the
    # contracts is stamped as proposer and acceptor.
    Contract.propose(contracts)
    Contract.accept(contracts)
    admins = pool.get('res.user').search([('login', '=', 'admin')])
    if admins:
        Contract.write(contracts, {
                'proposed_by': admins[0].id, 'accepted_by': admins[0].id})
    transaction.commit()
    warnings = Warning_.scan()
    _regulate(pool, rng, warnings)
    repairs = _repairs(pool, rng, [e for m in members for e in m],
        technicians, today)
    transaction.commit()
    return {
        'contracts': len(contracts),
        'technicians': sum(len(t) for t in technicians.values()),
        'visits': orders,
        'warnings': len(warnings),
        'repairs': repairs,
        }


def _technicians(pool, rng, firms, today):
    """Three to six technicians per firm, most certified; the demo users
    tech1 and tech2 are technicians of their firm. Return {firm id:
    [technician]}."""
    Technician = pool.get('elevator.maintenance.technician')
    User = pool.get('res.user')
    existing = {}
    for technician in Technician.search([
                ('firm', 'in', [f.id for f in firms])]):
        existing.setdefault(technician.firm.id, []).append(technician)
    users = {u.login: u for u in User.search([
                ('login', 'in', ['tech1', 'tech2'])])}
    vlist = []
    for firm in firms:
        if firm.id in existing:
            continue
        for n in range(rng.randint(3, 6)):
            certified = n == 0 or rng.random() < 0.7
            vlist.append({
                    'firm': firm.id,
                    'name': rng.choice(SURNAMES) + rng.choice(GIVEN),
                    'phone': f'13{rng.randint(100000000, 999999999)}',
                    'certificate_number': (
                        f'T350300{rng.randint(100000, 999999)}'
                        if certified else None),
                    'certificate_valid_until': (today + dt.timedelta(
                            days=rng.randint(60, 1400))
                        if certified else None),
                    })
        for login, certified in [('tech1', True), ('tech2', False)]:
            user = users.get(login)
            if user and firm in user.elevator_units:
                vlist.append({
                        'firm': firm.id, 'user': user.id, 'name': user.name,
                        'certificate_number': (
                            f'T350300{rng.randint(100000, 999999)}'
                            if certified else None),
                        'certificate_valid_until': (
                            today + dt.timedelta(days=800)
                            if certified else None),
                        })
    for technician in Technician.create(vlist):
        existing.setdefault(technician.firm.id, []).append(technician)
    return existing


def _history(pool, rng, contracts, members, technicians, today):
    """The visits since the start of each contract, recorded and mostly
    confirmed, in set-based inserts; return how many."""
    from sql import Literal
    from sql.conditionals import Case

    from trytond.modules.elevator_maintenance.common import (
        CATEGORY_EQUIPMENT, TYPE_RANK)
    from trytond.transaction import Transaction
    Order = pool.get('elevator.maintenance.order')
    OrderTechnician = pool.get('elevator.maintenance.order-technician')
    Line = pool.get('elevator.maintenance.order.line')
    Item = pool.get('elevator.maintenance.checklist.item')
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    database = transaction.database
    user = transaction.user
    now = dt.datetime.now().replace(microsecond=0)
    order = Order.__table__()
    columns = [order.create_uid, order.create_date, order.number,
        order.elevator, order.contract, order.maintenance_unit,
        order.user_unit, order.district, order.category, order.type,
        order.planned_date, order.state, order.check_in, order.check_out,
        order.duration, order.check_in_latitude, order.check_in_longitude,
        order.check_in_distance, order.on_time, order.findings,
        order.confirmed_at, order.dispute_reason, order.disputed_at]
    rows, crews = [], []
    for contract, chunk in zip(contracts, members):
        crew = technicians[contract.maintenance_unit.id]
        for elevator in chunk:
            day = max(contract.start_date,
                today - dt.timedelta(days=HISTORY_DAYS))
            day += dt.timedelta(days=rng.randint(0, 6))
            count = 0
            while day < today:
                count += 1
                type_ = ('half_yearly' if count == 1 and rng.random() < 0.2
                    else 'quarterly' if count % 6 == 0
                    else 'half_monthly')
                planned = day + dt.timedelta(days=rng.randint(0, 3))
                check_in = dt.datetime.combine(day, dt.time(
                        rng.randint(0, 9), rng.randint(0, 59)))
                minutes = (rng.randint(8, 25) if rng.random() < 0.04
                    else rng.randint(35, 95) * (1 + (TYPE_RANK[type_] - 1)
                        // 2))
                far = rng.random() < 0.02
                distance = (rng.randint(600, 2500) if far
                    else rng.randint(5, 150))
                age = (today - day).days
                draw = rng.random()
                if age > 7:
                    state = ('disputed' if draw < 0.01
                        else 'done' if draw < 0.05 else 'confirmed')
                else:
                    state = 'confirmed' if draw < 0.4 else 'done'
                check_out = check_in + dt.timedelta(minutes=minutes)
                rows.append([user, now, None, elevator.id, contract.id,
                        contract.maintenance_unit.id, contract.user_unit.id,
                        elevator.district.id if elevator.district else None,
                        elevator.category, type_, planned, state, check_in,
                        check_out, float(minutes),
                        (elevator.latitude or 25.43) + distance / 111000,
                        elevator.longitude or 119.0, float(distance),
                        check_in.date() <= planned,
                        rng.choice(FINDINGS) if rng.random() < 0.15 else None,
                        (check_out + dt.timedelta(hours=rng.randint(2, 60)))
                        if state == 'confirmed' else None,
                        "维保记录照片与电梯不符，要求重新维保。"
                        if state == 'disputed' else None,
                        check_out + dt.timedelta(days=1)
                        if state == 'disputed' else None])
                certified = [t for t in crew if t.certified]
                first = rng.choice(certified or crew)
                second = rng.choice([t for t in crew if t != first] or [first])
                crews.append((first.id, second.id))
                day += dt.timedelta(days=rng.randint(12, 15))
    ids = []
    for i in range(0, len(rows), BATCH):
        batch = rows[i:i + BATCH]
        for n, row in enumerate(batch, len(ids) + 1):
            row[2] = f'WB{row[12]:%Y%m}-D{n:06d}'
        if database.has_returning():
            cursor.execute(*order.insert(columns, batch,
                    returning=[order.id]))
            ids.extend(r for r, in cursor)
        else:
            for row in batch:
                cursor.execute(*order.insert(columns, [row]))
                ids.append(database.lastid(cursor))
    relation = OrderTechnician.__table__()
    pairs = [[user, now, order_id, technician]
        for order_id, crew in zip(ids, crews) for technician in set(crew)]
    for i in range(0, len(pairs), BATCH):
        cursor.execute(*relation.insert([relation.create_uid,
                    relation.create_date, relation.order,
                    relation.technician], pairs[i:i + BATCH]))
    Order._insert_history(ids)

    # The checklists of the recent visits, from the TSG T5002 items.
    line = Line.__table__()
    item = Item.__table__()
    recent = [i for i, row in zip(ids, rows)
        if (today - row[12].date()).days <= CHECKLIST_DAYS]
    equipment = Case(*[(order.category == c, e)
            for c, e in CATEGORY_EQUIPMENT.items()], else_='traction')

    def rank(column):
        return Case(*[(column == t, r) for t, r in TYPE_RANK.items()],
            else_=0)
    from trytond.model.fields import SQL_OPERATORS
    for i in range(0, len(recent), BATCH):
        query = order.join(item, condition=(item.equipment == equipment)
            & (rank(item.maintenance_type) <= rank(order.type))
            & (item.active == Literal(True))
            ).select(Literal(user), Literal(now), order.id, item.id,
                item.sequence, item.code, item.name, item.requirement,
                item.maintenance_type, item.mandatory, Literal('normal'),
                where=SQL_OPERATORS['in'](order.id, recent[i:i + BATCH]))
        cursor.execute(*line.insert([line.create_uid, line.create_date,
                    line.order, line.item, line.sequence, line.code,
                    line.name, line.requirement, line.maintenance_type,
                    line.mandatory, line.result], query))
    transaction.counter += 1
    return len(ids)


def _regulate(pool, rng, warning_ids):
    "The regulators have acknowledged or closed some of the warnings."
    Warning_ = pool.get('elevator.maintenance.warning')
    warnings = Warning_.browse(warning_ids)
    old = [w for w in warnings if w.type != 'overdue']
    rng.shuffle(old)
    acknowledged = old[:len(old) // 3]
    closed = old[len(old) // 3:len(old) // 2]
    for sub in range(0, len(acknowledged), BATCH):
        Warning_.acknowledge(acknowledged[sub:sub + BATCH])
    for sub in range(0, len(closed), BATCH):
        batch = closed[sub:sub + BATCH]
        Warning_.write(batch, {'note': "已约谈维保单位，责令整改。",
                'explanation': "已对相关人员进行培训。"})
        Warning_.close(batch)


def _repairs(pool, rng, elevators, technicians, today):
    """A few repair orders: open, done awaiting confirmation, confirmed."""
    Repair = pool.get('elevator.repair.order')
    chosen = rng.sample(elevators, max(1, len(elevators) // 40))
    vlist = []
    for elevator in chosen:
        source, description = rng.choice(REPAIRS)
        vlist.append({
                'elevator': elevator.id, 'source': source,
                'description': description,
                'urgent': source == 'iot' and rng.random() < 0.3,
                'reported_at': dt.datetime.combine(
                    today - dt.timedelta(days=rng.randint(0, 20)),
                    dt.time(rng.randint(0, 12), rng.randint(0, 59))),
                })
    repairs = []
    for i in range(0, len(vlist), BATCH):
        repairs.extend(Repair.create(vlist[i:i + BATCH]))
    to_write = []
    for repair in repairs:
        if rng.random() < 0.3:
            continue
        crew = technicians[repair.maintenance_unit.id]
        check_in = repair.reported_at + dt.timedelta(
            minutes=rng.randint(20, 180))
        minutes = rng.randint(30, 240)
        state = 'confirmed' if rng.random() < 0.6 else 'done'
        to_write.extend(([repair], {
                    'state': state,
                    'technicians': [('add', [t.id for t in crew[:2]])],
                    'check_in': check_in,
                    'check_out': check_in + dt.timedelta(minutes=minutes),
                    'duration': float(minutes),
                    'cause': "部件磨损老化",
                    'findings': "已更换损坏部件并试运行正常。",
                    'confirmed_at': (check_in + dt.timedelta(days=1)
                        if state == 'confirmed' else None),
                    }))
    if to_write:
        # Technicians first: a confirmed record takes no new ones.
        first = [(records, {'technicians': values['technicians']})
            for records, values in zip(to_write[::2], to_write[1::2])]
        Repair.write(*[x for pair in first for x in pair])
        rest = [(records, {k: v for k, v in values.items()
                    if k != 'technicians'})
            for records, values in zip(to_write[::2], to_write[1::2])]
        Repair.write(*[x for pair in rest for x in pair])
    return len(repairs)
