"""What every assessment report shares, in PDF and in XLSX.

PDF (reportlab platypus): the embedded CJK font of fonts.py, a running
header with the bureau's name, the title and the period on every page, a
footer with the generation time, the data snapshot and "第 x 页 / 共 y
页", a diagonal "草稿" on documents that are not published, and tables
that repeat their header rows across pages.

XLSX (xlsxwriter): a title block (bureau, title, period, snapshot,
generation time) above each table, real numbers with number formats,
frozen header rows and an autofilter on every table; the document
properties carry the same metadata.

The renderers take plain data (see the dataclasses of each report), not
Tryton records, so that they run the same from the web client, the
command line and the tests.
"""
import datetime as dt
from dataclasses import dataclass, field
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate, Frame, KeepTogether, PageTemplate, Paragraph, Spacer,
    Table, TableStyle)

from .fonts import cjk_font

__all__ = ['Meta', 'PDF', 'Book', 'number', 'percent', 'MISSING']

MISSING = '—'
BLUE = colors.HexColor('#0b3d91')
PALE_BLUE = colors.HexColor('#eef3fb')
STRIPE = colors.HexColor('#f7f9fc')
GREY = colors.HexColor('#5f6368')
LINE = colors.HexColor('#c5cede')
INK = colors.HexColor('#202124')
WATERMARK = colors.Color(0.75, 0.1, 0.1, alpha=0.12)


@dataclass
class Meta:
    "What every report says about itself."
    authority: str
    title: str
    period: str
    snapshot: str
    generated_at: dt.datetime
    draft: bool = False
    subject: str = ''
    notes: list = field(default_factory=list)

    @property
    def generated(self):
        return self.generated_at.strftime('%Y-%m-%d %H:%M')


def number(value, digits=0, missing=MISSING):
    "A figure for print: thousands separators, fixed digits, '—' for None."
    if value is None or value == '':
        return missing
    if isinstance(value, str):
        return value
    return f'{value:,.{digits}f}'


def percent(value, digits=1, missing=MISSING):
    if value is None:
        return missing
    return f'{value:.{digits}f}%'


# -- PDF ---------------------------------------------------------------------

