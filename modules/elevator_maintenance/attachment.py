"Photos of maintenance and repair records: size limit, immutability."
from trytond.i18n import gettext
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.transaction import without_check_access

VISIT_MODELS = {'elevator.maintenance.order', 'elevator.repair.order'}


class Attachment(metaclass=PoolMeta):
    __name__ = 'ir.attachment'

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        data = values.get('data')
        if data is not None and cls._visit_resource(values.get('resource')):
            Configuration = Pool().get('elevator.configuration')
            limit = Configuration(1).maintenance_photo_max_size * 1024
            if len(data) > limit:
                raise ValidationError(gettext(
                        'elevator_maintenance.msg_photo_too_large',
                        name=values.get('name') or '',
                        size=round(len(data) / 1024),
                        limit=limit // 1024))
        return values

    @classmethod
    def _visit_resource(cls, resource):
        if not resource:
            return False
        if isinstance(resource, str):
            return resource.split(',', 1)[0] in VISIT_MODELS
        return getattr(resource, '__name__', None) in VISIT_MODELS

    @classmethod
    def check_modification(cls, mode, attachments, values=None,
            external=False):
        super().check_modification(mode, attachments, values=values,
            external=external)
        with without_check_access():
            for attachment in attachments:
                resource = attachment.resource
                if (resource is None
                        or resource.__name__ not in VISIT_MODELS
                        or resource.id is None or resource.id < 0):
                    continue
                if mode == 'write' and values and 'resource' in values:
                    raise AccessError(gettext(
                            'elevator_maintenance.msg_photo_move'))
                if resource.state == 'confirmed':
                    raise AccessError(gettext(
                            'elevator_maintenance.msg_visit_confirmed',
                            record=resource.rec_name))
                if external and resource.state not in {
                        'in_progress', 'disputed'}:
                    raise AccessError(gettext(
                            'elevator_maintenance.msg_photo_not_recording',
                            record=resource.rec_name))

