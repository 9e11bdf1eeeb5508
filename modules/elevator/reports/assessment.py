"""The district assessment table (区县电梯安全考核表) and the maintenance
units' credit grades (维保单位信用等级评价结果), in PDF and XLSX.

The XLSX files recompute every figure from the inputs kept with the
table: in the sheet 指标明细 each value is a formula of its numerator and
denominator and each score a formula of the value, the target and the
zero-score value; the totals, ranks and grades of the first sheet are
formulas of those scores and of the weights and thresholds. The stored
figures are written as the formulas' cached results, so readers that do
not calculate show the same numbers.
"""
from dataclasses import dataclass, field

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape

from .document import MISSING, PDF, Book, Meta, cell, number

__all__ = ['Indicator', 'Line', 'DistrictRow', 'DistrictTable',
    'UnitRow', 'CreditGrades', 'district_table_pdf', 'district_table_xlsx',
    'credit_grades_pdf', 'credit_grades_xlsx']

DIRECTION_LABELS = {'higher': '越高越好', 'lower': '越低越好'}
KIND_UNITS = {'share': '%', 'average': '分', 'per100': '次/百台',
    'per_elevator': '次/台', 'count': '次'}
KIND_FACTORS = {'share': 100, 'per100': 100, 'average': 1,
    'per_elevator': 1, 'count': 1}
GRADE_COLORS = {
    'A': colors.HexColor('#e6f4ea'),
    'C': colors.HexColor('#fef7e0'),
    'D': colors.HexColor('#fce8e6'),
    }
SCORING_NOTE = (
    "计分方法：各指标数值达到目标值得100分，达到零分值（或更差）得0分，其间按比例"
    "计分；未设零分值的指标达标得100分、否则0分。总分为有数据指标得分按权重的加权"
    "平均（无数据的指标不计入，其权重由其余指标按比例分担），排名按总分从高到低，"
    "总分相同者名次相同。")


@dataclass
class Indicator:
    code: str
    name: str
    kind: str
    weight: float
    direction: str
    target: float
    zero_at: float = None

    @property
    def unit(self):
        return KIND_UNITS.get(self.kind, '')

    @property
    def factor(self):
        return KIND_FACTORS.get(self.kind, 1)


@dataclass
class Line:
    "An indicator of a district or unit: its inputs, value and score."
    numerator: float
    denominator: float
    value: float
    score: float
    target: float
    zero_at: float = None


@dataclass
class DistrictRow:
    rank: int
    district: str
    elevators: int
    total: float
    lines: dict = field(default_factory=dict)  # code -> Line


@dataclass
class DistrictTable:
    meta: Meta
    indicators: list
    rows: list
    parameters: str = ''


@dataclass
class UnitRow:
    rank: int
    unit: str
    elevators: int
    score: float
    grade: str
    consequence: str
    lines: dict = field(default_factory=dict)  # code -> Line


@dataclass
class CreditGrades:
    meta: Meta
    year: int
    thresholds: tuple  # lowest scores of A, B, C
    consequences: dict  # grade -> text
    indicators: list
    rows: list
    parameters: str = ''


def _value(line, indicator, digits=None):
    if line is None or line.value is None:
        return MISSING
    if digits is None:
        digits = 0 if indicator.kind == 'count' else (
            1 if indicator.kind in {'share', 'per100'} else 2)
    text = number(line.value, digits)
    return text + ('%' if indicator.kind == 'share' else '')


def _legend(pdf, indicators):
    pdf.heading("指标说明")
    pdf.table(["代码", "指标", "权重", "方向", "目标值", "零分值", "单位"],
        [[i.code, i.name, number(i.weight, 1),
                DIRECTION_LABELS.get(i.direction, i.direction),
                number(i.target, 1), number(i.zero_at, 1), i.unit]
            for i in indicators],
        [20, 110, 16, 20, 20, 20, 18], align='LLRCRRC', keep=True)


# -- district table -----------------------------------------------------------

