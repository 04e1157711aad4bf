"""How much work an XPath expression can cause, known before it runs.

libxml2 cannot be interrupted inside an XPath evaluation, and the one bound it has for this
(``xmlXPathContext.opLimit``) is not reachable from lxml, so the cost is bounded before evaluation:
:func:`estimate` reads the expression and finds the degree ``d`` of the polynomial its work can grow
with, ``N ** d`` for a document of ``N`` nodes.  A path that walks the document (``//``, an absolute
path, the descendant, ancestor, following, preceding or parent axes) costs up to ``N`` each time it is
evaluated, and its predicates run once per node it selects, so a walk inside a walk's predicate is
``N ** 2``; a relative path of child/attribute/self steps only visits the children of its context
nodes, which over the distinct nodes a predicate sees add up to ``N`` at most.  Comparing two
node-sets compares every pair.  Strings are work too: each argument of a string function may be the
document's whole text, and a search (``contains`` …) tries every position of its haystack, so the
cost also records those (:class:`XPathCost`).  The compiler refuses expressions deeper than
:data:`MAX_DEGREE` or longer than :data:`MAX_LENGTH`; the interpreter refuses to evaluate one whose
:meth:`XPathCost.units` on the actual document pass its budget.  This is an upper bound of the shape
of the work, not a measurement: a constant factor (about 20 ns a unit on current hardware) is in the
budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_DEGREE", "MAX_LENGTH", "XPathCost", "estimate"]

MAX_LENGTH = 1024  # characters; the seeds' and docs' expressions are a few dozen
MAX_DEGREE = 2  # N ** 2: a walk inside one walk's predicate, or two walked node-sets compared
_MAX_NESTING = 32  # brackets and parentheses inside one another: keeps the reader's recursion shallow
_CHARS_PER_UNIT = 10  # characters copied or compared in the time of one node visited (both measured)
# libxml2 searches a string for another by trying every position (xmlStrstr): n * m
_SEARCHES = frozenset({"contains", "substring-before", "substring-after", "translate"})
# Functions whose arguments never become strings longer than a name; every other function's
# arguments may each be a string as long as the document's text (concat(/, /, /, …)).
_NO_STRINGS = frozenset(
    {"count", "not", "boolean", "true", "false", "last", "position", "name", "local-name", "namespace-uri"}
    | {"floor", "ceiling", "round", "sum", "lang", "id"}
)

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<literal>"[^"]*"|'[^']*')
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<op>//|::|\.\.|!=|<=|>=|[()\[\]./@,|+\-=<>*$])
    | (?P<name>[^\W\d][\w.\-]*(?::(?:[^\W\d][\w.\-]*|\*))?)
    )""",
    re.VERBOSE,
)
_NODE_TYPES = frozenset({"node", "text", "comment", "processing-instruction"})
_OPERATOR_NAMES = frozenset({"and", "or", "div", "mod"})
# Axes whose nodes are the context node's children, attributes or itself: bounded by its fan-out.
_LOCAL_AXES = frozenset({"child", "attribute", "self", "namespace"})
# Axes that, applied to a whole node-set, visit up to N nodes for each node of it.
_SPREADING_AXES = frozenset({"following", "preceding", "following-sibling", "preceding-sibling"})
_COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})


class UnreadableXPath(ValueError):
    """The expression could not be read (lxml accepted it, so this names a gap of this reader)."""


@dataclass(frozen=True)
class _Value:
    degree: int  # the work of computing it, as a power of N
    nodes: bool  # a node-set (two node-sets compared cost the product of their sizes)
    size: int  # its size as a power of N, when it is a node-set
    # Its string may be the document's whole text each time (a walk's nodes, not the context's own
    # children, whose texts add up to the document's once over the distinct nodes a predicate sees).
    whole: bool = False


