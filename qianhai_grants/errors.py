"""The one domain error type: services raise it, the API and views turn it into answers."""

from django.utils.functional import Promise


class DomainError(Exception):
    """A business rule refused an action. `code` is stable and machine-readable.

    `status` is the HTTP status the API answers with (409 the state forbids it, 400 bad input,
    403 not yours, 404 not visible). `fields` maps input names to messages.
    """

    def __init__(self, code: str, message: str | Promise = "", *, status: int = 409,
                 fields: dict | None = None):
        self.code = code
        self.message = message or code
        self.status = status
        self.fields = fields or {}
        super().__init__(str(self.message))
