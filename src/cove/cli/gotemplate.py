"""Go text/template, the subset docker's ``--format`` uses.

Actions with pipelines, ``{{-``/``-}}`` trimming, comments, variables
(``$``, ``$x := ...``), ``if``/``else if``/``else``, ``range`` (lists, maps in
key order, ``$i, $v :=``), ``with``, parenthesised pipelines, string/raw/number/
bool/nil literals, fields on maps (a missing key prints ``<no value>``) and on
the CLI's row objects (attributes, and methods with arguments like ``.Label
"k"``), Go's builtins (and or not len index print printf println eq ne lt le
gt ge slice) and docker's (json join lower upper title split truncate pad).
Values print as Go's ``%v`` does: lists ``[a b]``, maps ``map[k:v]``, JSON
null ``<nil>``.
"""

from __future__ import annotations

from cove.cli.errors import CliError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any


class TemplateError(CliError):
    """A template that does not parse or fails while executing.

    ``located`` is set once the message names the failing action, as Go's
    ``template: :LINE:COL: executing "" at <ACTION>: ...``.
    """

    located = False


class _Missing:
    """A map key that is not there: prints ``<no value>``, is false, is JSON null."""

    def __repr__(self) -> str:
        return "<no value>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class GoNil:
    """A typed Go nil from a JSON null: a nil slice prints ``[]``, a nil map ``map[]``.

    Both are empty and false, and ``json`` writes them as null again.
    """

    __slots__ = ("empty",)

    def __init__(self, empty: str) -> None:
        self.empty = empty

    def __bool__(self) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[Any]:
        return iter(())


NIL_SLICE: Any = GoNil("[]")
NIL_MAP: Any = GoNil("map[]")


class GoStruct(dict):  # type: ignore[type-arg]
    """A JSON object that Go decodes into a struct: ``%v`` prints ``{v1 v2}`` in field order."""

    fields: tuple[str, ...] = ()


# Lexing --------------------------------------------------------------------------------

def _split_actions(src: str) -> list[tuple[str, str, int]]:
    """[("text", s, pos) | ("action", inner, pos)] with trim markers applied."""
    items: list[tuple[str, str, int]] = []
    pos = 0
    trim_next = False
    while True:
        start = src.find("{{", pos)
        text = src[pos:] if start < 0 else src[pos:start]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if start < 0:
            if text:
                items.append(("text", text, pos))
            return items
        inner_start = start + 2
        if src.startswith("- ", inner_start) or src.startswith("-\t", inner_start) \
                or src.startswith("-\n", inner_start):
            text = text.rstrip(" \t\r\n")
            inner_start += 1
        if text:
            items.append(("text", text, pos))
        end = _find_close(src, inner_start)
        if end < 0:
            raise TemplateError(f"template: :{_line(src, start)}: unclosed action")
        inner = src[inner_start:end]
        trim_next = False
        if inner.endswith(" -") or inner.endswith("\t-") or inner.endswith("\n-"):
            inner = inner[:-1]
            trim_next = True
        items.append(("action", inner, inner_start))
        pos = end + 2


def _find_close(src: str, pos: int) -> int:
    """Index of the ``}}`` closing an action, skipping quoted strings."""
    i = pos
    n = len(src)
    while i < n:
        c = src[i]
        if c == '"':
            i += 1
            while i < n and src[i] != '"':
                i += 2 if src[i] == "\\" else 1
        elif c == "`":
            i = src.find("`", i + 1)
            if i < 0:
                return -1
        elif c == "}" and src.startswith("}}", i):
            return i
        elif c == "/" and src.startswith("/*", i):
            close = src.find("*/", i + 2)
            if close < 0:
                return -1
            i = close + 1
        i += 1
    return -1


def _line(src: str, pos: int) -> int:
    return src.count("\n", 0, pos) + 1


_PUNCT = "|(),="


