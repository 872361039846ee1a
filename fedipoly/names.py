"""Pure text rules for badge names: hashtags, normalised names and search terms (no I/O).

Both store adapters and the badge service use these, so a badge is found the same way
whichever database holds it.
"""

from __future__ import annotations

import re
import unicodedata

# Symbols that carry meaning in technology names; everything else that is not a letter or a
# digit separates words. "C++" -> "Cpp" (the tag people use, #cpp), "C#" -> "CSharp",
# "R&D" -> "RAndD". Mastodon hashtags are [[:word:]] characters only: no hyphens, no dots.
_SYMBOL_WORDS = (
    (re.compile(r"(?<=\w)\+\+"), "pp"),
    (re.compile(r"(?<=\w)\+"), "p"),
    (re.compile(r"(?<=\w)#"), "Sharp"),
    (re.compile(r"&"), " and "),
)


def _is_word_char(char: str) -> bool:
    """Letters, combining marks and decimal digits: what Mastodon's [[:word:]] accepts."""
    return unicodedata.category(char)[0] in "LM" or unicodedata.category(char) == "Nd"


def _words(text: str) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    for char in text:
        if _is_word_char(char):
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def badge_hashtag(display_name: str, slug: str) -> str:
    """The Hashtag name (without '#') for a badge: CamelCase words of its display name.

    Words are runs of letters and digits; each word's first letter is upper-cased and the rest
    kept as written ("Open source" -> "OpenSource", "JavaScript" -> "JavaScript", "Node.js" ->
    "NodeJs", "C++" -> "Cpp"). Mastodon only links a hashtag that contains a letter, so a name
    without one falls back to the slug (underscores kept, which hashtags allow), and a slug
    without a letter gets a "Badge" prefix ("2024" -> "Badge2024").
    """
    text = unicodedata.normalize("NFC", display_name)
    for pattern, replacement in _SYMBOL_WORDS:
        text = pattern.sub(replacement, text)
    camel = "".join(word[:1].upper() + word[1:] for word in _words(text))
    if any(char.isalpha() for char in camel):
        return camel
    if any(char.isalpha() for char in slug):
        return slug
    return f"Badge{slug}"


def normalize_name(text: str) -> str:
    """Case-folded words separated by single spaces: how names are compared and searched."""
    return " ".join(_words(unicodedata.normalize("NFKC", text).casefold()))


def search_terms(slug: str, display_name: str) -> list[str]:
    """Every suffix of the normalised name and slug that starts at a word.

    A prefix query then matches the start of any word: "speak" finds "Public speaking" and
    "source" finds "open_source", using only ordinary (multikey) indexes — no text indexes.
    """
    terms: set[str] = set()
    for source in (display_name, slug.replace("_", " ")):
        words = normalize_name(source).split(" ")
        for start in range(len(words)):
            term = " ".join(words[start:])
            if term:
                terms.add(term)
    return sorted(terms)


def prefix_upper_bound(prefix: str) -> str:
    """An exclusive upper bound for a range scan of strings that start with `prefix`.

    Both stores compare strings as UTF-8 bytes; U+10FFFF is the highest code point.
    """
    return prefix + "\U0010ffff"


def candidate_prefixes(query: str, *, max_words: int = 4) -> list[str]:
    """The short prefixes a fuzzy badge search fetches candidates by: the first two
    characters of each query word (one for one-letter words), at most `max_words` words."""
    prefixes: list[str] = []
    for word in normalize_name(query).split(" ")[:max_words]:
        prefix = word[:2]
        if prefix and prefix not in prefixes:
            prefixes.append(prefix)
    return prefixes


def normalize_phrase(phrase: str) -> str:
    """Activity-tag phrases are unique case-insensitively, whitespace collapsed."""
    return " ".join(phrase.split()).casefold()