@dataclass(frozen=True)
class XPathCost:
    """The shape of an expression's work: ``degree`` in nodes, and its string searches."""

    degree: int
    # (how many times it runs as a power of N, the length of its literal needle or None)
    searches: tuple[tuple[int, int | None], ...] = ()
    strings: tuple[
        int, ...
    ] = ()  # one per argument that may be a whole text: how many times, as a power of N

    @property
    def superlinear(self) -> bool:
        """Whether it may do more than visit the document once (then it is worth measuring)."""
        return self.degree > 1 or bool(self.searches) or bool(self.strings)

    def units(self, nodes: int, text: int) -> int:
        """An upper bound of its work on a document of ``nodes`` nodes and ``text`` characters, in
        node visits: the walks; string values taken at the innermost walk; each search
        (haystack and needle up to the whole text, a literal needle its own length)."""
        walks: int = nodes**self.degree
        units = [walks, walks // max(nodes, 1) * text // _CHARS_PER_UNIT]
        for runs, needle in self.searches:
            times: int = nodes**runs
            units.append(times * text * (text if needle is None else needle) // _CHARS_PER_UNIT)
        copies: int = sum(nodes**runs for runs in self.strings)
        units.append(copies * text // _CHARS_PER_UNIT)
        return max(units)


def estimate(expression: str) -> XPathCost:
    """The cost of ``expression``: its degree ``d`` (``N ** d`` for N nodes, at least 1) and its
    string searches."""
    lexemes = _lexemes(expression)
    depth = 0
    for lexeme in lexemes:
        depth += (lexeme in ("(", "[")) - (lexeme in (")", "]"))
        if depth > _MAX_NESTING:
            raise UnreadableXPath(f"brackets nest more than {_MAX_NESTING} deep")
    reader = _Reader(lexemes)
    value = reader.expr(0)
    if reader.peek() is not None:
        raise UnreadableXPath(f"unexpected '{reader.peek()}'")
    return XPathCost(max(1, value.degree), tuple(reader.searches), tuple(reader.strings))


def _lexemes(expression: str) -> list[str]:
    lexemes: list[str] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise UnreadableXPath(f"cannot read from '{text[position : position + 20]}'")
        lexemes.append(match.group(match.lastgroup or "op"))
        position = match.end()
    return lexemes


class _Reader:
    """Recursive descent over XPath 1.0 (its grammar, section 3); ``m`` is how many times, as a power
    of N, the expression being read is evaluated."""

    def __init__(self, lexemes: list[str]) -> None:
        self.lexemes = lexemes
        self.index = 0
        self.searches: list[tuple[int, int | None]] = []
        self.strings: list[int] = []

    def peek(self, ahead: int = 0) -> str | None:
        index = self.index + ahead
        return self.lexemes[index] if index < len(self.lexemes) else None

    def take(self, expected: str | None = None) -> str:
        lexeme = self.peek()
        if lexeme is None or (expected is not None and lexeme != expected):
            raise UnreadableXPath(f"expected '{expected or 'more'}', found '{lexeme or 'the end'}'")
        self.index += 1
        return lexeme

    # -- operators: the degree of a binary expression is its operands' (comparisons aside)

    def expr(self, m: int) -> _Value:
        return self.binary(m, 0)

    _LEVELS: tuple[frozenset[str], ...] = (
        frozenset({"or"}),
        frozenset({"and"}),
        frozenset({"=", "!="}),
        frozenset({"<", "<=", ">", ">="}),
        frozenset({"+", "-"}),
        frozenset({"*", "div", "mod"}),
    )

    def binary(self, m: int, level: int) -> _Value:
        if level == len(self._LEVELS):
            return self.unary(m)
        left = self.binary(m, level + 1)
        while self.peek() in self._LEVELS[level]:
            operator = self.take()
            right = self.binary(m, level + 1)
            degree = max(left.degree, right.degree)
            if operator in _COMPARISONS and left.nodes and right.nodes:
                degree = max(degree, m + left.size + right.size)  # every pair is compared
            left = _Value(degree, False, 0)
        return left

    def unary(self, m: int) -> _Value:
        while self.peek() == "-":
            self.take()
        value = self.path_expr(m)
        while self.peek() == "|":
            self.take()
            other = self.path_expr(m)
            size = max(value.size, other.size)
            value = _Value(max(value.degree, other.degree), True, size, value.whole or other.whole)
        return value

    # -- paths

    def path_expr(self, m: int) -> _Value:
        lexeme = self.peek()
        if lexeme is None:
            raise UnreadableXPath("the expression ends too early")
        if self._starts_primary(lexeme):
            value = self.primary(m)
            degree = value.degree
            while self.peek() == "[":  # a filter: its predicates run once per node of the value
                degree = max(degree, self.predicate(m + 1))
            if self.separators() is not None:  # steps from the nodes of the value: a walk
                return self.steps(m, walk=True, degree=degree, first=False)
            return _Value(degree, value.nodes, value.size, value.whole)
        if lexeme in ("/", "//"):
            self.separators()
            if not self._starts_step(self.peek()):
                return _Value(m + 1, True, 1, whole=True)  # the root node alone
            return self.steps(m, walk=True, degree=m + 1, first=True)
        return self.steps(m, walk=False, degree=0, first=True)

    def steps(self, m: int, *, walk: bool, degree: int, first: bool) -> _Value:
        """The steps of a location path; ``walk`` when it already starts away from the context node."""
        axes: list[str] = []
        predicates: list[int] = []  # positions in self.lexemes, read once the path's kind is known
        while True:
            axes.append(self.step(predicates))
            walked = self.separators()
            if walked is None:
                break
            if walked:
                axes.append("descendant")
        walk = walk or any(axis not in _LOCAL_AXES for axis in axes)
        here = m + 1 if walk else max(m, 1)
        spread = sum(1 for axis in axes[0 if not first else 1 :] if axis in _SPREADING_AXES)
        degree = max(degree, here + spread)
        end = self.index
        for start in predicates:  # predicates run once per node the path selects
            self.index = start
            degree = max(degree, self.predicate(here + spread))
        self.index = end
        return _Value(degree, True, 1 if walk or m == 0 else 0, whole=walk)

    def separators(self) -> bool | None:
        """Takes a run of ``/`` and ``//`` (libxml2 reads ``///a`` as ``//a``); whether one was ``//``,
        None when there is none."""
        if self.peek() not in ("/", "//"):
            return None
        walked = False
        while self.peek() in ("/", "//"):
            walked = self.take() == "//" or walked
        return walked

    def step(self, predicates: list[int]) -> str:
        """One step; records where its predicates start (skipping them) and answers its axis."""
        lexeme = self.take()
        if lexeme == ".":
            axis = "self"
        elif lexeme == "..":
            axis = "parent"
        else:
            axis = "child"
            if lexeme == "@":
                axis, lexeme = "attribute", self.take()
            elif self.peek() == "::":
                axis = lexeme
                self.take("::")
                lexeme = self.take()
            if lexeme in _NODE_TYPES and self.peek() == "(":
                self.take("(")
                if self.peek() != ")":
                    self.take()  # processing-instruction('name')
                self.take(")")
        while self.peek() == "[":
            predicates.append(self.index)
            self.skip_brackets()
        return axis

    def skip_brackets(self) -> None:
        depth = 0
        while True:
            lexeme = self.take()
            if lexeme in ("[", "("):
                depth += 1
            elif lexeme in ("]", ")"):
                depth -= 1
                if depth == 0:
                    return

    def predicate(self, m: int) -> int:
        self.take("[")
        value = self.expr(m)
        self.take("]")
        return value.degree

    def primary(self, m: int) -> _Value:
        lexeme = self.take()
        if lexeme == "$":
            self.take()
            return _Value(m, True, 1, whole=True)
        if lexeme == "(":
            value = self.expr(m)
            self.take(")")
            return value
        if lexeme[0] in "\"'" or lexeme[0].isdigit() or lexeme[0] == ".":
            return _Value(m, False, 0)
        # a function call: its arguments are evaluated once per call
        self.take("(")
        degree = m
        needle: int | None = None
        wholes: list[bool] = []
        while self.peek() != ")":
            start = self.index
            argument = self.expr(m)
            degree = max(degree, argument.degree)
            literal = self.lexemes[start]
            if len(wholes) == 1 and self.index == start + 1 and literal[0] in "\"'":
                needle = len(literal) - 2
            wholes.append(argument.whole)
            if self.peek() == ",":
                self.take()
        self.take(")")
        name = lexeme.rpartition(":")[2]
        if name in _NO_STRINGS:
            return _Value(degree, False, 0)
        # A string of the context's own nodes is taken once per distinct node: one power of N less.
        runs = [m if whole else max(m - 1, 0) for whole in wholes]
        if name in _SEARCHES:
            self.searches.append((max(runs[:2], default=m), needle))
        self.strings.extend(runs)
        return _Value(degree, False, 0, whole=any(wholes))

    def _starts_primary(self, lexeme: str) -> bool:
        if lexeme in ("$", "(") or lexeme[0] in "\"'" or lexeme[0].isdigit():
            return True
        if lexeme.startswith(".") and len(lexeme) > 1 and lexeme[1].isdigit():
            return True
        return (
            lexeme not in _NODE_TYPES
            and lexeme not in _OPERATOR_NAMES
            and lexeme[0].isalpha()
            and self.peek(1) == "("
        )

    @staticmethod
    def _starts_step(lexeme: str | None) -> bool:
        return lexeme is not None and (
            lexeme in (".", "..", "@", "*") or lexeme[0].isalpha() or lexeme[0] == "_"
        )
