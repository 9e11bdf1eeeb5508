"""HTML of the public H5 pages (phones, WeChat's browser): server-rendered,
no script, no external resource, every value escaped with h()."""
import datetime as dt

from trytond.i18n import gettext

from trytond.modules.elevator.web.text import h, paragraphs

from .feedback import PHOTOS_MAX, TEXT_MAX
from .rating import COMMENT_MAX

# No script at all; inline styles only; forms post to this site only.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.6 -apple-system,"PingFang SC","Hiragino Sans GB",
"Microsoft YaHei","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;
color:#1f2933;background:#f2f4f7;-webkit-text-size-adjust:100%}
header{background:#0b5cad;color:#fff;padding:10px 14px}
header a{color:#fff;text-decoration:none}
header .authority{font-size:13px;opacity:.85}
header h1{font-size:19px;margin:2px 0 0}
main{max-width:640px;margin:0 auto;padding:10px}
.card{background:#fff;border-radius:10px;padding:12px 14px;margin:0 0 10px;
box-shadow:0 1px 2px rgba(0,0,0,.06)}
.card h2{font-size:17px;margin:0 0 8px}
dl{margin:0}
dl div{display:flex;justify-content:space-between;gap:10px;
padding:6px 0;border-bottom:1px solid #eef0f3}
dl div:last-child{border-bottom:0}
dt{color:#616e7c;flex:0 0 auto;max-width:45%}
dd{margin:0;text-align:right;word-break:break-all}
.hotline{display:block;text-align:center;background:#d64545;color:#fff;
font-size:22px;font-weight:700;border-radius:10px;padding:12px;
text-decoration:none;margin:0 0 10px}
.hotline small{display:block;font-size:14px;font-weight:400}
.status{display:inline-block;border-radius:14px;padding:2px 12px;
font-weight:700}
.status-normal{background:#e3f9e5;color:#0e7c3a}
.status-attention{background:#fff3c4;color:#8d6708}
.status-warning{background:#ffe3e3;color:#ab091e}
.status-out_of_service{background:#e4e7eb;color:#3e4c59}
.notes{margin:8px 0 0;padding-left:20px;color:#52606d;font-size:14px}
.actions{display:grid;grid-template-columns:1fr 1fr;gap:8px}
.btn{display:block;text-align:center;padding:11px 6px;border-radius:8px;
background:#0b5cad;color:#fff;text-decoration:none;font-size:16px;
border:0;width:100%;cursor:pointer;font-family:inherit}
.btn-light{background:#e6f0fa;color:#0b5cad}
.btn-red{background:#d64545}
label{display:block;margin:10px 0 4px;font-weight:600}
input[type=text],input[type=tel],textarea{width:100%;padding:10px;
font:inherit;border:1px solid #cbd2d9;border-radius:8px;background:#fff}
textarea{min-height:120px}
.hint{color:#616e7c;font-size:13px;margin:4px 0}
.error{background:#ffe3e3;color:#ab091e;border-radius:8px;padding:8px 12px;
margin:0 0 10px}
.ok{background:#e3f9e5;color:#0e7c3a;border-radius:8px;padding:8px 12px;
margin:0 0 10px}
.number{font-size:24px;font-weight:700;letter-spacing:1px;
text-align:center;margin:8px 0}
.trap{position:absolute;left:-9999px;width:1px;height:1px;overflow:hidden}
.stars{display:flex;flex-direction:row-reverse;justify-content:flex-end;
gap:4px}
.stars input{position:absolute;opacity:0;width:1px;height:1px}
.stars label{margin:0;font-size:34px;line-height:1;color:#cbd2d9;
cursor:pointer;font-weight:400}
.stars input:checked~label{color:#f0b429}
.stars input:focus-visible+label{outline:2px solid #0b5cad}
ul.list{list-style:none;margin:0;padding:0}
ul.list li{padding:8px 0;border-bottom:1px solid #eef0f3}
ul.list li:last-child{border-bottom:0}
ul.list a{color:#0b5cad;text-decoration:none}
.article p{margin:0 0 10px}
.grade{font-weight:700;font-size:18px;color:#0b5cad}
footer{text-align:center;color:#9aa5b1;font-size:12px;padding:10px 0 20px}
table{width:100%;border-collapse:collapse;font-size:15px}
th,td{text-align:left;padding:6px 4px;border-bottom:1px solid #eef0f3}
"""


def t(key, **kwargs):
    "Text of the page in the transaction's language."
    return gettext(f'elevator_public.msg_h5_{key}', **kwargs)


class Page:
    "Builds one H5 page; base is the /{db}/elevator/h5 prefix."

    def __init__(self, base, authority, hotline):
        self.base = base
        self.authority = authority
        self.hotline = hotline

    def url(self, *parts):
        if not parts:
            return self.base + '/'
        return '/'.join([self.base, *parts])

    def render(self, title, body, back=None):
        back_link = (f'<a href="{h(back)}">‹ {h(t("back"))}</a> '
            if back else '')
        return ('<!DOCTYPE html>\n<html lang="zh-CN"><head>'
            '<meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,'
            'initial-scale=1">'
            '<meta name="format-detection" content="telephone=no">'
            '<meta name="referrer" content="same-origin">'
            f'<title>{h(title)}</title><style>{CSS}</style></head><body>'
            f'<header><div class="authority">{back_link}{h(self.authority)}'
            f'</div><h1>{h(title)}</h1></header>'
            f'<main>{body}</main>'
            f'<footer>{h(t("footer", hotline=self.hotline))}</footer>'
            '</body></html>')

    def hotline_button(self, text=None):
        return (f'<a class="hotline" href="tel:{h(self.hotline)}">'
            f'{h(t("call", hotline=self.hotline))}'
            f'<small>{h(text or t("call_hint"))}</small></a>')

    # Pages

    def home(self, error=None, code=''):
        body = self.hotline_button()
        if error:
            body += f'<div class="error">{h(error)}</div>'
        body += (f'<form class="card" method="get" '
            f'action="{h(self.url("search"))}">'
            f'<h2>{h(t("search_title"))}</h2>'
            f'<label for="code">{h(t("search_label"))}</label>'
            f'<input type="text" id="code" name="code" inputmode="numeric" '
            f'maxlength="64" value="{h(code)}" required>'
            f'<p class="hint">{h(t("search_hint"))}</p>'
            f'<button class="btn" type="submit">{h(t("search"))}</button>'
            '</form>'
            '<div class="card actions">'
            f'<a class="btn btn-light" href="{h(self.url("follow"))}">'
            f'{h(t("follow_title"))}</a>'
            f'<a class="btn btn-light" href="{h(self.url("articles"))}">'
            f'{h(t("articles_title"))}</a>'
            f'<a class="btn btn-light" href="{h(self.url("units"))}">'
            f'{h(t("units_title"))}</a>'
            '</div>')
        return self.render(t('home_title'), body)

    def card(self, code, card):
        def row(label, value):
            return f'<div><dt>{h(label)}</dt><dd>{value}</dd></div>'

        def unit(value):
            if not value:
                return h(t('none'))
            text = h(value['name'])
            if value.get('public_phone'):
                phone = value['public_phone']
                text += (f'<br><a href="tel:{h(phone)}">{h(phone)}</a>')
            return text

        status = card['safety_status']
        notes = ''.join(f'<li>{h(n["message"])}</li>'
            for n in card['safety_notes'])
        body = self.hotline_button(t('call_hint_card',
                code=card['rescue_code'] or ''))
        body += (
            '<section class="card">'
            f'<h2>{h(t("safety_status"))} '
            f'<span class="status status-{h(status)}" id="safety-status">'
            f'{h(card["safety_status_name"])}</span></h2>'
            + (f'<ul class="notes">{notes}</ul>' if notes else '')
            + '</section>')
        inspection = card['inspection']
        maintenance = card['last_maintenance']
        if maintenance:
            maintenance_text = h(
                f'{maintenance["date"]} {maintenance["type_name"]}')
        else:
            maintenance_text = h(t('no_record'))
        place = ' '.join(filter(None, [card['place'], card['building']]))
        body += (
            '<section class="card"><h2>' + h(t('elevator_info')) + '</h2><dl>'
            + row(t('rescue_code'), h(card['rescue_code'] or ''))
            + row(t('registration_code'), h(card['registration_code']))
            + row(t('certificate_number'),
                h(card.get('certificate_number') or t('none')))
            + row(t('category'), h(card['category_name']))
            + row(t('place'), h(place or t('none')))
            + row(t('district'), h(card['district'] or t('none')))
            + row(t('state'), h(card['state_name']))
            + '</dl></section>'
            '<section class="card"><h2>' + h(t('responsible')) + '</h2><dl>'
            + row(t('user_unit'), unit(card['user_unit']))
            + row(t('maintenance_unit'), unit(card['maintenance_unit']))
            + '</dl></section>'
            '<section class="card"><h2>' + h(t('safety')) + '</h2><dl>'
            + row(t('last_maintenance'), maintenance_text)
            + row(t('last_inspection'), h(' '.join(filter(None, [
                                inspection['last_date'],
                                inspection['conclusion_name']]))
                    or t('no_record')))
            + row(t('next_inspection'), h(inspection['next_due_date']
                    or t('no_record')))
            + row(t('monitored'), h(t('yes') if card['monitored']
                    else t('no')))
            + '</dl></section>'
            '<section class="card" id="repairs"><h2>'
            + h(t('repair_records')) + '</h2>'
            + repair_table(card.get('repairs') or [])
            + '</section>')
        links = [
            ('complaint', t('complaint'), 'btn'),
            ('fault', t('fault_report'), 'btn'),
            ('rescue', t('rescue_request'), 'btn btn-red'),
            ('message', t('message'), 'btn'),
            ('rate', t('rate'), 'btn btn-light'),
            ('maintenance', t('maintenance_records'), 'btn btn-light'),
            ]
        body += '<section class="card actions">' + ''.join(
            f'<a class="{css}" id="action-{name}" '
            f'href="{h(self.url("e", code, name))}">{h(label)}</a>'
            for name, label, css in links) + '</section>'
        body += ('<section class="card actions">'
            f'<a class="btn btn-light" href="{h(self.url("follow"))}">'
            f'{h(t("follow_title"))}</a>'
            f'<a class="btn btn-light" href="{h(self.url("articles"))}">'
            f'{h(t("articles_title"))}</a></section>')
        return self.render(t('card_title'), body, back=self.url())

    def maintenance(self, code, items, repairs=None):
        if items is None:
            body = f'<div class="card">{h(t("maintenance_unavailable"))}</div>'
        elif not items:
            body = f'<div class="card">{h(t("no_record"))}</div>'
        else:
            rows = ''.join(
                f'<tr><td>{h(i["date"])}</td><td>{h(i["type_name"])}</td>'
                f'<td>{h(i["state_name"])}</td></tr>' for i in items)
            body = ('<div class="card"><table><thead><tr>'
                f'<th>{h(t("date"))}</th><th>{h(t("type"))}</th>'
                f'<th>{h(t("state"))}</th></tr></thead>'
                f'<tbody>{rows}</tbody></table></div>')
        if items is not None:
            body += ('<section class="card" id="repairs"><h2>'
                f'{h(t("repair_records"))}</h2>'
                f'{repair_table(repairs or [])}</section>')
        return self.render(t('maintenance_records'), body,
            back=self.url('e', code))

    def feedback_form(self, code, kind, type_label, values=None,
            error=None):
        values = values or {}
        body = ''
        if kind == 'rescue':
            body += self.hotline_button(t('rescue_hint'))
        if error:
            body += f'<div class="error" id="form-error">{h(error)}</div>'
        body += (
            f'<form class="card" method="post" enctype="multipart/form-data" '
            f'action="{h(self.url("e", code, kind))}">'
            f'<h2>{h(type_label)}</h2>'
            f'<label for="contact_phone">{h(t("contact_phone"))}</label>'
            f'<input type="tel" id="contact_phone" name="contact_phone" '
            f'maxlength="20" autocomplete="tel" required '
            f'value="{h(values.get("contact_phone", ""))}">'
            f'<p class="hint">{h(t("phone_hint"))}</p>'
            f'<label for="text">{h(t("text_" + kind))}</label>'
            f'<textarea id="text" name="text" maxlength="{TEXT_MAX}" '
            f'required>{h(values.get("text", ""))}</textarea>'
            f'<label for="photos">{h(t("photos"))}</label>'
            f'<input type="file" id="photos" name="photos" '
            f'accept="image/jpeg,image/png,image/webp" multiple>'
            f'<p class="hint">{h(t("photos_hint", max=PHOTOS_MAX))}</p>'
            + (f'<label for="urgent"><input type="checkbox" id="urgent" '
                f'name="urgent" value="1"'
                f'{" checked" if values.get("urgent") else ""}> '
                f'{h(t("urgent_label"))}</label>'
                f'<p class="hint">{h(t("urgent_hint"))}</p>'
                if kind == 'fault' else '')
            + '<div class="trap" aria-hidden="true"><label for="website">'
            'Website</label><input type="text" id="website" name="website" '
            'tabindex="-1" autocomplete="off"></div>'
            f'<button class="btn{" btn-red" if kind == "rescue" else ""}" '
            f'type="submit" id="submit">{h(t("submit"))}</button>'
            '</form>')
        return self.render(type_label, body, back=self.url('e', code))

    def submitted(self, number, type_label):
        body = ('<div class="card">'
            f'<div class="ok">{h(t("submitted", type=type_label))}</div>'
            f'<p>{h(t("your_number"))}</p>'
            f'<div class="number" id="feedback-number">{h(number)}</div>'
            f'<p class="hint">{h(t("keep_number"))}</p>'
            f'<a class="btn" href="{h(self.url("follow"))}?number='
            f'{h(number)}" id="follow-link">{h(t("follow_title"))}</a>'
            '</div>')
        return self.render(t('submitted_title'), body, back=self.url())

    def follow(self, number='', error=None, result=None):
        body = ''
        if error:
            body += f'<div class="error" id="form-error">{h(error)}</div>'
        if result:
            body += ('<section class="card" id="follow-result"><dl>'
                + ''.join(f'<div><dt>{h(label)}</dt><dd>{h(value)}</dd></div>'
                    for label, value in [
                        (t('number'), result['number']),
                        (t('type'), result['type_name']),
                        (t('state'), result['state_name']),
                        (t('submitted_at'), _when(result['submitted_at'])),
                        (t('deadline'), _when(result['deadline'])),
                        ] if value)
                + '</dl>')
            repair = result.get('repair')
            if repair:
                body += (f'<h2>{h(t("repair"))}</h2><dl id="follow-repair">'
                    + ''.join(
                        f'<div><dt>{h(label)}</dt><dd>{h(value)}</dd></div>'
                        for label, value in [
                            (t('number'), repair['number']),
                            (t('repair_state'), repair['state_name']),
                            (t('urgent'), t('yes') if repair['urgent']
                                else ''),
                            (t('repair_deadline'),
                                _when(repair['deadline'])),
                            (t('repair_overdue'), t('yes')
                                if repair['overdue'] else ''),
                            (t('repair_done'), _when(repair['done_at'])),
                            ] if value)
                    + '</dl>')
            if result.get('reply'):
                body += (f'<h2>{h(t("reply"))}</h2>'
                    f'<div id="follow-reply">{paragraphs(result["reply"])}'
                    '</div>')
            body += '</section>'
        body += (
            '<form class="card" method="post" '
            f'action="{h(self.url("follow"))}">'
            f'<label for="number">{h(t("number"))}</label>'
            f'<input type="text" id="number" name="number" maxlength="32" '
            f'required value="{h(number)}">'
            f'<label for="phone_last4">{h(t("phone_last4"))}</label>'
            '<input type="tel" id="phone_last4" name="phone_last4" '
            'maxlength="4" pattern="[0-9]{4}" inputmode="numeric" required>'
            f'<p class="hint">{h(t("follow_hint"))}</p>'
            f'<button class="btn" type="submit" id="follow-submit">'
            f'{h(t("follow"))}</button></form>')
        return self.render(t('follow_title'), body, back=self.url())

    def rate_form(self, code, card, values=None, error=None):
        values = values or {}

        def stars(field, label):
            current = str(values.get(field, ''))
            inputs = ''.join(
                f'<input type="radio" id="{field}-{n}" name="{field}" '
                f'value="{n}"{" checked" if current == str(n) else ""}'
                f'{" required" if n == 5 else ""}>'
                f'<label for="{field}-{n}" title="{n}">★</label>'
                for n in range(5, 0, -1))
            return (f'<label>{h(label)}</label>'
                f'<div class="stars">{inputs}</div>')
        maintenance_unit = (card['maintenance_unit'] or {}).get('name')
        user_unit = (card['user_unit'] or {}).get('name')
        body = ''
        if error:
            body += f'<div class="error" id="form-error">{h(error)}</div>'
        body += (
            f'<form class="card" method="post" action="'
            f'{h(self.url("e", code, "rate"))}">'
            + stars('score_maintenance', t('score_maintenance',
                    unit=maintenance_unit or t('none')))
            + stars('score_user_unit', t('score_user_unit',
                    unit=user_unit or t('none')))
            + f'<label for="comment">{h(t("comment"))}</label>'
            f'<input type="text" id="comment" name="comment" '
            f'maxlength="{COMMENT_MAX}" '
            f'value="{h(values.get("comment", ""))}">'
            '<div class="trap" aria-hidden="true"><label for="website">'
            'Website</label><input type="text" id="website" name="website" '
            'tabindex="-1" autocomplete="off"></div>'
            f'<button class="btn" type="submit" id="submit">{h(t("submit"))}'
            '</button></form>')
        return self.render(t('rate'), body, back=self.url('e', code))

    def rated(self, code):
        body = (f'<div class="card"><div class="ok">{h(t("rated"))}</div>'
            f'<a class="btn btn-light" href="{h(self.url("e", code))}">'
            f'{h(t("back_to_card"))}</a></div>')
        return self.render(t('rate'), body, back=self.url('e', code))

    def articles(self, items):
        if not items:
            inner = h(t('no_record'))
        else:
            inner = '<ul class="list">' + ''.join(
                f'<li><a href="{h(self.url("articles", str(a["id"])))}">'
                f'{h(a["title"])}</a><div class="hint">'
                f'{h(a["category_name"])} {h(a["summary"] or "")}</div></li>'
                for a in items) + '</ul>'
        return self.render(t('articles_title'),
            f'<div class="card">{inner}</div>', back=self.url())

    def article(self, article):
        body = (f'<article class="card article"><h2>{h(article["title"])}</h2>'
            f'<p class="hint">{h(article["category_name"])} '
            f'{h(article["published_date"] or "")}</p>'
            f'{paragraphs(article["body"])}</article>')
        return self.render(t('articles_title'), body,
            back=self.url('articles'))

    def units(self, items):
        if not items:
            inner = h(t('no_record'))
        else:
            inner = '<ul class="list">' + ''.join(
                '<li><div>'
                f'<span class="grade">{h(u["grade"] or "—")}</span> '
                f'{h(u["name"])}</div><div class="hint">'
                + h(t('unit_line', elevators=u['elevators'],
                        ratings=u['rating_count'],
                        score=u['rating_maintenance'] or '—'))
                + (f' · <a href="tel:{h(u["public_phone"])}">'
                    f'{h(u["public_phone"])}</a>' if u['public_phone']
                    else '')
                + '</div></li>' for u in items) + '</ul>'
        body = (f'<p class="hint">{h(t("units_hint"))}</p>'
            f'<div class="card">{inner}</div>')
        return self.render(t('units_title'), body, back=self.url())

    def error(self, status_text, message):
        body = (f'<div class="card"><div class="error">{h(message)}</div>'
            f'<a class="btn btn-light" href="{h(self.url())}">'
            f'{h(t("home_title"))}</a></div>')
        return self.render(status_text, body)


def _when(value):
    "A time as the routes give it (ISO text with the Putian offset)."
    if not value:
        return ''
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if hasattr(value, 'strftime'):
        return value.strftime('%Y-%m-%d %H:%M')
    return str(value)


def repair_table(repairs):
    "Repair records of an elevator: day reported, kind, state."
    if not repairs:
        return f'<p class="hint">{h(t("no_record"))}</p>'
    rows = ''.join(
        f'<tr><td>{h(r["date"])}</td><td>{h(r["kind_name"])}'
        + (f' · {h(t("urgent"))}' if r['urgent'] else '')
        + f'</td><td>{h(r["state_name"])}</td></tr>' for r in repairs)
    return ('<table><thead><tr>'
        f'<th>{h(t("date"))}</th><th>{h(t("kind"))}</th>'
        f'<th>{h(t("state"))}</th></tr></thead>'
        f'<tbody>{rows}</tbody></table>')
