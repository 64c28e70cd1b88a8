"""What an upload is made of: a zip as the provider delivers it, or one JSON file. Checked before
anything is read: the kind of file (by its first bytes), and for a zip its entries' paths and
the size they would expand to (a zip bomb is refused from its central directory; the sizes it
declares are the most ``zipfile`` will ever produce)."""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import IO

from django.conf import settings

from musicbud.errors import InvalidInput, MusicbudError

HEAD_BYTES = 512
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
UTF8_BOM = b"\xef\xbb\xbf"
JSON_STARTS = (b"[", b"{")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


class UploadUnsupported(MusicbudError):
    code = "upload_unsupported"
    status_code = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class UploadTooLarge(MusicbudError):
    code = "upload_too_large"
    status_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class ZipBomb(InvalidInput):
    code = "zip_too_large"


class ZipEntryPath(InvalidInput):
    code = "zip_entry_path"


def json_start(head: bytes) -> bool:
    """Whether these first bytes begin a JSON array or object (after a BOM and whitespace)."""
    body = head.removeprefix(UTF8_BOM).lstrip(b" \t\r\n")
    return body[:1] in JSON_STARTS


def upload_kind(head: bytes) -> str:
    """``"zip"`` or ``"json"`` from the upload's first bytes; anything else is a 415."""
    if head[:4] in ZIP_MAGIC:
        return "zip"
    if json_start(head):
        return "json"
    raise UploadUnsupported("Upload a .zip as the service delivers it, or one of its .json files.")


def _bad_path(name: str) -> bool:
    if name.startswith(("/", "\\")) or _WINDOWS_DRIVE.match(name):
        return True
    return ".." in re.split(r"[\\/]", name)


def zip_check(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The files of the zip (directories left out), once every entry passed: a plain relative
    path, at most ``IMPORT_MAX_ZIP_ENTRIES`` of them, expanding to at most
    ``IMPORT_MAX_EXPANDED_BYTES`` in all, none more than ``IMPORT_MAX_COMPRESSION_RATIO``
    times its compressed size."""
    entries = archive.infolist()
    if len(entries) > settings.IMPORT_MAX_ZIP_ENTRIES:
        raise ZipBomb(f"The zip holds more than {settings.IMPORT_MAX_ZIP_ENTRIES} entries.")
    total = 0
    files = []
    for info in entries:
        if _bad_path(info.filename):
            raise ZipEntryPath(
                f"The zip entry {info.filename!r} has an absolute path or a '..' segment."
            )
        if info.is_dir():
            continue
        total += info.file_size
        ratio_limit = settings.IMPORT_MAX_COMPRESSION_RATIO
        if info.file_size > max(info.compress_size, 1) * ratio_limit and info.file_size > 1024:
            raise ZipBomb(
                f"The zip entry {info.filename!r} expands more than {ratio_limit} times: "
                "refused as a zip bomb."
            )
        files.append(info)
    if total > settings.IMPORT_MAX_EXPANDED_BYTES:
        raise ZipBomb(
            f"The zip would expand to {total} bytes, over the limit of "
            f"{settings.IMPORT_MAX_EXPANDED_BYTES}."
        )
    return files


@dataclass(frozen=True, slots=True)
class Upload:
    """The parts of an upload, each openable as a binary stream: a zip's files, or the one
    JSON file (named ``name``)."""

    file: IO[bytes]
    name: str
    kind: str

    @contextmanager
    def opened(self) -> Iterator[UploadParts]:
        if self.kind == "json":
            yield UploadParts(self.file, None, [self.name])
            return
        self.file.seek(0)
        try:
            archive = zipfile.ZipFile(self.file)
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise UploadUnsupported(f"The zip cannot be read: {exc}.") from None
        with archive:
            files = zip_check(archive)
            yield UploadParts(self.file, archive, [info.filename for info in files])


@dataclass(frozen=True, slots=True)
class UploadParts:
    file: IO[bytes]
    archive: zipfile.ZipFile | None
    names: list[str]

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self.archive is None:
            self.file.seek(0)
            yield self.file
            return
        try:
            with self.archive.open(name) as part:
                yield part
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            NotImplementedError,
            RuntimeError,  # an encrypted entry
            EOFError,
            zlib.error,
        ) as exc:
            raise UploadUnsupported(f"The zip entry {name!r} cannot be read: {exc}.") from None


def display_name(name: str) -> str:
    """A part's name as error messages give it (its path inside the zip)."""
    return posixpath.normpath(name.replace("\\", "/"))
