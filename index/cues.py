"""Answer-type cues: what kind of answer a question wants, and whether a sentence has one.

A "how many" question is answered by a sentence with a number, a "when" question by one with
a year or date, a "who" question by one naming someone the question does not. These cues are
small score bonuses in retrieval, learned with the other weights on the tuning half of
xquad-en (see README, "Answer quality").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUANTITY = re.compile(
    r"\b(how (many|much|long|old|far|large|big|tall|high|often|fast)|"
    r"what (year|percentage|percent|number|amount|age|date)|which year|in what year)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\b(when|what (year|date|century|decade|month)|which (year|century|decade))\b", re.IGNORECASE
)
_PERSON = re.compile(r"\b(who|whom|whose)\b", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_YEAR = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})\b|\b(century|decade|January|February|March|April|May|June|July|"
    r"August|September|October|November|December)\b"
)
_NAME = re.compile(r"\b[A-Z][a-z]+")


@dataclass(frozen=True, slots=True)
class QuestionType:
    """The kinds of answer a question asks for."""

    quantity: bool
    time: bool
    person: bool
    names: frozenset[str]

    @classmethod
    def of(cls, question: str) -> QuestionType:
        """Read the question's type from its wording."""
        return cls(
            quantity=bool(_QUANTITY.search(question)),
            time=bool(_TIME.search(question)),
            person=bool(_PERSON.search(question)),
            names=frozenset(_NAME.findall(question)),
        )

    def matches(self, sentence: str) -> int:
        """How many of the wanted answer types the sentence shows (0 to 3)."""
        hits = 0
        if self.quantity and _DIGIT.search(sentence):
            hits += 1
        if self.time and _YEAR.search(sentence):
            hits += 1
        if self.person:
            # a capitalised word that is neither the sentence's first nor in the question
            words = _NAME.findall(sentence[1:])
            hits += any(w not in self.names for w in words)
        return hits
