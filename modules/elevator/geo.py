"Coordinates shared by places and elevators."
from trytond.i18n import gettext
from trytond.model import fields
from trytond.model.exceptions import ValidationError


class CoordinatesMixin:
    __slots__ = ()
    latitude = fields.Float("Latitude", digits=(9, 6))
    longitude = fields.Float("Longitude", digits=(9, 6))

    @classmethod
    def validate_fields(cls, records, field_names):
        super().validate_fields(records, field_names)
        if field_names is None or {'latitude', 'longitude'} & field_names:
            for record in records:
                check_coordinates(record.latitude, record.longitude,
                    record.rec_name)


def coordinates_error(latitude, longitude):
    "Return the message id of what is wrong with the coordinates, or None."
    if latitude is not None and not -90 <= latitude <= 90:
        return 'elevator.msg_latitude_range'
    if longitude is not None and not -180 <= longitude <= 180:
        return 'elevator.msg_longitude_range'


def check_coordinates(latitude, longitude, name):
    msg = coordinates_error(latitude, longitude)
    if msg:
        raise ValidationError(gettext(msg, record=name,
                latitude=latitude, longitude=longitude))
