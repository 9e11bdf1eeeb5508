"""The rectification notice (责令改正通知书) in PDF, with the bureau's
wording: one page per case, in the reader's language (the bureau's
wording is the zh_CN translation of the messages)."""
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

from trytond.i18n import gettext
from trytond.modules.elevator.reports.fonts import cjk_font


def _date(value):
    if not value:
        return ''
    return gettext('elevator_enforcement.msg_notice_date',
        year=value.year, month=value.month, day=value.day)


def notice_paragraphs(case):
    "The texts of the notice of a case: (title, number, paragraphs, sign)."
    from .lists import today
    ordered = case.ordered_at.date() if case.ordered_at else today()
    title = gettext('elevator_enforcement.msg_notice_title')
    number = gettext('elevator_enforcement.msg_notice_number',
        year=ordered.year, number=case.number)
    body = [
        gettext('elevator_enforcement.msg_notice_addressee',
            party=case.party.rec_name),
        gettext('elevator_enforcement.msg_notice_facts',
            facts=case.facts or ''),
        ]
    if case.legal_basis:
        body.append(gettext('elevator_enforcement.msg_notice_basis',
                basis=case.legal_basis))
    body.append(gettext('elevator_enforcement.msg_notice_order',
            deadline=_date(case.deadline),
            requirement=case.requirement or ''))
    body.append(gettext('elevator_enforcement.msg_notice_portal'))
    body.append(gettext('elevator_enforcement.msg_notice_remedy'))
    sign = [gettext('elevator_enforcement.msg_notice_bureau'),
        _date(ordered)]
    return title, number, body, sign


def render_notices(cases):
    font = cjk_font()
    title_style = ParagraphStyle('title', fontName=font, fontSize=20,
        leading=28, alignment=TA_CENTER, spaceAfter=4 * mm)
    number_style = ParagraphStyle('number', fontName=font, fontSize=11,
        leading=16, alignment=TA_CENTER, spaceAfter=8 * mm)
    body_style = ParagraphStyle('body', fontName=font, fontSize=12,
        leading=22, firstLineIndent=24, spaceAfter=3 * mm,
        wordWrap='CJK')
    first_style = ParagraphStyle('first', parent=body_style,
        firstLineIndent=0)
    sign_style = ParagraphStyle('sign', fontName=font, fontSize=12,
        leading=22, alignment=TA_RIGHT)
    story = []
    for index, case in enumerate(cases):
        if index:
            story.append(PageBreak())
        title, number, body, sign = notice_paragraphs(case)
        story.append(Paragraph(escape(title), title_style))
        story.append(Paragraph(escape(number), number_style))
        for i, text in enumerate(body):
            story.append(Paragraph(escape(text).replace('\n', '<br/>'),
                    first_style if i == 0 else body_style))
        story.append(Spacer(0, 15 * mm))
        for text in sign:
            story.append(Paragraph(escape(text), sign_style))
    output = BytesIO()
    doc = SimpleDocTemplate(output, pagesize=A4, leftMargin=25 * mm,
        rightMargin=25 * mm, topMargin=30 * mm, bottomMargin=25 * mm,
        title=gettext('elevator_enforcement.msg_notice_title'))
    doc.build(story)
    return output.getvalue()
