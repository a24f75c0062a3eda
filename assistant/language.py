"""Is a question in English?  The reports are in English and retrieval matches English words, so a
question in another language is not searched: it is answered with a message, in the question's
language where ``knowledge_base/domain/languages.yaml`` has one (French, Spanish, German,
Turkish, Arabic, Albanian), saying that the reports are in English and what to do, with the
English key terms of the question's words where the glossary knows them.

    check = recognise("Que recommande l'OSCE sur le financement ?")
    check.english        # False
    check.code, check.name  # 'fr', 'French'
    check.message        # "Votre question semble être en français. … Termes clés …: OSCE, funding."
    declined_answer(question, check)  # the Answer to return instead of searching

Detection: letters of a non-Latin script (Arabic, Greek, Cyrillic, Hebrew, CJK, …) make the
question non-English at once; for Latin script, English function words ("what", "how", "the",
"does" …) keep it English (so "What did Thiès do?" or "Tell me about Bordeaux" stay English
whatever the names), and otherwise py3langid (its model ships in the wheel; nothing is
downloaded) must name another language with a probability of at least ``MIN_PROBABILITY``.
When in doubt the question is English: declining an English question would be worse than
searching a foreign one.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from .models import Answer

LANGUAGES_FILE = Path(__file__).resolve().parent.parent / "knowledge_base" / "domain" / "languages.yaml"
MIN_PROBABILITY = 0.80
MIN_LETTERS = 4

# Latin-script languages py3langid chooses among (a short question is ambiguous among all 97).
_LATIN_CANDIDATES = [
    "en", "fr", "es", "de", "tr", "sq", "it", "pt", "nl", "pl", "ro", "hr", "sr", "bs", "sl", "cs",
    "sk", "hu", "sv", "da", "no", "fi", "et", "lv", "lt", "ca", "az", "id", "ms", "sw", "tl", "vi",
]
# Words that are English and are not words of the candidate languages above.
_ENGLISH_WORDS = frozenset(
    """what whats how which who whom whose why when where the does do did is are were can could
    should would will shall about with from of and for to their they them this that these those
    there been being have has had recommend recommends say says said tell me give show explain
    any example examples between into than then an it its our your my you we he she his her
    across according reports report cities city municipalities""".split()
)
_NAMES = {
    "en": "English", "fr": "French", "es": "Spanish", "de": "German", "tr": "Turkish", "ar": "Arabic",
    "sq": "Albanian", "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "ro": "Romanian",
    "hr": "Croatian", "sr": "Serbian", "bs": "Bosnian", "sl": "Slovenian", "cs": "Czech", "sk": "Slovak",
    "hu": "Hungarian", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish", "et": "Estonian",
    "lv": "Latvian", "lt": "Lithuanian", "ca": "Catalan", "az": "Azerbaijani", "id": "Indonesian",
    "ms": "Malay", "sw": "Swahili", "tl": "Tagalog", "vi": "Vietnamese", "el": "Greek", "ru": "Russian",
    "uk": "Ukrainian", "bg": "Bulgarian", "mk": "Macedonian", "be": "Belarusian", "he": "Hebrew",
    "fa": "Persian", "ur": "Urdu", "ps": "Pashto", "ku": "Kurdish", "zh": "Chinese", "ja": "Japanese",
    "ko": "Korean", "hi": "Hindi", "bn": "Bengali", "pa": "Punjabi", "ta": "Tamil", "th": "Thai",
    "hy": "Armenian", "ka": "Georgian", "am": "Amharic", "ti": "Tigrinya", "so": "Somali",
}
# Script of a letter (the first word of its Unicode name) -> the language to assume when the
# model names none of that script.
_SCRIPT_DEFAULT = {
    "ARABIC": "ar", "GREEK": "el", "CYRILLIC": "ru", "HEBREW": "he", "CJK": "zh", "HIRAGANA": "ja",
    "KATAKANA": "ja", "HANGUL": "ko", "DEVANAGARI": "hi", "BENGALI": "bn", "GURMUKHI": "pa",
    "TAMIL": "ta", "THAI": "th", "ARMENIAN": "hy", "GEORGIAN": "ka", "ETHIOPIC": "am",
}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@dataclass(frozen=True)
class LanguageCheck:
    """What :func:`recognise` found.

    ``english``: search the reports (True) or answer with ``message`` (False).
    ``code``/``name``: ISO 639-1 code and English name of the question's language ('en' when
    English or undecided). ``script``: 'Latin', 'Arabic', 'Cyrillic', … (the question's main
    script). ``probability``: the model's probability for ``code`` (1.0 when decided by script
    or by English words). ``message``: for a non-English question, the Markdown text to show,
    in its language when the data file has it. ``key_terms``: the English terms the glossary
    found for the question's words. ``localised``: the message is in the question's language."""

    english: bool
    code: str = "en"
    name: str = "English"
    script: str = "Latin"
    probability: float = 1.0
    message: str | None = None
    key_terms: tuple[str, ...] = field(default_factory=tuple)
    localised: bool = False


@dataclass(frozen=True)
class _LanguageData:
    example: str
    english_note: str
    default_message: str
    default_terms: str
    languages: dict


@lru_cache(maxsize=4)
def load_language_data(path: Path = LANGUAGES_FILE) -> _LanguageData:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    default = data.get("default") or {}
    return _LanguageData(
        example=str(data.get("example", "")),
        english_note=str(data.get("english_note", "")),
        default_message=str(default.get("message", "Your question seems to be in {name}. The reports are in English: please ask in English.")),
        default_terms=str(default.get("terms", "Key terms in English: {terms}.")),
        languages={str(k): v for k, v in (data.get("languages") or {}).items()},
    )


_model_lock = threading.Lock()
_models: dict[str, object] = {}


def _identifier(latin: bool):
    """py3langid's identifier (loaded once, ~1 s): Latin candidates only, or all 97 languages."""
    key = "latin" if latin else "all"
    with _model_lock:
        if key not in _models:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            ident = _load(LanguageIdentifier, MODEL_FILE)
            if latin:
                ident.set_languages([c for c in _LATIN_CANDIDATES if c in ident.nb_classes])
            _models[key] = ident
        return _models[key]


