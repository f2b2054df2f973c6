"""The one table of allowed status changes: (from, to, role) triples are data (DESIGN rule 3).

Roles: `company` (an owner or editor of the applicant), `staff` (an Authority officer) and
`system` (a job or a service acting on the outcome of another step, e.g. the last review in).
"""

from applications.models import Status as S

COMPANY = "company"
STAFF = "staff"
SYSTEM = "system"

# The company may withdraw until the award is final (API.md: `withdrawn`, by the company); a
# proposed award it gives up frees its quota slot for the reserve list.
_WITHDRAWABLE = (S.DRAFT, S.SUBMITTED, S.RETURNED, S.ACCEPTED, S.IN_REVIEW, S.REVIEWED,
                 S.RESERVE, S.PROPOSED, S.IN_PUBLICITY)

TRANSITIONS: frozenset[tuple[str, str, str]] = frozenset({
    (S.DRAFT, S.SUBMITTED, COMPANY),
    (S.RETURNED, S.SUBMITTED, COMPANY),
    # formal screening (形式審查)
    (S.SUBMITTED, S.ACCEPTED, STAFF),
    (S.SUBMITTED, S.RETURNED, STAFF),
    (S.SUBMITTED, S.REJECTED, STAFF),
    # expert review
    (S.ACCEPTED, S.IN_REVIEW, STAFF),
    (S.ACCEPTED, S.IN_REVIEW, SYSTEM),
    (S.IN_REVIEW, S.REVIEWED, SYSTEM),
    (S.IN_REVIEW, S.REVIEWED, STAFF),
    # decision within quota
    (S.REVIEWED, S.PROPOSED, STAFF),
    (S.REVIEWED, S.RESERVE, STAFF),
    (S.REVIEWED, S.DECLINED, STAFF),
    (S.RESERVE, S.PROPOSED, STAFF),
    (S.RESERVE, S.DECLINED, STAFF),
    # public notice (公示) and its outcome
    (S.PROPOSED, S.IN_PUBLICITY, STAFF),
    (S.IN_PUBLICITY, S.AWARDED, STAFF),
    (S.IN_PUBLICITY, S.AWARDED, SYSTEM),  # the beat scan, when the period ended unopposed
    (S.IN_PUBLICITY, S.REJECTED, STAFF),
    *((status, S.WITHDRAWN, COMPANY) for status in _WITHDRAWABLE),
})


def allowed(from_status: str, to_status: str, role: str) -> bool:
    return (from_status, to_status, role) in TRANSITIONS


def next_statuses(from_status: str, role: str) -> list[str]:
    return sorted(to for (frm, to, r) in TRANSITIONS if frm == from_status and r == role)
