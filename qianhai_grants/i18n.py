"""Text kept in three languages as {"zh-hans": ..., "zh-hant": ..., "en": ...}."""

from django.utils.translation import get_language

LANGUAGE_CODES = ("zh-hans", "zh-hant", "en")


def current_language() -> str:
    code = (get_language() or "zh-hans").lower()
    if code in LANGUAGE_CODES:
        return code
    if code.startswith(("zh-hant", "zh-tw", "zh-hk", "zh-mo")):
        return "zh-hant"
    if code.startswith("zh"):
        return "zh-hans"
    return "en"


def localized(texts, language: str | None = None) -> str:
    """Pick the text of `language` (default: the active one), falling back sensibly."""
    if not isinstance(texts, dict):
        return "" if texts is None else str(texts)
    language = language or current_language()
    for code in (language, "en", "zh-hans", "zh-hant"):
        if texts.get(code):
            return texts[code]
    return ""
