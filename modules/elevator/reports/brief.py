"""The monthly district safety brief (电梯安全月度简报): elevators, faults,
entrapments, rescues, maintenance warnings and complaints of a district in
a month beside the month before, the districts side by side for the city,
and the elevators that need attention."""
from dataclasses import dataclass, field

from reportlab.lib.pagesizes import A4

from .document import MISSING, PDF, Book, Meta, cell, number

__all__ = ['Brief', 'SECTIONS', 'brief_pdf', 'brief_xlsx']

# (section, [(figure key, label, digits)])
SECTIONS = [
    ("电梯", [
            ('elevators', "在用电梯（台）", 0),
            ('elevators_new', "本期新登记（台）", 0),
            ('inspection_overdue', "超期未检（台）", 0),
            ('monitored', "已装物联网监测（台）", 0),
            ]),
    ("故障", [
            ('faults', "物联网故障报警（次）", 0),
            ('faults_rescue', "  其中困人报警", 0),
            ('faults_critical', "  其中重大安全故障", 0),
            ('faults_repair', "  其中一般故障", 0),
            ]),
    ("困人", [
            ('entrapments', "困人事件（起）", 0),
            ('trapped_persons', "被困人数（人）", 0),
            ('false_alarms', "误报及取消（起）", 0),
            ('escalated', "升级至二级及以上（起）", 0),
            ]),
    ("救援", [
            ('rescues_arrived', "救援到场（起）", 0),
            ('arrived_in_time', "按时到场（起）", 0),
            ('accepted_in_time', "按时响应（起）", 0),
            ('average_arrival', "平均到场时间（分钟）", 1),
            ]),
    ("维保预警", [
            ('visits_done', "完成维保（次）", 0),
            ('warnings', "维保预警（条）", 0),
            ('warnings_too_short', "  其中维保时长不足", 0),
            ('warnings_overdue', "  其中超期未维保", 0),
            ('warnings_too_far', "  其中签到位置异常", 0),
            ('warnings_unconfirmed', "  其中使用单位未确认", 0),
            ]),
    ("投诉", [
            ('complaints', "投诉（件）", 0),
            ('complaints_on_time', "按时办结（件）", 0),
            ('complaints_open', "尚未办结（件）", 0),
            ]),
    ]
BREAKDOWN = [
    ('elevators', "在用电梯"), ('faults', "故障报警"),
    ('entrapments', "困人"), ('rescues_arrived', "救援到场"),
    ('warnings', "维保预警"), ('complaints', "投诉"),
    ]


@dataclass
class Brief:
    meta: Meta
    region: str
    month: str  # e.g. 2026年3月
    previous_month: str
    figures: dict  # figure key -> value (None: module not activated)
    previous: dict
    breakdown: list = field(default_factory=list)  # [(district, figures)]
    attention: list = field(default_factory=list)
    # [(registration code, place, district, maintenance unit,
    #   entrapments, faults)]


def _change(current, previous):
    if current is None or previous is None:
        return MISSING
    difference = current - previous
    if not difference:
        return "持平"
    if isinstance(difference, float) and not difference.is_integer():
        text = f'{difference:+,.1f}'
    else:
        text = f'{int(difference):+,d}'
    if previous:
        text += f'（{difference / previous * 100:+.1f}%）'
    return text


def _rows(brief):
    for section, items in SECTIONS:
        for key, label, digits in items:
            yield section, key, label, digits


def _summary(brief):
    f = brief.figures
    parts = []
    if f.get('elevators') is not None:
        parts.append(f"{brief.region}在用电梯{number(f['elevators'])}台")
    if f.get('faults') is not None:
        parts.append(f"物联网故障报警{number(f['faults'])}次")
    if f.get('entrapments') is not None:
        parts.append(f"困人{number(f['entrapments'])}起、被困"
            f"{number(f['trapped_persons'])}人，救援到场"
            f"{number(f['rescues_arrived'])}起"
            + (f"（平均{number(f['average_arrival'], 1)}分钟）"
                if f.get('average_arrival') is not None else ''))
    if f.get('warnings') is not None:
        parts.append(f"维保预警{number(f['warnings'])}条")
    if f.get('complaints') is not None:
        parts.append(f"投诉{number(f['complaints'])}件")
    return f"{brief.month}，" + "，".join(parts) + "。"


