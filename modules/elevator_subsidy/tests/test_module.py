from trytond.tests.test_tryton import ModuleTestCase

from trytond.modules.elevator.tests.tools import LocaleTestMixin


class ElevatorSubsidyTestCase(LocaleTestMixin, ModuleTestCase):
    "Test Elevator Subsidy module"
    module = 'elevator_subsidy'
    extras = ['elevator_iot']


del ModuleTestCase
