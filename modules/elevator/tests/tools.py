"Test helpers shared by the platform's modules."
import os

import polib

from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction


class LocaleTestMixin:
    "Every translatable string of the module has a zh_CN translation."

    @with_transaction()
    def test_zh_cn_translation_complete(self):
        pool = Pool()
        Translation = pool.get('ir.translation')
        TranslationSet = pool.get('ir.translation.set', type='wizard')
        session_id, _, _ = TranslationSet.create()
        # Collects the strings of views and reports as Tryton does.
        TranslationSet(session_id).transition_set_()
        sources = {t.src for t in Translation.search([
                    ('lang', '=', 'en'),
                    ('module', '=', self.module),
                    ]) if t.src}
        module_dir = os.path.dirname(os.path.dirname(__file__))
        path = os.path.join(module_dir, '..', self.module, 'locale',
            'zh_CN.po')
        translated = {e.msgid for e in polib.pofile(path)
            if e.msgstr and 'fuzzy' not in e.flags}
        self.assertFalse(sorted(sources - translated),
            msg="untranslated strings: run scripts/update-po.py "
            f"{self.module} and translate the empty entries")
