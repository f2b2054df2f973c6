"""Expert scoring (專家評審): a call's scorecard, a reviewer's scores and the aggregate kept for
the ranking.

Every number is a `Decimal`: scores and weights are read from their text (a JSON float through
its shortest repr, as money is), the weighted total is rounded half-up to 0.01 once, at the end.
"""

import copy
import math
import re
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application, Status
from applications.services import application_transition
from applications.transitions import SYSTEM
from measures.models import AwardKind
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import LANGUAGE_CODES
from qianhai_grants.money import parse_money, round_money
from reviews import selectors
from reviews.models import Assessment, Review, ReviewState, Scorecard
from reviews.services._common import audit, invalid, not_found, require_staff

# The default criteria of a call's expert review; weights are relative (here they add up to 100).
DEFAULT_CRITERIA = [
    {"code": "innovation", "weight": 30, "max_score": 10,
     "labels": {"zh-hans": "创新性", "zh-hant": "創新性", "en": "Innovation"}},
    {"code": "feasibility", "weight": 25, "max_score": 10,
     "labels": {"zh-hans": "可行性", "zh-hant": "可行性", "en": "Feasibility"}},
    {"code": "industry_impact", "weight": 20, "max_score": 10,
     "labels": {"zh-hans": "产业带动", "zh-hant": "產業帶動", "en": "Industry impact"}},
    {"code": "team", "weight": 15, "max_score": 10,
     "labels": {"zh-hans": "团队能力", "zh-hant": "團隊能力", "en": "Team"}},
    {"code": "budget", "weight": 10, "max_score": 10,
     "labels": {"zh-hans": "预算合理性", "zh-hant": "預算合理性", "en": "Budget soundness"}},
]

MAX_SCORE_LIMIT = 100
MAX_WEIGHT = 1_000_000  # weights are relative: any sensible scheme fits far below this
SCORE_PLACES = Decimal("0.01")
# A plain decimal as people type it: no exponent, no thousands separators, no "NaN".
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")
_MAX_TEXT = 32  # more characters than any sensible score or weight


def _number(raw) -> Decimal | None:
    """A finite number from an int, a Decimal, a plain decimal string or a JSON float (never a
    bool, never NaN or infinity), or None."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        if not math.isfinite(raw):
            return None
        value = Decimal(repr(raw))  # 7.1 means 7.1, not 7.0999999999999996447...
    elif isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if len(text) > _MAX_TEXT or not _PLAIN_NUMBER.fullmatch(text):
            return None
        value = Decimal(text)
    else:
        return None
    if not value.is_finite():
        return None
    return value + 0  # "-0" becomes 0


def _has_places(value: Decimal, places: Decimal) -> bool:
    return value == value.quantize(places)


def _plain(value: Decimal) -> str:
    """A number as stored: "8", "7.5" (no trailing zeros, no exponent)."""
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.normalize():f}"


def _weight_stored(value: Decimal):
    """A weight as stored in the scorecard: a whole number as a JSON number, any other as its
    decimal text (never a float)."""
    return int(value) if value == value.to_integral_value() else _plain(value)


def criterion_weight(criterion: dict) -> Decimal:
    return Decimal(str(criterion["weight"]))


# --- the scorecard ----------------------------------------------------------------------------

def scorecard_for(*, call) -> Scorecard:
    """The call's scorecard, made with the default criteria on first use."""
    with transaction.atomic():
        scorecard, _created = Scorecard.objects.get_or_create(
            call=call, defaults={"criteria": copy.deepcopy(DEFAULT_CRITERIA)})
    return scorecard


def _criteria_clean(criteria) -> list[dict]:
    if not isinstance(criteria, list) or not criteria:
        raise invalid({"criteria": [_("Give at least one criterion.")]})
    errors: dict[str, list[str]] = {}
    cleaned, seen = [], set()
    for index, criterion in enumerate(criteria):
        at = f"criteria.{index}"
        if not isinstance(criterion, dict):
            errors[at] = [_("Give the criterion's code, labels, weight and maximum score.")]
            continue
        code = criterion.get("code")
        if not (isinstance(code, str) and _SLUG.fullmatch(code) and len(code) <= 64):
            errors[f"{at}.code"] = [_(
                "Use letters, digits, hyphens and underscores only (at most 64).")]
        elif code in seen:
            errors[f"{at}.code"] = [_("Each criterion needs its own code.")]
        else:
            seen.add(code)
        labels = criterion.get("labels")
        if not (isinstance(labels, dict) and all(
                isinstance(labels.get(lang), str) and labels[lang].strip()
                for lang in LANGUAGE_CODES)):
            errors[f"{at}.labels"] = [_(
                "Give the label in Simplified Chinese, Traditional Chinese and English.")]
        weight = _number(criterion.get("weight"))
        if weight is None or not (0 < weight <= MAX_WEIGHT) or not _has_places(
                weight, Decimal("0.0001")):
            errors[f"{at}.weight"] = [_(
                "Enter a number greater than 0 (at most %(max)d, with at most 4 decimal "
                "places).") % {"max": MAX_WEIGHT}]
        max_score = criterion.get("max_score")
        if isinstance(max_score, bool) or not isinstance(max_score, int) or not (
                1 <= max_score <= MAX_SCORE_LIMIT):
            errors[f"{at}.max_score"] = [_("Enter a whole number from 1 to %(max)d.") % {
                "max": MAX_SCORE_LIMIT}]
        if not any(key.startswith(at) for key in errors):
            cleaned.append({"code": code, "weight": _weight_stored(weight),
                            "max_score": max_score,
                            "labels": {lang: labels[lang].strip() for lang in LANGUAGE_CODES}})
    if errors:
        raise invalid(errors)
    return cleaned


