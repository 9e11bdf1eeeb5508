"""The database and server of the public API's tests (tests/test_public_api.py,
tests/test_public_h5.py): a database with elevator_public and a little
data, built once (trytond-admin in a subprocess) and copied (CREATE
DATABASE ... TEMPLATE) for each server, so that the tests do not see each
other's submissions."""
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import requests

from elevator_platform import scratch_db
from support.db import DATABASE_URI
from support.process import BIN, ROOT, free_port, wait_for

PASSWORD = 'elevator-demo'
MODULES = ['elevator_public']


# Personal data stored in the test database that no public answer may
# contain: the submitters' phones, a technician's name and mobile, the
# regulator's name and login.
SUBMITTER_PHONE = '13812345678'
PERSON_NAME = '张三丰'
PERSON_PHONE = '13900001111'
REGULATOR_NAME = '李四光'
REGULATOR_LOGIN = 'chengxiang_pub'
HOSTILE_REPLY = '<img src=x onerror=alert(1)>已处理'

# Run in a subprocess with the test's configuration (this process'
# trytond configuration is left alone).
SETUP_DATA = textwrap.dedent('''
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
        Inspection = pool.get('elevator.inspection')
        Feedback = pool.get('elevator.public.feedback')
        User = pool.get('res.user')
        region = ModelData.get_id('elevator', 'region_350302')
        firm, estate, agency, person = Party.create([{
                'name': '莆田市安达电梯工程有限公司',
                'is_maintenance_unit': True,
                'public_phone': '0594-2345678',
                'contact_mechanisms': [('create', [{
                    'type': 'mobile', 'value': spec['person_phone']}])],
                }, {
                'name': '莆田市万达物业服务有限公司', 'is_user_unit': True,
                'is_property_company': True,
                }, {
                'name': '福建省特种设备检验研究院莆田分院',
                'is_inspection_agency': True,
                }, {
                'name': spec['person_name'],
                'contact_mechanisms': [('create', [{
                    'type': 'mobile', 'value': spec['person_phone']}])],
                }])
        place, = Place.create([{'name': '万达华府', 'region': region,
                'property_company': estate.id,
                'address': spec['person_name'] + '家楼下'}])
        elevators = Elevator.create([{
                'registration_code': f'31103503022016{n:06d}',
                'category': '3110', 'region': region, 'place': place.id,
                'place_category': 'residential', 'building': f'{n}号楼',
                'user_unit': estate.id, 'maintenance_unit': firm.id,
                'has_video': n == 1,
                } for n in range(1, 5)])
        Elevator.put_in_use(elevators[:3])
        today = dt.date.today()
        inspection, = Inspection.create([{
                'elevator': elevators[0].id, 'agency': agency.id,
                'date': today - dt.timedelta(days=100),
                'next_due_date': today + dt.timedelta(days=265),
                'conclusion': 'qualified', 'notes': spec['person_name']}])
        Inspection.sign_off([inspection])
        User.create([{
                'login': spec['login'], 'name': spec['regulator'],
                'password': spec['password'],
                'groups': [('add', [ModelData.get_id(
                    'elevator', 'group_district_regulator')])],
                'elevator_regions': [('add', [region])],
                }])
        done = Feedback.submit({'type': 'complaint',
                'elevator': elevators[0].id,
                'contact_phone': spec['submitter_phone'],
                'text': '电梯异响', 'channel': 'h5', 'client_key': 'setup'})
        Feedback.assign([done])
        Feedback.write([done], {'reply': spec['reply'],
                'notes': spec['person_name']})
        Feedback.reply_([done])
        tx.commit()
        result = {
            'elevators': [{'rescue_code': e.rescue_code,
                    'token': e.public_token, 'state': e.state}
                for e in Elevator.browse(elevators)],
            'feedback': done.number,
            }
    with open(sys.argv[4], 'w') as out:
        json.dump(result, out)
    ''')


def _run(cmd, log, env):
    with open(log, 'ab') as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
    if result.returncode:
        tail = Path(log).read_text(errors='replace')[-4000:]
        raise AssertionError(f"{cmd[0]} failed ({result.returncode}):\n{tail}")


