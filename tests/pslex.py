"""A small PowerShell lexer for the tests: strings, comments and bracket balance.

There is no PowerShell on these machines, so the .ps1 modules cannot be parsed by
PowerShell's own tokenizer here. This catches what typing mistakes usually break:
an unterminated string or here-string, an unclosed block comment, and unbalanced
(), {} or [] — including inside "$( ... )" subexpressions of expandable strings.
"""

from __future__ import annotations

PAIRS = {"(": ")", "{": "}", "[": "]"}


class PsSyntaxError(ValueError):
    pass


def check(source: str) -> None:
    """Raise PsSyntaxError with a line number when the source is not well formed."""
    _Lexer(source).run()


class _Lexer:
    def __init__(self, source: str) -> None:
        self.s = source
        self.i = 0
        self.stack: list[tuple[str, int]] = []

    def line(self, pos: int | None = None) -> int:
        return self.s.count("\n", 0, self.i if pos is None else pos) + 1

    def run(self) -> None:
        self.code(until=None)
        if self.stack:
            char, pos = self.stack[-1]
            raise PsSyntaxError(f"line {self.line(pos)}: '{char}' is never closed")

    def code(self, until: str | None) -> None:
        """Lex code; with `until` (a closing ')'), return when that bracket closes."""
        depth = len(self.stack)
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            two = s[self.i: self.i + 2]
            if two == "<#":
                end = s.find("#>", self.i + 2)
                if end < 0:
                    raise PsSyntaxError(f"line {self.line()}: block comment never closed")
                self.i = end + 2
            elif c == "#":
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            elif c == "`":
                self.i += 2
            elif two in ("@'", '@"') and s[self.i + 2: self.i + 4].lstrip(" \t")[:1] in "\r\n":
                self.here_string(two[1])
            elif c == "'":
                self.single()
            elif c == '"':
                self.double()
            elif c in PAIRS:
                self.stack.append((c, self.i))
                self.i += 1
            elif c in PAIRS.values():
                if not self.stack:
                    raise PsSyntaxError(f"line {self.line()}: '{c}' closes nothing")
                opener, pos = self.stack.pop()
                if PAIRS[opener] != c:
                    raise PsSyntaxError(
                        f"line {self.line()}: '{c}' closes '{opener}' from line {self.line(pos)}")
                self.i += 1
                if until is not None and len(self.stack) < depth:
                    return
            else:
                self.i += 1
        if until is not None:
            raise PsSyntaxError(f"line {self.line()}: subexpression never closed")

    def single(self) -> None:
        start = self.i
        self.i += 1
        while self.i < len(self.s):
            if self.s[self.i] == "'":
                if self.s[self.i + 1: self.i + 2] == "'":
                    self.i += 2
                    continue
                self.i += 1
                return
            self.i += 1
        raise PsSyntaxError(f"line {self.line(start)}: string never closed")

    def double(self) -> None:
        start = self.i
        self.i += 1
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c == "`":
                self.i += 2
            elif c == '"':
                if s[self.i + 1: self.i + 2] == '"':
                    self.i += 2
                    continue
                self.i += 1
                return
            elif s[self.i: self.i + 2] == "$(":
                self.i += 1
                self.stack.append(("(", self.i))
                self.i += 1
                self.code(until=")")
            else:
                self.i += 1
        raise PsSyntaxError(f"line {self.line(start)}: string never closed")

    def here_string(self, quote: str) -> None:
        start = self.i
        terminator = "\n" + quote + "@"
        end = self.s.find(terminator, self.i)
        if end < 0:
            raise PsSyntaxError(f"line {self.line(start)}: here-string never closed")
        self.i = end + len(terminator)
