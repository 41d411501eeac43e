"""Atoms of the interest language: keywords, fields (cat:, author:, title:, about:) and the
checks whose errors say where and what to do."""

from __future__ import annotations

from service.match import authors, categories
from service.match.lexer import Lexeme
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
)
from service.match.text import STOPWORDS, raw_words

FIELD_EXAMPLES = {
    "cat": "Write an arXiv category or archive, e.g. cat:cs.CV or cat:cs.",
    "author": 'Write a name, e.g. author:"Kaiming He" or author:LeCun.',
    "title": 'Write a word or a phrase, e.g. title:mamba or title:"state space".',
    "about": 'Write a description in quotes, e.g. about:"efficient long-sequence models".',
}


def needs_sides(lexeme: Lexeme) -> InterestSyntaxError:
    word = "OR" if lexeme.kind == "OR" else "AND"
    return InterestSyntaxError(
        f"{word} needs a term on each side.",
        lexeme.position,
        f"Write it between two terms: mamba {word} transformer.",
    )


def keyword(lexeme: Lexeme, title_only: bool = False) -> Keyword:
    text = lexeme.value.lstrip("+") if lexeme.kind == "word" else lexeme.value
    words = raw_words(text)
    if not words:
        raise InterestSyntaxError(
            f"“{text}” has no letters or digits to match.",
            lexeme.position,
            "Use words; punctuation and symbols are ignored when matching.",
        )
    phrase = lexeme.kind == "phrase"
    ignored = not phrase and all(w.casefold() in STOPWORDS for w in words)
    return Keyword(" ".join(text.split()), phrase, title_only, ignored)


def field_atom(name: str, lexeme: Lexeme) -> Node:
    if name == "title":
        return keyword(lexeme, title_only=True)
    if name == "about":
        text = " ".join(lexeme.value.split())
        if not raw_words(text):
            raise InterestSyntaxError(
                "This description has no words.", lexeme.position, FIELD_EXAMPLES[name]
            )
        return Description(text)
    if name == "cat":
        return _category(lexeme)
    return _author(lexeme)


def _category(lexeme: Lexeme) -> Category:
    code = categories.canonical(lexeme.value)
    if code is None:
        options = categories.suggest(lexeme.value)
        hint = (
            "Did you mean " + " or ".join(f"cat:{o}" for o in options) + "?"
            if options
            else "Use an arXiv category such as cs.CV, cs.LG, stat.ML, or an archive such as cs."
        )
        raise InterestSyntaxError(
            f"“{lexeme.value}” is not an arXiv category.", lexeme.position, hint
        )
    return Category(code)


def _author(lexeme: Lexeme) -> Author:
    if authors.parse_name(lexeme.value) is None:
        raise InterestSyntaxError(
            f"“{lexeme.value}” is not a name.", lexeme.position, FIELD_EXAMPLES["author"]
        )
    return Author(authors.display(lexeme.value))


def apply_field(name: str, node: Node, position: int) -> Node:
    """title:(a OR "b c") applies the field to every term inside the group."""
    if isinstance(node, AllOf):
        return AllOf(tuple(apply_field(name, p, position) for p in node.parts))
    if isinstance(node, AnyOf):
        return AnyOf(tuple(apply_field(name, p, position) for p in node.parts))
    if isinstance(node, Without):
        return Without(apply_field(name, node.part, position))
    if isinstance(node, Keyword) and not node.title_only:
        fake = Lexeme("phrase" if node.phrase else "word", node.text, position)
        return field_atom(name, fake)
    raise InterestSyntaxError(
        f"{name}: cannot apply to a field inside its group.",
        position,
        "Use plain words inside the parentheses, e.g. title:(mamba OR transformer).",
    )


def check_exclusion(node: Node, position: int) -> None:
    """An exclusion holds one term or an OR list of terms, never a description."""
    inner = node.parts if isinstance(node, AnyOf) else (node,)
    for part in inner:
        if isinstance(part, Description):
            raise InterestSyntaxError(
                "A description cannot be excluded.",
                position,
                "Exclude keywords instead: -survey, -(survey OR review).",
            )
        if isinstance(part, AllOf | AnyOf | Without):
            raise InterestSyntaxError(
                "An exclusion takes one term, a phrase or an OR list.",
                position,
                'Write -survey, -"literature review" or -(survey OR review).',
            )