def _tokenize(inner: str) -> list[tuple[str, Any]]:
    """Tokens: (kind, value) with kinds str num bool nil field var ident punct decl."""
    toks: list[tuple[str, Any]] = []
    i = 0
    n = len(inner)
    while i < n:
        c = inner[i]
        if c.isspace():
            i += 1
        elif c == '"':
            j = i + 1
            buf = []
            while j < n and inner[j] != '"':
                if inner[j] == "\\" and j + 1 < n:
                    esc = inner[j + 1]
                    mapping = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"',
                               "'": "'", "0": "\0", "a": "\a", "b": "\b", "f": "\f",
                               "v": "\v"}
                    if esc in mapping:
                        buf.append(mapping[esc])
                        j += 2
                    elif esc in "xuU":
                        width = {"x": 2, "u": 4, "U": 8}[esc]
                        buf.append(chr(int(inner[j + 2:j + 2 + width], 16)))
                        j += 2 + width
                    else:
                        raise TemplateError(f"template: :1: unknown escape sequence: \\{esc}")
                else:
                    buf.append(inner[j])
                    j += 1
            if j >= n:
                raise TemplateError("template: :1: unterminated quoted string")
            toks.append(("str", "".join(buf)))
            i = j + 1
        elif c == "`":
            j = inner.find("`", i + 1)
            if j < 0:
                raise TemplateError("template: :1: unterminated raw quoted string")
            toks.append(("str", inner[i + 1:j]))
            i = j + 1
        elif inner.startswith(":=", i):
            toks.append(("decl", ":="))
            i += 2
        elif c in _PUNCT:
            toks.append(("punct", c))
            i += 1
        elif c == "." and (i + 1 >= n or not inner[i + 1].isdigit()):
            j = i
            names: list[str] = []
            while j < n and inner[j] == ".":
                k = j + 1
                while k < n and (inner[k].isalnum() or inner[k] == "_"):
                    k += 1
                if k == j + 1:
                    if names:
                        raise TemplateError(f"template: :1: bad field in {inner.strip()!r}")
                    j = k
                    break
                names.append(inner[j + 1:k])
                j = k
            toks.append(("field", names))
            i = j
        elif c == "$":
            j = i + 1
            while j < n and (inner[j].isalnum() or inner[j] == "_"):
                j += 1
            name = inner[i:j]
            chain = []
            while j < n and inner[j] == ".":
                k = j + 1
                while k < n and (inner[k].isalnum() or inner[k] == "_"):
                    k += 1
                chain.append(inner[j + 1:k])
                j = k
            toks.append(("var", (name, chain)))
            i = j
        elif c.isdigit() or (c in "+-." and i + 1 < n and inner[i + 1].isdigit()):
            j = i + 1
            while j < n and (inner[j].isalnum() or inner[j] in "._+-"):
                if inner[j] in "+-" and inner[j - 1] not in "eE":
                    break
                j += 1
            text = inner[i:j]
            try:
                value: Any = int(text, 0)
            except ValueError:
                try:
                    value = float(text)
                except ValueError:
                    raise TemplateError(f"template: :1: bad number syntax: {text!r}") from None
            toks.append(("num", value))
            i = j
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (inner[j].isalnum() or inner[j] == "_"):
                j += 1
            word = inner[i:j]
            if word in ("true", "false"):
                toks.append(("bool", word == "true"))
            elif word == "nil":
                toks.append(("nil", None))
            else:
                toks.append(("ident", word))
            i = j
        elif c == "'":
            j = inner.find("'", i + 1)
            if j < 0:
                raise TemplateError("template: :1: unterminated character constant")
            toks.append(("num", ord(inner[i + 1:j][:1] or "\0")))
            i = j + 1
        else:
            raise TemplateError(f"template: :1: unexpected {c!r} in command")
    return toks


# Parsing -------------------------------------------------------------------------------

class _Pipe:
    __slots__ = ("assign", "cmds", "decl")

    def __init__(self, decl: list[str], cmds: list[list[Any]], assign: bool) -> None:
        self.decl = decl
        self.cmds = cmds
        self.assign = assign


class _Node:
    __slots__ = ("body", "else_body", "kind", "pipe", "pos", "text")

    def __init__(self, kind: str, text: str = "", pipe: _Pipe | None = None,
                 pos: int = 0) -> None:
        self.kind = kind
        self.text = text  # literal text, or the action's source for error messages
        self.pipe = pipe
        self.pos = pos
        self.body: list[_Node] = []
        self.else_body: list[_Node] = []


