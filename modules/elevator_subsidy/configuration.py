"Settings of the subsidies, installations and compliance lists."
import datetime as dt

from trytond.model import fields
from trytond.modules.elevator.place import PLACE_CATEGORIES
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Id

# Fujian special-equipment regulation: elevators installed from this day on
# must carry a remote monitoring device.
MONITORING_REQUIRED_SINCE = dt.date(2019, 10, 1)
MONITORING_REQUIRED_CATEGORIES = [
    'public_gathering', 'office', 'government', 'public_institution',
    'state_owned']
VIDEO_REQUIRED_CATEGORIES = ['public_gathering', 'residential']


class Configuration(metaclass=PoolMeta):
    __name__ = 'elevator.configuration'

    subsidy_application_sequence = fields.Many2One('ir.sequence',
        "Subsidy Application Sequence",
        domain=[('sequence_type', '=',
                Id('elevator_subsidy', 'sequence_type_application'))])
    installation_project_sequence = fields.Many2One('ir.sequence',
        "Installation Project Sequence",
        domain=[('sequence_type', '=',
                Id('elevator_subsidy', 'sequence_type_installation'))])
    monitoring_required_since = fields.Date("Monitoring Required Since",
        help="Elevators put into service from this day on must be "
        "remotely monitored (Fujian regulation, 2019-10-01).")
    monitoring_required_categories = fields.MultiSelection(
        PLACE_CATEGORIES, "Monitoring Required in",
        help="Elevators in use in these kinds of place must be remotely "
        "monitored whatever their age.")
    video_required_categories = fields.MultiSelection(
        PLACE_CATEGORIES, "Video Required in",
        help="Elevators in use in these kinds of place must have video "
        "monitoring.")
    @classmethod
    def _default_sequence(cls, fs_id):
        ModelData = Pool().get('ir.model.data')
        try:
            return ModelData.get_id('elevator_subsidy', fs_id)
        except KeyError:
            return None

    @classmethod
    def default_subsidy_application_sequence(cls):
        return cls._default_sequence('sequence_application')

    @classmethod
    def default_installation_project_sequence(cls):
        return cls._default_sequence('sequence_installation')

    @classmethod
    def default_monitoring_required_since(cls):
        return MONITORING_REQUIRED_SINCE

    @classmethod
    def default_monitoring_required_categories(cls):
        return list(MONITORING_REQUIRED_CATEGORIES)

    @classmethod
    def default_video_required_categories(cls):
        return list(VIDEO_REQUIRED_CATEGORIES)

    # The getters below fall back to the defaults for a configuration
    # saved before this module was activated.
    def get_subsidy_sequence(self, name):
        pool = Pool()
        Sequence = pool.get('ir.sequence')
        sequence = getattr(self, name)
        if not sequence:
            default = getattr(self, f'default_{name}')()
            sequence = Sequence(default) if default else None
        return sequence

    @property
    def compliance_settings(self):
        """(since, monitoring categories, video categories). Whether an
        elevator is monitored is elevator_iot's to say (its monitoring
        window), not a setting of the subsidies."""
        return (
            self.monitoring_required_since or MONITORING_REQUIRED_SINCE,
            list(self.monitoring_required_categories
                if self.monitoring_required_categories is not None
                else MONITORING_REQUIRED_CATEGORIES),
            list(self.video_required_categories
                if self.video_required_categories is not None
                else VIDEO_REQUIRED_CATEGORIES),
            )
