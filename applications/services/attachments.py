"""Documents attached to an application."""


from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from applications import uploads
from applications.models import (
    Application,
    Attachment,
)
from applications.services._common import _invalid, _require_editor
from applications.services.drafts import _version_for
from qianhai_grants.errors import DomainError


def _not_editable_documents() -> DomainError:
    return DomainError("invalid_transition", _(
        "Documents can be changed only while the application is a draft or returned."),
        status=409)


def attachment_add(*, by, application: Application, kind: str, upload) -> Attachment:
    """Attach a document: refused unless its bytes are PDF, JPEG, PNG, DOCX or XLSX, at most
    20 MB. Stored under a random name outside every served folder."""
    _require_editor(by, application.company)
    if not application.is_editable:
        raise _not_editable_documents()
    kinds = {d["kind"] for d in _version_for(application).documents}
    errors = {}
    if not isinstance(kind, str) or kind not in kinds:
        errors["kind"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(sorted(kinds))}]
    size = getattr(upload, "size", None)
    if upload is None:
        errors["file"] = [_("Choose a file.")]
    elif size is None or size > uploads.MAX_UPLOAD_BYTES:
        errors["file"] = [_("The file is larger than 20 MB.")]
    elif size == 0:
        errors["file"] = [_("The file is empty.")]
    file_type = None if errors.get("file") else uploads.sniff(upload)
    if not errors.get("file") and file_type is None:
        errors["file"] = [_("Only PDF, JPEG, PNG, DOCX and XLSX files are accepted; this file's "
                            "content is none of them.")]
    if errors:
        raise _invalid(errors)
    sha256 = uploads.digest(upload)
    storage = uploads.private_storage()
    stored = None
    try:
        with transaction.atomic():
            # Locked, so a document cannot slip in while the application is being submitted.
            locked = Application.objects.select_for_update().get(pk=application.pk)
            if not locked.is_editable:
                raise _not_editable_documents()
            stored = storage.save(uploads.new_stored_name(file_type), upload)
            return Attachment.objects.create(
                application=locked, kind=kind,
                original_name=uploads.sanitize_name(getattr(upload, "name", None) or "",
                                                    file_type),
                stored_name=stored, content_type=file_type.content_type, size=size,
                sha256=sha256, uploaded_by=by)
    except BaseException:
        if stored is not None:
            storage.delete(stored)  # nothing half-written: no file without its row
        raise


def attachment_remove(*, by, attachment: Attachment) -> None:
    _require_editor(by, attachment.application.company)
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=attachment.application_id)
        if not locked.is_editable:
            raise _not_editable_documents()
        Attachment.objects.filter(pk=attachment.pk, removed_at__isnull=True).update(
            removed_at=timezone.now())