class _Parser:
    def __init__(self, src: str, funcs: dict[str, Callable[..., Any]]) -> None:
        self.items = _split_actions(src)
        self.i = 0
        self.funcs = funcs

    def parse(self) -> list[_Node]:
        nodes, end = self._list()
        if end is not None:
            raise TemplateError(f"template: :1: unexpected {{{{{end}}}}}")
        return nodes

    def _list(self) -> tuple[list[_Node], str | None]:
        """Nodes up to an ``else``/``end`` (returned as the second item) or EOF."""
        nodes: list[_Node] = []
        while self.i < len(self.items):
            kind, text, start = self.items[self.i]
            self.i += 1
            if kind == "text":
                nodes.append(_Node("text", text))
                continue
            stripped = text.strip()
            if stripped.startswith("/*"):
                continue
            word, _, rest = stripped.partition(" ")
            if stripped in ("end", "else") or word == "else":
                return nodes, stripped
            pos = start + len(text) - len(text.lstrip())
            if word in ("if", "range", "with"):
                nodes.append(self._control(word, rest, pos))
            elif word in ("define", "template", "block", "break", "continue"):
                raise TemplateError(f"template: :1: {word} is not supported")
            else:
                if not stripped:
                    raise TemplateError("template: :1: missing value for command")
                nodes.append(_Node("action", stripped, self._pipe(stripped), pos))
        return nodes, None

    def _control(self, word: str, rest: str, pos: int = 0) -> _Node:
        if not rest.strip():
            raise TemplateError(f"template: :1: missing value for {word}")
        node = _Node(word, rest.strip(), self._pipe(rest), pos)
        body, end = self._list()
        node.body = body
        if end is None:
            raise TemplateError(f"template: :1: unexpected EOF in {word}")
        if end.startswith("else") and end != "else":
            # "else if ..." / "else with ...": an else branch holding one nested node
            inner = end[4:].strip()
            sub_word, _, sub_rest = inner.partition(" ")
            if sub_word not in ("if", "with"):
                raise TemplateError(f"template: :1: unexpected {inner!r} after else")
            node.else_body = [self._control(sub_word, sub_rest, node.pos)]
            return node
        if end == "else":
            node.else_body, end = self._list()
            if end != "end":
                raise TemplateError(f"template: :1: expected end; found {end}")
        return node

    def _pipe(self, text: str) -> _Pipe:
        toks = _tokenize(text)
        decl: list[str] = []
        assign = False
        # "$x :=" / "$i, $v :=" / "$x ="
        for k, tok in enumerate(toks):
            if tok[0] in ("decl",) or tok == ("punct", "="):
                heads = toks[:k]
                names = [t[1][0] for t in heads if t[0] == "var"]
                if names and all(t[0] == "var" or t == ("punct", ",") for t in heads):
                    decl = names
                    assign = tok[0] == "punct"
                    toks = toks[k + 1:]
                break
        pos = 0

        def parse_cmds(stop: str | None) -> list[list[Any]]:
            nonlocal pos
            cmds: list[list[Any]] = [[]]
            while pos < len(toks):
                kind, value = toks[pos]
                if kind == "punct" and value == ")":
                    if stop != ")":
                        raise TemplateError("template: :1: unexpected right paren")
                    pos += 1
                    return cmds
                if kind == "punct" and value == "|":
                    if not cmds[-1]:
                        raise TemplateError("template: :1: missing command before |")
                    cmds.append([])
                    pos += 1
                    continue
                if kind == "punct" and value == "(":
                    pos += 1
                    sub = parse_cmds(")")
                    chain: list[str] = []
                    if pos < len(toks) and toks[pos][0] == "field":
                        chain = toks[pos][1]
                        pos += 1
                    cmds[-1].append(("pipe", (_Pipe([], sub, False), chain)))
                    continue
                if kind == "ident" and value not in self.funcs:
                    raise TemplateError(f'template: :1: function "{value}" not defined')
                if kind in ("punct", "decl"):
                    raise TemplateError(f"template: :1: unexpected {value!r} in command")
                cmds[-1].append((kind, value))
                pos += 1
            if stop == ")":
                raise TemplateError("template: :1: unclosed left paren")
            if not cmds[-1]:
                raise TemplateError("template: :1: missing value for command")
            return cmds

        return _Pipe(decl, parse_cmds(None), assign)


# Values --------------------------------------------------------------------------------

