"""The back office's REST API (API.md). Each module adds its viewsets to the site's router."""


def register(router) -> None:
    from reviews.api import batches, decisions, reviewing

    reviewing.register(router)
    decisions.register(router)
    batches.register(router)
