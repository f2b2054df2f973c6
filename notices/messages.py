"""A notice's text and identity: its key, its Message-ID, its context as plain JSON, and its
subject and body rendered from templates/notices/<event>.txt in the recipient's language.
Pure functions: nothing here writes."""

import hashlib
import re
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import Promise

from applications.models import Status
from qianhai_grants.i18n import localized


def notice_key(*, event: str, subject_key: str, recipient_id: int, channel: str) -> str:
    return f"{event}:{subject_key}:{recipient_id}:{channel}"


def message_id(key: str) -> str:
    """The same Message-ID every time a notice is sent (make_msgid would differ per send)."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@qianhai-grants>"


def absolute_url(url: str) -> str:
    if not url or url.startswith(("http://", "https://")):
        return url
    base = getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    return f"{base}/{url.lstrip('/')}"


def plain(value):
    """`value` as JSON of ids and plain values: Decimal → str, date/datetime → ISO string."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    # Floats too: no float anywhere near money (DESIGN, stack).
    raise TypeError(f"A notice's context holds ids and plain values, not {type(value).__name__}")


def _template_context(context: dict, language: str, url: str) -> dict:
    """The stored context, plus what templates show: `measure_name` (from `measure_names`, in
    `language`), `company` (the English name for English readers when there is one),
    `status_label` (from `status`), `url`; `*_at` as local datetimes, `*_on` as dates."""
    values = dict(context)
    for name, value in context.items():
        if not isinstance(value, str):
            continue
        if name.endswith("_at") and (moment := parse_datetime(value)) is not None:
            values[name] = timezone.localtime(moment) if timezone.is_aware(moment) else moment
        elif name.endswith("_on") and (day := parse_date(value)) is not None:
            values[name] = day
    values["measure_name"] = localized(context.get("measure_names"), language)
    english = context.get("company_name_en") if language == "en" else ""
    values["company"] = english or context.get("company_name", "")
    if context.get("status") in Status.values:
        values["status_label"] = str(Status(context["status"]).label)
    values["url"] = url
    return values


def render_message(*, event: str, language: str, context: dict, url: str = ""
                   ) -> tuple[str, str]:
    """The subject (the template's first line) and body, in `language`."""
    with translation.override(language):
        text = render_to_string(f"notices/{event}.txt", _template_context(context, language, url))
    lines = [line.rstrip() for line in text.strip().splitlines()] or [""]
    subject = " ".join(lines[0].split())[:300]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines[1:]).strip())
    return subject, body + "\n"
