from trytond.tests.test_tryton import ModuleTestCase

from trytond.modules.elevator.tests.tools import LocaleTestMixin


class ElevatorIotTestCase(LocaleTestMixin, ModuleTestCase):
    "Test Elevator IoT module"
    module = 'elevator_iot'


del ModuleTestCase
