"""The one YAML reader of fijibridge: plain data only, bounded in size and expansion.

Pipeline files, ``--set`` values and config files are data, and reading them must
never run code nor take unbounded time or memory.  :func:`compose` /
:func:`load` / :func:`load_file` read YAML with PyYAML's safe loader plus these limits
(one :class:`YAMLInputError` naming the source, the line and the rule):

* at most :data:`MAX_BYTES` (1 MiB) of text;
* only the plain YAML tags — mappings, lists, strings, integers, floats, booleans,
  null (written implicitly or as ``!!str`` … ``!!seq``); any other explicit tag
  (``!!python/object/apply:…``, ``!!binary``, a custom ``!foo``) is refused;
* at most :data:`MAX_ALIASES` aliases (``*name``) and :data:`MAX_NODES` nodes once
  aliases are expanded (a "billion laughs" document is refused in milliseconds);
* nesting at most :data:`MAX_DEPTH` levels deep (no RecursionError).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import FijiBridgeError

__all__ = ["YAMLInputError", "compose", "load", "load_file", "read_text", "MAX_BYTES", "MAX_ALIASES",
           "MAX_NODES", "MAX_DEPTH"]

#: largest YAML text read (bytes)
MAX_BYTES = 1 << 20
#: most aliases (``*name``) in one document
MAX_ALIASES = 100
#: most nodes of a document with its aliases expanded
MAX_NODES = 100_000
#: deepest nesting of mappings and lists
MAX_DEPTH = 64

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null", "map",
                                              "seq"))


class YAMLInputError(FijiBridgeError, ValueError):
    """A YAML text that is not plain, bounded data (or not YAML at all)."""


def _short(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses non-core tags, deep nesting and too many aliases."""

    def __init__(self, stream, source: str):
        super().__init__(stream)
        self._source = source
        self._depth = 0
        self._aliases = 0

    def _fail(self, mark, text):
        line = f":{mark.line + 1}" if mark is not None else ""
        raise YAMLInputError(f"{self._source}{line}: {text}")

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                self._fail(event.start_mark, f"more than {MAX_ALIASES} aliases (*name); "
                           "fijibridge reads plain data files and limits alias use")
        else:
            tag = getattr(event, "tag", None)
            if tag not in (None, "!") and tag not in _ALLOWED_TAGS:
                self._fail(event.start_mark, f"YAML tag {_short(tag)!r} is not allowed: "
                           "fijibridge reads plain YAML only (mappings, lists, strings, "
                           "numbers, booleans, null) and never builds Python objects from "
                           "data; remove the tag")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                self._fail(event.start_mark, f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_expansion(root, source: str) -> None:
    """Refuse a document whose alias-expanded size exceeds MAX_NODES (or that refers to
    itself); linear in the number of distinct nodes."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YAMLInputError(f"{source}:{node.start_mark.line + 1}: an alias refers to a "
                                 "node that contains it (recursive data is not allowed)")
        active.add(key)
        n = 1
        if isinstance(node, yaml.SequenceNode):
            n += sum(size(c) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            n += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        if n > MAX_NODES:
            raise YAMLInputError(f"{source}:{node.start_mark.line + 1}: the document expands "
                                 f"to more than {MAX_NODES} values through its aliases "
                                 "(*name); refused (a 'billion laughs' document?)")
        sizes[key] = n
        return n

    size(root)


def compose(text: str, *, source: str = "<yaml>"):
    """The checked node tree of one YAML document (``None`` for an empty one).

    Raises
    ------
    YAMLInputError
        Text too long, not YAML, a tag outside plain YAML, too many aliases, too
        large once expanded, or too deep; the message starts with ``source:line:``.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise YAMLInputError(f"{source}: {size} bytes of YAML; fijibridge reads at most "
                             f"{MAX_BYTES} bytes (1 MiB) per file")
    loader = _BoundedLoader(text, source)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise YAMLInputError(f"{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    if root is not None:
        _check_expansion(root, source)
    return root


def load(text: str, *, source: str = "<yaml>"):
    """Python value of a YAML text (dicts, lists, str, int, float, bool, None)."""
    root = compose(text, source=source)
    if root is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(root)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise YAMLInputError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    finally:
        loader.dispose()


def read_text(path, *, what: str = "YAML file") -> str:
    """The text of ``path``, refusing files over MAX_BYTES before reading them."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {str(path)!r}")
    with open(path, "rb") as fh:
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise YAMLInputError(f"{path}: larger than {MAX_BYTES} bytes (1 MiB); fijibridge "
                             f"reads at most that much of a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise YAMLInputError(f"{path}: not UTF-8 text (byte {e.start}); a {what} is "
                             "UTF-8 YAML") from None


def load_file(path, *, what: str = "YAML file"):
    """:func:`load` of a file's text (size checked before reading)."""
    return load(read_text(path, what=what), source=str(path))