def _load(cls, model_file):
    from py3langid import langid

    path = Path(model_file)
    if not path.is_absolute():
        path = Path(langid.MODEL_DIR) / path
    return cls.from_modelpath(path, norm_probs=True)


def warm_up() -> None:
    """Load the model now (a server calls this at start, so the first question does not wait)."""
    _identifier(True)


def _script(ch: str) -> str:
    try:
        first = unicodedata.name(ch).split()[0]
    except ValueError:
        return "OTHER"
    return "CJK" if first in ("CJK",) else first


def main_script(text: str) -> tuple[str, int]:
    """The script most of the letters are in ('LATIN', 'ARABIC', …) and the number of letters."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            s = _script(ch)
            counts[s] = counts.get(s, 0) + 1
    if not counts:
        return "LATIN", 0
    best = max(counts, key=counts.get)
    return best, sum(counts.values())


def recognise(question: str) -> LanguageCheck:
    """Decide whether ``question`` is in English; if not, the message to show instead of an answer."""
    text = " ".join(str(question or "").split())
    script, letters = main_script(text)
    if letters < MIN_LETTERS and script == "LATIN":
        return LanguageCheck(english=True)
    if script != "LATIN":
        code, prob = _identifier(False).classify(text)
        if code == "en" or _script_of_language(code) not in (None, script):
            code, prob = _SCRIPT_DEFAULT.get(script, "und"), 1.0
        return _foreign(text, code, script.title(), float(prob))
    words = [w.casefold() for w in _WORD.findall(text)]
    english_words = sum(1 for w in words if w in _ENGLISH_WORDS)
    if english_words >= 2 or (english_words == 1 and len(words) <= 4) or (words and english_words / len(words) >= 0.25):
        return LanguageCheck(english=True)
    code, prob = _identifier(True).classify(text)
    if code == "en" or prob < MIN_PROBABILITY:
        return LanguageCheck(english=True, probability=float(prob) if code == "en" else 1.0 - float(prob))
    return _foreign(text, code, "Latin", float(prob))


def _script_of_language(code: str) -> str | None:
    return {
        "ar": "ARABIC", "fa": "ARABIC", "ur": "ARABIC", "ps": "ARABIC", "ku": "ARABIC", "el": "GREEK",
        "ru": "CYRILLIC", "uk": "CYRILLIC", "bg": "CYRILLIC", "mk": "CYRILLIC", "be": "CYRILLIC",
        "sr": "CYRILLIC", "mn": "CYRILLIC", "kk": "CYRILLIC", "ky": "CYRILLIC", "he": "HEBREW",
        "zh": "CJK", "ja": "CJK", "ko": "HANGUL", "hi": "DEVANAGARI", "mr": "DEVANAGARI", "ne": "DEVANAGARI",
        "bn": "BENGALI", "pa": "GURMUKHI", "ta": "TAMIL", "th": "THAI", "hy": "ARMENIAN", "ka": "GEORGIAN",
        "am": "ETHIOPIC",
    }.get(code)


def key_terms(text: str, glossary: dict, joined: bool = False) -> tuple[str, ...]:
    """The English terms whose entries the question's words start with (``joined``: contain, for
    scripts that write articles and prepositions onto the word), in the order they occur."""
    folded = text.casefold()
    tokens = [(m.start(), m.group(0)) for m in _WORD.finditer(folded)]
    found: list[tuple[int, str]] = []
    for stem, term in (glossary or {}).items():
        stem = str(stem).casefold()
        if " " in stem:
            at = folded.find(stem)
            if at >= 0:
                found.append((at, str(term)))
            continue
        for pos, tok in tokens:
            if (tok == stem) if len(stem) <= 3 else (stem in tok if joined else tok.startswith(stem)):
                found.append((pos, str(term)))
                break
    # upper-case acronyms and names (OSCE, AMIF, Thiès) stay as they are: the reports use them
    for m in re.finditer(r"\b[A-Z]{2,}\b", text):
        found.append((m.start(), m.group(0)))
    ordered = [t for _, t in sorted(found, key=lambda x: x[0])]
    return tuple(dict.fromkeys(ordered))


def _foreign(text: str, code: str, script: str, probability: float) -> LanguageCheck:
    data = load_language_data()
    name = _NAMES.get(code, code)
    entry = data.languages.get(code)
    if entry:
        name = str(entry.get("name", name))
        terms = key_terms(text, entry.get("glossary") or {}, joined=script == "Arabic")
        message = str(entry["message"]).format(example=data.example, name=name).strip()
        if terms:
            message += "\n\n" + str(entry.get("terms", data.default_terms)).format(terms=", ".join(terms))
        if data.english_note:
            message += "\n\n" + data.english_note
        localised = True
    else:
        if code in ("und", ""):
            name = f"a language in {script} script" if script != "Latin" else "a language other than English"
        terms = key_terms(text, {})
        message = data.default_message.format(example=data.example, name=name).strip()
        if terms:
            message += "\n\n" + data.default_terms.format(terms=", ".join(terms))
        localised = False
    return LanguageCheck(
        english=False, code=code, name=name, script=script, probability=round(probability, 4),
        message=message, key_terms=terms, localised=localised,
    )


def declined_answer(question: str, check: LanguageCheck, timings: dict[str, float] | None = None) -> Answer:
    """The Answer for a question not in English: refused, ``refusal_reason='language'``, the
    message as its text, nothing retrieved or cited."""
    return Answer(
        question=question,
        answer=check.message or "",
        refused=True,
        refusal_reason="language",
        standalone_question=question,
        timings_ms=dict(timings or {}),
        evidence=0.0,
    )
