"""The text of a PDF written by fpdf2 with its core fonts, enough to assert what a DANFE says.

No PDF library is installed in the project (no pypdf, pdfminer): fpdf2 writes each page's content as
a Flate stream of text operators whose strings are WinAnsi (cp1252) bytes, so inflating the streams
and reading the `(...) Tj` / `[...] TJ` strings is exact for these documents. It is not a general
extractor (no embedded fonts, no CMaps).
"""

from __future__ import annotations

import re
import zlib

# The stream's bytes are read by its /Length, not up to "endstream": compressed data may end in a
# byte a pattern would take for the line break before "endstream" (a carriage return), which made the
# extraction lose a stream once in a few hundred renders.
_STREAM = re.compile(rb"/Filter /FlateDecode[^>]*?/Length (\d+)[^>]*>>\s*stream\r?\n", re.S)
_STREAM_LENGTH_FIRST = re.compile(rb"/Length (\d+)[^>]*?/Filter /FlateDecode[^>]*>>\s*stream\r?\n", re.S)
_STRING = rb"\((?:\\.|[^\\)])*\)"
_SHOW = re.compile(rb"(" + _STRING + rb")\s*Tj|\[((?:\s*(?:" + _STRING + rb"|-?[0-9.]+))*)\s*\]\s*TJ", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}


def _unescape(literal: bytes) -> bytes:
    body = literal[1:-1]

    def replace(match: re.Match[bytes]) -> bytes:
        escaped = match.group(1)
        if escaped[:1].isdigit():
            return bytes([int(escaped, 8)])
        return _ESCAPES.get(escaped, escaped)

    return re.sub(rb"\\([0-7]{1,3}|.)", replace, body, flags=re.S)


def _streams(pdf: bytes) -> list[bytes]:
    found = []
    for pattern in (_STREAM, _STREAM_LENGTH_FIRST):
        for match in pattern.finditer(pdf):
            found.append((match.start(), pdf[match.end() : match.end() + int(match.group(1))]))
    return [data for _, data in sorted(found)]


def pdf_text_lines(pdf: bytes) -> list[str]:
    """Every shown string, in content order, decoded from cp1252."""
    lines: list[str] = []
    for stream in _streams(pdf):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue  # images and fonts that are not text content
        for match in _SHOW.finditer(content):
            if match.group(1) is not None:
                lines.append(_unescape(match.group(1)).decode("cp1252"))
            else:
                parts = re.findall(_STRING, match.group(2))
                lines.append(b"".join(_unescape(p) for p in parts).decode("cp1252"))
    return lines


def pdf_text(pdf: bytes) -> str:
    return "\n".join(pdf_text_lines(pdf))
