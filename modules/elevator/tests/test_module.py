from trytond.tests.test_tryton import ModuleTestCase


class ElevatorTestCase(ModuleTestCase):
    "Test Elevator module"
    module = 'elevator'


del ModuleTestCase