class PDF:
    """A PDF document: add flowables with the helpers, then render()."""

    margin = 14 * mm

    def __init__(self, meta, pagesize=None):
        self.meta = meta
        self.font = cjk_font()
        self.pagesize = pagesize or landscape(A4)
        self.story = []
        base = dict(fontName=self.font, textColor=INK, leading=13,
            fontSize=9.5)
        self.styles = {
            'title': ParagraphStyle('title', **{**base, 'fontSize': 18,
                    'leading': 24, 'alignment': TA_CENTER,
                    'textColor': BLUE}),
            'subtitle': ParagraphStyle('subtitle', **{**base,
                    'fontSize': 10.5, 'leading': 15,
                    'alignment': TA_CENTER, 'textColor': GREY}),
            'h2': ParagraphStyle('h2', **{**base, 'fontSize': 12.5,
                    'leading': 18, 'spaceBefore': 8, 'spaceAfter': 4,
                    'textColor': BLUE, 'keepWithNext': 1}),
            'body': ParagraphStyle('body', **base),
            'note': ParagraphStyle('note', **{**base, 'fontSize': 8,
                    'leading': 11, 'textColor': GREY}),
            'cell': ParagraphStyle('cell', **{**base, 'fontSize': 8,
                    'leading': 10}),
            'cell_right': ParagraphStyle('cell_right', **{**base,
                    'fontSize': 8, 'leading': 10, 'alignment': TA_RIGHT}),
            'head': ParagraphStyle('head', **{**base, 'fontSize': 7.5,
                    'leading': 9.5, 'alignment': TA_CENTER,
                    'textColor': colors.white}),
            }

    @property
    def width(self):
        return self.pagesize[0] - 2 * self.margin

    def p(self, text, style='body'):
        "A paragraph of plain text (escaped)."
        return Paragraph(escape(str(text)).replace('\n', '<br/>'),
            self.styles[style])

    def title_block(self):
        meta = self.meta
        self.story += [
            self.p(meta.authority, 'subtitle'),
            self.p(meta.title, 'title'),
            self.p(meta.period, 'subtitle'),
            self.p(f"数据快照：{meta.snapshot}", 'subtitle'),
            self.p(f"生成时间：{meta.generated}", 'subtitle'),
            Spacer(0, 4 * mm),
            ]

    def heading(self, text):
        self.story.append(self.p(text, 'h2'))

    def note(self, text):
        self.story.append(self.p(text, 'note'))

    def table(self, header, rows, widths, align=None, header_rows=None,
            stripes=True, highlight=None, keep=False):
        """A table with repeated header rows. header: list of rows (each a
        list of texts); rows: lists of cell values (strings, numbers
        already formatted); widths: in mm, scaled to the frame when they do
        not add up to it; align: per column 'L', 'R' or 'C'."""
        header = [header] if header and not isinstance(
            header[0], (list, tuple)) else list(header)
        ncols = len(widths)
        align = align or ['L'] * ncols
        total = sum(widths)
        scale = min(1.0, self.width / (total * mm))
        col_widths = [w * mm * scale for w in widths]
        data = []
        for row in header:
            data.append([self.p(c, 'head') if c is not None else ''
                    for c in row])
        for row in rows:
            cells = []
            for i, value in enumerate(row):
                style = 'cell_right' if align[i] == 'R' else 'cell'
                cells.append(value if hasattr(value, 'wrap')
                    else self.p('' if value is None else value, style))
            data.append(cells)
        table = Table(data, colWidths=col_widths,
            repeatRows=len(header), hAlign='LEFT')
        commands = [
            ('FONTNAME', (0, 0), (-1, -1), self.font),
            ('BACKGROUND', (0, 0), (-1, len(header) - 1), BLUE),
            ('VALIGN', (0, 0), (-1, -1), 'MIDDLE'),
            ('GRID', (0, 0), (-1, -1), 0.4, LINE),
            ('TOPPADDING', (0, 0), (-1, -1), 2),
            ('BOTTOMPADDING', (0, 0), (-1, -1), 2),
            ('LEFTPADDING', (0, 0), (-1, -1), 3),
            ('RIGHTPADDING', (0, 0), (-1, -1), 3),
            ]
        if stripes:
            for r in range(len(header), len(data)):
                if (r - len(header)) % 2:
                    commands.append(('BACKGROUND', (0, r), (-1, r), STRIPE))
        for r, color in (highlight or {}).items():
            commands.append(('BACKGROUND', (0, r + len(header)),
                    (-1, r + len(header)), color))
        table.setStyle(TableStyle(commands))
        if keep:
            # The heading goes with the table: keepWithNext does not join
            # a flowable to a KeepTogether.
            content = [table]
            if (self.story and isinstance(self.story[-1], Paragraph)
                    and self.story[-1].style is self.styles['h2']):
                content.insert(0, self.story.pop())
            self.story.append(KeepTogether(content))
        else:
            self.story.append(table)
        self.story.append(Spacer(0, 3 * mm))
        return table

    def render(self):
        buffer = BytesIO()
        meta = self.meta
        doc = BaseDocTemplate(buffer, pagesize=self.pagesize,
            leftMargin=self.margin, rightMargin=self.margin,
            topMargin=self.margin + 6 * mm,
            bottomMargin=self.margin + 4 * mm,
            title=meta.title, author=meta.authority,
            subject=meta.subject or meta.period,
            creator='elevator_platform', initialFontName=self.font)
        frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width,
            doc.height, id='body', leftPadding=0, rightPadding=0,
            topPadding=0, bottomPadding=0)
        doc.addPageTemplates([PageTemplate(id='page', frames=[frame],
                    onPage=self._decorate)])
        font = self.font

        class NumberedCanvas(_NumberedCanvas):
            font_name = font
            margin = self.margin

        doc.build(list(self.story), canvasmaker=NumberedCanvas)
        return buffer.getvalue()

    def _decorate(self, canvas, doc):
        "Running header, footer and the draft watermark of every page."
        meta = self.meta
        width, height = self.pagesize
        m = self.margin
        canvas.saveState()
        canvas.setFont(self.font, 8.5)
        canvas.setFillColor(GREY)
        canvas.drawString(m, height - m, meta.authority)
        canvas.drawRightString(width - m, height - m,
            f"{meta.title} · {meta.period}")
        canvas.setStrokeColor(BLUE)
        canvas.setLineWidth(0.6)
        canvas.line(m, height - m - 2 * mm, width - m, height - m - 2 * mm)
        canvas.line(m, m + 1 * mm, width - m, m + 1 * mm)
        canvas.setFont(self.font, 7.5)
        canvas.drawString(m, m - 3 * mm,
            f"生成时间 {meta.generated} · 数据快照：{meta.snapshot}")
        if meta.draft:
            canvas.setFont(self.font, 110)
            canvas.setFillColor(WATERMARK)
            canvas.translate(width / 2, height / 2)
            canvas.rotate(30)
            canvas.drawCentredString(0, -35, "草稿")
        canvas.restoreState()


class _NumberedCanvas(Canvas):
    "Writes '第 x 页 / 共 y 页' once the number of pages is known."
    font_name = None
    margin = 14 * mm

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages = []

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        count = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.saveState()
            self.setFont(self.font_name, 7.5)
            self.setFillColor(GREY)
            self.drawRightString(self._pagesize[0] - self.margin,
                self.margin - 3 * mm,
                f"第 {self._pageNumber} 页 / 共 {count} 页")
            self.restoreState()
            super().showPage()
        super().save()


