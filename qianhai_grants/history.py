"""Row history by database triggers (django-pghistory): every insert, update and delete of a
tracked table is copied into its event table by PostgreSQL itself, so even a bulk update made
outside the services is seen. On SQLite (the embedded default) no triggers are installed."""

import pghistory
from django.db import connection
from pghistory.middleware import HistoryMiddleware as _PgHistoryMiddleware


def tracked():
    """The decorator for a model whose rows keep their history."""
    return pghistory.track(
        pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(),
        obj_field=pghistory.ObjForeignKey(related_name="history", related_query_name="history"),
    )


class HistoryMiddleware(_PgHistoryMiddleware):
    """pghistory's middleware (who changed a row, from which page), on PostgreSQL only: it adds
    its context to SQL statements, which SQLite's driver cannot run, and SQLite has no triggers
    to read it anyway."""

    def __call__(self, request):
        if connection.vendor != "postgresql":
            return self.get_response(request)
        return super().__call__(request)