def scorecard_set(*, by, call, criteria: list[dict]) -> Scorecard:
    """Set the call's criteria; refused once any review of the call is submitted (the scores
    already given were given against the old criteria)."""
    require_staff(by)
    cleaned = _criteria_clean(criteria)
    with transaction.atomic():
        scorecard_for(call=call)
        # Submissions lock the same row, so no score is given against criteria being replaced.
        scorecard = Scorecard.objects.select_for_update().get(call=call)
        if Review.objects.filter(application__call=call, state=ReviewState.SUBMITTED).exists():
            raise DomainError("scoring_started", _(
                "Reviewers have already submitted scores for this call: its criteria can no "
                "longer change."), status=409)
        scorecard.criteria = cleaned
        scorecard.save(update_fields=["criteria", "updated_at"])
        audit(action="scorecard_set", by=by, call=call,
              data={"criteria": [c["code"] for c in cleaned]})
    return scorecard


# --- a reviewer's scores ----------------------------------------------------------------------

def weighted_total(criteria: list[dict], scores: dict[str, Decimal]) -> Decimal:
    """sum(weight × score / max score) / sum(weight) × 100, rounded half-up to 0.01 at the end:
    a total on a scale of 0 to 100 whatever the weights add up to."""
    weights = sum((criterion_weight(c) for c in criteria), Decimal(0))
    weighted = sum((criterion_weight(c) * scores[c["code"]] / Decimal(c["max_score"])
                    for c in criteria), Decimal(0))
    return (weighted / weights * 100).quantize(SCORE_PLACES, rounding=ROUND_HALF_UP)


def _scores_clean(criteria, scores, comment, comments) -> tuple[dict, dict]:
    errors: dict[str, list[str]] = {}
    if not isinstance(scores, dict):
        raise invalid({"scores": [_("Give a score for each criterion.")]})
    if comments is None:
        comments = {}
    if not isinstance(comments, dict) or not all(
            isinstance(k, str) and isinstance(v, str | type(None)) for k, v in comments.items()):
        raise invalid({"comments": [_("Give each criterion's comment as text.")]})
    known = {c["code"] for c in criteria}
    unknown = sorted(str(key) for key in scores if key not in known)
    if unknown:
        errors["scores"] = [_("These are not criteria of this call: %(codes)s.") % {
            "codes": ", ".join(unknown)}]
    unknown_comments = sorted(key for key in comments if key not in known)
    if unknown_comments:
        errors["comments"] = [_("These are not criteria of this call: %(codes)s.") % {
            "codes": ", ".join(unknown_comments)}]
    general = comment.strip()
    values: dict[str, Decimal] = {}
    for criterion in criteria:
        code, max_score = criterion["code"], criterion["max_score"]
        if code not in scores:
            errors[f"scores.{code}"] = [_("Score this criterion.")]
            continue
        value = _number(scores[code])
        if value is None or not (0 <= value <= max_score) or not _has_places(
                value, SCORE_PLACES):
            errors[f"scores.{code}"] = [_(
                "Enter a number from 0 to %(max)d, with at most 2 decimal places.") % {
                "max": max_score}]
            continue
        values[code] = value
        # A low score is explained to staff (and, through them, to the company).
        if value * 2 < max_score and not (comments.get(code) or "").strip() and not general:
            errors[f"comments.{code}"] = [_(
                "A score below half of %(max)d needs a comment.") % {"max": max_score}]
    if errors:
        raise invalid(errors)
    kept = {code: text.strip() for code, text in comments.items() if text and text.strip()}
    return values, kept


