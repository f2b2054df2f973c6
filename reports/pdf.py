"""PDF documents, rendered by WeasyPrint with Debian's `fonts-noto-cjk`: the decision letter of an
award (资助决定书) and the list of a 公示.

Each is a Django template (templates/reports/pdf/) rendered in the letter's language, then laid
out by WeasyPrint with the print stylesheet static/css/pdf.css. WeasyPrint fetches nothing from
the network: its URL fetcher opens only files under the site's static folders, so a template, a
stylesheet or a company's data pointing at http://… can never make the server call out.
"""

import datetime
import functools
import logging
import mimetypes
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from measures.trace import render_trace
from qianhai_grants.i18n import LANGUAGE_CODES, localized
from qianhai_grants.money import round_money
from reports.selectors_pdf import DRAFT, FINAL, VOID, award_publicity, letter_state
from reviews.models import Award, Publicity
from reviews.selectors_office import project_of
from reviews.services.publicity import publicity_is_open, publicity_title

STYLESHEET = "css/pdf.css"

# The fonts of each language (fc-list | grep -i cjk): the Simplified or Traditional forms of
# Noto Serif CJK, Noto Sans CJK for headings; an English letter still names a Chinese company, so
# it falls back to the Simplified forms.
FONT_CLASSES = {"zh-hans": "lang-zh-hans", "zh-hant": "lang-zh-hant", "en": "lang-en"}
HTML_LANG = {"zh-hans": "zh-Hans", "zh-hant": "zh-Hant", "en": "en"}


# ---------------------------------------------------------------- no network

class RefusedURL(ValueError):
    """WeasyPrint asked for something that is not one of our static files."""


def static_roots() -> list[Path]:
    """The folders WeasyPrint may read: the project's static folders and STATIC_ROOT."""
    roots = [Path(root if isinstance(root, (str, Path)) else root[1])
             for root in settings.STATICFILES_DIRS]
    if settings.STATIC_ROOT:
        roots.append(Path(settings.STATIC_ROOT))
    return [root.resolve() for root in roots]


@functools.cache
def _weasyprint():
    """WeasyPrint, imported on the first document: importing it takes about a second and lays
    out its own stylesheets, which no web request or worker that makes no PDF should pay for.
    Its progress messages ("Step 5 - Creating layout") would fill the log at INFO; its warnings
    (a refused URL, a missing font) still show."""
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    import weasyprint
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticFilesOnly(URLFetcher):
        """A URL fetcher that reads local static files and refuses everything else (http,
        https, ftp, data and any file outside the static folders) without opening a
        connection. The refusal is not fatal: WeasyPrint leaves the image or stylesheet out
        and lays out the rest."""

        def __init__(self, **kwargs):
            super().__init__(allowed_protocols=("file",), allow_redirects=False, **kwargs)
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            path = Path(unquote(parts.path)).resolve() if parts.scheme == "file" and \
                parts.netloc in ("", "localhost") else None
            if path is None or not path.is_file() or \
                    not any(path.is_relative_to(root) for root in static_roots()):
                self.refused.append(url)
                raise RefusedURL(f"not a local static file: {url[:200]}")
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), path.read_bytes(),
                                      {"Content-Type": content_type})

    return weasyprint, StaticFilesOnly


def static_files_only():
    """A new fetcher for one document (it keeps the URLs it refused, in `.refused`)."""
    return _weasyprint()[1]()


def _stylesheet_path() -> Path:
    found = finders.find(STYLESHEET)
    if not found:
        raise ImproperlyConfigured(f"The PDF stylesheet static/{STYLESHEET} is missing.")
    return Path(found)


def render_pdf(html: str, *, fetcher=None) -> bytes:
    """Lay out `html` with the print stylesheet; relative URLs resolve inside the stylesheet's
    static folder, and nothing is fetched but static files."""
    weasyprint, _fetcher_class = _weasyprint()
    fetcher = fetcher or static_files_only()
    stylesheet = _stylesheet_path()
    base_url = stylesheet.parent.parent.as_uri() + "/"
    css = weasyprint.CSS(filename=str(stylesheet), url_fetcher=fetcher)
    return weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf(
        stylesheets=[css])


