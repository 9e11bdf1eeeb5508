"""The IoT demo generator (src/elevator_platform/demo_elevator_iot.py) on a
real PostgreSQL database with elevator_iot: coverage per district, device
types by place, one password hash that the module accepts, the demo push
client.

The database is made with trytond-admin and dropped at the end.
"""
import datetime as dt
import random
from collections import defaultdict

import pytest

from elevator_platform import demo_elevator_iot as demo
from elevator_platform import scratch_db, tryton_env
from support.db import database_name

from trytond.modules.elevator_iot.passwords import verify_password

DISTRICTS = ['350302', '350304']


@pytest.fixture(scope='module')
def database():
    name = scratch_db.create_database(database_name('iot_demo'),
        modules=['elevator_iot'])
    try:
        yield name
    finally:
        scratch_db.drop_database(name)


def create_elevators(pool):
    """80 elevators in each of two districts, in residential estates,
    public gathering places and offices: most in use, six of them
    scrapped, the others not in use yet."""
    ModelData = pool.get('ir.model.data')
    Party = pool.get('party.party')
    Place = pool.get('elevator.place')
    Elevator = pool.get('elevator.elevator')
    maker, = Party.create([{'name': '上海三菱电梯有限公司',
                'is_manufacturer': True}])
    categories = ['residential'] * 6 + ['public_gathering'] * 3 + [
        'office']
    vlist = []
    for district in DISTRICTS:
        region = ModelData.get_id('elevator', f'region_{district}')
        places = Place.create([{'name': f'{district}-{c}-{i}',
                    'category': c, 'region': region}
                for i, c in enumerate(categories)])
        for n in range(80):
            place = places[n % len(places)]
            vlist.append({
                    'registration_code': f'3110{district}2018{n:06d}',
                    'category': '3110', 'region': region,
                    'place': place.id, 'manufacturer': maker.id,
                    'place_category': place.category,
                    'commissioning_date': dt.date(2018, 5, 1),
                    })
    elevators = Elevator.create(vlist)
    in_use = [e for i, e in enumerate(elevators) if i % 10]
    Elevator.put_in_use(in_use)
    scrapped = in_use[:6]
    Elevator.suspend(scrapped)
    Elevator.scrap(scrapped)
    return maker, elevators


def test_demo_generator(database):
    "The demo devices: coverage, types by place, credentials, client"
    with tryton_env.transaction(database) as pool:
        Device = pool.get('elevator.iot.device')
        Client = pool.get('elevator.iot.client')
        maker, elevators = create_elevators(pool)

        devices = demo.generate(pool, random.Random(3), elevators)

        assert devices
        by_elevator = defaultdict(list)
        for device in devices:
            by_elevator[device.elevator.id].append(device)
        # Coverage per district within the drawn range.
        for district in DISTRICTS:
            used = [e for e in elevators if e.state == 'in_use'
                and e.district.code == district]
            monitored = [e for e in used if by_elevator.get(e.id)]
            share = len(monitored) / len(used)
            assert demo.COVERAGE[0] - 0.01 <= share <= demo.COVERAGE[1] + 0.01

        def share(category, predicate):
            used = [e for e in elevators if e.state == 'in_use'
                and e.place_category == category]
            return sum(1 for e in used if predicate(
                    by_elevator.get(e.id, []))) / len(used)

        def terminal(devices):
            return any(d.type == 'controller_terminal' for d in devices)

        def camera(devices):
            return any(d.type == 'ai_camera' for d in devices)
        # Public gathering places first, with controller terminals;
        # residential estates with cameras.
        assert share('public_gathering', bool) > share('residential', bool)
        assert (share('public_gathering', terminal)
            > 2 * share('residential', terminal))
        assert share('residential', camera) > share('public_gathering', camera)

        # One hash of the demo password for every device that may connect.
        hashes = {d.password_hash for d in devices if d.state != 'retired'}
        assert len(hashes) == 1
        assert verify_password(demo.PASSWORD, hashes.pop())
        for device in devices:
            if device.state == 'retired':
                assert device.elevator.state == 'scrapped'
                assert device.password_hash is None
            else:
                assert device.elevator.state == 'in_use'
            assert device.vendor
            assert device.firmware
            assert device.install_date >= demo.PROGRAMME_START
        assert len({d.serial for d in devices}) == len(devices)
        assert Device.search([('retention_warning', '=', True)])
        assert any(d.investor for d in devices)
        assert any(not d.investor for d in devices)
        assert {'online', 'offline'} <= {d.state for d in devices}

        client = Client.authenticate(demo.CLIENT_ID, demo.CLIENT_SECRET)
        assert client
        assert client.vendor == maker
        assert Client.authenticate(demo.CLIENT_ID, 'wrong') is None
