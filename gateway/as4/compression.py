"""gzip both ways; decompression is streamed with a hard cap so a zip bomb costs nothing."""

from __future__ import annotations

import gzip
import zlib


class DecompressionError(Exception):
    """Not gzip, truncated, or bigger than allowed once decompressed (``too_large``)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def gzip_bytes(data: bytes) -> bytes:
    # mtime=0 keeps output deterministic (same input -> same digest on a retry).
    return gzip.compress(data, compresslevel=6, mtime=0)


def gunzip_capped(data: bytes, max_size: int, chunk: int = 64 * 1024) -> bytes:
    """Decompress one gzip member, never producing more than ``max_size`` bytes."""
    if data[:2] != b"\x1f\x8b":
        raise DecompressionError("payload is not gzip data")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = data
    try:
        while pending:
            room = max_size + 1 - len(out)
            piece = inflater.decompress(pending, min(chunk, room))
            out += piece
            if len(out) > max_size:
                raise DecompressionError(
                    f"payload decompresses to more than {max_size} bytes", too_large=True
                )
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
            if not piece and not pending:
                break
    except zlib.error as exc:
        raise DecompressionError(f"payload is not valid gzip: {exc}") from exc
    if not inflater.eof:
        raise DecompressionError("gzip stream is truncated")
    return bytes(out)
