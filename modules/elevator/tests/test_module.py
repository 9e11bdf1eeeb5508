from trytond.tests.test_tryton import ModuleTestCase

from .tools import LocaleTestMixin


class ElevatorTestCase(LocaleTestMixin, ModuleTestCase):
    "Test Elevator module"
    module = 'elevator'


del ModuleTestCase
