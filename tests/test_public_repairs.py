"""The public repair loop over HTTP, against a real trytond on PostgreSQL
with elevator_public and elevator_maintenance: a fault report of the
public becomes a repair order of the elevator's firm with its deadline
(4 h when urgent, 24 h otherwise), which the submitter follows; the card
(API and H5) lists the repair records (date, kind, state) beside the
maintenance and shows the registration certificate number; nothing of
the technicians leaves.

Needs TRYTOND_DATABASE_URI=postgresql://... (as set by scripts/run-tests.sh).
"""
import datetime as dt
import json
import os
import re
import shutil
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import pytest
import requests

from elevator_platform import scratch_db
from support.public import OPEN_LIMITS, Server, _config, _env, _run

MODULES = ['elevator_public', 'elevator_maintenance']
CERTIFICATE = '梯11闽B00123(21)'
TECHNICIAN_NAME = '王五六'
TECHNICIAN_PHONE = '13655556666'
SUBMITTER_PHONE = '13812345678'

SETUP = textwrap.dedent('''
    import datetime as dt, json, sys
    from trytond import config
    config.update_etc(sys.argv[1])
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    database, spec = sys.argv[2], json.loads(sys.argv[3])
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0, context={'language': 'en'}) as tx:
        ModelData = pool.get('ir.model.data')
        Party = pool.get('party.party')
        Place = pool.get('elevator.place')
        Elevator = pool.get('elevator.elevator')
        Repair = pool.get('elevator.repair.order')
        Technician = pool.get('elevator.maintenance.technician')
        region = ModelData.get_id('elevator', 'region_350302')
        firm, estate = Party.create([{
                'name': '莆田市安达电梯工程有限公司',
                'is_maintenance_unit': True,
                }, {
                'name': '莆田市万达物业服务有限公司', 'is_user_unit': True,
                }])
        place, = Place.create([{'name': '万达华府', 'region': region}])
        lift, other = Elevator.create([{
                'registration_code': f'31103503022016{n:06d}',
                'category': '3110', 'region': region, 'place': place.id,
                'user_unit': estate.id, 'maintenance_unit': firm.id,
                'certificate_number': spec['certificate'] if n == 1
                else None,
                } for n in (1, 2)])
        Elevator.put_in_use([lift, other])
        technician, = Technician.create([{'name': spec['name'],
                'firm': firm.id, 'phone': spec['phone']}])
        # An IoT repair done in March with a technician, and a cancelled
        # one, which the public does not see.
        done, cancelled = Repair.create([{
                'elevator': lift.id, 'source': 'iot',
                'description': '门锁回路故障',
                'reported_at': dt.datetime(2026, 3, 1, 2, 0),
                }, {
                'elevator': lift.id, 'source': 'other',
                'description': '误报',
                'reported_at': dt.datetime(2026, 3, 2, 2, 0),
                }])
        Repair.cancel([cancelled])
        Repair.write([done], {'state': 'done',
                'check_in': dt.datetime(2026, 3, 1, 4, 0),
                'check_out': dt.datetime(2026, 3, 1, 17, 0),
                'findings': '更换门锁 ' + spec['name'],
                'technicians': [('add', [technician.id])]})
        tx.commit()
        result = {'lift': lift.rescue_code, 'lift_token': lift.public_token,
            'other': other.rescue_code}
    with open(sys.argv[4], 'w') as out:
        json.dump(result, out)
    ''')


@pytest.fixture(scope='module')
def site():
    workdir = Path(tempfile.mkdtemp(prefix='elevator-repairs-'))
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_repairs_{uuid.uuid4().hex[:8]}'
    try:
        scratch_db.create_database(name, modules=MODULES)
        result = workdir / 'setup.json'
        _run([sys.executable, '-c', SETUP,
                str(_config(workdir, 'setup')), name, json.dumps({
                        'certificate': CERTIFICATE,
                        'name': TECHNICIAN_NAME,
                        'phone': TECHNICIAN_PHONE,
                        }), str(result)],
            workdir / 'setup.log', _env(workdir))
        data = json.loads(result.read_text())
        # No card cache: the second request of a card takes the fast path.
        server = Server(name, {**OPEN_LIMITS, 'card_cache_size': 0},
            name='repairs', workdir=workdir)
        try:
            yield server, data
        finally:
            server.stop()
    finally:
        scratch_db.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not os.environ.get('ELEVATOR_KEEP_TEST_LOGS'):
            shutil.rmtree(workdir, ignore_errors=True)


def _time(text):
    return dt.datetime.fromisoformat(text)


def _report(server, code, **values):
    response = requests.post(f'{server.api}/feedback', timeout=30, json={
            'type': 'fault_report', 'elevator': code,
            'contact_phone': SUBMITTER_PHONE, 'text': '电梯门关不上',
            **values})
    assert response.status_code == 201, response.text
    return response.json()


