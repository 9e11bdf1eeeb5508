"""An elevator's full record (电梯安全档案): its registry data, then one
table per kind of record the platform keeps on it (inspections,
maintenance and repair orders, rescues, IoT devices and faults,
complaints and ratings), each as it stands when printed."""
from dataclasses import dataclass, field

from reportlab.lib.pagesizes import A4, landscape

from .document import MISSING, PDF, Book, Meta

__all__ = ['Section', 'ElevatorRecord', 'record_pdf', 'record_xlsx']


@dataclass
class Section:
    title: str
    headers: list
    rows: list  # lists of values (str, int, float, date, datetime, None)
    widths: list  # in mm (PDF); also relative XLSX column widths
    total: int = None  # records in all when rows shows only the latest
    note: str = ''


@dataclass
class ElevatorRecord:
    meta: Meta
    info: list  # [(label, value)]
    sections: list = field(default_factory=list)


def _text(value):
    if value is None or value == '':
        return MISSING
    if hasattr(value, 'strftime'):
        if hasattr(value, 'hour'):
            return value.strftime('%Y-%m-%d %H:%M')
        return value.strftime('%Y-%m-%d')
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return f'{value:,.1f}'
    return str(value)


def _align(section):
    align = ''
    for c in range(len(section.headers)):
        numeric = any(isinstance(row[c], (int, float))
            and not isinstance(row[c], bool) for row in section.rows)
        align += 'R' if numeric else 'L'
    return align


def record_pdf(record):
    pdf = PDF(record.meta, landscape(A4))
    pdf.title_block()
    pdf.heading("基本信息")
    pairs = record.info
    half = (len(pairs) + 1) // 2
    rows = []
    for i in range(half):
        left = pairs[i]
        right = pairs[half + i] if half + i < len(pairs) else ('', '')
        rows.append([left[0], _text(left[1]), right[0],
                _text(right[1]) if right[0] else ''])
    pdf.table(["项目", "内容", "项目", "内容"], rows, [34, 100, 34, 100],
        align='LLLL')
    for section in record.sections:
        count = len(section.rows)
        title = f"{section.title}（{count}）"
        if section.total is not None and section.total > count:
            title = (f"{section.title}（最近 {count} 条，共 "
                f"{section.total} 条）")
        pdf.heading(title)
        if section.rows:
            pdf.table(section.headers,
                [[_text(v) for v in row] for row in section.rows],
                section.widths, align=_align(section))
        else:
            pdf.note("无记录。")
        if section.note:
            pdf.note(section.note)
    for text in record.meta.notes:
        pdf.note(text)
    return pdf.render()


def record_xlsx(record):
    book = Book(record.meta)
    sheet, header = book.sheet("基本信息", ["项目", "内容"], [24, 60],
        freeze_cols=1)
    r = header
    for label, value in record.info:
        r += 1
        book.write(sheet, r, 0, label)
        book.write(sheet, r, 1, value,
            'dec2' if isinstance(value, float) else 'text')
    book.autofilter(sheet, header, r, 2)
    sheet.activate()
    used = set()
    for section in record.sections:
        name = section.title[:28]
        while name in used:
            name += '_'
        used.add(name)
        other, header = book.sheet(name, section.headers,
            [max(8, min(40, w * 0.55)) for w in section.widths],
            freeze_cols=1)
        r = header
        for row in section.rows:
            r += 1
            for c, value in enumerate(row):
                fmt = 'text'
                if isinstance(value, float):
                    fmt = 'dec1'
                elif isinstance(value, int) and not isinstance(value, bool):
                    fmt = 'int'
                book.write(other, r, c, value, fmt)
        book.autofilter(other, header, r, len(section.headers))
    return book.close()
