"""The interest language: what a subscriber types, parsed into a small tree.

    diffusion                      a keyword (stemmed, whole words: "diffusions" too)
    "vision transformer"           a phrase, words adjacent and in order
    diffusion video                all of them (anywhere in title or abstract; closer is better)
    mamba OR "state space"         either (OR binds tighter than the space: a b OR c = a (b OR c))
    -survey, NOT survey            exclude; alone as an interest, excludes from all interests
    (diffusion OR flow) video      parentheses group
    cat:cs.CV, cat:cs              an arXiv category, or a whole archive
    author:"Kaiming He", au:LeCun  an author; initials tolerated ("K. He")
    title:mamba, ti:"state space"  only in titles
    about:"long-sequence models"   a description, matched by meaning
    four or more plain words       also a description ("recommender systems feature interactions")

``parse_interest`` returns a ``ParsedInterest`` or raises ``InterestSyntaxError`` with the position
and a hint. ``ParsedInterest.text`` is the normalised interest and parses back to the same tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.match.fields import (
    FIELD_EXAMPLES,
    apply_field,
    check_exclusion,
    field_atom,
    keyword,
    needs_sides,
)
from service.match.lexer import FIELDS, Lexeme, lex
from service.match.nodes import (
    AllOf,
    AnyOf,
    Author,
    Category,
    Description,
    InterestSyntaxError,
    Keyword,
    Node,
    Without,
    atoms,
    clause_count,
    explain,
    render,
    tree,
)

__all__ = ["InterestSyntaxError", "ParsedInterest", "parse_interest"]

MAX_LENGTH = 500
MAX_CLAUSES = 32
DESCRIPTION_WORDS = 4


@dataclass(frozen=True, slots=True)
class ParsedInterest:
    kind: str  # "keyword", "category", "author" or "text"
    text: str  # normalised; parses back to the same interest
    root: Node
    notes: tuple[str, ...] = ()

    @property
    def exclusion_only(self) -> bool:
        """Only exclusions ("-survey"): a filter over all of the subscriber's interests."""
        parts = self.root.parts if isinstance(self.root, AllOf) else (self.root,)
        return all(isinstance(p, Without) for p in parts)

    def explain(self) -> str:
        text = explain(self.root)
        return f"either {text[1:-1]}" if isinstance(self.root, AnyOf) else text

    def describe(self) -> dict[str, Any]:
        """How the interest was understood, for ``--json`` and the web form."""
        return {
            "kind": self.kind,
            "text": self.text,
            "exclusion_only": self.exclusion_only,
            "explain": self.explain(),
            "query": tree(self.root),
            "notes": list(self.notes),
        }


def parse_interest(text: str) -> ParsedInterest:
    """Parse what a subscriber typed; raise InterestSyntaxError with a position and a hint."""
    source = text.strip()
    if not source:
        raise InterestSyntaxError(
            "The interest is empty.",
            0,
            'Type a keyword, a "quoted phrase", cat:cs.CV, author:"Name" or a description.',
        )
    if len(source) > MAX_LENGTH:
        raise InterestSyntaxError(
            f"The interest is {len(source)} characters long.",
            MAX_LENGTH,
            f"Keep it under {MAX_LENGTH} characters, or split it into several interests.",
        )
    lexemes = lex(source)
    if _is_plain_description(lexemes):
        root: Node = Description(" ".join(source.split()))
        notes: list[str] = []
    else:
        parser = _Parser(lexemes, source)
        root = parser.parse()
        notes = parser.notes
    _check_meaningful(root)
    if (count := clause_count(root)) > MAX_CLAUSES:
        raise InterestSyntaxError(
            f"The OR lists combine into {count} alternatives.",
            0,
            f"Keep it to {MAX_CLAUSES} or fewer, or split it into several interests.",
        )
    return ParsedInterest(_kind(root), render(root), root, tuple(notes))


def _is_plain_description(lexemes: list[Lexeme]) -> bool:
    return len(lexemes) >= DESCRIPTION_WORDS and all(
        lx.kind == "word" and not lx.value.startswith("+") for lx in lexemes
    )


def _kind(root: Node) -> str:
    positive = [a for a in atoms(root, positive_only=True)]
    if any(isinstance(a, Description) for a in positive):
        return "text"
    if positive and all(isinstance(a, Category) for a in positive):
        return "category"
    if positive and all(isinstance(a, Author) for a in positive):
        return "author"
    return "keyword"


def _check_meaningful(root: Node) -> None:
    words = [a for a in atoms(root, positive_only=True) if isinstance(a, Keyword)]
    if (
        words
        and all(w.ignored for w in words)
        and len(atoms(root, positive_only=True)) == len(words)
    ):
        common = ", ".join(f"“{w.text}”" for w in words)
        raise InterestSyntaxError(
            f"{common} is too common to match anything.",
            0,
            "Add a more specific word, or put a phrase in quotes.",
        )


