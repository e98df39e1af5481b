"""SOAP with Attachments: a small, strict multipart/related codec.

Why not the ``email`` package: it is slow for large binary parts, normalises line endings in
ways that break digests if misused, and is lenient where we want clear refusals. An AS4
message is simple: one SOAP part, then binary attachments identified by Content-ID.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field

SOAP_CONTENT_TYPE = "application/soap+xml"


class MimeError(Exception):
    """The request is not a usable multipart/related SOAP message."""


@dataclass
class Part:
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def content_id(self) -> str:
        return self.headers.get("content-id", "").strip().strip("<>")


@dataclass
class MimeMessage:
    soap: bytes
    attachments: dict[str, Part] = field(default_factory=dict)


_PARAM = re.compile(r';\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"([^"]*)"|([^;\s]*))')


def content_type_params(value: str) -> tuple[str, dict[str, str]]:
    main = value.split(";", 1)[0].strip().lower()
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(value)
    }
    return main, params


def build(soap: bytes, attachments: list[tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """``attachments`` = [(content_id, bytes, content_type)]. Returns (body, Content-Type header)."""
    boundary = "----=_Part_" + os.urandom(12).hex()
    b = boundary.encode()
    chunks = [
        b"--" + b + b"\r\n",
        b"Content-Type: application/soap+xml; charset=UTF-8\r\n",
        b"Content-Transfer-Encoding: binary\r\n\r\n",
        soap,
    ]
    for cid, data, ctype in attachments:
        chunks += [
            b"\r\n--" + b + b"\r\n",
            f"Content-Type: {ctype}\r\n".encode(),
            b"Content-Transfer-Encoding: binary\r\n",
            f"Content-ID: <{cid}>\r\n\r\n".encode(),
            data,
        ]
    chunks.append(b"\r\n--" + b + b"--\r\n")
    content_type = (
        f'multipart/related; boundary="{boundary}"; type="{SOAP_CONTENT_TYPE}"; '
        f'start-info="{SOAP_CONTENT_TYPE}"'
    )
    return b"".join(chunks), content_type


def _parse_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    last = ""
    for line in raw.decode("latin-1").split("\r\n" if "\r\n" in raw.decode("latin-1") else "\n"):
        if not line:
            continue
        if line[0] in " \t" and last:
            headers[last] += " " + line.strip()
            continue
        if ":" not in line:
            raise MimeError(f"malformed MIME header line: {line[:60]!r}")
        name, value = line.split(":", 1)
        last = name.strip().lower()
        headers[last] = value.strip()
    return headers


def _decode(part: Part) -> Part:
    cte = part.headers.get("content-transfer-encoding", "binary").strip().lower()
    if cte in ("binary", "8bit", "7bit", ""):
        return part
    if cte == "base64":
        try:
            return Part(part.headers, base64.b64decode(part.body, validate=False))
        except binascii.Error as exc:
            raise MimeError("attachment is not valid base64") from exc
    raise MimeError(f"unsupported Content-Transfer-Encoding {cte!r}")


def parse(body: bytes, content_type: str) -> MimeMessage:
    """Split a request into its SOAP part and attachments (keyed by Content-ID)."""
    main, params = content_type_params(content_type)
    if main == SOAP_CONTENT_TYPE:
        return MimeMessage(soap=body)
    if main != "multipart/related":
        raise MimeError(f"expected multipart/related, got {main or 'no content type'}")
    boundary = params.get("boundary")
    if not boundary:
        raise MimeError("multipart/related without a boundary")
    delim = b"--" + boundary.encode("latin-1")
    pieces = body.split(delim)
    if len(pieces) < 3:
        raise MimeError("multipart body has no parts")
    parts: list[Part] = []
    closed = False
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            closed = True
            break
        if piece.startswith(b"\r\n"):
            piece = piece[2:]
        elif piece.startswith(b"\n"):
            piece = piece[1:]
        sep = piece.find(b"\r\n\r\n")
        skip = 4
        if sep < 0:
            sep, skip = piece.find(b"\n\n"), 2
        if sep < 0:
            raise MimeError("MIME part without a header/body separator")
        content = piece[sep + skip :]
        # The CRLF before the next delimiter belongs to the delimiter.
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        parts.append(_decode(Part(_parse_headers(piece[:sep]), content)))
    if not closed:
        raise MimeError("multipart body is not terminated")
    start = params.get("start", "").strip("<>")
    soap_part = next((p for p in parts if start and p.content_id == start), None) or parts[0]
    if soap_part.content_type != SOAP_CONTENT_TYPE:
        raise MimeError(f"first MIME part is {soap_part.content_type or 'untyped'}, not SOAP")
    attachments: dict[str, Part] = {}
    for part in parts:
        if part is soap_part:
            continue
        if not part.content_id:
            raise MimeError("attachment without Content-ID")
        if part.content_id in attachments:
            raise MimeError(f"duplicate Content-ID {part.content_id}")
        attachments[part.content_id] = part
    return MimeMessage(soap=soap_part.body, attachments=attachments)