def brief_pdf(brief):
    pdf = PDF(brief.meta, A4)
    pdf.title_block()
    pdf.story.append(pdf.p(_summary(brief)))
    for section, items in SECTIONS:
        rows = []
        for key, label, digits in items:
            current = brief.figures.get(key)
            previous = brief.previous.get(key)
            if current is None and previous is None:
                current_text = previous_text = "未启用"
            else:
                current_text = number(current, digits)
                previous_text = number(previous, digits)
            rows.append([label, current_text, previous_text,
                    _change(current, previous)])
        pdf.heading(section)
        pdf.table(["指标", brief.month, brief.previous_month, "环比变化"],
            rows, [70, 32, 32, 42], align='LRRR', keep=True)
    if len(brief.breakdown) > 1:
        pdf.heading("分区县情况")
        pdf.table(["区县"] + [label for _, label in BREAKDOWN],
            [[name] + [number(values.get(key)) for key, _ in BREAKDOWN]
                for name, values in brief.breakdown],
            [34] + [24] * len(BREAKDOWN), align='L' + 'R' * len(BREAKDOWN))
    pdf.heading("重点关注电梯")
    if brief.attention:
        pdf.table(["注册代码", "使用地点", "区县", "维保单位", "困人", "故障"],
            [[code, place, district, unit, number(trapped),
                    number(faults)] for code, place, district, unit,
                trapped, faults in brief.attention],
            [40, 45, 18, 45, 12, 12], align='LLLLRR')
    else:
        pdf.note("本期无多次困人或故障的电梯。")
    for text in brief.meta.notes:
        pdf.note(text)
    return pdf.render()


def brief_xlsx(brief):
    book = Book(brief.meta)
    headers = ["类别", "指标", brief.month, brief.previous_month, "变化",
        "变化率"]
    sheet, header = book.sheet("月报", headers, [12, 30, 14, 14, 12, 10],
        freeze_cols=2)
    r = header
    for section, key, label, digits in _rows(brief):
        r += 1
        fmt = 'dec1' if digits else 'int'
        current = brief.figures.get(key)
        previous = brief.previous.get(key)
        book.write(sheet, r, 0, section)
        book.write(sheet, r, 1, label.strip())
        book.write(sheet, r, 2, current, fmt)
        book.write(sheet, r, 3, previous, fmt)
        c, p = cell(r, 2), cell(r, 3)
        change = (current - previous if current is not None
            and previous is not None else None)
        book.formula(sheet, r, 4,
            f'=IF(AND(ISNUMBER({c}),ISNUMBER({p})),{c}-{p},"")', change,
            fmt)
        rate = (change / previous if change is not None and previous
            else None)
        book.formula(sheet, r, 5,
            f'=IF(AND(ISNUMBER({c}),N({p})<>0),({c}-{p})/{p},"")', rate,
            'pct')
    book.autofilter(sheet, header, r, len(headers))
    sheet.activate()

    if brief.breakdown:
        headers = ["区县"] + [label for _, label in BREAKDOWN]
        other, header = book.sheet("分区县", headers,
            [16] + [12] * len(BREAKDOWN), freeze_cols=1)
        r = header
        for name, values in brief.breakdown:
            r += 1
            book.write(other, r, 0, name)
            for c, (key, _) in enumerate(BREAKDOWN, 1):
                book.write(other, r, c, values.get(key), 'int')
        if len(brief.breakdown) > 1:
            book.autofilter(other, header, r, len(headers))
            r += 1
            book.write(other, r, 0, "合计", 'text')
            for c in range(1, len(headers)):
                book.formula(other, r, c,
                    f'=SUM({cell(header + 1, c)}:{cell(r - 1, c)})',
                    sum(values.get(BREAKDOWN[c - 1][0]) or 0
                        for _, values in brief.breakdown), 'int')

    headers = ["注册代码", "使用地点", "区县", "维保单位", "困人", "故障"]
    other, header = book.sheet("重点关注电梯", headers,
        [24, 30, 12, 32, 8, 8], freeze_cols=1)
    r = header
    for code, place, district, unit, trapped, faults in brief.attention:
        r += 1
        for c, value in enumerate([code, place, district, unit]):
            book.write(other, r, c, value)
        book.write(other, r, 4, trapped, 'int')
        book.write(other, r, 5, faults, 'int')
    book.autofilter(other, header, r, len(headers))
    return book.close()
