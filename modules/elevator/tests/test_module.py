from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction

from .tools import LocaleTestMixin


class ElevatorTestCase(LocaleTestMixin, ModuleTestCase):
    "Test Elevator module"
    module = 'elevator'

    @with_transaction()
    def test_find_by_code(self):
        "An elevator is found by each of its codes, and by nothing else"
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        Place = pool.get('elevator.place')
        Elevator = pool.get('elevator.elevator')
        region = ModelData.get_id('elevator', 'region_350302')
        place, = Place.create([{'name': '万达华府', 'category': 'residential',
                    'region': region}])
        lift, other = Elevator.create([{
                    'registration_code': f'3110350302201600000{n}',
                    'rescue_code': f'35010{n}',
                    'equipment_code': f'TK3503022016000{n:03d}',
                    'category': '3110', 'region': region,
                    'place': place.id,
                    } for n in (1, 2)])
        for code in [lift.rescue_code, lift.registration_code,
                lift.equipment_code, lift.public_token,
                f'  {lift.rescue_code} ',
                f'https://example.com/db/elevator/e/{lift.public_token}',
                f'https://example.com/e/{lift.public_token}/?utm=x#top']:
            self.assertEqual(Elevator.find_by_code(code), lift, code)
        for code in [None, '', '   ', '350109', '35010', '城厢', 'EQ 1',
                "35010' OR 1=1", 'x' * 65, 42]:
            self.assertIsNone(Elevator.find_by_code(code), code)
        # The codes in their order of precedence: another elevator's token
        # equal to this equipment code does not take its place.
        Elevator.write([other], {'public_token': lift.equipment_code})
        self.assertEqual(Elevator.find_by_code(lift.equipment_code), lift)


del ModuleTestCase
