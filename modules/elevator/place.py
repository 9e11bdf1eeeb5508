"Sites where elevators stand: estates, buildings, stations, hospitals."
from trytond.model import ModelSQL, ModelView, fields

from .geo import CoordinatesMixin

PLACE_CATEGORIES = [
    ('public_gathering', "Public Gathering Place"),
    ('residential', "Residential"),
    ('office', "Office Building"),
    ('government', "Government Agency"),
    ('public_institution', "Public Institution"),
    ('state_owned', "State-Owned Enterprise"),
    ('other', "Other"),
    ]


class Place(CoordinatesMixin, ModelSQL, ModelView):
    "Place"
    __name__ = 'elevator.place'

    name = fields.Char("Name", required=True)
    category = fields.Selection(PLACE_CATEGORIES, "Category", required=True,
        sort=False)
    region = fields.Many2One('elevator.region', "Region", required=True,
        ondelete='RESTRICT')
    address = fields.Char("Address")
    property_company = fields.Many2One('party.party', "Property Company",
        domain=[('is_property_company', '=', True)], ondelete='RESTRICT')
    elevators = fields.One2Many('elevator.elevator', 'place', "Elevators",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))

    @staticmethod
    def default_category():
        return 'residential'
