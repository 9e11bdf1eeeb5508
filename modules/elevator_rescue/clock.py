"""The platform's clock (trytond.modules.elevator.clock), under the name
the rescue module, its tests and scenario use."""
from trytond.modules.elevator.clock import (  # noqa: F401
    freeze, now, reset, travel)
