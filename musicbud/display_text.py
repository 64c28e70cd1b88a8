"""Display text that names someone or something (channel names, display names): what it may
contain, so that no name can pass for another, and the form in which two names are compared."""

from __future__ import annotations

import functools
import unicodedata
from types import ModuleType

# Scripts that may share one word (UTS #39's "highly restrictive" level): Japanese, Chinese
# and Korean writing mixes them with each other and with Latin, and none passes for another.
SCRIPT_COMBINATIONS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
SCRIPTLESS = frozenset({"COMMON", "INHERITED"})  # digits, punctuation, combining marks
# Letters and marks that render as nothing (isprintable() lets them through).
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0")


def homoglyph_tables() -> tuple[ModuleType, ModuleType]:
    """confusable_homoglyphs' ``categories`` and ``confusables``, imported on first use: their
    Unicode tables weigh ~17 MB in every process, and ASCII text never needs them."""
    from confusable_homoglyphs import categories, confusables

    return categories, confusables


def script_of(char: str) -> str:
    """``char``'s script as confusable_homoglyphs names it (``categories.alias``); ASCII
    (Latin letters, everything else Common) without loading the tables."""
    if char < "\x80":
        return "LATIN" if char.isalpha() else "COMMON"
    alias: str = homoglyph_tables()[0].alias(char)
    return alias


def scripts_of(text: str) -> set[str]:
    """The scripts of ``text``'s letters (digits, punctuation and marks have none)."""
    return {script_of(char) for char in text} - SCRIPTLESS


def scripts_may_mix(scripts: set[str]) -> bool:
    return len(scripts) <= 1 or any(scripts <= allowed for allowed in SCRIPT_COMBINATIONS)


def display_text_problem(text: str) -> str | None:
    """Why ``text`` may not name anyone or anything, or None. Refused: control characters
    (terminal escapes), bidi controls, zero-width and other invisible characters, and a word
    mixing scripts (``Jazz`` with a Cyrillic a, U+0430), each of which lets a name look like
    another."""
    for char in text:
        if char != " " and (not char.isprintable() or char in _INVISIBLE):
            return (
                "must not contain control, bidi, zero-width or invisible characters "
                f"(U+{ord(char):04X})"
            )
    for word in text.split():
        scripts = scripts_of(word)
        if not scripts_may_mix(scripts):
            return (
                f"mixes scripts in {word!r} ({', '.join(sorted(scripts))}), "
                "so it could pass for another name"
            )
    return None


def display_text_normalize(text: str) -> str:
    """The stored spelling: NFKC, so fullwidth or compatibility forms of a name (``jazz`` in
    fullwidth letters, U+FF4A...) are the name itself, then stripped."""
    return unicodedata.normalize("NFKC", text).strip()


def display_text_key(text: str) -> str:
    """The form in which two names are compared for uniqueness: NFKC, case folded, and each
    letter that can pass for a Latin one replaced by that Latin letter (UTS #39's skeleton,
    towards Latin), so a name written wholly in look-alikes (``sax`` in Cyrillic dze, a and
    ha: U+0455 U+0430 U+0445) has the key of the Latin name it imitates."""
    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    return "".join(_latin_lookalike(char) for char in folded)


@functools.cache
def _latin_lookalike(char: str) -> str:
    if script_of(char) in SCRIPTLESS | {"LATIN"}:
        return char
    for glyph in homoglyph_tables()[1].confusables_data.get(char, ()):
        lookalike = glyph["c"]
        if len(lookalike) == 1 and script_of(lookalike) == "LATIN":
            return str(lookalike.casefold())
    return char
