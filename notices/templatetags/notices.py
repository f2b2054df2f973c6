"""`{% load notices %}{% unread_count as n %}`: the user's unread in-app notices, one COUNT query
(for the nav badge; there is no context processor, so pages that do not show it pay nothing)."""

from django import template

from notices import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_count(context) -> int:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None:
        return 0
    return selectors.unread_count(user)