# -- XLSX --------------------------------------------------------------------

class Book:
    """An XLSX workbook whose sheets start with the report's title block."""

    title_rows = 5

    def __init__(self, meta):
        import xlsxwriter
        self.meta = meta
        self.buffer = BytesIO()
        self.workbook = xlsxwriter.Workbook(self.buffer, {
                'in_memory': True,
                'strings_to_numbers': False,
                'strings_to_formulas': False,
                'strings_to_urls': False,
                })
        self.workbook.set_properties({
                'title': meta.title,
                'subject': meta.period,
                'author': meta.authority,
                'company': meta.authority,
                'comments': f"数据快照：{meta.snapshot}；生成时间：{meta.generated}",
                'created': meta.generated_at,
                })
        add = self.workbook.add_format
        self.formats = {
            'title': add({'bold': True, 'font_size': 14,
                    'font_color': '#0b3d91'}),
            'meta': add({'font_color': '#5f6368'}),
            'draft': add({'bold': True, 'font_color': '#c62828'}),
            'head': add({'bold': True, 'font_color': '#ffffff',
                    'bg_color': '#0b3d91', 'border': 1, 'text_wrap': True,
                    'valign': 'vcenter', 'align': 'center'}),
            'text': add({'border': 1, 'valign': 'top'}),
            'wrap': add({'border': 1, 'text_wrap': True, 'valign': 'top'}),
            'int': add({'border': 1, 'num_format': '#,##0'}),
            'dec1': add({'border': 1, 'num_format': '#,##0.0'}),
            'dec2': add({'border': 1, 'num_format': '#,##0.00'}),
            'pct': add({'border': 1, 'num_format': '0.0%'}),
            'score': add({'border': 1, 'num_format': '0.00',
                    'bg_color': '#eef3fb'}),
            'bold': add({'border': 1, 'bold': True, 'num_format': '0.00',
                    'bg_color': '#eef3fb'}),
            'label': add({'bold': True, 'font_color': '#0b3d91'}),
            'date': add({'border': 1, 'num_format': 'yyyy-mm-dd'}),
            'datetime': add({'border': 1,
                    'num_format': 'yyyy-mm-dd hh:mm'}),
            }

    def sheet(self, name, headers, widths, freeze_cols=0, extra_rows=0):
        """A sheet with the title block, `extra_rows` free rows below it
        (for parameters such as weights) and the header row; returns (the
        worksheet, the header row index)."""
        meta = self.meta
        sheet = self.workbook.add_worksheet(name)
        f = self.formats
        sheet.write(0, 0, meta.title, f['title'])
        sheet.write(1, 0, meta.authority, f['meta'])
        sheet.write(2, 0, meta.period, f['meta'])
        sheet.write(3, 0, f"数据快照：{meta.snapshot}",
            f['draft'] if meta.draft else f['meta'])
        sheet.write(4, 0, f"生成时间：{meta.generated}", f['meta'])
        header_row = self.title_rows + extra_rows
        for col, (header, width) in enumerate(zip(headers, widths)):
            sheet.set_column(col, col, width)
            sheet.write(header_row, col, header, f['head'])
        sheet.set_row(header_row, 32)
        sheet.freeze_panes(header_row + 1, freeze_cols)
        return sheet, header_row

    def autofilter(self, sheet, header_row, last_row, ncols):
        sheet.autofilter(header_row, 0, max(header_row, last_row),
            ncols - 1)

    def write(self, sheet, row, col, value, fmt='text'):
        "A cell: numbers as numbers, None as an empty cell."
        f = self.formats[fmt]
        if value is None:
            sheet.write_blank(row, col, None, f)
        elif isinstance(value, bool):
            sheet.write_boolean(row, col, value, f)
        elif isinstance(value, (int, float)):
            sheet.write_number(row, col, value, f)
        elif isinstance(value, dt.datetime):
            sheet.write_datetime(row, col, value, self.formats['datetime'])
        elif isinstance(value, dt.date):
            sheet.write_datetime(row, col,
                dt.datetime.combine(value, dt.time()), self.formats['date'])
        else:
            sheet.write_string(row, col, str(value), f)

    def formula(self, sheet, row, col, formula, value, fmt='dec2'):
        """A formula with the value it gives stored beside it, so that a
        reader that does not calculate shows the same figure."""
        if value is None:
            value = ''
        sheet.write_formula(row, col, formula, self.formats[fmt], value)

    def close(self):
        self.workbook.close()
        return self.buffer.getvalue()


def col_name(col):
    "Spreadsheet column letters of a 0-based column index."
    name = ''
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        name = chr(65 + rest) + name
    return name


def cell(row, col, absolute=False):
    "A1 reference of 0-based row and column."
    if absolute:
        return f'${col_name(col)}${row + 1}'
    return f'{col_name(col)}{row + 1}'
