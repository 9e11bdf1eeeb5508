from trytond.tests.test_tryton import ModuleTestCase

from trytond.modules.elevator.tests.tools import LocaleTestMixin


class ElevatorIotTestCase(LocaleTestMixin, ModuleTestCase):
    "Test Elevator IoT module"
    module = 'elevator_iot'
    # The demo generator (src/) is tested in tests/test_iot_demo.py: a
    # module does not import src/elevator_platform.


del ModuleTestCase