def district_table_pdf(table):
    pdf = PDF(table.meta, landscape(A4))
    pdf.title_block()
    indicators = table.indicators
    pdf.heading("考核总表")
    header = ["排名", "区县", "在用电梯"] + [
        f"{i.code}\n{i.name}" for i in indicators] + ["总分"]
    rows = []
    for row in table.rows:
        rows.append([number(row.rank), row.district, number(row.elevators)]
            + [number(row.lines[i.code].score, 2)
                if i.code in row.lines else MISSING for i in indicators]
            + [number(row.total, 2)])
    widths = [11, 34, 17] + [20] * len(indicators) + [17]
    pdf.table(header, rows, widths,
        align='CLR' + 'R' * len(indicators) + 'R')
    pdf.note("表中为各指标得分（0–100）。" + SCORING_NOTE)
    _legend(pdf, indicators)

    pdf.heading("指标明细（计算依据）")
    detail = []
    for row in table.rows:
        for i in indicators:
            line = row.lines.get(i.code)
            if line is None:
                continue
            detail.append([row.district, i.code, i.name,
                    number(line.numerator, 2 if _fractional(
                            line.numerator) else 0),
                    number(line.denominator, 2 if _fractional(
                            line.denominator) else 0),
                    _value(line, i), number(line.target, 1),
                    number(line.zero_at, 1), number(line.score, 2),
                    number(i.weight, 1)])
    pdf.table(["区县", "代码", "指标", "分子", "分母", "数值", "目标值",
            "零分值", "得分", "权重"], detail,
        [36, 14, 84, 22, 22, 20, 18, 18, 18, 14], align='LLLRRRRRRR')
    for text in table.meta.notes:
        pdf.note(text)
    return pdf.render()


def _fractional(value):
    return value is not None and not float(value).is_integer()


def _detail_positions(rows, indicators):
    """{(key index, code): row index} of the lines on the sheet 指标明细, in
    the order _detail_sheet writes them."""
    positions = {}
    r = Book.title_rows  # its header row
    for k, (_, lines) in enumerate(rows):
        for indicator in indicators:
            if indicator.code in lines:
                r += 1
                positions[(k, indicator.code)] = r
    return positions


def _detail_sheet(book, key_header, rows, indicators):
    """The sheet 指标明细: one row per key and indicator with the inputs and
    the formulas of the value and the score."""
    headers = [key_header, "代码", "指标", "分子", "分母", "系数", "数值",
        "方向", "目标值", "零分值", "权重", "得分"]
    sheet, header = book.sheet("指标明细", headers,
        [22, 10, 40, 12, 12, 7, 12, 10, 10, 10, 8, 10], freeze_cols=3)
    positions = _detail_positions(rows, indicators)
    for k, (key_name, lines) in enumerate(rows):
        for indicator in indicators:
            line = lines.get(indicator.code)
            if line is None:
                continue
            r = positions[(k, indicator.code)]
            book.write(sheet, r, 0, key_name)
            book.write(sheet, r, 1, indicator.code)
            book.write(sheet, r, 2, indicator.name)
            book.write(sheet, r, 3, line.numerator, 'dec2')
            book.write(sheet, r, 4, line.denominator, 'dec2')
            book.write(sheet, r, 5, indicator.factor, 'int')
            num, den, fac = cell(r, 3), cell(r, 4), cell(r, 5)
            if indicator.kind == 'count':
                formula = f'=N({num})'
            else:
                formula = f'=IF(N({den})>0,{num}/{den}*{fac},"")'
            book.formula(sheet, r, 6, formula, line.value, 'dec2')
            book.write(sheet, r, 7,
                DIRECTION_LABELS.get(indicator.direction))
            book.write(sheet, r, 8, line.target, 'dec2')
            book.write(sheet, r, 9, line.zero_at, 'dec2')
            book.write(sheet, r, 10, indicator.weight, 'dec2')
            v, d, t, z = cell(r, 6), cell(r, 7), cell(r, 8), cell(r, 9)
            higher = f'{d}="{DIRECTION_LABELS["higher"]}"'
            formula = (
                f'=IF({v}="","",IF({z}="",IF(IF({higher},{v}>={t},'
                f'{v}<={t}),100,0),ROUND(MAX(0,MIN(100,IF({higher},'
                f'({v}-{z})/({t}-{z}),({z}-{v})/({z}-{t}))*100)),2)))')
            book.formula(sheet, r, 11, formula, line.score, 'score')
    last = max(positions.values(), default=header)
    book.autofilter(sheet, header, last, len(headers))
    return sheet


