"""Demo data of the module elevator_enforcement: a few enforcement cases
opened from the non-compliance lists of the demo, in every state of the
workflow (filed, ordered — one of them overdue —, rectifying, under review,
closed as rectified, with a penalty and transferred).

`generate(pool, rng, elevators)` runs inside the demo's transaction as
admin, after the other modules' demo data. The cases go through the
workflow's own methods, acting as the district regulator of the case's
district and as the unit's demo user where there is one, so the stamps and
steps name them. A database that already has cases is left alone.
"""
import datetime as dt
from decimal import Decimal

LANGUAGE = 'zh_CN'
LISTS = ['uncontracted', 'unmaintained', 'dispatch', 'unmonitored',
    'inactive_firm']
# The states the demo cases end in, in this order.
PLAN = ['draft', 'draft', 'ordered', 'overdue', 'rectifying', 'rectifying',
    'review', 'rectified', 'rectified', 'penalty', 'transferred']
REQUIREMENT = {
    'uncontracted': '十日内与具备资质的维保单位签订维保合同并录入平台。',
    'unmaintained': '立即安排维保，并在平台录入维保记录。',
    'dispatch': '完善应急救援值守制度，提交值守人员名单和整改报告。',
    'unmonitored': '安装远程监测装置并接入平台。',
    'inactive_firm': '将在保电梯维保记录全部录入平台。',
    }
LEGAL_BASIS = '《中华人民共和国特种设备安全法》第三十九条、第四十五条'
PENALTY_BASIS = '《中华人民共和国特种设备安全法》第八十四条'


def _rows(pool):
    "Rows of every list, in list order, each with a unit."
    rows = []
    for name in LISTS:
        List = pool.get(f'elevator.enforcement.list.{name}')
        for row in List.search([], limit=20):
            values = row.case_values()
            if values.get('party') and values.get('region'):
                rows.append(values)
    return rows


def _regulator(pool, case):
    "The demo regulator of the case's district (else the city's)."
    User = pool.get('res.user')
    users = User.search([('elevator_regions', '=', case.district.id)],
        limit=1) if case.district else []
    return users[0] if users else (
        User.search([('login', '=', 'city')], limit=1) or [None])[0]


def _unit_user(pool, case):
    User = pool.get('res.user')
    users = User.search([('elevator_units', '=', case.party.id)], limit=1)
    return users[0] if users else None


def generate(pool, rng, elevators):
    """Create the demo cases; return {final state: count} (empty when the
    database already has cases)."""
    from trytond.modules.elevator_enforcement.lists import today
    from trytond.transaction import Transaction
    Case = pool.get('elevator.enforcement.case')
    if Case.search([], limit=1):
        return {}
    transaction = Transaction()
    summary = {}
    with transaction.set_context(language=LANGUAGE):
        rows = _rows(pool)
        rng.shuffle(rows)
        # One case per unit and source at most: open_from reuses open cases.
        seen, chosen = set(), []
        for values in rows:
            key = (values['source'], values['party'])
            if key not in seen:
                seen.add(key)
                chosen.append(values)
        chosen = chosen[:len(PLAN)]
        day = today()
        for values, final in zip(chosen, PLAN):
            case, = Case.open_from([values])
            regulator = _regulator(pool, case)
            unit_user = _unit_user(pool, case)

            def as_(user):
                return transaction.set_user(user.id if user else 0)
            with as_(regulator):
                Case.write([case], {
                        'requirement': REQUIREMENT[values['source']],
                        'legal_basis': LEGAL_BASIS,
                        'deadline': day + dt.timedelta(
                            days=rng.choice([7, 10, 15])),
                        })
                if final == 'draft':
                    summary[final] = summary.get(final, 0) + 1
                    continue
                Case.order([case])
            if final == 'overdue':
                # Ordered earlier, not answered: the cron flags it.
                Case.write([case], {'deadline': day - dt.timedelta(days=2)})
                Case.cron_watch_deadlines()
            if final in {'ordered', 'overdue'}:
                summary[final] = summary.get(final, 0) + 1
                continue
            with as_(unit_user):
                Case.acknowledge([case])
            if final == 'penalty':
                with as_(regulator):
                    Case.write([case], {'outcome': 'penalty',
                            'penalty_amount': Decimal('30000'),
                            'penalty_basis': PENALTY_BASIS,
                            'closing_note': '逾期未整改，依法予以处罚。'})
                    Case.close([case])
                summary[final] = summary.get(final, 0) + 1
                continue
            with as_(unit_user):
                Case.write([case], {
                        'reply': '已按要求整改，现提交整改证明材料。',
                        'evidence': [('create', [{
                                        'description': '整改情况说明及现场照片',
                                        'filename': 'rectification.txt',
                                        'data': '整改完成。'.encode(),
                                        }])],
                        })
                if final == 'rectifying':
                    summary[final] = summary.get(final, 0) + 1
                    continue
                Case.submit([case])
            with as_(regulator):
                if final == 'review':
                    summary[final] = summary.get(final, 0) + 1
                    continue
                if final == 'rectified':
                    Case.write([case], {'outcome': 'rectified',
                            'review_method': rng.choice(
                                ['visit', 'documents']),
                            'review_note': '经复查，已整改到位。'})
                else:
                    Case.write([case], {'outcome': 'transferred',
                            'transferred_to': '莆田市住房和城乡建设局',
                            'review_method': 'documents'})
                Case.close([case])
            summary[final] = summary.get(final, 0) + 1
        summary['inspections'] = _plan_inspections(pool, rng, day)
    return summary


def _plan_inspections(pool, rng, day):
    """This month's supervisory inspection plan of every district (10 %
    of its elevators, weighted to risk), the first visit of each recorded
    as compliant by its district regulator; return the planned count."""
    from trytond.transaction import Transaction
    Inspection = pool.get('elevator.supervision.inspection')
    Region = pool.get('elevator.region')
    User = pool.get('res.user')
    planned = 0
    for district in Region.search([('level', 'in', ['district', 'zone'])],
            order=[('code', 'ASC')]):
        inspections = Inspection.generate_plan(district, day,
            day + dt.timedelta(days=29), 10, seed=rng.randrange(1 << 30))
        planned += len(inspections)
        if not inspections:
            continue
        first = inspections[0]
        inspector = User.search(
            [('elevator_regions', '=', district.id)], limit=1)
        with Transaction().set_user(inspector[0].id if inspector else 0):
            Inspection.write([first], {'result': 'compliant',
                    'findings': '现场检查：维保记录、应急救援标识齐全。'})
            Inspection.record([first])
    return planned
