"""Text a plan names things with: names are NFKC-normalised, and invisible characters refused.

Two zone names, patient references or product ids that *look* the same must *be* the same, or
a zone's overrides land on the wrong points and a record files under the wrong patient:

* NFKC folds compatibility look-alikes (full-width ``ｃｒｏｗｎ``, ligatures, no-break and em
  spaces) into one spelling; runs of white space collapse to one space and the ends are trimmed;
* control characters (Unicode Cc, e.g. ESC, which also lets a plan rewrite the practitioner's
  terminal), format characters (Cf: zero-width space/joiner, word joiner, BOM, bidi overrides,
  soft hyphen), line/paragraph separators, private-use, surrogate and unassigned code points
  are refused outright: they change what a name *is* without changing what it looks like.

Prose (reasons) and display labels are checked the same way but recorded as written.
Cross-script homoglyphs (Cyrillic ``о`` for Latin ``o``) are not folded by NFKC; a name whose
letters mix Latin, Greek and Cyrillic — the scripts that share look-alike letters — is
refused (a light form of Unicode TR 39's mixed-script check). A name written wholly in one
of them stays distinct from its look-alike in another. File paths are checked for invisible characters but never normalised: a file
system compares bytes, so normalising would open another file than the one written.
"""

from __future__ import annotations

import re
import unicodedata

# Cc control, Cf format, Cs surrogate, Co private use, Cn unassigned, Zl/Zp line separators.
_REFUSED_CATEGORIES = {
    "Cc": "control character",
    "Cf": "invisible format character",
    "Cs": "surrogate",
    "Co": "private-use character",
    "Cn": "unassigned code point",
    "Zl": "line separator",
    "Zp": "paragraph separator",
}
_SPACES = re.compile(r"\s+")


def invisible_character(text: str, allowed: str = "") -> str | None:
    """A description of the first refused character in ``text`` (None if there is none)."""
    for i, c in enumerate(text):
        kind = _REFUSED_CATEGORIES.get(unicodedata.category(c))
        if kind is not None and c not in allowed:
            name = unicodedata.name(c, "")
            return f"U+{ord(c):04X}{' ' + name if name else ''} ({kind}) at position {i + 1}"
    return None


def normalise_name(value: object) -> object:
    """pydantic before-validator for names: NFKC, trimmed, single spaces; refuses invisible
    and control characters. Non-strings pass through for the strict type check to report."""
    if not isinstance(value, str):
        return value
    bad = invisible_character(value)
    if bad is not None:
        raise ValueError(f"contains {bad}: names must be visible characters only "
                         "(no control or format characters)")
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip()
    bad = invisible_character(text)  # NFKC is not known to produce one; cheap to be sure
    if bad is not None:
        raise ValueError(f"contains {bad} once normalised: names must be visible characters")
    scripts = confusable_scripts(text)
    if len(scripts) > 1:
        raise ValueError(f"mixes {' and '.join(x.title() for x in sorted(scripts))} letters, which look "
                         "alike: write a name in one script")
    return text


_CONFUSABLE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")
# Greek mu is the micro prefix ("20 µL" becomes "20 μL" under NFKC): a unit, not a homoglyph.
_UNIT_LETTERS = frozenset("\u03bc")


def confusable_scripts(text: str) -> set[str]:
    """Which of Latin, Greek and Cyrillic the letters of ``text`` come from (by their Unicode
    names: the standard library has no script property)."""
    found = set()
    for c in text:
        if c.isalpha() and c not in _UNIT_LETTERS:
            script = unicodedata.name(c, "").split(" ", 1)[0]
            if script in _CONFUSABLE_SCRIPTS:
                found.add(script)
    return found


def check_visible_text(value: object) -> object:
    """pydantic before-validator for prose and display labels (an override's reason, a
    product's display name): invisible and control characters are refused (line breaks and
    tabs are kept), but the text is recorded as written — it identifies nothing, and
    rewriting it would change the hash of plans recorded before."""
    if not isinstance(value, str):
        return value
    bad = invisible_character(value, allowed="\n\t")
    if bad is not None:
        raise ValueError(f"contains {bad}: text must be visible characters only "
                         "(no control or format characters)")
    return value


def check_path_text(value: object) -> object:
    """pydantic before-validator for file references: refused, never rewritten (see above)."""
    if not isinstance(value, str):
        return value
    bad = invisible_character(value)
    if bad is not None:
        raise ValueError(f"contains {bad}: a file name must be visible characters only")
    return value