def _summary_sheet(book, name, key_header, rows, indicators, total_header,
        extra=()):
    """The first sheet: one row per key with the scores of the indicators
    (formulas reading 指标明细), the weights above them and the total and
    rank as formulas of them. rows: [(rank, key name, elevators, lines,
    total)]; extra: [(header, width)] of columns after the total, that
    the caller fills. Returns (sheet, header row, total column)."""
    first = 3
    headers = (["排名", key_header, "在用电梯"]
        + [f"{i.code} {i.name}" for i in indicators] + [total_header]
        + [h for h, _ in extra])
    widths = ([7, 30, 10] + [14] * len(indicators) + [10]
        + [w for _, w in extra])
    sheet, header = book.sheet(name, headers, widths, freeze_cols=2,
        extra_rows=1)
    weights_row = header - 1
    sheet.write(weights_row, first - 1, "权重", book.formats['label'])
    for c, indicator in enumerate(indicators, first):
        book.write(sheet, weights_row, c, indicator.weight, 'dec2')
    last_score = first + len(indicators) - 1
    total_col = last_score + 1
    top, bottom = header + 1, header + len(rows)
    positions = _detail_positions(
        [(key, lines) for _, key, _, lines, _ in rows], indicators)
    ranks = (f'{cell(top, total_col, True)}:'
        f'{cell(bottom, total_col, True)}')
    weights = (f'{cell(weights_row, first, True)}:'
        f'{cell(weights_row, last_score, True)}')
    for k, (rank, key_name, elevators, lines, total) in enumerate(rows):
        r = top + k
        book.formula(sheet, r, 0,
            f'=IF(ISNUMBER({cell(r, total_col)}),'
            f'RANK({cell(r, total_col)},{ranks}),"")', rank, 'int')
        book.write(sheet, r, 1, key_name)
        book.write(sheet, r, 2, elevators, 'int')
        for c, indicator in enumerate(indicators, first):
            line = lines.get(indicator.code)
            if line is None:
                book.write(sheet, r, c, None, 'score')
                continue
            position = positions[(k, indicator.code)]
            book.formula(sheet, r, c, f"='指标明细'!{cell(position, 11)}",
                line.score, 'score')
        scores = f'{cell(r, first)}:{cell(r, last_score)}'
        book.formula(sheet, r, total_col,
            f'=IFERROR(ROUND(SUMPRODUCT({scores},{weights})/'
            f'SUMPRODUCT(--ISNUMBER({scores}),{weights}),2),"")',
            total, 'bold')
    book.autofilter(sheet, header, bottom, len(headers))
    return sheet, header, total_col


def _parameters_sheet(book, meta, lines, parameters):
    """The sheet 参数: labelled values from B3 down, then the parameters of
    the computation. Returns {label: absolute reference of its value}."""
    sheet = book.workbook.add_worksheet("参数")
    sheet.set_column(0, 0, 26)
    sheet.set_column(1, 1, 90)
    f = book.formats
    sheet.write(0, 0, meta.title, f['title'])
    references = {}
    row = 2
    for label, value in lines:
        sheet.write(row, 0, label, f['label'])
        book.write(sheet, row, 1, value, 'dec2' if isinstance(
                value, float) else 'text')
        references[label] = f"'参数'!{cell(row, 1, True)}"
        row += 1
    if parameters:
        row += 1
        sheet.write(row, 0, "计算参数（JSON）", f['label'])
        for text in parameters.splitlines():
            row += 1
            sheet.write_string(row, 1, text)
    return references


def district_table_xlsx(table):
    book = Book(table.meta)
    indicators = table.indicators
    sheet, _, _ = _summary_sheet(book, "考核总表", "区县",
        [(row.rank, row.district, row.elevators, row.lines, row.total)
            for row in table.rows], indicators, "总分")
    _detail_sheet(book, "区县",
        [(row.district, row.lines) for row in table.rows], indicators)
    _parameters_sheet(book, table.meta, [
            ("考核期间", table.meta.period),
            ("数据快照", table.meta.snapshot),
            ("生成时间", table.meta.generated),
            ("计分方法", SCORING_NOTE),
            ], table.parameters)
    sheet.activate()
    return book.close()


# -- credit grades ------------------------------------------------------------

def _grade_counts(rows):
    counts = {g: 0 for g in 'ABCD'}
    for row in rows:
        if row.grade in counts:
            counts[row.grade] += 1
    return counts


