"Test helpers shared by the platform's modules."
import os

import polib

from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction


class LocaleTestMixin:
    """Checks every module of the platform passes: its zh_CN translation
    is complete and its views can be drawn by the sao web client."""

    @with_transaction()
    def test_tree_views_sao_columns(self):
        "sao has no list column for date-times: they need date/time widgets"
        pool = Pool()
        View = pool.get('ir.ui.view')
        for view in View.search([
                    ('module', '=', self.module),
                    ('type', '=', 'tree'),
                    ]):
            Model = pool.get(view.model)
            arch = Model.fields_view_get(view.id, 'tree')
            fields_ = arch['fields']
            import lxml.etree
            tree = lxml.etree.fromstring(arch['arch'])
            for element in tree.iter('field'):
                name = element.get('name')
                if fields_.get(name, {}).get('type') in {
                        'datetime', 'timestamp'}:
                    self.assertIn(element.get('widget'), {'date', 'time'},
                        msg=f"{view.model} list view {view.name}: "
                        f"field {name} needs widget=\"date\" or \"time\"")

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