def _recommended_clean(raw, version) -> Decimal | None:
    if raw is None or raw == "":
        return None
    if version.award_kind != AwardKind.UP_TO_CAP:
        raise invalid({"recommended_amount": [_(
            "A recommended amount is only given for measures awarded up to a cap.")]})
    try:
        amount = parse_money(raw)
    except ValueError:
        raise invalid({"recommended_amount": [_(
            "Enter an amount in yuan, such as 1500000.00.")]}) from None
    if amount <= 0:
        raise invalid({"recommended_amount": [_("Enter an amount greater than 0.")]})
    if version.per_award_cap is not None and amount > version.per_award_cap:
        raise invalid({"recommended_amount": [_(
            "The measure awards at most %(cap)s yuan per project.") % {
            "cap": f"{version.per_award_cap:f}"}]})
    return amount


def review_submit(*, by, review: Review, scores: dict, comment: str = "",
                  comments: dict | None = None, recommended_amount=None) -> Review:
    """The assigned reviewer's scores, once: every criterion of the call's scorecard, a comment
    for any score below half, and for a measure awarded up to a cap an optional recommended
    amount. The last review in closes the application's expert review (`reviewed`)."""
    with transaction.atomic():
        # The application first (as every service of the back office locks it), so that of two
        # last reviews submitted at once, the second sees the first and closes the review.
        application = Application.objects.select_for_update(of=("self",)).select_related(
            "call__measure", "company", "measure_version").filter(
            pk=review.application_id).first()
        locked = Review.objects.select_for_update().filter(pk=review.pk).first()
        if application is None or locked is None or by is None or locked.reviewer_id != by.pk \
                or selectors.is_conflicted(reviewer=by, company=application.company):
            raise not_found()
        if locked.state != ReviewState.ASSIGNED or application.status != Status.IN_REVIEW:
            raise DomainError("invalid_transition", _(
                "This review can no longer be submitted."), status=409)
        if not isinstance(comment, str):
            raise invalid({"comment": [_("Enter the comment as text.")]})
        scorecard_for(call=application.call)
        criteria = Scorecard.objects.select_for_update().get(call=application.call).criteria
        values, kept = _scores_clean(criteria, scores, comment, comments)
        amount = _recommended_clean(recommended_amount, application.measure_version)
        locked.scores = {code: _plain(value) for code, value in values.items()}
        locked.comments = kept
        locked.comment = comment.strip()
        locked.recommended_amount = amount
        locked.total = weighted_total(criteria, values)
        locked.state = ReviewState.SUBMITTED
        locked.submitted_at = timezone.now()
        locked.save(update_fields=["scores", "comments", "comment", "recommended_amount",
                                   "total", "state", "submitted_at"])
        audit(action="review_submitted", by=by, application=application, data={
            "review": locked.pk, "total": f"{locked.total:f}",
            "recommended_amount": None if amount is None else f"{amount:f}"})
        review_complete(application=application)
    return locked


# --- the aggregate ----------------------------------------------------------------------------

def assessment_compute(*, application) -> Assessment | None:
    """The aggregate of the application's submitted reviews: their mean total or, when the call
    says so and there are 5 or more, the mean without one highest and one lowest; the
    reviewers' recommended amounts are averaged. None (and no stale aggregate kept) before any
    review is in."""
    with transaction.atomic():
        rows = list(Review.objects.filter(
            application=application, state=ReviewState.SUBMITTED, total__isnull=False,
        ).values_list("total", "recommended_amount"))
        if not rows:
            Assessment.objects.filter(application=application).delete()
            return None
        totals = sorted(total for total, _amount in rows)
        trimmed = bool(application.call.trimmed_mean) and len(totals) >= 5
        if trimmed:
            totals = totals[1:-1]
        score = (sum(totals, Decimal(0)) / len(totals)).quantize(
            SCORE_PLACES, rounding=ROUND_HALF_UP)
        amounts = [amount for _total, amount in rows if amount is not None]
        recommended = round_money(sum(amounts, Decimal(0)) / len(amounts)) if amounts else None
        assessment, _created = Assessment.objects.update_or_create(
            application=application, defaults={
                "score": score, "reviews_count": len(rows), "trimmed": trimmed,
                "recommended_amount": recommended, "computed_at": timezone.now()})
    return assessment


def review_complete(*, application) -> Application:
    """Recompute the aggregate and, when no review of the application is still to be scored and
    at least one is in, close its expert review (`in_review` → `reviewed`). Call with the
    application locked, inside the caller's transaction."""
    assessment_compute(application=application)
    reviews = Review.objects.filter(application=application)
    if application.status == Status.IN_REVIEW and not reviews.filter(
            state=ReviewState.ASSIGNED).exists() and reviews.filter(
            state=ReviewState.SUBMITTED).exists():
        # No person is named: the company reads this history, and reviewers stay anonymous.
        return application_transition(application=application, to=Status.REVIEWED, by=None,
                                      role=SYSTEM, reason=_("Every expert review is in."))
    return application


__all__ = ["DEFAULT_CRITERIA", "assessment_compute", "criterion_weight",
           "review_complete", "review_submit", "scorecard_for", "scorecard_set",
           "weighted_total"]
