"""The notification centre page: one's own in-app notices (DESIGN rules 1 and 6)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from notices import selectors, services
from qianhai_grants.errors import DomainError

PAGE_SIZE = 20


def _local_target(request, url: str) -> str | None:
    """Where a notice's link leads on this site: its path when it points at SITE_URL or at an
    allowed host, else None (a stored link is never an open redirect)."""
    base = getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    if url.startswith(base + "/"):
        return url[len(base):]
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return None


@login_required
@require_GET
def notifications(request):
    page = Paginator(selectors.notifications_of(request.user), PAGE_SIZE).get_page(
        request.GET.get("page"))
    return render(request, "notices/notification_list.html", {
        "page": page, "unread": selectors.unread_count(request.user)})


@login_required
@require_GET
def notification_open(request, pk: int):
    """Opening a notice marks it read and follows its link (or comes back to the list)."""
    try:
        notice = services.notice_mark_read(user=request.user, notice_id=pk)
    except DomainError:
        raise Http404 from None
    return redirect(_local_target(request, notice.url) or "notifications")


@login_required
@require_POST
def notifications_read_all(request):
    count = services.notices_mark_all_read(user=request.user)
    if count:
        messages.success(request, ngettext("%(count)d notification marked as read.",
                                           "%(count)d notifications marked as read.",
                                           count) % {"count": count})
    else:
        messages.info(request, _("Nothing was unread."))
    return redirect("notifications")
