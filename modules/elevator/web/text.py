"""Text in and out of the platform's public forms: normalisation and
validation of what people type, HTML escaping of what pages show (the
masking of phone numbers is the base module's `elevator.privacy`).

Stored text is kept as typed (normalised, never pre-escaped); it is
escaped where it is shown: `h()` in HTML pages, and the Tryton web client
shows Char and Text fields as text, never as HTML.
"""
import html
import re
import unicodedata

# Chinese mobile (11 digits starting 1[3-9]) or fixed line with area code
# (0xx(x)-xxxxxxx(x)), optional +86 / 86 prefix for mobiles.
MOBILE = re.compile(r'^(?:\+?86)?(1[3-9]\d{9})$')
FIXED = re.compile(r'^(0\d{2,3})-?(\d{7,8})$')
_SPACES = re.compile(r'[ \t\u00a0\u3000]+')


class TextError(ValueError):
    "Invalid text: `reason` is 'required', 'too_long' or 'invalid'."

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def h(value):
    "HTML-escape any value for element content and quoted attributes."
    if value is None:
        return ''
    return html.escape(str(value), quote=True)


def paragraphs(text):
    "Escaped text as HTML paragraphs (blank lines) and line breaks."
    blocks = re.split(r'\n\s*\n', (text or '').strip())
    return ''.join('<p>' + '<br>'.join(h(line) for line in block.split('\n'))
        + '</p>' for block in blocks if block.strip())


def clean_text(value, max_length, required=False, multiline=False):
    """Normalise user text (NFC, no control or format characters, trimmed,
    runs of spaces folded); raise TextError when missing, too long or not
    a string. Returns None for an empty optional value."""
    if value is None:
        value = ''
    if not isinstance(value, str):
        raise TextError('invalid')
    value = unicodedata.normalize('NFC', value)
    value = value.replace('\r\n', '\n').replace('\r', '\n')
    kept = []
    for char in value:
        if char == '\n':
            if multiline:
                kept.append(char)
            else:
                kept.append(' ')
            continue
        category = unicodedata.category(char)
        # Cc control, Cf format (bidi overrides, zero width), Cs surrogates,
        # Co private use, Cn unassigned.
        if category in {'Cc', 'Cf', 'Cs', 'Co', 'Cn'}:
            continue
        kept.append(char)
    value = ''.join(kept)
    lines = [_SPACES.sub(' ', line).strip() for line in value.split('\n')]
    value = re.sub(r'\n{3,}', '\n\n', '\n'.join(lines)).strip()
    if not value:
        if required:
            raise TextError('required')
        return None
    if len(value) > max_length:
        raise TextError('too_long')
    return value


def normalise_phone(value):
    """Return the phone number in a canonical form (11-digit mobile or
    'area-number' fixed line), or raise TextError."""
    if value is None or value == '':
        raise TextError('required')
    if not isinstance(value, str) or len(value) > 32:
        raise TextError('invalid')
    compact = re.sub(r'[\s()\u3000]', '', value)
    match = MOBILE.match(compact)
    if match:
        return match.group(1)
    match = FIXED.match(compact)
    if match:
        return f'{match.group(1)}-{match.group(2)}'
    raise TextError('invalid')


def last_digits(phone, count=4):
    return ''.join(c for c in (phone or '') if c.isdigit())[-count:]
