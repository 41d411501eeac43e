"""The parsed interest as a tree of frozen values, and the ways to show it back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.match.text import STOPWORDS, raw_words


class InterestSyntaxError(ValueError):
    """An interest that cannot be parsed: what is wrong, where (0-based), and what to do."""

    def __init__(self, message: str, position: int, hint: str) -> None:
        self.message = message
        self.position = position
        self.hint = hint
        super().__init__(f"{message} (at character {position + 1}) {hint}")

    def caret(self, text: str) -> str:
        """The interest with a caret under the problem, for a terminal."""
        return f"{text}\n{' ' * self.position}^"


@dataclass(frozen=True, slots=True)
class Keyword:
    text: str  # as typed, without quotes
    phrase: bool = False  # quoted: words adjacent and in order
    title_only: bool = False
    ignored: bool = False  # a lone common word in an unquoted list ("learning to rank")


@dataclass(frozen=True, slots=True)
class Category:
    code: str  # canonical arXiv spelling: "cs.CV", or an archive: "cs"


@dataclass(frozen=True, slots=True)
class Author:
    name: str  # display form: "K. He"


@dataclass(frozen=True, slots=True)
class Description:
    text: str


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Without:
    part: Node


Atom = Keyword | Category | Author | Description
Node = Keyword | Category | Author | Description | AllOf | AnyOf | Without


def atoms(node: Node, positive_only: bool = False) -> list[Atom]:
    if isinstance(node, AllOf | AnyOf):
        return [a for p in node.parts for a in atoms(p, positive_only)]
    if isinstance(node, Without):
        return [] if positive_only else atoms(node.part)
    return [node]


def clause_count(node: Node) -> int:
    """How many all-of clauses the interest expands to (OR of ANDs)."""
    if isinstance(node, AnyOf):
        return sum(clause_count(p) for p in node.parts)
    if isinstance(node, AllOf):
        count = 1
        for part in node.parts:
            count *= clause_count(part)
        return count
    return 1


def is_plain_description(text: str) -> bool:
    words = text.split()
    return (
        len(words) >= 4
        and not any(c in text for c in '"“”„«»()|:')
        and not any(w.startswith(("-", "+")) or w in ("OR", "AND", "NOT") for w in words)
    )


def render(node: Node, inside: str = "") -> str:
    """The normalised interest; parse_interest(render(root)) gives the same tree."""
    if isinstance(node, Keyword):
        body = f'"{node.text}"' if node.phrase or not _single_token(node.text) else node.text
        return f"title:{body}" if node.title_only else body
    if isinstance(node, Category):
        return f"cat:{node.code}"
    if isinstance(node, Author):
        return f'author:"{node.name}"' if " " in node.name else f"author:{node.name}"
    if isinstance(node, Description):
        plain = inside == "" and is_plain_description(node.text)
        return node.text if plain else f'about:"{node.text}"'
    if isinstance(node, Without):
        return f"-{render(node.part, 'not')}"
    if isinstance(node, AnyOf):
        text = " OR ".join(render(p, "any") for p in node.parts)
        return f"({text})" if inside in ("all", "not") else text
    text = " ".join(render(p, "all") for p in node.parts)
    return f"({text})" if inside in ("any", "not") else text


def _single_token(text: str) -> bool:
    """A word that stays one lexeme when written bare (no spaces, quotes, parentheses)."""
    return (
        " " not in text
        and not any(c in text for c in '"“”„«»()|')
        and text not in ("OR", "AND", "NOT")
        and not text.startswith(("-", "+"))
        and ":" not in text
    )


def tree(node: Node) -> dict[str, Any]:
    """A JSON-able tree: {"all": [...]}, {"any": [...]}, {"not": ...}, or one atom."""
    if isinstance(node, AllOf):
        return {"all": [tree(p) for p in node.parts]}
    if isinstance(node, AnyOf):
        return {"any": [tree(p) for p in node.parts]}
    if isinstance(node, Without):
        return {"not": tree(node.part)}
    if isinstance(node, Keyword):
        out: dict[str, Any] = {"type": "phrase" if node.phrase else "keyword", "text": node.text}
        out["in"] = "title" if node.title_only else "title or abstract"
        if node.ignored:
            out["ignored"] = "too common"
        return out
    if isinstance(node, Category):
        return {"type": "category", "code": node.code, "archive": "." not in node.code}
    if isinstance(node, Author):
        return {"type": "author", "name": node.name}
    return {"type": "description", "text": node.text}


def explain(node: Node) -> str:
    """One sentence a subscriber can check: what papers this interest asks for."""
    if isinstance(node, AllOf):
        wanted = [explain(p) for p in node.parts if not isinstance(p, Without)]
        wanted = [w for w in wanted if w]
        unwanted = [explain(p.part) for p in node.parts if isinstance(p, Without)]
        text = " and ".join(wanted) if wanted else "any paper"
        return text + (f", but not {' or '.join(unwanted)}" if unwanted else "")
    if isinstance(node, AnyOf):
        return "(" + " or ".join(explain(p) for p in node.parts) + ")"
    if isinstance(node, Without):
        return f"no paper with {explain(node.part)}"
    if isinstance(node, Keyword):
        if node.ignored:
            return ""
        what = f"the phrase “{node.text}”" if node.phrase else f"“{node.text}”"
        return f"{what} in the title" if node.title_only else what
    if isinstance(node, Category):
        return f"category {node.code}" if "." in node.code else f"any {node.code} category"
    if isinstance(node, Author):
        return f"a paper by {node.name}"
    return f"papers about “{node.text}”"


def informative_words(text: str) -> list[str]:
    """The words of a description worth matching lexically (no stopwords)."""
    return [w for w in raw_words(text) if w.casefold() not in STOPWORDS and len(w) > 1]