def credit_grades_pdf(grades):
    pdf = PDF(grades.meta, landscape(A4))
    pdf.title_block()
    a, b, c = grades.thresholds
    pdf.heading("评价结果")
    rows, highlight = [], {}
    for i, row in enumerate(grades.rows):
        rows.append([number(row.rank), row.unit, number(row.elevators),
                number(row.score, 2), row.grade or MISSING,
                row.consequence or ''])
        if row.grade in GRADE_COLORS:
            highlight[i] = GRADE_COLORS[row.grade]
    pdf.table(["排名", "维保单位", "维保电梯", "得分", "等级", "评价结果应用"],
        rows, [12, 90, 20, 18, 14, 110], align='CLRRCL', stripes=False,
        highlight=highlight)
    pdf.note(f"等级标准：A级 ≥ {number(a, 1)} 分；B级 ≥ {number(b, 1)} 分；"
        f"C级 ≥ {number(c, 1)} 分；其余为D级。" + SCORING_NOTE)

    pdf.heading("等级分布")
    counts = _grade_counts(grades.rows)
    rated = sum(counts.values())
    pdf.table(["等级", "单位数", "占比", "评价结果应用"],
        [[g, number(counts[g]),
                number(100 * counts[g] / rated, 1) + '%' if rated
                else MISSING, grades.consequences.get(g, '')]
            for g in 'ABCD'] + [["合计", number(rated), '', '']],
        [16, 20, 20, 150], align='CRRL', keep=True)
    _legend(pdf, grades.indicators)

    pdf.heading("指标数值")
    indicators = grades.indicators
    header = ["维保单位"] + [f"{i.code}\n{i.name}" for i in indicators]
    detail = [[row.unit] + [_value(row.lines.get(i.code), i)
            for i in indicators] for row in grades.rows]
    pdf.table(header, detail, [50] + [22] * len(indicators),
        align='L' + 'R' * len(indicators))
    for text in grades.meta.notes:
        pdf.note(text)
    return pdf.render()


def credit_grades_xlsx(grades):
    book = Book(grades.meta)
    indicators = grades.indicators
    sheet, header, total_col = _summary_sheet(book, "信用等级", "维保单位",
        [(row.rank, row.unit, row.elevators, row.lines, row.score)
            for row in grades.rows], indicators, "得分",
        extra=[("等级", 8), ("评价结果应用", 60)])
    _detail_sheet(book, "维保单位",
        [(row.unit, row.lines) for row in grades.rows], indicators)
    a, b, c = grades.thresholds
    labels = {g: f"{g}级评价结果应用" for g in 'ABCD'}
    refs = _parameters_sheet(book, grades.meta, [
            ("评价年度", str(grades.year)),
            ("A级最低分", float(a)),
            ("B级最低分", float(b)),
            ("C级最低分", float(c)),
            *((labels[g], grades.consequences.get(g, '')) for g in 'ABCD'),
            ("数据快照", grades.meta.snapshot),
            ("生成时间", grades.meta.generated),
            ("计分方法", SCORING_NOTE),
            ], grades.parameters)
    # Grade and consequence after the score: formulas of the thresholds
    # and texts kept on the sheet 参数.
    grade_col, consequence_col = total_col + 1, total_col + 2
    for k, row in enumerate(grades.rows):
        r = header + 1 + k
        score = cell(r, total_col)
        if row.grade and row.grade not in {'A', 'B', 'C', 'D'}:
            # Not rated: too little data, whatever the score.
            book.write(sheet, r, grade_col, row.grade, 'text')
            book.write(sheet, r, consequence_col, row.consequence or '',
                'wrap')
            continue
        book.formula(sheet, r, grade_col,
            f'=IF(ISNUMBER({score}),IF({score}>={refs["A级最低分"]},"A",'
            f'IF({score}>={refs["B级最低分"]},"B",'
            f'IF({score}>={refs["C级最低分"]},"C","D"))),"")',
            row.grade or '', 'text')
        g = cell(r, grade_col)
        book.formula(sheet, r, consequence_col,
            f'=IF({g}="A",{refs[labels["A"]]},IF({g}="B",'
            f'{refs[labels["B"]]},IF({g}="C",{refs[labels["C"]]},'
            f'IF({g}="D",{refs[labels["D"]]},""))))',
            row.consequence or '', 'wrap')
    sheet.activate()
    return book.close()
