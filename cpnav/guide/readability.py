"""Reading-level measures for the victim information sheet.

English: Flesch-Kincaid grade level. Spanish: the Fernandez-Huerta reading
ease score (the Flesch formula recalibrated for Spanish; 70-80 is "fairly
easy", about 7th grade). Syllables are counted by vowel groups, which is what
these formulas were calibrated with; exact dictionaries are not needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE = re.compile(r"[.!?]+(?:\s|$)|\n{2,}")
_WORD = re.compile(r"[A-Za-zÀ-ÿ]+(?:['\u2019][A-Za-z]+)?")
_EN_VOWELS = re.compile(r"[aeiouy]+")
_ES_VOWELS = re.compile(r"[aeiouáéíóúü]+")
_ES_STRONG = set("aeoáéíóú")


@dataclass(frozen=True)
class TextStats:
    sentences: int
    words: int
    syllables: int


def english_syllables(word: str) -> int:
    word = word.lower()
    if len(word) <= 3:
        return 1
    word = re.sub(r"(?:[^laeiouy]es|[^laeiouy]ed|[^laeiouy]e)$", "", word)
    return max(1, len(_EN_VOWELS.findall(word)))


def spanish_syllables(word: str) -> int:
    count = 0
    for group in _ES_VOWELS.findall(word.lower()):
        # Two strong vowels side by side are a hiatus: two syllables.
        strong = sum(1 for ch in group if ch in _ES_STRONG)
        count += max(1, strong)
    return max(1, count)


def prose(blocks: tuple[str, ...] | list[str]) -> str:
    """Join headings, paragraphs and list items, each ending as a sentence."""
    return " ".join(b if b[-1:] in ".!?:" else b + "." for b in blocks)


def stats(text: str, lang: str) -> TextStats:
    sentences = [s for s in _SENTENCE.split(text) if _WORD.search(s)]
    words = _WORD.findall(text)
    counter = spanish_syllables if lang == "es" else english_syllables
    return TextStats(len(sentences), len(words), sum(counter(w) for w in words))


def flesch_kincaid_grade(text: str) -> float:
    s = stats(text, "en")
    return 0.39 * s.words / s.sentences + 11.8 * s.syllables / s.words - 15.59


def fernandez_huerta(text: str) -> float:
    s = stats(text, "es")
    return 206.84 - 0.60 * (100 * s.syllables / s.words) - 1.02 * (100 * s.sentences / s.words)
