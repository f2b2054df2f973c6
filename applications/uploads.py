"""Uploaded documents: recognised by content, limited in size, stored outside served folders."""

import hashlib
import re
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.files.storage import FileSystemStorage

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # 20 MB per document (company portal issue)


@dataclass(frozen=True)
class FileType:
    extension: str
    content_type: str


PDF = FileType("pdf", "application/pdf")
JPEG = FileType("jpg", "image/jpeg")
PNG = FileType("png", "image/png")
DOCX = FileType("docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
XLSX = FileType("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
ALLOWED = (PDF, JPEG, PNG, DOCX, XLSX)


def sniff(upload) -> FileType | None:
    """The type of an uploaded file judged by its bytes, never by its name; None if not allowed."""
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(upload) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        finally:
            upload.seek(0)
        if "[Content_Types].xml" in names and "word/document.xml" in names:
            return DOCX
        if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
            return XLSX
    return None


_UNSAFE = re.compile(r"[^\w.\- ()\u3000-\u30ff\u4e00-\u9fff]+")


def sanitize_name(name: str, file_type: FileType) -> str:
    """A display name without paths, control or shell characters, ending in the true extension."""
    base = PurePath(str(name).replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base)
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = _UNSAFE.sub("_", stem).strip(" ._")[:120] or "document"
    return f"{stem}.{file_type.extension}"


def digest(upload) -> str:
    upload.seek(0)
    sha = hashlib.sha256()
    for chunk in upload.chunks():
        sha.update(chunk)
    upload.seek(0)
    return sha.hexdigest()


def new_stored_name(file_type: FileType) -> str:
    return f"{uuid.uuid4().hex}.{file_type.extension}"


def private_storage() -> FileSystemStorage:
    """Where documents live: PRIVATE_STORAGE_ROOT, which no URL serves; only our views read it."""
    return FileSystemStorage(location=settings.PRIVATE_STORAGE_ROOT, base_url=None)
