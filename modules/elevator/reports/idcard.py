"""The elevator ID card (电梯安全信息卡) posted in the car.

One card per page, A5 landscape by default (A6 is the same drawing scaled
down): the bureau, the rescue identification code in very large digits, the
96196 hotline, the registration code, where the elevator stands, its user
unit and maintenance unit with the maintenance unit's public phone, the next
inspection date and a QR code of the elevator's public page.

The text is Chinese: the card is a regulatory notice for the public in
Putian, printed in Chinese whatever the language of the user who prints it.
The CJK font is a TrueType font embedded as a subset (see fonts.py).
"""
import datetime as dt
from io import BytesIO

from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.pagesizes import A5, A6, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import FILL_NON_ZERO, Canvas

from .fonts import cjk_font

__all__ = ['render_id_cards', 'card_url', 'qr_matrix', 'PAGE_SIZES']

PAGE_SIZES = {
    'A5': landscape(A5),
    'A6': landscape(A6),
    }
# The card is drawn on an A5 landscape sheet and scaled for other sizes.
WIDTH, HEIGHT = landscape(A5)

BLUE = colors.HexColor('#0b3d91')
RED = colors.HexColor('#c62828')
PALE_BLUE = colors.HexColor('#eef3fb')
PALE_RED = colors.HexColor('#fdecea')
GREY = colors.HexColor('#5f6368')
INK = colors.HexColor('#202124')

TITLE = "电梯安全信息卡"
ISSUED_BY = "{authority} 监制"
RESCUE_CODE = "应急救援识别码"
RESCUE_HINT = "电梯困人时请报出此号码"
TRAPPED = "被困请拨打"
TRAPPED_HINT = "保持冷静，勿扒门、勿强行离开轿厢；按警铃或拨打电话等待救援"
LABELS = [
    ('registration_code', "注册代码"),
    ('location', "使用地点"),
    ('user_unit', "使用单位"),
    ('maintenance_unit', "维保单位"),
    ('maintenance_phone', "维保电话"),
    ]
NEXT_INSPECTION = "下次检验日期"
SCAN = "微信扫码查询"
SCAN_HINT = "电梯信息 · 维保记录 · 投诉评价"
POSTING = "本卡由使用单位张贴于轿厢内醒目位置，请勿撕毁、涂改"
PRINTED = "制卡日期 {date}"
MISSING = "—"
NO_RESCUE_CODE = "未分配"


def render_id_cards(elevators, configuration, page_size='A5', today=None):
    """Return a PDF (bytes) with one ID card per elevator.

    elevators: records of elevator.elevator (or objects with the same
    attributes); configuration: the elevator.configuration singleton
    (authority_name, hotline, public_url). page_size: 'A5' or 'A6'
    (landscape)."""
    font = cjk_font()
    size = PAGE_SIZES[page_size]
    scale = size[0] / WIDTH
    today = today or dt.date.today()
    buffer = BytesIO()
    # The initial font is the CJK one so that no page refers to a
    # non-embedded standard font.
    canvas = Canvas(buffer, pagesize=size, pageCompression=1,
        initialFontName=font)
    canvas.setTitle(TITLE)
    canvas.setAuthor(configuration.authority_name or '')
    canvas.setSubject(RESCUE_CODE)
    canvas.setCreator("elevator_platform")
    elevators = list(elevators)
    for elevator in elevators:
        canvas.saveState()
        canvas.scale(scale, scale)
        _Card(canvas, font, elevator, configuration, today).draw()
        canvas.restoreState()
        canvas.showPage()
    if not elevators:
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def card_url(elevator, configuration):
    "The URL of the QR code: the public page of the elevator."
    return (configuration.public_url or '') + (elevator.public_token or '')


# Where the QR symbol (with its quiet zone of QUIET_ZONE modules) is drawn:
# left and top edges in mm from the top left corner of an A5 card, side in
# mm; for A6 scale by PAGE_SIZES['A6'][0] / WIDTH.
QR_BOX = (141, 29, 58)
QUIET_ZONE = 4


