"""The elevator ID card report: a PDF rendered by reportlab with an embedded
CJK font and a QR code of the elevator's public page.

The checks read the PDF back with poppler-utils (pdftotext, pdffonts,
pdftoppm) and decode the QR code with zbarimg (zbar-tools) where it is
installed; the QR symbol is also read back module by module from the
rendered page and compared with the encoding of the expected URL."""
import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from unittest import mock

from trytond.pool import Pool
from trytond.tests.test_tryton import (
    TestCase, activate_module, drop_db, with_transaction)

PUBLIC_URL = 'https://elevator.putian.example/h5/e/'


def _tool(name, package):
    path = shutil.which(name)
    if not path:
        # make test installs it (scripts/ensure-packages.sh): a missing
        # tool is a broken set-up, not a reason to skip the check.
        raise AssertionError(
            f"{name} not installed (Debian package {package})")
    return path


def _run(*args, **kwargs):
    return subprocess.run(args, capture_output=True, check=True,
        timeout=60, **kwargs)


class IdCardTestCase(TestCase):
    "Test the elevator ID card report"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(['elevator'])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    def setUp(self):
        super().setUp()
        directory = tempfile.TemporaryDirectory(prefix='id-card-')
        self.addCleanup(directory.cleanup)
        self.directory = Path(directory.name)

    def create_elevators(self):
        pool = Pool()
        Configuration = pool.get('elevator.configuration')
        Region = pool.get('elevator.region')
        Party = pool.get('party.party')
        Place = pool.get('elevator.place')
        Elevator = pool.get('elevator.elevator')

        configuration = Configuration(1)
        configuration.public_url = PUBLIC_URL
        configuration.save()

        district, = Region.search([('code', '=', '350302')])
        town, = Region.create([{
                    'code': '350302001',
                    'name': "龙桥街道",
                    'level': 'town',
                    'parent': district.id,
                    }])
        user_unit, maintenance_unit = Party.create([{
                    'name': "莆田市城厢区万达广场物业管理有限公司",
                    'is_user_unit': True,
                    }, {
                    'name': "莆田市安达电梯工程有限公司",
                    'is_maintenance_unit': True,
                    'public_phone': '0594-2681234',
                    }])
        place, = Place.create([{
                    'name': "万达广场",
                    'region': town.id,
                    }])
        elevator, bare = Elevator.create([{
                    'registration_code': '31103503022019000123',
                    'rescue_code': '350123',
                    'category': '3110',
                    'region': town.id,
                    'place': place.id,
                    'building': "3号楼2单元",
                    'user_unit': user_unit.id,
                    'maintenance_unit': maintenance_unit.id,
                    'next_inspection_date': dt.date(2031, 5, 31),
                    }, {
                    # Nothing but what is required: the card still prints.
                    'registration_code': '31103503022019000124',
                    'rescue_code': '350124',
                    'category': '3110',
                    'region': town.id,
                    }])
        return elevator, bare

    def execute(self, elevators):
        IdCard = Pool().get('elevator.elevator.id_card', type='report')
        oext, content, direct_print, name = IdCard.execute(
            [e.id for e in elevators], {})
        return oext, bytes(content)

    def write(self, content, name='card.pdf'):
        path = self.directory / name
        path.write_bytes(content)
        return path

    @with_transaction()
    def test_report_is_pdf_with_card_text(self):
        "The report gives a PDF with the card's text"
        elevator, _ = self.create_elevators()

        oext, content = self.execute([elevator])

        self.assertEqual(oext, 'pdf')
        self.assertTrue(content.startswith(b'%PDF-'))
        self.assertEqual(_page_count(content), 1)
        pdftotext = _tool('pdftotext', 'poppler-utils')
        text = _run(pdftotext, '-enc', 'UTF-8', str(self.write(content)),
            '-').stdout.decode('utf-8')
        words = ''.join(text.split())
        for expected in [
                '电梯安全信息卡', "莆田市市场监督管理局", "应急救援识别码",
                '350123', '被困请拨打', '96196', '31103503022019000123',
                "万达广场", "3号楼2单元", "莆田市城厢区万达广场物业管理有限公司",
                "莆田市安达电梯工程有限公司", '0594-2681234',
                "2031年05月31日"]:
            self.assertIn(expected, words)

    @with_transaction()
    def test_font_embedded(self):
        "Every font of the card is embedded, the CJK one as a subset"
        elevator, _ = self.create_elevators()
        _, content = self.execute([elevator])

        pdffonts = _tool('pdffonts', 'poppler-utils')
        output = _run(pdffonts, str(self.write(content))).stdout.decode()
        fonts = output.splitlines()[2:]
        self.assertTrue(fonts, output)
        for line in fonts:
            # name type [type] encoding emb sub uni object ID
            emb, sub, uni = line.split()[-5:-2]
            self.assertEqual((emb, sub), ('yes', 'yes'), output)
        self.assertTrue(any('TrueType' in line for line in fonts), output)

    def render_qr_page(self, dpi=200):
        "Render the card of a new elevator to PNG; return (path, URL)."
        elevator, _ = self.create_elevators()
        _, content = self.execute([elevator])
        pdftoppm = _tool('pdftoppm', 'poppler-utils')
        _run(pdftoppm, '-png', '-r', str(dpi), '-singlefile',
            str(self.write(content)), str(self.directory / 'card'))
        return self.directory / 'card.png', PUBLIC_URL + elevator.public_token

    @with_transaction()
    def test_qr_code_modules(self):
        "The printed QR symbol is, module by module, the public URL's"
        from trytond.modules.elevator.reports.idcard import qr_matrix
        dpi = 200
        image, url = self.render_qr_page(dpi)
        expected = qr_matrix(url)
        self.assertEqual(
            _read_qr_modules(image, dpi, len(expected)), expected)
        # The comparison tells one URL from another.
        self.assertNotEqual(
            _read_qr_modules(image, dpi, len(expected)),
            qr_matrix(url[:-1] + ('A' if url[-1] != 'A' else 'B')))

    @with_transaction()
    def test_qr_code_decodes(self):
        "A QR decoder reads the elevator's public URL from the card"
        zbarimg = _tool('zbarimg', 'zbar-tools')
        image, url = self.render_qr_page(dpi=100)
        decoded = _run(zbarimg, '--quiet', '--raw', str(image)).stdout
        self.assertEqual(decoded.decode().strip(), url)

    @with_transaction()
    def test_several_cards(self):
        "One card per page; a card with empty fields still prints"
        elevator, bare = self.create_elevators()

        oext, content = self.execute([elevator, bare])

        self.assertEqual(oext, 'pdf')
        self.assertEqual(_page_count(content), 2)
        pdftotext = _tool('pdftotext', 'poppler-utils')
        text = _run(pdftotext, '-enc', 'UTF-8', str(self.write(content)),
            '-').stdout.decode('utf-8')
        self.assertIn('350124', text)
        self.assertIn('31103503022019000124', text)

    def test_font_not_found_message(self):
        "A missing CJK font gives an error that says how to install one"
        from trytond.modules.elevator.reports import fonts
        with mock.patch.dict(os.environ,
                {fonts.ENV_VAR: '/nonexistent/font.ttc#0'}):
            with self.assertRaises(fonts.CJKFontNotFound) as cm:
                fonts.find_cjk_font()
        self.assertIn('fonts-wqy-microhei', str(cm.exception))
        self.assertIn(fonts.ENV_VAR, str(cm.exception))

        with mock.patch.object(fonts, 'SYSTEM_FONTS', []), \
                mock.patch.object(fonts, 'BUNDLED_DIR',
                    self.directory / 'none'), \
                mock.patch.object(fonts, '_fontconfig', lambda: []), \
                mock.patch.dict(os.environ, {}, clear=False) as environ:
            environ.pop(fonts.ENV_VAR, None)
            with self.assertRaises(fonts.CJKFontNotFound) as cm:
                fonts.find_cjk_font()
        self.assertIn('apt-get install fonts-wqy-microhei', str(cm.exception))

    def test_font_without_cjk_glyphs_refused(self):
        "A TrueType font without Chinese glyphs is not taken"
        from trytond.modules.elevator.reports import fonts
        latin = Path('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf')
        self.assertTrue(latin.exists(),
            msg="DejaVuSans.ttf not installed (fonts-dejavu-core)")
        with mock.patch.dict(os.environ, {fonts.ENV_VAR: str(latin)}):
            with self.assertRaises(fonts.CJKFontNotFound) as cm:
                fonts.find_cjk_font()
        self.assertIn('no glyphs', str(cm.exception))


def _page_count(content):
    return len(re.findall(rb'/Type\s*/Page(?![s\w])', content))


def _read_qr_modules(image_path, dpi, count):
    """Sample the centre of every module of the QR symbol in the rendered
    card (a PNG of an A5 landscape page at dpi) and return rows of booleans
    (True: dark)."""
    from PIL import Image

    from trytond.modules.elevator.reports.idcard import QR_BOX, QUIET_ZONE
    left, top, side = QR_BOX
    px_per_mm = dpi / 25.4
    module = side / (count + 2 * QUIET_ZONE) * px_per_mm
    x0 = left * px_per_mm + QUIET_ZONE * module
    y0 = top * px_per_mm + QUIET_ZONE * module
    with Image.open(image_path) as image:
        gray = image.convert('L')
        # The quiet zone is light all round.
        for i in range(count):
            for x, y in [(i, -1), (i, count), (-1, i), (count, i)]:
                assert gray.getpixel((int(x0 + (x + 0.5) * module),
                            int(y0 + (y + 0.5) * module))) > 128
        return [[gray.getpixel((int(x0 + (c + 0.5) * module),
                            int(y0 + (r + 0.5) * module))) < 128
                for c in range(count)]
            for r in range(count)]


del TestCase
