"""String nodes: join, cut, measure, change case, trim, replace, compare, and regular expressions.
ComfyUI's comfy_extras string nodes with the same inputs and results (Python's str and re semantics)."""

import re
from typing import Annotated

from pydantic import Field

from engine.graph.native import Combo, Node, Out, Widget, node

Text = Annotated[str, Widget(multiline=True)]
CASES = {"UPPERCASE": str.upper, "lowercase": str.lower, "Capitalize": str.capitalize, "Title Case": str.title}
TRIMS = {"Both": str.strip, "Left": str.lstrip, "Right": str.rstrip}


def regex_flags(case_insensitive: bool, multiline: bool, dotall: bool) -> int:
    """The `re` flags the regex nodes' three switches stand for."""
    return ((re.IGNORECASE if case_insensitive else 0) | (re.MULTILINE if multiline else 0)
            | (re.DOTALL if dotall else 0))


@node(category="utils/string", display_name="Concatenate", outputs=[Out("STRING")])
class StringConcatenate(Node):
    """string_a + delimiter + string_b."""

    string_a: Text
    string_b: Text
    delimiter: str = ""

    def run(self, ctx):
        return (self.delimiter.join((self.string_a, self.string_b)),)


@node(category="utils/string", display_name="Substring", outputs=[Out("STRING")])
class StringSubstring(Node):
    """string[start:end] (Python slicing: negative positions count from the end)."""

    string: Text
    start: int
    end: int

    def run(self, ctx):
        return (self.string[self.start:self.end],)


@node(category="utils/string", display_name="Length", outputs=[Out("INT", "length")])
class StringLength(Node):
    """Number of characters."""

    string: Text

    def run(self, ctx):
        return (len(self.string),)


@node(category="utils/string", display_name="Case Converter", outputs=[Out("STRING")])
class CaseConverter(Node):
    """UPPERCASE, lowercase, Capitalize (first letter) or Title Case (every word)."""

    string: Text
    mode: Annotated[str, Combo(list(CASES))]

    def run(self, ctx):
        return (CASES[self.mode](self.string),)


@node(category="utils/string", display_name="Trim", outputs=[Out("STRING")])
class StringTrim(Node):
    """Strip whitespace at both ends, the left or the right."""

    string: Text
    mode: Annotated[str, Combo(list(TRIMS))]

    def run(self, ctx):
        return (TRIMS[self.mode](self.string),)


@node(category="utils/string", display_name="Replace", outputs=[Out("STRING")])
class StringReplace(Node):
    """Replace every occurrence of `find` (plain text)."""

    string: Text
    find: Text
    replace: Text

    def run(self, ctx):
        return (self.string.replace(self.find, self.replace),)


@node(category="utils/string", display_name="Contains", outputs=[Out("BOOLEAN", "contains")])
class StringContains(Node):
    """Whether `substring` occurs in `string`."""

    string: Text
    substring: Text
    case_sensitive: bool = True

    def run(self, ctx):
        if self.case_sensitive:
            return (self.substring in self.string,)
        return (self.substring.lower() in self.string.lower(),)


@node(category="utils/string", display_name="Compare", outputs=[Out("BOOLEAN")])
class StringCompare(Node):
    """Whether string_a starts with, ends with or equals string_b."""

    string_a: Text
    string_b: Text
    mode: Annotated[str, Combo(["Starts With", "Ends With", "Equal"])]
    case_sensitive: bool = True

    def run(self, ctx):
        a, b = (self.string_a, self.string_b) if self.case_sensitive else (self.string_a.lower(), self.string_b.lower())
        return ({"Equal": a == b, "Starts With": a.startswith(b), "Ends With": a.endswith(b)}[self.mode],)


@node(category="utils/string", display_name="Regex Match", outputs=[Out("BOOLEAN", "matches")])
class RegexMatch(Node):
    """Whether the pattern matches anywhere (an invalid pattern matches nothing)."""

    string: Text
    regex_pattern: Text
    case_insensitive: bool = True
    multiline: bool = False
    dotall: bool = False

    def run(self, ctx):
        try:
            found = re.search(self.regex_pattern, self.string,
                              regex_flags(self.case_insensitive, self.multiline, self.dotall))
        except re.error:
            return (False,)
        return (found is not None,)


def _extract(pattern: str, string: str, flags: int, mode: str, group: int) -> str:
    if mode == "First Match":
        match = re.search(pattern, string, flags)
        return match.group(0) if match else ""
    if mode == "All Matches":
        matches = re.findall(pattern, string, flags)
        return "\n".join(m[0] if isinstance(m, tuple) else m for m in matches)
    if mode == "First Group":
        match = re.search(pattern, string, flags)
        return match.group(group) if match and len(match.groups()) >= group else ""
    groups = [m.group(group) for m in re.finditer(pattern, string, flags) if m.groups() and len(m.groups()) >= group]
    return "\n".join(groups)


@node(category="utils/string", display_name="Regex Extract", outputs=[Out("STRING")])
class RegexExtract(Node):
    """The first match, all matches (one per line), or a group of the first / every match; "" when
    nothing matches or the pattern is invalid."""

    string: Text
    regex_pattern: Text
    mode: Annotated[str, Combo(["First Match", "All Matches", "First Group", "All Groups"])]
    case_insensitive: bool = True
    multiline: bool = False
    dotall: bool = False
    group_index: int = Field(1, ge=0, le=100)

    def run(self, ctx):
        flags = regex_flags(self.case_insensitive, self.multiline, self.dotall)
        try:
            return (_extract(self.regex_pattern, self.string, flags, self.mode, self.group_index),)
        except re.error:
            return ("",)


@node(category="utils/string", display_name="Regex Replace", outputs=[Out("STRING")])
class RegexReplace(Node):
    """Replace matches of the pattern (`count` 0 = all); the replacement may use \\1 group references."""

    string: Text
    regex_pattern: Text
    replace: Text
    case_insensitive: Annotated[bool, Widget(optional=True)] = True
    multiline: Annotated[bool, Widget(optional=True)] = False
    dotall: Annotated[bool, Widget(optional=True)] = False
    count: Annotated[int, Widget(optional=True), Field(ge=0, le=100)] = 0

    def run(self, ctx):
        flags = regex_flags(self.case_insensitive, self.multiline, self.dotall)
        return (re.sub(self.regex_pattern, self.replace, self.string, count=self.count, flags=flags),)


