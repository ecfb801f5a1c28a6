"""Text as people send it: encodings, mojibake, full-width characters, numbers written by hand.

Bureau files come from Excel/WPS on Chinese Windows (GBK/GB18030), from web forms
(UTF-8, often with a BOM), from "Unicode text" exports (UTF-16) and from copy and
paste between them. Three things go wrong and are handled here:

* the encoding: :func:`detect_encoding` reads byte-order marks first, then tries
  UTF-8, then GB18030, then ``charset_normalizer``;
* mojibake — text decoded with the wrong code page and saved again: :func:`explain_mojibake`
  tries the usual wrong/right pairs and says which one it was (``'ºÓ¿ÚÐ¡Ñ§'`` is
  GBK read as Latin-1 and was ``'河口小学'``), scoring candidates by the share of
  characters that are common in Chinese text (GB 2312 level-1 hanzi, ASCII);
* full-width digits and punctuation (``１２３``, ``，``, ``．``): :func:`to_halfwidth`
  applies Unicode NFKC normalisation, which maps them to ASCII.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Mojibake", "detect_encoding", "explain_mojibake", "lost_characters", "parse_year", "to_halfwidth"]

#: Byte-order marks and their codecs, longest first.
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xef\xbb\xbf", "utf-8-sig"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))

#: (decoded as, really was) pairs tried by :func:`explain_mojibake`, with readable names.
_PAIRS = (("latin-1", "utf-8"), ("cp1252", "utf-8"), ("latin-1", "gb18030"), ("cp1252", "gb18030"),
          ("gbk", "utf-8"), ("gb18030", "utf-8"), ("big5", "utf-8"), ("shift_jis", "utf-8"),
          ("shift_jis", "gb18030"))
_NAMES = {"latin-1": "Latin-1", "cp1252": "Windows-1252", "gbk": "GBK", "gb18030": "GBK/GB18030",
          "utf-8": "UTF-8", "big5": "Big5", "shift_jis": "Shift-JIS"}

#: Sequences that mean characters were lost before the file was saved (not repairable).
_LOST = re.compile("\ufffd|锟斤拷|烫烫烫|屯屯屯")


def detect_encoding(raw: bytes) -> str:
    """Guess the encoding of Chinese or English text bytes.

    Byte-order marks decide first (UTF-8-BOM, UTF-16, UTF-32); text with many NUL
    bytes and no BOM is UTF-16. Then UTF-8 is tried (a valid UTF-8 decoding of GBK
    text is very unlikely), then GB18030 (a superset of GBK and GB 2312), then
    ``charset_normalizer``.

    Parameters
    ----------
    raw
        The file's bytes (or a large prefix of them).

    Returns
    -------
    str
        A Python codec name.

    Raises
    ------
    UnicodeDecodeError
        When no encoding fits.
    """
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            return enc
    head = raw[:4096]
    if head and head.count(b"\x00") > len(head) // 4:  # UTF-16 without a BOM
        even = head[0::2].count(b"\x00")
        odd = head[1::2].count(b"\x00")
        return "utf-16-be" if even > odd else "utf-16-le"
    for enc in ("utf-8", "gb18030"):
        try:
            raw.decode(enc)
        except UnicodeDecodeError:
            continue
        return "utf-8-sig" if enc == "utf-8" else enc
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise UnicodeDecodeError("unknown", raw[:1], 0, 1, "no encoding fits")
    return best.encoding


def to_halfwidth(text: str) -> str:
    """Full-width digits, letters and punctuation to ASCII (Unicode NFKC), stripped.

    ``"１２３"`` → ``"123"``, ``"１，３００"`` → ``"1,300"``, ``"Ｓ１"`` → ``"S1"``. Chinese
    characters are unchanged.
    """
    return unicodedata.normalize("NFKC", text).strip()


@lru_cache(maxsize=65536)
def _char_score(c: str) -> float:
    """How typical a character is of Chinese or English text: 1 common, 0 typical of mojibake."""
    o = ord(c)
    if o < 128:
        return 1.0 if c.isprintable() else 0.0
    try:
        b = c.encode("gb2312")
    except UnicodeEncodeError:
        return 0.3 if 0x4E00 <= o <= 0x9FFF else 0.0  # rare hanzi (GBK extension) / other scripts
    if 0xB0 <= b[0] <= 0xD7:  # GB 2312 level 1: the 3,755 most common hanzi
        return 1.0
    if 0xD8 <= b[0] <= 0xF7:  # level 2: rarer hanzi (place names use some)
        return 0.6
    return 0.8  # full-width forms, CJK punctuation, Greek/Cyrillic of GB 2312


def _score(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    return sum(_char_score(c) for c in chars) / len(chars) if chars else 1.0


@dataclass(frozen=True)
class Mojibake:
    """A mis-decoded text and its likely repair.

    Attributes
    ----------
    read_as
        The code page the text was wrongly decoded with (``"Latin-1"``, ``"GBK"`` ...).
    encoding
        The encoding it really was in (``"UTF-8"``, ``"GBK/GB18030"`` ...).
    example, repaired
        A garbled value and what it probably said.
    """

    read_as: str
    encoding: str
    example: str
    repaired: str

    @property
    def latin(self) -> bool:
        """True when the garbled text is Latin letters (certainly wrong), False when it is CJK."""
        return self.read_as in {"Latin-1", "Windows-1252"}

    def describe(self) -> str:
        """``"it looks like UTF-8 read as Latin-1, e.g. 'åŸŽ…' is probably '城…'"``."""
        return (f"it looks like {self.encoding} read as {self.read_as}, e.g. '{self.example[:24]}' is probably "
                f"'{self.repaired[:24]}'")


def explain_mojibake(text: str) -> Mojibake | None:
    """Say whether ``text`` is mojibake and how it came about.

    Each (wrong, right) pair of code pages is tried: the text is encoded back with the
    wrong one and decoded with the right one; the repair is accepted when it succeeds
    strictly, changes the text, scores at least 0.85 and improves the score by at
    least 0.25. The score of a text is the mean over its non-blank characters of 1
    for ASCII and GB 2312 level-1 hanzi, 0.8 for full-width forms and CJK
    punctuation, 0.6 for level-2 hanzi, 0.3 for other hanzi and 0 for anything
    else (Latin accented letters, box drawing, other scripts).

    Parameters
    ----------
    text
        One value.

    Returns
    -------
    Mojibake or None
        None when the text looks like ordinary text.
    """
    if text.isascii() or len(text.strip()) < 2:
        return None
    base = _score(text)
    best: tuple[float, Mojibake] | None = None
    for wrong, right in _PAIRS:
        try:
            fixed = text.encode(wrong).decode(right)
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if fixed == text:
            continue
        s = _score(fixed)
        if s >= 0.85 and s - base >= 0.25 and (best is None or s > best[0]):
            best = (s, Mojibake(read_as=_NAMES[wrong], encoding=_NAMES[right], example=text, repaired=fixed))
    return None if best is None else best[1]


def lost_characters(text: str) -> bool:
    """True when ``text`` holds replacement characters (``�``, ``锟斤拷``): characters already lost."""
    return bool(_LOST.search(text))


def parse_year(value: object) -> int | None:
    """A year as people write it: ``2024``, ``"2024"``, ``"2024年"``, ``"２０２４年度"`` → 2024; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if not isinstance(value, str):
        return None
    m = re.fullmatch(r"(\d{4})\s*(?:年度|年|)", to_halfwidth(value))
    return int(m.group(1)) if m else None
