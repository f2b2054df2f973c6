"""The company portal's API (being built: see applications/services.py for the rules)."""


def register(router) -> None:
    """Add this app's viewsets to the API router."""