class _Parser:
    """Recursive descent over the lexemes: sequence := or_expr+, or_expr := unary (OR unary)*."""

    def __init__(self, lexemes: list[Lexeme], source: str) -> None:
        self.lexemes = lexemes
        self.source = source
        self.at = 0
        self.notes: list[str] = []

    def peek(self) -> Lexeme | None:
        return self.lexemes[self.at] if self.at < len(self.lexemes) else None

    def take(self) -> Lexeme:
        lexeme = self.lexemes[self.at]
        self.at += 1
        return lexeme

    def parse(self) -> Node:
        node = self.sequence(top=True)
        stray = self.peek()
        if stray is not None:  # only a ")" can stop the top-level sequence
            raise InterestSyntaxError(
                "This closing parenthesis has no opening one.",
                stray.position,
                "Remove it, or add a “(” before the group.",
            )
        return node

    def sequence(self, top: bool) -> Node:
        parts: list[Node] = []
        while (lexeme := self.peek()) is not None and lexeme.kind != ")":
            if lexeme.kind == "AND":
                self.take()
                if not parts or self.peek() is None or self.peek().kind in (")", "OR"):  # type: ignore[union-attr]
                    raise needs_sides(lexeme)
                continue
            parts.append(self.either())
        if not parts:
            position = lexeme.position if lexeme is not None else len(self.source)
            raise InterestSyntaxError(
                "This group is empty." if not top else "The interest has nothing to match.",
                position,
                "Put at least one keyword inside.",
            )
        self._note_lowercase_operators(parts)
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def either(self) -> Node:
        options = [self.unary()]
        starts = [self.lexemes[self.at - 1].position]
        while (lexeme := self.peek()) is not None and lexeme.kind == "OR":
            self.take()
            following = self.peek()
            if following is None or following.kind in (")", "OR", "AND"):
                raise needs_sides(lexeme)
            starts.append(following.position)
            options.append(self.unary())
        if len(options) == 1:
            return options[0]
        for option, position in zip(options, starts, strict=True):
            if isinstance(option, Without):
                raise InterestSyntaxError(
                    "An exclusion cannot be one side of OR.",
                    position,
                    "Write exclusions on their own: diffusion OR flow -survey.",
                )
        return AnyOf(tuple(options))

    def unary(self) -> Node:
        lexeme = self.take()
        if lexeme.kind == "OR":
            raise needs_sides(lexeme)
        if lexeme.kind != "NOT":
            return self.primary(lexeme)
        following = self.peek()
        if following is None or following.kind in (")", "OR", "AND", "NOT"):
            raise InterestSyntaxError(
                "Nothing follows this exclusion.",
                lexeme.position,
                "Write the word to exclude right after the minus: -survey.",
            )
        excluded = self.primary(self.take())
        check_exclusion(excluded, following.position)
        return Without(excluded)

    def primary(self, lexeme: Lexeme) -> Node:
        if lexeme.kind == "(":
            return self.group(lexeme)
        if lexeme.kind == "field":
            return self.field(lexeme)
        if lexeme.kind == ")":
            raise InterestSyntaxError(
                "This closing parenthesis has no opening one.",
                lexeme.position,
                "Remove it, or add a “(” before the group.",
            )
        return keyword(lexeme)

    def group(self, opening: Lexeme) -> Node:
        node = self.sequence(top=False)
        closing = self.peek()
        if closing is None:
            raise InterestSyntaxError(
                "This parenthesis is never closed.",
                opening.position,
                "Add a “)” after the group.",
            )
        self.take()
        return node

    def field(self, lexeme: Lexeme) -> Node:
        name = FIELDS[lexeme.value]
        value = self.peek()
        if value is None or value.kind not in ("word", "phrase", "("):
            raise InterestSyntaxError(
                f"{lexeme.value}: needs a value right after the colon.",
                lexeme.position,
                FIELD_EXAMPLES[name],
            )
        self.take()
        if value.kind == "(":
            if name == "about":
                raise InterestSyntaxError(
                    "about: takes a quoted description, not a group.",
                    value.position,
                    FIELD_EXAMPLES[name],
                )
            return apply_field(name, self.group(value), value.position)
        return field_atom(name, value)

    def _note_lowercase_operators(self, parts: list[Node]) -> None:
        for part in parts:
            if isinstance(part, Keyword) and not part.phrase and part.text in ("or", "and", "not"):
                self.notes.append(
                    f"“{part.text}” in lower case is read as a word and ignored; "
                    f"write {part.text.upper()} to use it as an operator."
                )
