"""Hypothesis strategies that break valid inputs the way files really break.

Byte-level (any format): truncation, a deleted or duplicated span, random bytes inserted or
overwritten. Text-level (RomanText, Lark, JSON): lines deleted, duplicated or swapped,
tokens replaced by nasty ones (empty, negative, huge, NaN, non-ASCII, control characters).
XML-level (MusicXML): an element's text replaced by a nasty token, an element removed, an
attribute's value replaced. Each strategy draws one to three mutations of a valid seed, so
inputs stay close enough to valid to reach deep into the readers.
"""
from __future__ import annotations

import re

from hypothesis import strategies as st

__all__ = ["NASTY", "mutated_bytes", "mutated_text", "mutated_xml", "mutated_json"]

#: tokens that break parsers and arithmetic
NASTY = ["", "0", "-1", "-0", "1e309", "99999999999999999999", "nan", "NaN", "inf", "-inf", "0.0001", "3.5",
         "x", "é", "\u0000", "\t", "<", ">", "&", "\"", "'", "[", "{", "null", "true", "[]", "{}", "m0", "b0",
         "C:", "Q7", "It+6", "V/V/V", "//", "->", "%", "ø", "🎵", "-", "#", "##", "bbb", "7/0", "0/4", "4/0"]


@st.composite
def _byte_mutation(draw, data: bytes) -> bytes:
    n = len(data)
    kind = draw(st.sampled_from(["truncate", "delete", "duplicate", "insert", "overwrite"]))
    i = draw(st.integers(0, max(0, n - 1)))
    j = draw(st.integers(i, min(n, i + 200)))
    if kind == "truncate":
        return data[:i]
    if kind == "delete":
        return data[:i] + data[j:]
    if kind == "duplicate":
        return data[:j] + data[i:j] + data[j:]
    junk = draw(st.binary(min_size=1, max_size=16))
    if kind == "insert":
        return data[:i] + junk + data[i:]
    return data[:i] + junk + data[i + len(junk):]


@st.composite
def mutated_bytes(draw, data: bytes) -> bytes:
    for _ in range(draw(st.integers(1, 3))):
        data = draw(_byte_mutation(data))
    return data


@st.composite
def _text_mutation(draw, text: str) -> str:
    lines = text.split("\n")
    kind = draw(st.sampled_from(["delete-line", "duplicate-line", "swap-lines", "token", "token", "truncate",
                                 "insert-line"]))
    i = draw(st.integers(0, len(lines) - 1))
    if kind == "delete-line":
        del lines[i]
    elif kind == "duplicate-line":
        lines.insert(i, lines[i])
    elif kind == "swap-lines":
        k = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[k] = lines[k], lines[i]
    elif kind == "insert-line":
        lines.insert(i, draw(st.sampled_from(NASTY)) + " " + draw(st.text(max_size=12)))
    elif kind == "token":
        tokens = re.split(r"(\s+)", lines[i])
        words = [t for t in range(len(tokens)) if tokens[t].strip()]
        if words:
            tokens[draw(st.sampled_from(words))] = draw(st.sampled_from(NASTY))
        lines[i] = "".join(tokens)
    else:
        cut = draw(st.integers(0, len(text)))
        return text[:cut]
    return "\n".join(lines)


@st.composite
def mutated_text(draw, text: str) -> str:
    for _ in range(draw(st.integers(1, 3))):
        text = draw(_text_mutation(text))
    return text


_ELEMENT_TEXT = re.compile(rb">([^<>]+)</")
_ELEMENT = re.compile(rb"<([a-z-]+)[^>]*>[^<]*</\1>")
_ATTRIBUTE = re.compile(rb'="([^"]*)"')


@st.composite
def _xml_mutation(draw, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["text", "text", "element", "attribute", "bytes"]))
    if kind == "bytes":
        return draw(_byte_mutation(data))
    pattern = {"text": _ELEMENT_TEXT, "element": _ELEMENT, "attribute": _ATTRIBUTE}[kind]
    spots = list(pattern.finditer(data))
    if not spots:
        return data
    m = draw(st.sampled_from(spots))
    if kind == "element":
        return data[:m.start()] + data[m.end():]
    new = draw(st.sampled_from(NASTY)).encode("utf-8")
    return data[:m.start(1)] + new + data[m.end(1):]


@st.composite
def mutated_xml(draw, data: bytes) -> bytes:
    for _ in range(draw(st.integers(1, 3))):
        data = draw(_xml_mutation(data))
    return data


_JSON_VALUE = re.compile(r'(?<=: )(-?\d+(?:\.\d+)?|"[^"]*"|true|false|null)')


@st.composite
def mutated_json(draw, text: str) -> str:
    """JSON with values replaced by other JSON values (or by anything at all), keys deleted, text cut."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["value", "value", "value", "text"]))
        spots = list(_JSON_VALUE.finditer(text))
        if kind == "text" or not spots:
            text = draw(_text_mutation(text))
            continue
        m = draw(st.sampled_from(spots))
        new = draw(st.sampled_from(["0", "-1", "1e9", "-1e9", "0.5", "null", "true", '""', '"Q7"', '"x"', "[]",
                                    "{}", '"C"', '"4/0"', "[1, 2]", '"V7"', "1e400", '"nan"']))
        text = text[:m.start()] + new + text[m.end():]
    return text
