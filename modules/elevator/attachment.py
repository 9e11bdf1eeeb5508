"""Attachments that cannot carry a script into the web client.

sao renders an attachment of type link as a link and opens a file by its
name, in the platform's origin: a `javascript:` link or an HTML/SVG file
would run with the user's session. So:

- a link is an `http`/`https` URL, whoever writes it;
- a file written by a user (RPC, access checking on) is identified by its
  content (`puremagic`), not its name: its type must be one the record needs
  (`_attachment_types` of the resource's model, e.g. images for visit
  photos, PDF or images for subsidy documents; `DEFAULT_TYPES` otherwise)
  and its name must have an extension of that type;
- a file is at most `elevator.configuration` `attachment_max_size` KB.
"""
import mimetypes
import urllib.parse

import puremagic

from trytond.i18n import gettext
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta

IMAGE_TYPES = frozenset({
        'image/jpeg', 'image/png', 'image/gif', 'image/webp'})
PDF_TYPES = frozenset({'application/pdf'})
OFFICE_TYPES = frozenset({
        'application/vnd.openxmlformats-officedocument'
        '.wordprocessingml.document',
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        'application/vnd.oasis.opendocument.text',
        'application/vnd.oasis.opendocument.spreadsheet',
        })
DEFAULT_TYPES = IMAGE_TYPES | PDF_TYPES | OFFICE_TYPES
LINK_SCHEMES = {'http', 'https'}
# Extensions some systems' mimetypes tables lack.
EXTENSIONS = {
    '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.jpe': 'image/jpeg',
    '.png': 'image/png', '.gif': 'image/gif', '.webp': 'image/webp',
    '.pdf': 'application/pdf',
    }


def content_types(data):
    "The MIME types puremagic finds in data (empty when unknown)."
    try:
        matches = puremagic.magic_string(bytes(data))
    except (puremagic.PureError, ValueError):
        return set()
    return {m.mime_type for m in matches if m.mime_type}


def name_type(name):
    "The MIME type of a file name's extension."
    name = (name or '').lower()
    for extension, type_ in EXTENSIONS.items():
        if name.endswith(extension):
            return type_
    return mimetypes.guess_type(name, strict=False)[0]


class Attachment(metaclass=PoolMeta):
    __name__ = 'ir.attachment'

    @classmethod
    def validate_fields(cls, attachments, field_names):
        super().validate_fields(attachments, field_names)
        if field_names is None or 'link' in field_names:
            for attachment in attachments:
                cls.check_link(attachment.link, attachment.name)

    @staticmethod
    def check_link(link, name):
        if not link:
            return
        try:
            url = urllib.parse.urlsplit(link.strip())
        except ValueError:
            url = None
        if (not url or url.scheme.lower() not in LINK_SCHEMES
                or not url.netloc or any(c in link for c in '\r\n\t')):
            raise ValidationError(gettext(
                    'elevator.msg_attachment_link_scheme',
                    name=name or '', link=link[:200]))

    @classmethod
    def check_modification(cls, mode, attachments, values=None,
            external=False):
        super().check_modification(mode, attachments, values=values,
            external=external)
        if mode == 'delete':
            return
        if mode == 'write' and not ({'data', 'name', 'resource', 'type'}
                & set(values or {})):
            return
        for attachment in attachments:
            if mode == 'write':
                data = values['data'] if 'data' in values else (
                    attachment.data)
                name = values.get('name', attachment.name)
                resource = values.get('resource', attachment.resource)
            else:
                data, name, resource = (
                    attachment.data, attachment.name, attachment.resource)
            cls.check_file(data, name, resource, external)

    @classmethod
    def check_file(cls, data, name, resource, external):
        if data is None:
            return
        pool = Pool()
        Configuration = pool.get('elevator.configuration')
        limit = Configuration(1).get_attachment_max_size()
        if len(data) > limit * 1024:
            raise ValidationError(gettext(
                    'elevator.msg_attachment_too_large',
                    name=name or '', size=round(len(data) / 1024),
                    limit=limit))
        if not external:
            return
        allowed = cls.attachment_types(resource)
        found = content_types(data) & allowed
        if not found or name_type(name) not in found:
            raise ValidationError(gettext(
                    'elevator.msg_attachment_type',
                    name=name or '',
                    types=', '.join(sorted(
                            (mimetypes.guess_extension(t, strict=False)
                                or t).lstrip('.') for t in allowed))))

    @classmethod
    def attachment_types(cls, resource):
        "The MIME types the resource accepts."
        if isinstance(resource, str):
            model = resource.split(',', 1)[0]
        else:
            model = getattr(resource, '__name__', None)
        try:
            Model = Pool().get(model) if model else None
        except KeyError:
            Model = None
        return frozenset(getattr(Model, '_attachment_types', None)
            or DEFAULT_TYPES)