def _env(workdir):
    passfile = workdir / 'admin-password'
    passfile.write_text(PASSWORD + '\n')
    env = {**os.environ, 'TRYTONPASSFILE': str(passfile)}
    env.pop('TRYTOND_CONFIG', None)
    return env


def _config(workdir, name, port=None, limits=None):
    conf = workdir / f'{name}.conf'
    text = f'[database]\nuri = {DATABASE_URI}\n'
    if port:
        text += f'[web]\nlisten = 127.0.0.1:{port}\n'
    if limits:
        text += '[elevator_public]\n' + ''.join(
            f'{k} = {v}\n' for k, v in limits.items())
    conf.write_text(text)
    return conf


_base = {}


def public_database():
    """Name and data of the template database with elevator_public and the
    test data, built once per process and dropped at exit."""
    if _base:
        return _base
    workdir = Path(tempfile.mkdtemp(prefix='elevator-public-'))
    prefix = re.sub(r'[^a-z0-9_]', '_',
        (os.environ.get('DB_NAME') or 'test').lower())[:30]
    name = f'{prefix}_public_{uuid.uuid4().hex[:8]}'
    conf = _config(workdir, 'setup')
    env = _env(workdir)
    log = workdir / 'setup.log'
    _base.update(name=name, workdir=workdir, copies=[])
    atexit.register(_drop_all)
    scratch_db.create_database(name, modules=MODULES)
    spec = {'person_name': PERSON_NAME, 'person_phone': PERSON_PHONE,
        'regulator': REGULATOR_NAME, 'login': REGULATOR_LOGIN,
        'password': PASSWORD, 'submitter_phone': SUBMITTER_PHONE,
        'reply': HOSTILE_REPLY}
    result = workdir / 'setup.json'
    _run([sys.executable, '-c', SETUP_DATA, str(conf), name,
            json.dumps(spec), str(result)], log, env)
    _base['data'] = json.loads(result.read_text())
    return _base


def _drop_all():
    for name in _base.get('copies', []) + [_base.get('name')]:
        if name:
            try:
                scratch_db.admin_sql(
                    f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception:
                pass
    if not os.environ.get('ELEVATOR_KEEP_TEST_LOGS'):
        shutil.rmtree(_base.get('workdir', ''), ignore_errors=True)


def database_copy(suffix):
    "A fresh copy of the template database, dropped at exit."
    base = public_database()
    name = f"{base['name']}_{suffix}"[:63]
    scratch_db.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    scratch_db.admin_sql(f'CREATE DATABASE "{name}" TEMPLATE "{base["name"]}"')
    base['copies'].append(name)
    return name


class Server:
    "trytond serving a database on a free port of the loopback."

    def __init__(self, database, limits=None, name='server', workdir=None):
        "workdir: for a database not copied from public_database()."
        if workdir is None:
            workdir = public_database()['workdir']
        self.database = database
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.api = f'{self.url}/{database}/elevator/public/v1'
        self.h5 = f'{self.url}/{database}/elevator/h5'
        conf = _config(workdir, f'{name}-{self.port}', self.port, limits)
        self.log = workdir / f'{name}-{self.port}.log'
        env = _env(workdir)
        with open(self.log, 'ab') as out:
            self.process = subprocess.Popen(
                [str(BIN / 'trytond'), '-c', str(conf), '-d', database],
                stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env, cwd=ROOT,
                start_new_session=True)
        wait_for(self._ready, "trytond to answer", interval=0.3)

    def _ready(self):
        if self.process.poll() is not None:
            raise AssertionError("trytond exited:\n"
                + self.log.read_text(errors='replace')[-4000:])
        try:
            return requests.get(f'{self.api}/openapi.json',
                timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


# Limits high enough for the generated tests.
OPEN_LIMITS = {'read_per_minute': 100000, 'write_per_hour': 100000,
    'elevator_write_per_hour': 100000, 'follow_per_hour': 100000}