def go_quote(text: str) -> str:
    """strconv.Quote: double-quoted with Go escapes, printable Unicode kept."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_value(value: Any) -> str:
    """Go's ``%v`` of a decoded-JSON value or a row object."""
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, GoNil):
        return value.empty
    if isinstance(value, GoStruct):
        return "{" + " ".join(format_value(value.get(f)) if value.get(f) is not None
                              else "<nil>" for f in value.fields) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{format_value(k)}:{format_value(value[k])}"
                                 for k in sorted(value, key=str)) + "]"
    return str(value)


def to_json(value: Any) -> str:
    """docker's ``json`` function: compact, no HTML escaping, UTF-8 kept."""
    import _json as accel

    # typeshed lacks encode_basestring (the non-ASCII-escaping one) and make_encoder
    codec: Any = accel

    def default(obj: Any) -> Any:
        if obj is MISSING or isinstance(obj, GoNil):
            return None
        method = getattr(obj, "to_json", None)
        if method is not None:
            return method()
        raise TemplateError(f"json: unsupported type: {type(obj).__name__}")

    encode = codec.make_encoder(None, default, codec.encode_basestring, None, ":", ",",
                                False, False, True)
    if value is MISSING or isinstance(value, GoNil):
        value = None
    text = "".join(encode(value, 0))
    if hasattr(value, "to_json"):
        # docker's row objects marshal themselves with Go's HTML escaping, which
        # the json function then keeps; < > & occur only inside JSON strings
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def truth(value: Any) -> bool:
    if value is None or value is MISSING or isinstance(value, GoNil):
        return False
    if isinstance(value, bool | int | float | str | list | tuple | dict):
        return bool(value)
    return True


def _title(text: str) -> str:
    out = []
    prev_sep = True
    for ch in text:
        out.append(ch.upper() if prev_sep else ch)
        prev_sep = not (ch.isalnum() or ch == "_")
    return "".join(out)


def _truncate(text: Any, length: int) -> str:
    s = format_value(text)
    return s if len(s) < length else s[:length]


def _pad(text: Any, before: int, after: int) -> str:
    return " " * before + format_value(text) + " " * after


def _split(text: str, sep: str) -> list[str]:
    if sep == "":
        return list(text)
    return text.split(sep)


def _join(items: Any, sep: str) -> str:
    if items is None or items is MISSING:
        return ""
    if isinstance(items, str):
        return items
    return sep.join(format_value(i) for i in items)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, GoNil):
            return MISSING
        if isinstance(value, dict):
            value = value.get(key, MISSING)
        elif isinstance(value, list | tuple | str):
            if not isinstance(key, int) or not 0 <= key < len(value):
                raise TemplateError(f"error calling index: index out of range: {key}")
            value = value[key]
        else:
            raise TemplateError(f"error calling index: can't index item of type "
                                f"{type(value).__name__}")
    return value