# ---------------------------------------------------------------- formats per language

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def long_date(value, language: str) -> str:
    """2026年11月28日 in Chinese, 28 November 2026 in English (a moment: its date in China)."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        value = timezone.localdate(value)
    if language.startswith("zh"):
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def figures(amount) -> str:
    """1234567.89 -> 1,234,567.89"""
    return f"{round_money(Decimal(str(amount))):,.2f}"


def money_text(amount, language: str) -> str:
    """¥1,234,567.89 in English, 1,234,567.89 元 in Chinese."""
    if language.startswith("zh"):
        return f"{figures(amount)} 元"
    return f"¥{figures(amount)}"


DIGITS = {"zh-hans": "零壹贰叁肆伍陆柒捌玖", "zh-hant": "零壹貳參肆伍陸柒捌玖"}
WORDS = {"zh-hans": {"wan": "万", "yi": "亿", "prefix": "人民币"},
         "zh-hant": {"wan": "萬", "yi": "億", "prefix": "人民幣"}}
PLACES = ("", "拾", "佰", "仟")


def rmb_in_words(amount, language: str) -> str:
    """The amount in capital figures as Chinese payment documents write it (大写金额):
    1234567.89 -> 人民币壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分; 1500000 -> 人民币壹佰伍拾万元整.
    Empty for English."""
    if language not in DIGITS:
        return ""
    digits, words = DIGITS[language], WORDS[language]
    cents = int(round_money(Decimal(str(amount))) * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10

    def group(n: int) -> str:  # 1..9999
        text, zero = "", False
        for place in (3, 2, 1, 0):
            digit = n // 10 ** place % 10
            if digit == 0:
                zero = zero or bool(text)
                continue
            if zero:
                text, zero = text + digits[0], False
            text += digits[digit] + PLACES[place]
        return text

    def whole(n: int) -> str:  # n > 0
        for size, unit in ((10 ** 8, words["yi"]), (10 ** 4, words["wan"])):
            if n >= size:
                high, low = divmod(n, size)
                text = whole(high) + unit
                if low:
                    text += (digits[0] if low < size // 10 else "") + whole(low)
                return text
        return group(n)

    text = whole(yuan) + "元" if yuan else ""
    if jiao:
        text += digits[jiao] + "角"
    elif fen and yuan:
        text += digits[0]
    if fen:
        text += digits[fen] + "分"
    if not text:
        text = digits[0] + "元"
    if not jiao and not fen:
        text += "整"
    return words["prefix"] + text


def page_label() -> list[dict]:
    """"Page 1 of 3" in the active language, cut around its two numbers so the page footer can
    put WeasyPrint's page counters in their places: [{"text"}, {"counter": "page"}, ...]."""
    marked = _("Page %(number)s of %(total)s") % {"number": "\x01", "total": "\x02"}
    parts, text = [], ""
    for char in marked:
        if char in "\x01\x02":
            parts += [{"text": text}] if text else []
            parts.append({"counter": "page" if char == "\x01" else "pages"})
            text = ""
        else:
            text += char
    return parts + ([{"text": text}] if text else [])


def _check_language(language: str) -> str:
    if language not in LANGUAGE_CODES:
        raise ValueError(f"unknown language {language!r}")
    return language


def _document(language: str) -> dict:
    return {"html_lang": HTML_LANG[language], "font_class": FONT_CLASSES[language],
            "issuer": _("Qianhai Authority"),
            "page_label": page_label()}


# ---------------------------------------------------------------- the decision letter

def letter_reference(award: Award) -> str:
    """The letter's number: the Authority's prefix, the funding year and the award's id."""
    return f"QHAI-{award.application.call.funding_year}-{award.pk:06d}"


def _capped_by(code: str) -> str:
    # The same sentences as the application's page, so they share one translation.
    if code == "cap":
        return _("Limited by the cap per award.")
    if code == "cumulative_cap":
        return _("Limited by the remaining cumulative cap.")
    if code == "requested_amount":
        return _("Limited by the amount requested.")
    return ""


def award_letter_context(award: Award, language: str) -> dict:
    """What the letter says, in the active language (call under `translation.override`)."""
    application = award.application
    measure = application.call.measure
    publicity = award_publicity(award)
    return {
        **_document(language),
        "award": award, "company": application.company, "state": letter_state(award),
        "FINAL": FINAL, "DRAFT": DRAFT, "VOID": VOID,
        "reference": letter_reference(award),
        "measure_name": localized(measure.names, language), "clause": measure.clause,
        "funding_year": application.call.funding_year,
        "project": project_of(application),
        "amount": money_text(award.amount, language),
        "amount_words": rmb_in_words(award.amount, language),
        "capped_by": _capped_by(award.capped_by),
        "rules_version": award.measure_version.number,
        "trace": render_trace(award.trace, award.measure_version.field_labels(language)),
        "decided_on": long_date(award.decided_at, language),
        "awarded_on": long_date(award.awarded_at, language),
        "released_on": long_date(award.released_at, language),
        "publicity": publicity,
        "publicity_from": long_date(publicity.starts_on, language) if publicity else "",
        "publicity_until": long_date(publicity.ends_on, language) if publicity else "",
    }