def test_repair_loop(site):
    server, data = site
    texts = []

    def get(url, **kwargs):
        response = requests.get(url, timeout=30, **kwargs)
        assert response.status_code == 200, (url, response.text)
        texts.append(response.text)
        return response

    # An urgent report opens a repair order due in 4 hours.
    urgent = _report(server, data['other'], urgent=True)
    texts.append(json.dumps(urgent, ensure_ascii=False))
    repair = urgent['repair']
    assert (repair['state'], repair['urgent'], repair['overdue'],
        repair['done_at']) == ('open', True, False, None)
    assert repair['number'].startswith('WX')
    assert (_time(repair['deadline']) - _time(urgent['submitted_at'])
        ) == dt.timedelta(hours=4)
    assert repair['deadline'].endswith('+08:00')

    # The submitter follows it (API and H5), without the phone.
    followed = get(f'{server.api}/feedback/{urgent["number"]}',
        params={'phone_last4': SUBMITTER_PHONE[-4:]}).json()
    assert followed['repair'] == repair
    assert followed['urgent'] is True
    page = requests.post(f'{server.h5}/follow', timeout=30, data={
            'number': urgent['number'],
            'phone_last4': SUBMITTER_PHONE[-4:]})
    assert page.status_code == 200
    texts.append(page.text)
    assert 'id="follow-repair"' in page.text
    assert repair['number'] in page.text

    # A second report of the elevator (H5 form) joins that order.
    response = requests.post(f'{server.h5}/e/{data["other"]}/fault',
        timeout=30, allow_redirects=False, data={
            'contact_phone': '13912345678', 'text': '还是关不上',
            'urgent': '1'})
    assert response.status_code == 303, response.text
    number = response.headers['Location'].rsplit('/', 1)[-1]
    joined = get(f'{server.api}/feedback/{number}',
        params={'phone_last4': '5678'}).json()
    assert joined['repair']['number'] == repair['number']

    # A report without urgency: 24 hours.
    normal = _report(server, data['lift'])
    assert normal['repair']['urgent'] is False
    assert (_time(normal['repair']['deadline'])
        - _time(normal['submitted_at'])) == dt.timedelta(hours=24)
    today = _time(normal['submitted_at']).date().isoformat()

    # The card lists the repair records beside the maintenance and the
    # certificate number; the cancelled order is not shown. The first
    # request is served in a transaction, the second on the fast path.
    expected = [{
            'date': today, 'kind': 'fault', 'kind_name': '故障报修',
            'urgent': False, 'state': 'open', 'state_name': '待维修',
            'done_date': None,
            }, {
            'date': '2026-03-01', 'kind': 'iot', 'kind_name': '物联网报警',
            'urgent': False, 'state': 'done', 'state_name': '待确认',
            'done_date': '2026-03-02',
            }]
    for code in [data['lift'], data['lift_token'], data['lift']]:
        card = get(f'{server.api}/elevators/{code}').json()
        assert card['certificate_number'] == CERTIFICATE
        assert card['repairs'] == expected
        assert card['last_maintenance'] is None
    card = get(f'{server.api}/elevators/{data["other"]}').json()
    assert card['certificate_number'] is None
    assert [(r['kind'], r['urgent'], r['state']) for r in card['repairs']
        ] == [('fault', True, 'open')]
    english = get(f'{server.api}/elevators/{data["lift"]}',
        params={'lang': 'en'}).json()
    assert [r['kind_name'] for r in english['repairs']] == [
        'Fault Report', 'IoT Alarm']

    records = get(f'{server.api}/elevators/{data["lift"]}/maintenance'
        ).json()
    assert records['available'] is True
    assert records['repairs'] == expected

    # The H5 card and records pages show them too.
    html = get(f'{server.h5}/e/{data["lift"]}').text
    assert CERTIFICATE in html
    assert 'id="repairs"' in html
    assert '物联网报警' in html and '2026-03-01' in html
    html = get(f'{server.h5}/e/{data["lift"]}/maintenance').text
    assert 'id="repairs"' in html and '故障报修' in html

    # Nothing of the technician, the work or the submitter leaves.
    for text in texts:
        for secret in [TECHNICIAN_NAME, TECHNICIAN_PHONE, '更换门锁',
                '门锁回路故障', SUBMITTER_PHONE]:
            assert secret not in text


def test_urgent_must_be_boolean(site):
    server, data = site
    response = requests.post(f'{server.api}/feedback', timeout=30, json={
            'type': 'fault_report', 'elevator': data['lift'],
            'contact_phone': SUBMITTER_PHONE, 'text': '电梯门关不上',
            'urgent': 'yes'})
    assert response.status_code == 422
    assert response.json()['error']['field'] == 'urgent'
