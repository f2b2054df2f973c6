"""Who may download which PDF (DESIGN rule 6): the decision letter of an award and the list of a
公示. Built on the back office's own selectors, so a letter is never visible to someone who could
not see its award through the awards API.

Decision letters:
- staff and management: every award. A letter of an award that is not final yet (proposed or in
  公示) is marked as a draft; one of a released award (an objection upheld) is marked void. Both
  are kept readable for the record, like the award itself on the office's pages.
- members of the awarded company: their own awards once final (the 公示 finalized: `awarded`,
  `awarded_at` set, never released). Before that the decision is not yet the Authority's final
  word, and a released award no longer holds: both answer 404.
- reviewers, other companies and everyone else: 404 (the API: 401 when not logged in).

公示 lists: public, like /publicity/ (every notice, open or past), for anyone.
"""

from django.db.models import QuerySet

from applications.models import Status
from applications.selectors import reads_everything
from reviews.models import Award, Publicity
from reviews.selectors_office import awards_visible_to, publicity_public

# What a letter says about its award.
FINAL, DRAFT, VOID = "final", "draft", "void"


def award_letters_visible_to(user) -> QuerySet[Award]:
    awards = awards_visible_to(user)
    if reads_everything(user):
        return awards
    return awards.filter(application__status=Status.AWARDED, awarded_at__isnull=False,
                         released_at__isnull=True)


def letter_state(award: Award) -> str:
    """`final` once the 公示 is finalized, `void` once released, else `draft`."""
    if award.released_at is not None:
        return VOID
    if award.awarded_at is not None and award.application.status == Status.AWARDED:
        return FINAL
    return DRAFT


def award_publicity(award: Award) -> Publicity | None:
    """The 公示 the award was published in (the latest, should a call have had several)."""
    return (Publicity.objects.filter(entries__application_id=award.application_id)
            .order_by("-opened_at", "-pk").first())


def publicity_lists_visible_to(user) -> QuerySet[Publicity]:
    """The same notices as the public pages show: all of them, to anyone."""
    return publicity_public()
