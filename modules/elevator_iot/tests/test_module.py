import datetime as dt
import random
from collections import defaultdict

from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction

from trytond.modules.elevator.tests.tools import LocaleTestMixin


class ElevatorIotTestCase(LocaleTestMixin, ModuleTestCase):
    "Test Elevator IoT module"
    module = 'elevator_iot'

    @with_transaction()
    def test_demo_generator(self):
        "The demo devices: coverage, types by place, credentials, client"
        from elevator_platform import demo_elevator_iot as demo
        from elevator_platform.iot.passwords import verify_password
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        Party = pool.get('party.party')
        Place = pool.get('elevator.place')
        Elevator = pool.get('elevator.elevator')
        Device = pool.get('elevator.iot.device')
        Client = pool.get('elevator.iot.client')

        maker, = Party.create([{'name': '上海三菱电梯有限公司',
                    'is_manufacturer': True}])
        districts = ['350302', '350304']
        categories = ['residential'] * 6 + ['public_gathering'] * 3 + [
            'office']
        vlist = []
        for d, district in enumerate(districts):
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

        devices = demo.generate(pool, random.Random(3), elevators)

        self.assertTrue(devices)
        by_elevator = defaultdict(list)
        for device in devices:
            by_elevator[device.elevator.id].append(device)
        # Coverage per district within the drawn range.
        for district in districts:
            used = [e for e in elevators if e.state == 'in_use'
                and e.district.code == district]
            monitored = [e for e in used if by_elevator.get(e.id)]
            share = len(monitored) / len(used)
            self.assertGreaterEqual(share, demo.COVERAGE[0] - 0.01)
            self.assertLessEqual(share, demo.COVERAGE[1] + 0.01)

        def share(category, predicate):
            used = [e for e in elevators if e.state == 'in_use'
                and e.place_category == category]
            return sum(1 for e in used if predicate(
                    by_elevator.get(e.id, []))) / len(used)
        # Public gathering places first, with controller terminals;
        # residential estates with cameras.
        self.assertGreater(share('public_gathering', bool),
            share('residential', bool))
        terminal = lambda ds: any(  # noqa: E731
            d.type == 'controller_terminal' for d in ds)
        camera = lambda ds: any(d.type == 'ai_camera' for d in ds)  # noqa
        self.assertGreater(share('public_gathering', terminal),
            2 * share('residential', terminal))
        self.assertGreater(share('residential', camera),
            share('public_gathering', camera))

        # One hash of the demo password for every device that may connect.
        hashes = {d.password_hash for d in devices if d.state != 'retired'}
        self.assertEqual(len(hashes), 1)
        self.assertTrue(verify_password(demo.PASSWORD, hashes.pop()))
        for device in devices:
            if device.state == 'retired':
                self.assertEqual(device.elevator.state, 'scrapped')
                self.assertIsNone(device.password_hash)
            else:
                self.assertEqual(device.elevator.state, 'in_use')
            self.assertTrue(device.vendor)
            self.assertTrue(device.firmware)
            self.assertGreaterEqual(device.install_date,
                demo.PROGRAMME_START)
        self.assertEqual(len({d.serial for d in devices}), len(devices))
        self.assertTrue(Device.search([('retention_warning', '=', True)]))
        self.assertTrue(any(d.investor for d in devices))
        self.assertTrue(any(not d.investor for d in devices))
        self.assertTrue({'online', 'offline'} <= {d.state for d in devices})

        client = Client.authenticate(demo.CLIENT_ID, demo.CLIENT_SECRET)
        self.assertTrue(client)
        self.assertEqual(client.vendor, maker)
        self.assertIsNone(Client.authenticate(demo.CLIENT_ID, 'wrong'))


del ModuleTestCase
