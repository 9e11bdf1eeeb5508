"""Find and register a CJK TrueType font for the PDF reports.

reportlab embeds a subset of a registered TrueType font in every PDF that
uses it, so the printed cards and reports look the same on any reader; the
CID font ``STSong-Light`` that reportlab ships with is not embedded and is
rendered with whatever the reader substitutes, so it is not used.

Where the font comes from, first found wins:

1. ``ELEVATOR_CJK_FONT``: ``/path/to/font.ttf`` or ``/path/to/font.ttc#N``
   (``N``: index of the face inside a TrueType collection, default 0).
   An explicitly configured font that does not work is an error.
2. A ``*.ttf`` / ``*.ttc`` file dropped into the ``fonts/`` folder beside
   this module (none is shipped: a deployment may add one).
3. Well-known system locations, Debian's ``fonts-wqy-microhei`` first
   (``apt-get install fonts-wqy-microhei``; what ``make`` installs).
4. Any font fontconfig lists for Chinese (``fc-list :lang=zh``).

Only fonts with TrueType outlines qualify (reportlab cannot embed
PostScript/CFF outlines, e.g. Noto Sans CJK ``.otf``/``.ttc``), and the font
must cover the characters of :data:`PROBE`.

Usage::

    from trytond.modules.elevator.reports.fonts import cjk_font
    name = cjk_font()          # registered with reportlab.pdfbase.pdfmetrics
    canvas.setFont(name, 12)
"""
import os
import shutil
import subprocess
import threading
from pathlib import Path

__all__ = ['cjk_font', 'find_cjk_font', 'CJKFontNotFound', 'ENV_VAR',
    'INSTALL_HINT']

ENV_VAR = 'ELEVATOR_CJK_FONT'
#: Name under which the font is registered with reportlab.
FONT_NAME = 'ElevatorCJK'
#: Characters every candidate must have glyphs for.
PROBE = '电梯安全莆田市维保单位0123456789'
BUNDLED_DIR = Path(__file__).with_name('fonts')
SYSTEM_FONTS = [
    # Debian / Ubuntu: fonts-wqy-microhei, fonts-wqy-zenhei,
    # fonts-droid-fallback, fonts-arphic-uming.
    ('/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', 0),
    ('/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc', 0),
    ('/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf', 0),
    ('/usr/share/fonts/truetype/arphic/uming.ttc', 0),
    # Fedora / RHEL: wqy-microhei-fonts, google-droid-sans-fonts.
    ('/usr/share/fonts/wqy-microhei/wqy-microhei.ttc', 0),
    ('/usr/share/fonts/wqy-microhei-fonts/wqy-microhei.ttc', 0),
    ('/usr/share/fonts/google-droid/DroidSansFallbackFull.ttf', 0),
    # Alpine: font-wqy-zenhei.
    ('/usr/share/fonts/wenquanyi/wqy-zenhei.ttc', 0),
    # Windows (a developer's machine).
    ('C:/Windows/Fonts/msyh.ttc', 0),
    ('C:/Windows/Fonts/simhei.ttf', 0),
    ]
INSTALL_HINT = (
    "Install a CJK TrueType font: on Debian/Ubuntu "
    "'apt-get install fonts-wqy-microhei' (what the Makefile does), "
    f"or set {ENV_VAR}=/path/to/font.ttf (a .ttc takes '#index'), "
    f"or copy a .ttf/.ttc file into {BUNDLED_DIR}.")


class CJKFontNotFound(RuntimeError):
    "No usable CJK TrueType font: the message says what was tried."


_lock = threading.Lock()
_registered = None


def cjk_font():
    """Register the CJK font with reportlab once and return its name.

    Raises CJKFontNotFound with the list of what was tried and how to
    install a font."""
    global _registered
    if _registered is None:
        with _lock:
            if _registered is None:
                from reportlab.pdfbase import pdfmetrics
                font = find_cjk_font()
                pdfmetrics.registerFont(font)
                _registered = font.fontName
    return _registered


def find_cjk_font(name=FONT_NAME):
    "Return a reportlab TTFont named name for the first usable CJK font."
    tried = []
    configured = os.environ.get(ENV_VAR)
    if configured:
        path, index = _split_index(configured)
        font, error = _load(name, path, index)
        if font:
            return font
        raise CJKFontNotFound(
            f"{ENV_VAR}={configured!r} is not a usable CJK TrueType font: "
            f"{error}. {INSTALL_HINT}")
    for path, index in _candidates():
        font, error = _load(name, path, index)
        if font:
            return font
        if error != 'not found':
            tried.append(f"{path}#{index}: {error}")
    detail = ("; ".join(tried) if tried
        else "no font file found in the usual places")
    raise CJKFontNotFound(
        f"No CJK TrueType font found for PDF reports ({detail}). "
        f"{INSTALL_HINT}")


def _split_index(value):
    path, sep, index = value.rpartition('#')
    if sep and index.isdigit():
        return path, int(index)
    return value, 0


def _candidates():
    seen = set()

    def new(path, index):
        key = (os.path.realpath(path), index)
        if key in seen:
            return False
        seen.add(key)
        return True

    if BUNDLED_DIR.is_dir():
        for path in sorted(BUNDLED_DIR.iterdir()):
            if path.suffix.lower() in {'.ttf', '.ttc'} and new(str(path), 0):
                yield str(path), 0
    for path, index in SYSTEM_FONTS:
        if new(path, index):
            yield path, index
    for path, index in _fontconfig():
        if new(path, index):
            yield path, index


def _fontconfig():
    "Chinese fonts known to fontconfig, TrueType files only."
    fc_list = shutil.which('fc-list')
    if not fc_list:
        return []
    try:
        output = subprocess.run(
            [fc_list, ':lang=zh', 'file', 'index'], capture_output=True,
            text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    fonts = []
    for line in sorted(output.splitlines()):
        # "/usr/share/fonts/x.ttc: :index=1"
        path, _, rest = line.partition(':')
        index = rest.strip().removeprefix(':index=')
        if path.lower().endswith(('.ttf', '.ttc')):
            fonts.append((path, int(index) if index.isdigit() else 0))
    return fonts


def _load(name, path, index):
    "Return (TTFont, None) or (None, reason)."
    from reportlab.pdfbase.ttfonts import TTFError, TTFont
    if not os.path.isfile(path):
        return None, 'not found'
    try:
        font = TTFont(name, path, subfontIndex=index)
    except TTFError as exception:
        # e.g. "postscript outlines are not supported"
        return None, str(exception)
    except Exception as exception:
        return None, f"{type(exception).__name__}: {exception}"
    missing = [c for c in PROBE if ord(c) not in font.face.charToGlyph]
    if missing:
        return None, "no glyphs for %s" % ''.join(missing)
    return font, None
