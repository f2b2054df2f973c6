"""Uploaded documents are recognised by their bytes, never by their names."""

import io
import struct
import zipfile
import zlib

import pytest
import xlsxwriter
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile

from applications import uploads
from tests.factories import tiny_pdf

# A complete baseline JPEG of one grey pixel (JFIF, quantisation and Huffman tables, scan).
JPEG_1PX = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b"
    "0b0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e3334"
    "32ffc0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708"
    "090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114"
    "328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748"
    "494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999a"
    "a2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7"
    "e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbfcffd9")


def png_1px() -> bytes:
    """A valid PNG: signature, IHDR, one IDAT row, IEND, each chunk with its CRC."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))


def zip_of(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


CONTENT_TYPES_DOCX = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
    '+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>')
RELS_DOCX = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>')
DOCUMENT_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    '<w:body><w:p><w:r><w:t>前海人工智能示范项目建设报告</w:t></w:r></w:p></w:body></w:document>')


def docx_bytes() -> bytes:
    return zip_of({"[Content_Types].xml": CONTENT_TYPES_DOCX, "_rels/.rels": RELS_DOCX,
                   "word/document.xml": DOCUMENT_XML})


def docm_bytes() -> bytes:
    """A macro-enabled Word file: the same package plus a VBA project."""
    return zip_of({
        "[Content_Types].xml": CONTENT_TYPES_DOCX.replace(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
            "application/vnd.ms-word.document.macroEnabled.main+xml"),
        "_rels/.rels": RELS_DOCX, "word/document.xml": DOCUMENT_XML,
        "word/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro"})


def xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("投资")
    sheet.write_row(0, 0, ["项目", "金额"])
    sheet.write_row(1, 0, ["算力中心", 15000000])
    workbook.close()
    return buffer.getvalue()


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def upload(data: bytes, name: str = "file.bin") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


# ---------------------------------------------------------------- sniff

@pytest.mark.parametrize(("data", "name", "expected"), [
    (tiny_pdf(), "申请书.pdf", uploads.PDF),
    (JPEG_1PX, "photo.jpg", uploads.JPEG),
    (png_1px(), "scan.png", uploads.PNG),
    (docx_bytes(), "report.docx", uploads.DOCX),
    (xlsx_bytes(), "budget.xlsx", uploads.XLSX),
    # the name never decides: the true type is found under any name
    (tiny_pdf(), "report.docx", uploads.PDF),
    (png_1px(), "no-extension", uploads.PNG),
    (xlsx_bytes(), "budget.pdf", uploads.XLSX),
])
def test_sniff_recognises_real_files(data, name, expected):
    assert uploads.sniff(upload(data, name)) == expected


@pytest.mark.parametrize(("data", "name"), [
    (WINDOWS_EXE, "report.pdf"),                          # a renamed executable
    (ELF, "report.pdf"),
    (zip_of({"readme.txt": "hello"}), "report.docx"),     # a zip, but no Office document
    (zip_of({"[Content_Types].xml": "<Types/>"}), "x.xlsx"),
    (zip_of({"word/document.xml": DOCUMENT_XML}), "x.docx"),  # no [Content_Types].xml
    (docm_bytes(), "report.docx"),                        # macros
    (b"PK\x03\x04 not really a zip at all", "report.docx"),
    (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "report.pdf"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.png"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "logo.svg"),
    (b"GIF89a\x01\x00\x01\x00", "anim.gif"),
    (b"", "empty.pdf"),
    (b"%PD", "short.pdf"),
    (b" %PDF-1.4", "leading-space.pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.doc"),  # OLE2: legacy Office
])
def test_sniff_refuses_everything_else(data, name):
    assert uploads.sniff(upload(data, name)) is None


def test_sniff_leaves_the_file_at_its_start():
    for data in (tiny_pdf(), docx_bytes(), WINDOWS_EXE, b"PK\x03\x04broken"):
        file = upload(data)
        file.read(3)
        uploads.sniff(file)
        assert file.read() == data


# ---------------------------------------------------------------- names

@pytest.mark.parametrize(("name", "file_type", "expected"), [
    ("../../etc/passwd", uploads.PDF, "passwd.pdf"),
    ("..\\..\\windows\\system32\\cmd.exe", uploads.PDF, "cmd.pdf"),
    ("/var/www/html/shell.php", uploads.PNG, "shell.png"),
    ("C:\\Users\\me\\投资证明.pdf", uploads.PDF, "投资证明.pdf"),
    ("前海智算中心 审计报告（2024）.pdf", uploads.PDF, "前海智算中心 审计报告（2024）.pdf"),
    ("《投资报告》【终稿】，第2版.pdf", uploads.PDF, "《投资报告》【终稿】，第2版.pdf"),
    ("報告\u3000定稿.docx", uploads.DOCX, "報告\u3000定稿.docx"),
    ("report.pdf.exe", uploads.PDF, "report.pdf.pdf"),
    ("report.exe", uploads.PDF, "report.pdf"),
    ("budget.XLSX", uploads.XLSX, "budget.xlsx"),
    ("photo", uploads.JPEG, "photo.jpg"),
    ("evil\x00name.pdf", uploads.PDF, "evil_name.pdf"),
    ("line\r\nbreak\ttab.pdf", uploads.PDF, "line_break_tab.pdf"),
    ("rtl\u202egnp.pdf", uploads.PDF, "rtl_gnp.pdf"),
    ("a;b|c&d$(e)`f`.pdf", uploads.PDF, "a_b_c_d_(e)_f.pdf"),
    ("<script>.pdf", uploads.PDF, "script.pdf"),
    ("...", uploads.PDF, "document.pdf"),
    (".pdf", uploads.PDF, "document.pdf"),
    ("", uploads.PNG, "document.png"),
    ("../", uploads.PDF, "document.pdf"),
])
def test_sanitize_name(name, file_type, expected):
    assert uploads.sanitize_name(name, file_type) == expected


def test_sanitize_name_is_short_enough_for_its_column():
    name = uploads.sanitize_name("长" * 500 + ".pdf", uploads.PDF)
    assert name == "长" * 120 + ".pdf"


def test_sanitize_name_composes_decomposed_characters():
    assert uploads.sanitize_name("Cafe\u0301.pdf", uploads.PDF) == "Café.pdf"


# ---------------------------------------------------------------- digest, names, storage

def test_digest_is_sha256_of_the_bytes_and_rewinds():
    import hashlib

    file = upload(docx_bytes())
    assert uploads.digest(file) == hashlib.sha256(docx_bytes()).hexdigest()
    assert file.read() == docx_bytes()


def test_stored_names_are_random_with_the_true_extension():
    names = {uploads.new_stored_name(uploads.PDF) for _ in range(50)}
    assert len(names) == 50
    assert all(n.endswith(".pdf") and len(n) == 36 for n in names)


def test_private_storage_is_the_configured_root(settings, tmp_path):
    storage = uploads.private_storage()
    assert storage.location == str(settings.PRIVATE_STORAGE_ROOT)
    assert str(tmp_path) in storage.location  # the autouse fixture: never the repository


@pytest.mark.parametrize("setting", ["STATIC_ROOT", "MEDIA_ROOT"])
def test_private_storage_refuses_a_served_folder(settings, tmp_path, setting):
    served = tmp_path / "served"
    setattr(settings, setting, str(served))
    for inside in (served, served / "documents"):
        settings.PRIVATE_STORAGE_ROOT = str(inside)
        with pytest.raises(ImproperlyConfigured, match=setting):
            uploads.private_storage()


def test_private_storage_beside_a_served_folder_is_fine(settings, tmp_path):
    settings.STATIC_ROOT = str(tmp_path / "static")
    settings.MEDIA_ROOT = ""
    settings.PRIVATE_STORAGE_ROOT = str(tmp_path / "static-private")
    assert uploads.private_storage().location == str(tmp_path / "static-private")
