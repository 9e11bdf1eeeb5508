# This file is part of the Putian elevator platform.
"What the platform's modules share about showing values."
from trytond.model import fields

# The time part of date-time values as the clients show them: hours,
# minutes and seconds, the format of fields.DateTime. (A shorter format
# such as '%H:%M' is not possible for fields.DateTime: trytond then refuses
# values with seconds.)
TIME_FORMAT = '%H:%M:%S'


class Timestamp(fields.Timestamp):
    """fields.Timestamp shown as fields.DateTime are: trytond's Timestamp
    shows micro-seconds (format '%H:%M:%S.%f'), which sao renders as
    "22:16:00.000". Its format is a class attribute (no argument)."""
    format = TIME_FORMAT
