"""Checks on a file before and after it is converted into a report: what `ingest` refuses.

- the file itself: a symbolic link (unless asked to follow it), not a regular file, larger than
  ``ingest.max_file_mb``; read once, without following a link swapped in after the check;
- a zip-based format (DOCX): the sizes its directory declares and their packing ratio, checked
  before anything is unpacked, then every part unpacked as a stream that stops past the limit;
- the extracted text: larger than ``ingest.max_text_mb``, or not text in a human language (too
  many undecodable or control characters, too few letters, too few tokens that look like words):
  random bytes, encoded data, a binary file with a text extension.

Every refusal is an ``IngestError`` (exit 3) whose message names the file, what is wrong and the
setting that sets the limit.
"""

from __future__ import annotations

import io
import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import IngestError

MB = 1_000_000
ENV = "POLICY_ASSISTANT_INGEST__"
MAX_ZIP_ENTRIES = 10_000
RATIO_MIN_BYTES = 1 * MB  # parts smaller than this unpacked are not ratio-checked (tiny XML packs very well)


def _mb(n: float) -> str:
    return f"{n / MB:,.1f} MB" if n >= 100_000 else f"{n / 1000:,.0f} kB"


def read_file(path: Path, max_bytes: int, follow_symlinks: bool = False) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; a symbolic link only when
    ``follow_symlinks``. The file is opened with O_NOFOLLOW, so a link put in its place after the
    check is not followed either, and never more than ``max_bytes`` + 1 bytes are read."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise IngestError(f"{path}: no such file") from None
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if stat.S_ISLNK(st.st_mode):
        if not follow_symlinks:
            target = os.readlink(path)
            raise IngestError(
                f"{path}: is a symbolic link (to {target}); refused so that a link cannot make a report of a file you "
                "did not mean to add. Ingest the file itself, or pass --follow-symlinks"
            )
        try:
            st = os.stat(path)
        except OSError as exc:
            raise IngestError(f"{path}: a symbolic link to a file that cannot be read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(st.st_mode):
        raise IngestError(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise IngestError(f"{path}: is not a regular file (a device, pipe or socket)")
    if st.st_size > max_bytes:
        raise IngestError(
            f"{path.name}: the file is {_mb(st.st_size)}, more than the limit of {_mb(max_bytes)} "
            f"({ENV}MAX_FILE_MB); split the report or raise the limit"
        )
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | (0 if follow_symlinks else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise IngestError(f"{path}: is not a regular file")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise IngestError(f"{path.name}: the file grew past the limit of {_mb(max_bytes)} ({ENV}MAX_FILE_MB) while read")
    return data


def check_zip(data: bytes, name: str, max_unpacked: int, max_ratio: float) -> None:
    """Refuse a zip (DOCX) that unpacks to more than ``max_unpacked`` bytes or packs a large part
    more than ``max_ratio`` times: first by the sizes its directory declares (nothing unpacked),
    then by unpacking every part as a stream and counting, stopping past the limit (a directory
    can lie; Python's zipfile never returns more than a part's declared size and checks its CRC)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(f"{name}: not a valid DOCX (zip) file ({exc})") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise IngestError(f"{name}: the DOCX holds {len(infos):,} parts (a document has a few dozen); refused")
        declared = sum(i.file_size for i in infos)
        limit = f"{_mb(max_unpacked)} ({ENV}MAX_UNPACKED_MB)"
        if declared > max_unpacked:
            raise IngestError(f"{name}: the DOCX would unpack to {_mb(declared)}, more than the limit of {limit}; refused without unpacking it")
        for i in infos:
            if i.file_size >= RATIO_MIN_BYTES and i.file_size > max_ratio * max(i.compress_size, 1):
                raise IngestError(
                    f"{name}: its part {i.filename} packs {_mb(i.file_size)} into {_mb(i.compress_size)} "
                    f"({i.file_size / max(i.compress_size, 1):,.0f} times; the limit is {max_ratio:g}, "
                    f"{ENV}MAX_COMPRESSION_RATIO): a zip bomb, refused without unpacking it"
                )
        total = 0
        for i in infos:
            if i.is_dir():
                continue
            try:
                with zf.open(i) as fh:
                    while True:
                        block = fh.read(1 << 16)
                        if not block:
                            break
                        total += len(block)
                        if total > max_unpacked:
                            raise IngestError(f"{name}: the DOCX unpacks to more than the limit of {limit}; stopped and refused")
            except IngestError:
                raise
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
                raise IngestError(f"{name}: its part {i.filename} cannot be unpacked ({type(exc).__name__}: {exc})") from exc


def decode_text(data: bytes) -> tuple[str, int]:
    """Text from the bytes of a .txt/.md file and the number of bytes that were not valid in the
    encoding chosen: UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252 (a legacy
    file; undecodable bytes count as errors)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
        return text, text.count("\ufffd")
    try:
        return data.decode("utf-8-sig"), 0
    except UnicodeDecodeError:
        pass
    as_utf8 = data.decode("utf-8", errors="replace")
    errors = as_utf8.count("\ufffd")
    if errors <= 0.001 * len(as_utf8):  # UTF-8 with a few damaged bytes
        return as_utf8, errors
    text = data.decode("cp1252", errors="replace")
    return text, text.count("\ufffd")


_LATIN_VOWELS = set("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœāăąēĕėęěīįıōőūůűų")
_JOINERS = re.compile(r"['’\-.]{2}|['’\-.]$")
_CONSONANT_RUN = re.compile(r"[b-df-hj-np-tv-xz]{6,}")


def _strip_punctuation(token: str) -> str:
    """The token without the punctuation and symbols around it ("(EU),", "«mot»", "हैं।")."""
    a, b = 0, len(token)
    while a < b and unicodedata.category(token[a])[0] in "PS":
        a += 1
    while b > a and unicodedata.category(token[b - 1])[0] in "PS":
        b -= 1
    return token[a:b]


def _word_like(token: str) -> bool:
    t = _strip_punctuation(token)
    letters = [c for c in t if c.isalpha()]
    if not letters:
        return False
    if all(unicodedata.east_asian_width(c) == "W" for c in t if not unicodedata.category(c).startswith("P")):
        return True  # Chinese, Japanese: no spaces between words
    if len(t) > 24 or not t[0].isalpha() or _JOINERS.search(t):
        return False
    if not all(c.isalpha() or c in "'’-." or unicodedata.category(c)[0] == "M" for c in t):
        return False
    cased = any(c.isupper() or c.islower() for c in letters)  # Arabic, Hebrew, Devanagari ... have no case
    if cased and not (t.islower() or t.isupper() or (letters[0].isupper() and "".join(letters[1:]).islower())):
        return False
    low = t.lower()
    latin = all(c < "ɏ" for c in low)  # Latin script (incl. its accented letters)
    if latin and len(letters) > 3 and not t.isupper():
        if not any(c in _LATIN_VOWELS for c in low) or _CONSONANT_RUN.search(low):
            return False
    return True


@dataclass(frozen=True)
class TextStats:
    chars: int
    bad_share: float  # undecodable, control, private-use or unassigned characters
    letter_share: float  # letters among non-space characters
    word_share: float  # word-like tokens among whitespace-separated tokens
    tokens: int


def text_stats(text: str, sample: int = 400_000) -> TextStats:
    """Shares measured on up to ``sample`` characters (the start, middle and end of a longer text)."""
    if len(text) > sample:
        third = sample // 3
        mid = len(text) // 2
        text = text[:third] + "\n" + text[mid - third // 2 : mid + third // 2] + "\n" + text[-third:]
    bad = letters = visible = 0
    for ch in text:
        if ch.isspace():
            continue
        visible += 1
        if ch.isalpha() or unicodedata.category(ch)[0] == "M":  # marks: the vowel signs of Indic scripts
            letters += 1
            continue
        if ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Co", "Cs", "Cn"):
            bad += 1
    tokens = text.split()
    words = sum(1 for t in tokens if _word_like(t))
    return TextStats(
        chars=len(text),
        bad_share=bad / max(visible, 1),
        letter_share=letters / max(visible, 1),
        word_share=words / max(len(tokens), 1),
        tokens=len(tokens),
    )


def language_problem(text: str, max_bad: float, min_letters: float, min_words: float) -> str | None:
    """Why ``text`` does not read as text in a human language (None: it does)."""
    s = text_stats(text)
    if s.bad_share > max_bad:
        return (f"{s.bad_share:.0%} of its characters are undecodable or control characters (at most {max_bad:.0%}, "
                f"{ENV}MAX_BAD_CHAR_SHARE): a binary file, or text in an encoding that is not UTF-8 or Windows-1252")
    if s.letter_share < min_letters:
        return (f"only {s.letter_share:.0%} of its characters are letters (at least {min_letters:.0%}, "
                f"{ENV}MIN_LETTER_SHARE): it does not read as text in a human language")
    if s.word_share < min_words:
        return (f"only {s.word_share:.0%} of its {s.tokens:,} tokens look like words (at least {min_words:.0%}, "
                f"{ENV}MIN_WORD_SHARE): it does not read as text in a human language (random or encoded data?)")
    return None
