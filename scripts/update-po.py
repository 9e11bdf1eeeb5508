#!/usr/bin/env python3
"""Refresh modules/<module>/locale/zh_CN.po from the module's sources.

Builds a throw-away SQLite database with the module, lets Tryton collect
every translatable string (fields, selections, views, messages, menus,
reports) and exports them for zh_CN, keeping the translations the file
already has. Empty and fuzzy entries (guessed from other modules) are listed so that
nothing is left in English, or unchecked, by accident.

    .venv/bin/python scripts/update-po.py elevator [other modules]
"""
import os
import subprocess
import sys
import tempfile

import polib

LANG = 'zh_CN'


def main(modules):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, 'trytond.conf')
        with open(conf, 'w') as fp:
            fp.write(f'[database]\nuri = sqlite://\npath = {tmp}\n')
        env = dict(os.environ, TRYTONPASSFILE=os.path.join(tmp, 'pass'))
        with open(env['TRYTONPASSFILE'], 'w') as fp:
            fp.write('admin\n')
        open(os.path.join(tmp, 'po.sqlite'), 'w').close()
        admin = os.path.join(root, '.venv', 'bin', 'trytond-admin')
        subprocess.run([admin, '-c', conf, '-d', 'po', '--all', '-l', LANG,
                '--email', 'admin@example.com'],
            check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run([admin, '-c', conf, '-d', 'po', '-u', *modules,
                '--activate-dependencies', '-l', LANG],
            check=True, env=env, stdout=subprocess.DEVNULL)

        from trytond import config
        config.update_etc(conf)
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        pool = Pool('po')
        pool.init()
        with Transaction().start('po', 0) as transaction:
            TranslationSet = pool.get('ir.translation.set', type='wizard')
            TranslationUpdate = pool.get('ir.translation.update',
                type='wizard')
            Translation = pool.get('ir.translation')
            Lang = pool.get('ir.lang')
            session_id, _, _ = TranslationSet.create()
            TranslationSet(session_id).transition_set_()
            session_id, _, _ = TranslationUpdate.create()
            update = TranslationUpdate(session_id)
            update.start.language, = Lang.search([('code', '=', LANG)])
            update.do_update({})
            for module in modules:
                content = Translation.translation_export(LANG, module)
                path = os.path.join(root, 'modules', module, 'locale',
                    f'{LANG}.po')
                os.makedirs(os.path.dirname(path), exist_ok=True)
                new = polib.pofile(content.decode('utf-8'))
                if os.path.exists(path):
                    old = {(e.msgctxt, e.msgid): e.msgstr
                        for e in polib.pofile(path) if e.msgstr}
                    for entry in new:
                        if not entry.msgstr:
                            entry.msgstr = old.get(
                                (entry.msgctxt, entry.msgid), '')
                new.save(path)
                missing = [e for e in new
                    if not e.msgstr or 'fuzzy' in e.flags]
                print(f'{path}: {len(new)} entries, '
                    f'{len(missing)} untranslated')
                for entry in missing:
                    print(f'  {entry.msgctxt}: {entry.msgid!r}')
            transaction.rollback()


if __name__ == '__main__':
    main(sys.argv[1:] or ['elevator'])
