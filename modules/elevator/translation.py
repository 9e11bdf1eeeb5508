# This file is part of the Putian elevator platform.
import polib

from trytond.pool import Pool, PoolMeta


class Translation(metaclass=PoolMeta):
    __name__ = 'ir.translation'

    @classmethod
    def translation_import(cls, lang, module, po_path):
        result = super().translation_import(lang, module, po_path)
        cls._confirm_overrides(lang, module, po_path)
        return result

    @classmethod
    def _confirm_overrides(cls, lang, module, po_path):
        """A module's locale/override/*.po translates strings of another
        module (msgctxt ending in '<module>.<fs_id>'). trytond sets the
        new value, but when it equals the owner's fuzzy suggestion it keeps
        the fuzzy flag, and the string stays untranslated (e.g. "User",
        "Email" of the standard modules): confirm those."""
        ModelData = Pool().get('ir.model.data')
        to_save = []
        for path in po_path:
            for entry in polib.pofile(path):
                if (entry.obsolete or entry.fuzzy or not entry.msgstr
                        or not entry.msgctxt):
                    continue
                translation, res_id = cls.from_poentry(entry)
                if '.' not in res_id:
                    continue
                owner, fs_id = res_id.split('.', 1)
                domain = [
                    ('lang', '=', lang),
                    ('module', '=', owner),
                    ('type', '=', translation.type),
                    ('name', '=', translation.name),
                    ('res_id', '=',
                        ModelData.get_id(owner, fs_id) if fs_id else -1),
                    ('fuzzy', '=', True),
                    ('value', '=', translation.value),
                    ]
                if translation.type in {
                        'report', 'view', 'wizard_button', 'selection'}:
                    domain.append(('src', '=', translation.src))
                for record in cls.search(domain):
                    record.fuzzy = False
                    record.overriding_module = module
                    to_save.append(record)
        if to_save:
            cls.save(to_save)