def _length(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        raise TemplateError(f"error calling len: len of type {type(value).__name__}") from None


def _slice(value: Any, *idx: int) -> Any:
    if len(idx) == 0:
        return value
    if len(idx) == 1:
        return value[idx[0]:]
    return value[idx[0]:idx[1]]


def _sprint(*args: Any) -> str:
    out = []
    for k, a in enumerate(args):
        if k and not isinstance(a, str) and not isinstance(args[k - 1], str):
            out.append(" ")
        out.append(format_value(a))
    return "".join(out)


def _sprintln(*args: Any) -> str:
    return " ".join(format_value(a) for a in args) + "\n"


def sprintf(fmt: str, *args: Any) -> str:
    """Go's Sprintf for the common verbs: v s d q f g e x X t with flags/width/precision."""
    out = []
    i = 0
    argi = 0
    n = len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        j = i + 1
        while j < n and fmt[j] in "+-# 0":
            j += 1
        while j < n and (fmt[j].isdigit() or fmt[j] == "."):
            j += 1
        if j >= n:
            out.append("%!(NOVERB)")
            break
        spec, verb = fmt[i + 1:j], fmt[j]
        i = j + 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        if verb in "vs":
            out.append(f"%{spec}s" % format_value(arg))
        elif verb == "q":
            out.append(f"%{spec}s" % go_quote(format_value(arg)))
        elif verb == "t":
            out.append(f"%{spec}s" % format_value(bool(arg)))
        elif verb in "dxXo" and isinstance(arg, int | float):
            out.append(f"%{spec}{verb}" % int(arg))
        elif verb in "feEgG" and isinstance(arg, int | float):
            out.append(f"%{spec}{verb}" % float(arg))
        else:
            out.append(f"%!{verb}({type(arg).__name__}={format_value(arg)})")
    if argi < len(args):
        out.append("%!(EXTRA " + ", ".join(format_value(a) for a in args[argi:]) + ")")
    return "".join(out)


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise TemplateError("error calling eq: missing argument for comparison")
    return any(a == b for b in others)


def _cmp(op: str) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        try:
            if op == "lt":
                return bool(a < b)
            if op == "le":
                return bool(a <= b)
            if op == "gt":
                return bool(a > b)
            return bool(a >= b)
        except TypeError:
            raise TemplateError(f"error calling {op}: incompatible types for comparison") \
                from None
    return compare


def _and(*args: Any) -> Any:
    for a in args:
        if not truth(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if truth(a):
            return a
    return args[-1]


FUNCS: dict[str, Callable[..., Any]] = {
    "json": to_json, "join": _join, "lower": lambda s: format_value(s).lower(),
    "upper": lambda s: format_value(s).upper(), "title": lambda s: _title(format_value(s)),
    "split": _split, "truncate": _truncate, "pad": _pad, "println": _sprintln,
    "print": _sprint, "printf": sprintf, "len": _length, "index": _index, "slice": _slice,
    "not": lambda a: not truth(a), "and": _and, "or": _or, "eq": _eq,
    "ne": lambda a, b: a != b, "lt": _cmp("lt"), "le": _cmp("le"), "gt": _cmp("gt"),
    "ge": _cmp("ge"),
}


# Execution -----------------------------------------------------------------------------

def _field(value: Any, name: str, args: list[Any]) -> Any:
    if isinstance(value, dict):
        if args:
            raise TemplateError(f"{name} is not a method but has arguments")
        return value.get(name, MISSING)
    if value is None or value is MISSING:
        raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
    if isinstance(value, str | int | float | bool | list | tuple) or name.startswith("_"):
        raise TemplateError(f"can't evaluate field {name} in type {_go_type(value)}")
    attr = getattr(value, name, MISSING)
    if attr is MISSING:
        raise TemplateError(f"can't evaluate field {name} in type {_go_type(value)}")
    if callable(attr):
        try:
            return attr(*args)
        except TypeError as e:
            raise TemplateError(f"wrong number of args for {name}: {e}") from None
    if args:
        raise TemplateError(f"{name} has arguments but cannot be invoked as function")
    return attr


def _go_type(value: Any) -> str:
    return {str: "string", int: "int", float: "float64", bool: "bool", list: "[]interface {}",
            tuple: "[]interface {}"}.get(type(value), f"*{type(value).__name__}")


class Template:
    """A parsed template; ``execute(data)`` returns the text."""

    def __init__(self, src: str, funcs: dict[str, Callable[..., Any]] | None = None) -> None:
        self.src = src
        self.funcs = dict(FUNCS)
        if funcs:
            self.funcs.update(funcs)
        self.nodes = _Parser(src, self.funcs).parse()

    def execute(self, data: Any) -> str:
        out: list[str] = []
        scopes: list[dict[str, Any]] = [{"$": data}]
        self._run(self.nodes, data, scopes, out)
        return "".join(out)

    def _located(self, node: _Node, error: TemplateError) -> TemplateError:
        if error.located:
            return error
        line = self.src.count("\n", 0, node.pos) + 1
        col = node.pos - (self.src.rfind("\n", 0, node.pos) + 1)
        located = TemplateError(f'template: :{line}:{col}: executing "" at <{node.text}>: '
                                f"{error.message}")
        located.located = True
        return located

    def _run(self, nodes: list[_Node], dot: Any, scopes: list[dict[str, Any]],
             out: list[str]) -> None:
        for node in nodes:
            if node.kind == "text":
                out.append(node.text)
                continue
            try:
                self._run_node(node, dot, scopes, out)
            except TemplateError as e:
                raise self._located(node, e) from None

    def _run_node(self, node: _Node, dot: Any, scopes: list[dict[str, Any]],
                  out: list[str]) -> None:
        kind = node.kind
        if kind == "action":
            assert node.pipe is not None
            value = self._pipe(node.pipe, dot, scopes)
            if not node.pipe.decl:
                out.append(format_value(value))
        elif kind in ("if", "with"):
            assert node.pipe is not None
            scopes.append({})
            try:
                value = self._pipe(node.pipe, dot, scopes)
                if truth(value):
                    self._run(node.body, value if kind == "with" else dot, scopes, out)
                else:
                    self._run(node.else_body, dot, scopes, out)
            finally:
                scopes.pop()
        elif kind == "range":
            self._range(node, dot, scopes, out)

    def _range(self, node: _Node, dot: Any, scopes: list[dict[str, Any]],
               out: list[str]) -> None:
        assert node.pipe is not None
        pipe = node.pipe
        decl = pipe.decl
        value = self._pipe(_Pipe([], pipe.cmds, False), dot, scopes)
        if value is None or value is MISSING or isinstance(value, GoNil):
            pairs: list[tuple[Any, Any]] = []
        elif isinstance(value, dict):
            pairs = [(k, value[k]) for k in sorted(value, key=str)]
        elif isinstance(value, list | tuple):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(k, k) for k in range(value)]
        else:
            raise TemplateError(f"range can't iterate over {format_value(value)}")
        if not pairs:
            self._run(node.else_body, dot, scopes, out)
            return
        for key, item in pairs:
            scope: dict[str, Any] = {}
            if len(decl) == 1:
                scope[decl[0]] = item
            elif len(decl) >= 2:
                scope[decl[0]], scope[decl[1]] = key, item
            scopes.append(scope)
            try:
                self._run(node.body, item, scopes, out)
            finally:
                scopes.pop()

    def _lookup(self, name: str, scopes: list[dict[str, Any]]) -> Any:
        for scope in reversed(scopes):
            if name in scope:
                return scope[name]
        raise TemplateError(f"undefined variable: {name}")

    def _pipe(self, pipe: _Pipe, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        value: Any = MISSING
        first = True
        for cmd in pipe.cmds:
            value = self._cmd(cmd, dot, scopes, None if first else (value,))
            first = False
        if pipe.decl:
            if pipe.assign:
                name = pipe.decl[0]
                for scope in reversed(scopes):
                    if name in scope:
                        scope[name] = value
                        break
                else:
                    raise TemplateError(f"undefined variable: {name}")
            else:
                scopes[-1][pipe.decl[0]] = value
        return value

    def _operand(self, tok: tuple[str, Any], dot: Any, scopes: list[dict[str, Any]],
                 args: list[Any] | None = None) -> Any:
        kind, value = tok
        call_args = args or []
        if kind in ("str", "num", "bool", "nil"):
            return value
        if kind == "field":
            return self._chain(dot, value, call_args)
        if kind == "var":
            name, chain = value
            return self._chain(self._lookup(name, scopes), chain, call_args)
        if kind == "pipe":
            sub, chain = value
            return self._chain(self._pipe(sub, dot, scopes), chain, call_args)
        if kind == "ident":
            return self.funcs[value](*call_args)
        raise TemplateError(f"unexpected {value!r}")

    def _chain(self, value: Any, names: list[str], args: list[Any]) -> Any:
        if not names:
            if args:
                raise TemplateError("can't give argument to non-function")
            return value
        for name in names[:-1]:
            value = _field(value, name, [])
        return _field(value, names[-1], args)

    def _cmd(self, cmd: list[Any], dot: Any, scopes: list[dict[str, Any]],
             final: tuple[Any, ...] | None) -> Any:
        head = cmd[0]
        rest = [self._operand(t, dot, scopes) for t in cmd[1:]]
        if final is not None:
            rest.append(final[0])
        if head[0] == "ident":
            try:
                return self.funcs[head[1]](*rest)
            except TemplateError:
                raise
            except (TypeError, ValueError, AttributeError, KeyError, IndexError) as e:
                raise TemplateError(f"error calling {head[1]}: {e}") from None
        if rest and head[0] not in ("field", "var", "pipe"):
            raise TemplateError(f"can't give argument to non-function {head[1]!r}")
        return self._operand(head, dot, scopes, rest)


def parse(src: str) -> Template:
    return Template(src)