class _Card:
    "Draws one card on the A5 landscape coordinate system, in mm from top."

    margin = 5  # outer cut line
    left = 11  # content edges
    right = WIDTH / mm - 11
    split = QR_BOX[0]  # left column ends, QR column starts

    def __init__(self, canvas, font, elevator, configuration, today):
        self.c = canvas
        self.font = font
        self.elevator = elevator
        self.configuration = configuration
        self.today = today

    def y(self, top):
        "Convert a distance from the top of the card to a y coordinate."
        return HEIGHT - top * mm

    def draw(self):
        self.frame()
        self.header()
        self.rescue_code()
        self.hotline()
        self.details()
        self.qr_code()
        self.inspection()
        self.footer()

    # drawing helpers

    def text(self, x, top, text, size, color=INK, bold=False, align='left',
            max_width=None, min_size=None, char_space=0):
        """Draw text with its baseline top mm from the top; shrink it (down
        to min_size) and then cut it with an ellipsis to fit max_width mm.
        Return the size used."""
        c = self.c
        text = ' '.join(str(text).split())
        if max_width is not None:
            limit = max_width * mm
            min_size = min_size or size
            while (size > min_size
                    and self.width(text, size, char_space) > limit):
                size = max(min_size, size - 0.5)
            if self.width(text, size, char_space) > limit:
                while text and self.width(
                        text + '…', size, char_space) > limit:
                    text = text[:-1]
                text += '…'
        width = self.width(text, size, char_space)
        x = x * mm
        if align == 'center':
            x -= width / 2
        elif align == 'right':
            x -= width
        c.saveState()
        t = c.beginText(x, self.y(top))
        t.setFont(self.font, size)
        t.setCharSpace(char_space)
        t.setFillColor(color)
        if bold:
            # One weight only in the CJK font: thicken the outline.
            t.setTextRenderMode(2)
            t.setStrokeColor(color)
            c.setLineWidth(size * 0.035)
        else:
            t.setTextRenderMode(0)
        t.textOut(text)
        c.drawText(t)
        c.restoreState()
        return size

    def width(self, text, size, char_space=0):
        width = stringWidth(text, self.font, size)
        if text and char_space:
            width += char_space * (len(text) - 1)
        return width

    def box(self, x1, top, x2, bottom, fill=None, stroke=None, line=0.6,
            radius=2.5):
        c = self.c
        c.saveState()
        if fill is not None:
            c.setFillColor(fill)
        if stroke is not None:
            c.setStrokeColor(stroke)
            c.setLineWidth(line * mm)
        c.roundRect(x1 * mm, self.y(bottom), (x2 - x1) * mm,
            (bottom - top) * mm, radius * mm,
            stroke=int(stroke is not None), fill=int(fill is not None))
        c.restoreState()

    # parts of the card

    def frame(self):
        m = self.margin
        self.box(m, m, WIDTH / mm - m, HEIGHT / mm - m, stroke=BLUE,
            line=1.2, radius=4)

    def header(self):
        m = self.margin
        c = self.c
        c.saveState()
        c.setFillColor(BLUE)
        path = c.beginPath()
        # Header band with the rounded top corners of the frame.
        r = 4 * mm
        x1, x2 = m * mm, WIDTH - m * mm
        y1, y2 = self.y(m + 19), self.y(m)
        path.moveTo(x1, y1)
        path.lineTo(x1, y2 - r)
        path.arcTo(x1, y2 - 2 * r, x1 + 2 * r, y2, startAng=180, extent=-90)
        path.lineTo(x2 - r, y2)
        path.arcTo(x2 - 2 * r, y2 - 2 * r, x2, y2, startAng=90, extent=-90)
        path.lineTo(x2, y1)
        path.close()
        c.drawPath(path, stroke=0, fill=1)
        c.restoreState()
        self.text(self.left, m + 13, TITLE, 24, colors.white, bold=True,
            char_space=3)
        authority = self.configuration.authority_name or ''
        if authority:
            self.text(self.right, m + 12.2,
                ISSUED_BY.format(authority=authority), 12, colors.white,
                align='right', max_width=95, min_size=8)

    def rescue_code(self):
        left, right = self.left, self.split - 5
        top, bottom = 29, 66
        self.box(left, top, right, bottom, fill=PALE_BLUE, stroke=BLUE,
            line=0.5)
        self.text(left + 4, top + 7, RESCUE_CODE, 13, BLUE, bold=True,
            char_space=1)
        self.text(right - 4, top + 7, RESCUE_HINT, 9, GREY, align='right')
        code = self.elevator.rescue_code
        if code:
            self.text((left + right) / 2, bottom - 5, code, 78, RED,
                bold=True, align='center', max_width=right - left - 8,
                min_size=40, char_space=6)
        else:
            self.text((left + right) / 2, bottom - 11, NO_RESCUE_CODE, 28,
                GREY, align='center')

    def hotline(self):
        left, right = self.left, self.split - 5
        top, bottom = 70, 91
        self.box(left, top, right, bottom, fill=RED)
        hotline = self.configuration.hotline or ''
        # "被困请拨打" + the number, centred together.
        label_size, number_size = 17, 34
        gap = 3 * mm
        label_width = self.width(TRAPPED, label_size, 1)
        number_width = self.width(hotline, number_size, 2)
        start = ((left + right) / 2 * mm
            - (label_width + gap + number_width) / 2) / mm
        self.text(start, top + 12.5, TRAPPED, label_size, colors.white,
            bold=True, char_space=1)
        self.text(start + (label_width + gap) / mm, top + 13.5, hotline,
            number_size, colors.white, bold=True, char_space=2)
        self.text((left + right) / 2, bottom - 2.8, TRAPPED_HINT, 8.5,
            colors.white, align='center', max_width=right - left - 6,
            min_size=6.5)

    def values(self):
        e = self.elevator
        place = e.place.name if e.place else ''
        location = ' '.join(filter(None, [place, e.building or '']))
        user_unit = e.user_unit.name if e.user_unit else ''
        maintenance_unit = (
            e.maintenance_unit.name if e.maintenance_unit else '')
        phone = (getattr(e.maintenance_unit, 'public_phone', None)
            if e.maintenance_unit else None)
        return {
            'registration_code': e.registration_code or '',
            'location': location,
            'user_unit': user_unit,
            'maintenance_unit': maintenance_unit,
            'maintenance_phone': phone or '',
            }

    def details(self):
        left, right = self.left, self.split - 5
        values = self.values()
        top, step = 100, 7.4
        c = self.c
        for i, (key, label) in enumerate(LABELS):
            baseline = top + i * step
            self.text(left + 1, baseline, label, 10.5, GREY)
            value = values[key] or MISSING
            is_code = key in {'registration_code', 'maintenance_phone'}
            self.text(left + 22, baseline, value,
                12.5 if is_code else 11.5, INK, bold=is_code,
                max_width=right - left - 23, min_size=7,
                char_space=0.6 if is_code else 0)
            if i < len(LABELS) - 1:
                c.saveState()
                c.setStrokeColor(colors.HexColor('#d5dbe5'))
                c.setLineWidth(0.3)
                c.line(left * mm, self.y(baseline + 2.6), right * mm,
                    self.y(baseline + 2.6))
                c.restoreState()

    def qr_code(self):
        url = card_url(self.elevator, self.configuration)
        left, top, side = QR_BOX
        right = left + side
        modules = qr_matrix(url)
        # Quiet zone of 4 modules, white on the white card.
        count = len(modules)
        module = side * mm / (count + 2 * QUIET_ZONE)
        x0 = left * mm + QUIET_ZONE * module
        y0 = self.y(top) - QUIET_ZONE * module
        c = self.c
        c.saveState()
        c.setFillColor(colors.black)
        path = c.beginPath()
        for r, row in enumerate(modules):
            col = 0
            while col < count:
                if not row[col]:
                    col += 1
                    continue
                start = col
                while col < count and row[col]:
                    col += 1
                # A hair wider and taller: no seams between modules.
                path.rect(x0 + start * module, y0 - (r + 1) * module,
                    (col - start) * module + 0.05, module + 0.05)
        # Non-zero winding: the overlapping hair stays dark.
        c.drawPath(path, stroke=0, fill=1, fillMode=FILL_NON_ZERO)
        c.restoreState()
        c.linkURL(url, (left * mm, self.y(top + side),
                right * mm, self.y(top)), relative=1)
        middle = (left + right) / 2
        self.text(middle, top + side + 1.5, SCAN, 11, BLUE, bold=True,
            align='center', char_space=1)
        self.text(middle, top + side + 6.5, SCAN_HINT, 8.5, GREY,
            align='center', max_width=side, min_size=6)

    def inspection(self):
        left, right = self.split + 1, self.right
        top, bottom = 100, 131
        date = self.elevator.next_inspection_date
        self.box(left, top, right, bottom, fill=PALE_RED if self.overdue(date)
            else PALE_BLUE, stroke=BLUE, line=0.4)
        middle = (left + right) / 2
        self.text(middle, top + 10, NEXT_INSPECTION, 11, GREY,
            align='center', char_space=1)
        self.text(middle, top + 22, format_date(date) or MISSING, 16,
            RED if self.overdue(date) else INK, bold=True, align='center',
            max_width=right - left - 3, min_size=9)

    def overdue(self, date):
        return date is not None and date < self.today

    def footer(self):
        bottom = HEIGHT / mm - self.margin - 3.2
        self.text(self.left, bottom, POSTING, 7.5, GREY)
        self.text(self.right, bottom,
            PRINTED.format(date=self.today.isoformat()), 7.5, GREY,
            align='right')


def qr_matrix(value, level='M'):
    """The QR symbol of value as rows of booleans (True: dark), encoded by
    reportlab's own QR encoder."""
    qr = qrencoder.QRCode(None, getattr(qrencoder.QRErrorCorrectLevel, level))
    qr.addData(value)
    qr.make()
    return [[bool(m) for m in row] for row in qr.modules]


def format_date(date):
    if not date:
        return ''
    return f"{date.year}年{date.month:02d}月{date.day:02d}日"
