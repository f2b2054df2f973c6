"""Uploaded documents: recognised by content, limited in size, stored outside served folders."""

import hashlib
import os
import re
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
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
        return _sniff_ooxml(upload)
    return None


# Macro-enabled Office files (.docm, .xlsm) carry code: refused even when they look like OOXML.
_MACRO_MARKERS = (b"macroenabled", b"vbaproject")
_CONTENT_TYPES_READ_LIMIT = 256 * 1024  # [Content_Types].xml is a few KB; never inflate more


def _sniff_ooxml(upload) -> FileType | None:
    try:
        with zipfile.ZipFile(upload) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" not in names:
                return None
            with archive.open("[Content_Types].xml") as member:
                content_types = member.read(_CONTENT_TYPES_READ_LIMIT).lower()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            NotImplementedError, RuntimeError):
        return None
    finally:
        upload.seek(0)
    if any(marker in content_types for marker in _MACRO_MARKERS) or any(
            name.lower().endswith("vbaproject.bin") for name in names):
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


# Kept: letters and digits of every script, CJK punctuation (、。《》【】) and the full-width
# brackets and comma Chinese file names are full of; everything else becomes "_".
_UNSAFE = re.compile(r"[^\w.\- ()\u3000-\u30ff\u4e00-\u9fff\uff08\uff09\uff0c]+")


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
    """Where documents live: PRIVATE_STORAGE_ROOT, which no URL serves; only our views read it.

    Refuses a configuration that puts it inside STATIC_ROOT or MEDIA_ROOT, where the web server
    or whitenoise would hand the documents to anyone who guesses a name.
    """
    root = PurePath(_resolved(settings.PRIVATE_STORAGE_ROOT))
    for setting in ("STATIC_ROOT", "MEDIA_ROOT"):
        served = getattr(settings, setting, None)
        if served and (root == PurePath(_resolved(served)) or
                       PurePath(_resolved(served)) in root.parents):
            raise ImproperlyConfigured(f"PRIVATE_STORAGE_ROOT must not be inside {setting}.")
    return FileSystemStorage(location=str(root), base_url=None)


def _resolved(path) -> str:
    return os.path.realpath(os.fspath(path))
