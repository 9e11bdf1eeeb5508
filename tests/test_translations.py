"""zh_CN for what the platform's users see but the standard modules and
sao leave untranslated.

- modules/elevator/locale/override/zh_CN.po overrides strings of the
  standard modules ir, res and party (trytond loads locale/override/*.po;
  the module after the last colon of msgctxt owns the string). Every entry
  must name a string that exists in the owning module's zh_CN.po with the
  same source text, else trytond-admin fails (or the entry is dead).
- sao-custom/zh_CN.po translates the sao strings that sao 8.0's zh_CN
  leaves empty or fuzzy; scripts/setup-sao.sh merges it into
  web/sao/locale/zh_CN.json.

That the overrides are really loaded and shown is checked in the browser
(tests/test_screens_browser.py).
"""
import json
import os
import re
import subprocess
from pathlib import Path

import polib
import pytest
import trytond

ROOT = Path(__file__).resolve().parents[1]
OVERRIDE = ROOT / 'modules' / 'elevator' / 'locale' / 'override' / 'zh_CN.po'
SAO_CUSTOM = ROOT / 'sao-custom'
SAO = ROOT / 'web' / 'sao'
TRYTOND = Path(trytond.__file__).parent

# The owning module's zh_CN.po (the module `elevator` depends on each).
SOURCES = {
    'ir': TRYTOND / 'ir' / 'locale' / 'zh_CN.po',
    'res': TRYTOND / 'res' / 'locale' / 'zh_CN.po',
    'party': TRYTOND / 'modules' / 'party' / 'locale' / 'zh_CN.po',
    'country': TRYTOND / 'modules' / 'country' / 'locale' / 'zh_CN.po',
    }

# What the issue found in English on the party and user forms.
MUST = [
    ('party', 'field:party.address,', f)
    for f in ('attn', 'street_name', 'building_name', 'building_number',
        'unit_number', 'floor_number', 'room_number', 'post_box',
        'private_bag', 'post_office', 'street_unstructured')] + [
    ('res', 'field:res.user,', 'notifications'),
    ('res', 'field:res.user,', 'menu'),
    ]

HAN = re.compile(r'[\u4e00-\u9fff]')


def untranslated(entry):
    return not entry.msgstr or entry.fuzzy


def test_override_entries_exist_in_owning_module():
    entries = polib.pofile(str(OVERRIDE))
    assert len(entries) > 100
    sources = {m: {(e.msgctxt, e.msgid): e for e in polib.pofile(str(p))}
        for m, p in SOURCES.items()}
    seen = set()
    for entry in entries:
        ttype, name, res_id = entry.msgctxt.split(':')
        module, _, fs_id = res_id.partition('.')
        assert module in sources, entry.msgctxt
        key = (f'{ttype}:{name}:{fs_id}', entry.msgid)
        assert key in sources[module], (
            f"{entry.msgctxt} {entry.msgid!r}: no such string in {module}")
        # Only strings the module leaves empty or fuzzy: the rest are
        # translated upstream already.
        assert untranslated(sources[module][key]), entry.msgctxt
        assert key not in seen, f"twice: {entry.msgctxt} {entry.msgid!r}"
        seen.add(key)
        assert HAN.search(entry.msgstr), entry.msgctxt
        assert not entry.fuzzy
        # Python placeholders kept.
        assert (sorted(re.findall(r'%\(\w+\)\w', entry.msgid))
            == sorted(re.findall(r'%\(\w+\)\w', entry.msgstr))), entry.msgid
    names = {(m, e.msgctxt.split(':')[1]) for e in entries
        for m in [e.msgctxt.split(':')[2].split('.')[0]]}
    for module, prefix, field in MUST:
        assert (module, prefix[len('field:'):] + field) in names, field


def sao_untranslated():
    "msgids sao's own zh_CN.json leaves without a translation."
    pot = polib.pofile(str(SAO / 'locale' / 'messages.pot'))
    shipped = json.loads(
        (SAO / 'locale' / 'zh_CN.sao.json').read_text()
        if (SAO / 'locale' / 'zh_CN.sao.json').exists()
        else (SAO / 'locale' / 'zh_CN.json').read_text())
    return {e.msgid for e in pot if not e.msgid_plural
        and not (shipped.get(e.msgid) or [None, ''])[-1]}


@pytest.fixture(scope='module')
def sao_installed():
    assert (SAO / 'locale' / 'messages.pot').exists(), (
        "sao is not installed: run scripts/setup-sao.sh")


def test_sao_overlay_covers_sao_gaps(sao_installed):
    custom = {e.msgid: e.msgstr for e in polib.pofile(
            str(SAO_CUSTOM / 'zh_CN.po'))}
    missing = sao_untranslated() - set(custom)
    assert not missing, sorted(missing)
    for msgid, msgstr in custom.items():
        assert HAN.search(msgstr), msgid
        assert (sorted(re.findall(r'%\d', msgid))
            == sorted(re.findall(r'%\d', msgstr))), msgid


def test_setup_sao_merges_the_overlay(sao_installed, tmp_path):
    "The merge gives sao's JSON with the overlay, and is idempotent."
    base = tmp_path / 'zh_CN.sao.json'
    base.write_text(json.dumps({
        '': {'language': 'zh_CN'},
        'Preferences...': [None, ''],
        'Logout': [None, '注销'],
        }))
    out = tmp_path / 'zh_CN.json'
    merge = [ 'node', str(SAO_CUSTOM / 'merge-po.js'), str(base),
        str(SAO_CUSTOM / 'zh_CN.po'), str(out)]
    subprocess.run(merge, check=True, capture_output=True)
    data = json.loads(out.read_text())
    assert data['Preferences...'] == [None, '个人设置...']
    assert data['Logout'] == [None, '注销']
    assert data['A request to reset your password has been sent.\n'
        'Please check your mailbox.'][1].startswith('重置密码')
    before = out.stat().st_mtime_ns, out.read_text()
    again = subprocess.run(merge, check=True, capture_output=True, text=True)
    assert again.stdout == ''
    assert (out.stat().st_mtime_ns, out.read_text()) == before
