"""YAML loading that remembers where every value came from.

Playbooks, inventories and variable files all go through here, so every error
later on can name file:line:column. Mappings, sequences and strings come back as
`YDict`, `YList` and `YStr` (plain dict/list/str subclasses carrying an `origin`);
mappings also keep the origin of each key and each value, because ints, bools and
None cannot carry attributes. Vault-encrypted content (`!vault` scalars and whole
files starting with `$ANSIBLE_VAULT;`) is decrypted through the vault object the
caller passes in, and every decrypted string is registered as a secret for masking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import yaml

from pyengine.errors import PlaybookError
from pyengine.masking import register_secret
from pyengine.origin import Origin

VAULT_HEADER = b"$ANSIBLE_VAULT;"

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Vault(Protocol):
    """What the loader needs from `pyengine.vault` (implemented there)."""

    def decrypt(self, data: bytes, source: str) -> bytes: ...

    def is_encrypted(self, data: bytes) -> bool: ...


class YDict(dict):  # type: ignore[type-arg]
    """A mapping from YAML with the origin of the mapping, of each key and of each value."""

    origin: Origin | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_origins: dict[Any, Origin] = {}
        self.value_origins: dict[Any, Origin] = {}


class YList(list):  # type: ignore[type-arg]
    """A sequence from YAML with its origin and the origin of each item."""

    origin: Origin | None = None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_origins: list[Origin] = []


class YStr(str):
    """A string from YAML with its origin and scalar style (None plain, '"', "'", '|', '>')."""

    origin: Origin | None = None
    style: str | None = None
    ciphertext: str | None = None  # the vault text a `!vault` value was decrypted from


def origin_of(value: Any, fallback: Origin | None = None) -> Origin | None:
    """The origin of a loaded value, or `fallback` when it has none (ints, bools, None)."""
    return getattr(value, "origin", None) or fallback


def key_origin(mapping: Any, key: Any, fallback: Origin | None = None) -> Origin | None:
    """Where `key` is written in `mapping` (falls back to the mapping's own origin)."""
    origins = getattr(mapping, "key_origins", None)
    if origins and key in origins:
        return origins[key]  # type: ignore[no-any-return]
    return origin_of(mapping, fallback)


def value_origin(mapping: Any, key: Any, fallback: Origin | None = None) -> Origin | None:
    """Where the value of `key` is written in `mapping`."""
    origins = getattr(mapping, "value_origins", None)
    if origins and key in origins:
        return origins[key]  # type: ignore[no-any-return]
    return key_origin(mapping, key, fallback)


def item_origin(sequence: Any, index: int, fallback: Origin | None = None) -> Origin | None:
    """Where item `index` of a loaded sequence is written."""
    origins = getattr(sequence, "item_origins", None)
    if origins and 0 <= index < len(origins):
        return origins[index]  # type: ignore[no-any-return]
    return origin_of(sequence, fallback)


def _make_loader(source: str, vault: Vault | None) -> type:
    """A SafeLoader subclass bound to one source file and one vault."""

    def mark(node: yaml.Node) -> Origin:
        return Origin(source, node.start_mark.line + 1, node.start_mark.column + 1)

    def construct_mapping(loader: Any, node: yaml.MappingNode) -> YDict:
        loader.flatten_mapping(node)
        result = YDict()
        result.origin = mark(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                where = mark(key_node)
                raise PlaybookError("a mapping key must be a scalar", where.file, where.line,
                                    where.column)
            if key in result:
                where = mark(key_node)
                first = result.key_origins.get(key)
                raise PlaybookError(
                    f"duplicate key '{key}' (first at line {first.line if first else '?'})",
                    where.file, where.line, where.column)
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_origins[key] = mark(key_node)
            result.value_origins[key] = mark(value_node)
        return result

    def construct_sequence(loader: Any, node: yaml.SequenceNode) -> YList:
        result = YList(loader.construct_object(child, deep=True) for child in node.value)
        result.origin = mark(node)
        result.item_origins = [mark(child) for child in node.value]
        return result

    def construct_str(loader: Any, node: yaml.ScalarNode) -> YStr:
        result = YStr(loader.construct_scalar(node))
        result.origin = mark(node)
        result.style = node.style
        return result

    def construct_vault(loader: Any, node: yaml.Node) -> YStr:
        where = mark(node)
        if not isinstance(node, yaml.ScalarNode):
            raise PlaybookError("!vault must tag a string", where.file, where.line, where.column)
        if vault is None:
            raise PlaybookError("vault-encrypted value but no vault password was given "
                                "(use --vault-password-file or --ask-vault-pass)",
                                where.file, where.line, where.column)
        ciphertext = str(loader.construct_scalar(node))
        plain = vault.decrypt(ciphertext.encode(), str(where))
        text = _decode(plain, where)
        register_secret(text)
        result = YStr(text)
        result.origin = where
        result.ciphertext = ciphertext  # `x is vault_encrypted` (templating/tests.py)
        return result

    def construct_unsafe(loader: Any, node: yaml.Node) -> Any:
        from pyengine.templating.unsafe import UnsafeStr

        if not isinstance(node, yaml.ScalarNode):
            where = mark(node)
            raise PlaybookError("!unsafe must tag a string", where.file, where.line, where.column)
        return UnsafeStr(loader.construct_scalar(node))

    class Loader(_BaseLoader):  # type: ignore[misc, valid-type]
        def construct_document(self, node: yaml.Node) -> Any:
            _refuse_alias_bombs(node, source)
            return super().construct_document(node)

    Loader.add_constructor("tag:yaml.org,2002:map", construct_mapping)
    Loader.add_constructor("tag:yaml.org,2002:omap", construct_mapping)
    Loader.add_constructor("tag:yaml.org,2002:seq", construct_sequence)
    Loader.add_constructor("tag:yaml.org,2002:str", construct_str)
    Loader.add_constructor("!vault", construct_vault)
    Loader.add_constructor("!vault-encrypted", construct_vault)
    Loader.add_constructor("!unsafe", construct_unsafe)
    return Loader


# How many values a document may stand for once its aliases are expanded. Real
# playbooks and inventories are far below it; "billion laughs" documents (9 levels of 9
# aliases: 387 million values) are far above, and every later walk over them (template
# checks, variable merging) would take as long as the expansion.
MAX_EXPANDED_VALUES = 1_000_000


def _refuse_alias_bombs(root: yaml.Node, source: str) -> None:
    """Count the values the node graph expands to, each shared node once (so a bomb costs
    linear time here), and refuse a document that expands beyond MAX_EXPANDED_VALUES."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if not children_done:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(child), 1) for child in children)
        sizes[id(node)] = total
        if total > MAX_EXPANDED_VALUES:
            where = node.start_mark
            raise PlaybookError(
                f"YAML aliases here expand to more than {MAX_EXPANDED_VALUES:,} values "
                "(an alias bomb?): refused", source, where.line + 1, where.column + 1)


def _decode(data: bytes, where: Origin) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PlaybookError(f"not UTF-8 text ({err.reason} at byte {err.start})",
                            where.file, where.line or None, where.column or None) from None


def _register_leaves(value: Any) -> None:
    """Mark every string value of a decrypted file as a secret (keys are not secret)."""
    if isinstance(value, str):
        register_secret(value)
    elif isinstance(value, dict):
        for item in value.values():
            _register_leaves(item)
    elif isinstance(value, list):
        for item in value:
            _register_leaves(item)


def load_yaml_text(text: str, source: str, vault: Vault | None = None) -> Any:
    """Parse one YAML document; any problem becomes a PlaybookError naming source:line:col."""
    loader_class = _make_loader(source, vault)
    try:
        return yaml.load(text, Loader=loader_class)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        if err.context and err.problem and "expected a single document" in err.context:
            problem = "expected a single YAML document, found more than one"
        if mark is None:
            raise PlaybookError(f"invalid YAML: {problem}", source) from None
        raise PlaybookError(f"invalid YAML: {problem}", source, mark.line + 1,
                            mark.column + 1) from None
    except yaml.YAMLError as err:
        raise PlaybookError(f"invalid YAML: {err}", source) from None
    except RecursionError:
        raise PlaybookError("invalid YAML: nested too deeply", source) from None


def load_yaml_bytes(data: bytes, source: str, vault: Vault | None = None) -> Any:
    """Parse YAML bytes, decrypting a whole-file vault first."""
    encrypted = vault.is_encrypted(data) if vault is not None else data.startswith(VAULT_HEADER)
    if encrypted:
        if vault is None:
            raise PlaybookError("file is vault-encrypted but no vault password was given "
                                "(use --vault-password-file or --ask-vault-pass)", source)
        data = vault.decrypt(data, source)
        value = load_yaml_text(_decode(data, Origin(source)), source, vault)
        _register_leaves(value)
        return value
    return load_yaml_text(_decode(data, Origin(source)), source, vault)


def load_yaml(path: Path | str, vault: Vault | None = None) -> Any:
    """Read and parse a YAML file (None for an empty file)."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise PlaybookError("file not found", source) from None
    except IsADirectoryError:
        raise PlaybookError("is a directory, expected a YAML file", source) from None
    except OSError as err:
        raise PlaybookError(f"cannot read: {err.strerror}", source) from None
    return load_yaml_bytes(data, source, vault)


def read_text(path: Path | str, vault: Vault | None = None) -> tuple[str, bool]:
    """Read a text file (an INI inventory), decrypting a whole-file vault.

    Returns (text, was_encrypted): the caller registers the secret values it parses
    out, because masking whole lines would also hide host and group names.
    """
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise PlaybookError(f"cannot read: {err.strerror}", source) from None
    encrypted = vault.is_encrypted(data) if vault is not None else data.startswith(VAULT_HEADER)
    if encrypted:
        if vault is None:
            raise PlaybookError("file is vault-encrypted but no vault password was given "
                                "(use --vault-password-file or --ask-vault-pass)", source)
        data = vault.decrypt(data, source)
    return _decode(data, Origin(source)), encrypted


def register_leaves(value: Any) -> None:
    """Register every string inside `value` as a secret (values of a decrypted file)."""
    _register_leaves(value)


def merged(*mappings: Any) -> YDict:
    """Merge mappings left to right, keeping each key's origin (for 'where was it set')."""
    out = YDict()
    for mapping in mappings:
        if not mapping:
            continue
        for key, value in mapping.items():
            out[key] = value
            origin = key_origin(mapping, key)
            if origin is not None and key in getattr(mapping, "key_origins", {}):
                out.key_origins[key] = origin
            elif key in out.key_origins:
                del out.key_origins[key]
        if out.origin is None:
            out.origin = getattr(mapping, "origin", None)
    return out


def offset_origin(text: Any, index: int) -> Origin | None:
    """Where character `index` of a loaded one-line string is (for `k=v` arguments);
    the string's own origin when the position cannot be known (block scalars, escapes)."""
    origin = getattr(text, "origin", None)
    style = getattr(text, "style", None)
    if origin is None or not origin.line or "\n" in text or style in ("|", ">"):
        return origin
    if style == '"' and "\\" in text:
        return origin
    shift = 1 if style in ('"', "'") else 0
    return Origin(origin.file, origin.line, origin.column + shift + index)