def award_letter_pdf(*, award: Award, language: str) -> bytes:
    """The decision letter of `award` in `language` (zh-hans, zh-hant or en)."""
    language = _check_language(language)
    with translation.override(language):
        html = render_to_string("reports/pdf/award_letter.html",
                                award_letter_context(award, language))
    return render_pdf(html)


def letter_filename(award: Award) -> str:
    return f"decision-letter-{letter_reference(award)}.pdf"


# ---------------------------------------------------------------- the 公示 list

def publicity_url(publicity: Publicity) -> str:
    """The notice's public page, where objections are filed."""
    return settings.SITE_URL + reverse("publicity-detail", args=[publicity.pk])


def _publicity_state(publicity: Publicity) -> str:
    # The public page's labels, so they share one translation.
    if publicity_is_open(publicity):
        return _("Open for objections")
    if publicity.finalized_at is not None:
        return _("Finalized")
    return _("Ended")


def publicity_list_context(publicity: Publicity, language: str) -> dict:
    measure = publicity.call.measure
    entries = list(publicity.entries.all())
    total = sum((e.amount for e in entries), Decimal("0.00"))
    return {
        **_document(language),
        "notice": publicity, "title": publicity_title(publicity),
        "measure_name": localized(measure.names, language), "clause": measure.clause,
        "funding_year": publicity.call.funding_year,
        "starts_on": long_date(publicity.starts_on, language),
        "ends_on": long_date(publicity.ends_on, language),
        "issued_on": long_date(publicity.opened_at, language),
        "finalized_on": long_date(publicity.finalized_at, language),
        "state": _publicity_state(publicity), "is_open": publicity_is_open(publicity),
        "entries": [{"entry": e, "amount": figures(e.amount)} for e in entries],
        "total": figures(total),
        "url": publicity_url(publicity),
        "reference": f"QHAI-GS-{publicity.call.funding_year}-{publicity.pk:04d}",
    }


def publicity_list_pdf(*, publicity: Publicity, language: str) -> bytes:
    """The list of a 公示 in `language`: its period, every line with its amount, the total, and
    where to object."""
    language = _check_language(language)
    with translation.override(language):
        html = render_to_string("reports/pdf/publicity_list.html",
                                publicity_list_context(publicity, language))
    return render_pdf(html)


# A public list costs a layout of a few hundred milliseconds: the same notice in the same
# language and state is laid out once per this many seconds, however many people ask (the cache
# is Redis in production, shared by every web process).
PUBLICITY_CACHE_SECONDS = 600


def publicity_list_pdf_cached(*, publicity: Publicity, language: str) -> bytes:
    """`publicity_list_pdf`, kept in the cache; a notice that ends or is finalized changes its
    key, so a list never says "open" after its period ended."""
    language = _check_language(language)
    state = "open" if publicity_is_open(publicity) else (
        f"final-{publicity.finalized_at.timestamp()}" if publicity.finalized_at else "ended")
    key = f"reports:pdf:publicity:{publicity.pk}:{language}:{state}"
    content = cache.get(key)
    if content is None:
        content = publicity_list_pdf(publicity=publicity, language=language)
        cache.set(key, content, PUBLICITY_CACHE_SECONDS)
    return content


def publicity_filename(publicity: Publicity) -> str:
    return f"publicity-{publicity.call.funding_year}-{publicity.pk}.pdf"


# ---------------------------------------------------------------- the answer

def pdf_response(content: bytes, *, filename: str, private: bool) -> HttpResponse:
    """A PDF shown in the browser (inline) under a plain ASCII file name; a letter is personal,
    so it is never stored by a shared cache."""
    safe_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-"
                        for c in filename)[:120] or "document.pdf"
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, safe_name)
    response["Content-Length"] = str(len(content))
    # The list is public, but its language follows the reader's cookie or Accept-Language:
    # only the reader's own browser may keep it.
    response["Cache-Control"] = "private, no-store" if private else "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response
