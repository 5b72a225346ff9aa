"""The Ansible filters that real playbooks use, on top of jinja2's built-ins.

Each one behaves like its Ansible namesake for the common arguments; they are
registered under the bare name and under `ansible.builtin.NAME`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os.path
import re
import shlex
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml
from jinja2 import Undefined
from jinja2.filters import pass_environment

from pyengine.booleans import is_true
from pyengine.errors import TemplateError
from pyengine.templating.shacrypt import sha_crypt


def to_bool(value: Any) -> bool:
    """Ansible's `bool`: yes/no/on/off/true/false/1/0 (any case); anything else is False."""
    return is_true(value)


def mandatory(value: Any, msg: str | None = None) -> Any:
    if isinstance(value, Undefined):
        name = getattr(value, "_undefined_name", None)
        raise TemplateError(msg or f"mandatory variable '{name}' is not defined")
    return value


def to_json(value: Any, **kwargs: Any) -> str:
    return json.dumps(value, default=_json_default, **kwargs)


def to_nice_json(value: Any, indent: int = 4, sort_keys: bool = True, **kwargs: Any) -> str:
    return json.dumps(value, indent=indent, sort_keys=sort_keys, separators=(",", ": "),
                      default=_json_default, **kwargs)


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _plain(value: Any) -> Any:
    """Strip str/dict/list subclasses so yaml.safe_dump can represent them."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


def to_yaml(value: Any, **kwargs: Any) -> str:
    kwargs.setdefault("allow_unicode", True)
    kwargs.setdefault("default_flow_style", None)
    return str(yaml.safe_dump(_plain(value), **kwargs))


def to_nice_yaml(value: Any, indent: int = 4, **kwargs: Any) -> str:
    kwargs.setdefault("allow_unicode", True)
    return str(yaml.safe_dump(_plain(value), indent=indent, default_flow_style=False, **kwargs))


def from_json(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError) as err:
        raise TemplateError(f"from_json: {err}") from None


def from_yaml(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise TemplateError(f"from_yaml: {err}") from None


def _merge(a: Any, b: Any, recursive: bool, list_merge: str) -> Any:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = dict(a)
        for key, value in b.items():
            if key in out and (recursive or (isinstance(out[key], list)
                                             and isinstance(value, list))):
                out[key] = _merge(out[key], value, recursive, list_merge)
            else:
                out[key] = value
        return out
    if isinstance(a, list) and isinstance(b, list) and list_merge != "replace":
        if list_merge == "keep":
            return a
        if list_merge == "append":
            return a + b
        if list_merge == "prepend":
            return b + a
        if list_merge == "append_rp":
            return [x for x in a if x not in b] + b
        if list_merge == "prepend_rp":
            return b + [x for x in a if x not in b]
    return b


def combine(*dicts: Any, recursive: bool = False, list_merge: str = "replace") -> dict[str, Any]:
    """Merge dicts left to right (lists of dicts are flattened in, like Ansible)."""
    flat: list[Any] = []
    for d in dicts:
        if isinstance(d, (list, tuple)):
            flat.extend(d)
        else:
            flat.append(d)
    out: dict[str, Any] = {}
    for d in flat:
        if not isinstance(d, Mapping):
            raise TemplateError(f"combine expects dictionaries, got {type(d).__name__}")
        out = _merge(out, d, recursive, list_merge)
    return out


def dict2items(value: Any, key_name: str = "key", value_name: str = "value") -> list[Any]:
    if not isinstance(value, Mapping):
        raise TemplateError(f"dict2items expects a dictionary, got {type(value).__name__}")
    return [{key_name: k, value_name: v} for k, v in value.items()]


def items2dict(value: Any, key_name: str = "key", value_name: str = "value") -> dict[Any, Any]:
    try:
        return {item[key_name]: item[value_name] for item in value}
    except (KeyError, TypeError) as err:
        raise TemplateError(f"items2dict: each item needs '{key_name}' and '{value_name}' "
                            f"({err})") from None


def _flags(ignorecase: bool, multiline: bool) -> int:
    return (re.I if ignorecase else 0) | (re.M if multiline else 0)


def regex_replace(value: Any = "", pattern: str = "", replacement: str = "",
                  ignorecase: bool = False, multiline: bool = False, count: int = 0) -> str:
    return re.sub(pattern, replacement, str(value), count=count,
                  flags=_flags(ignorecase, multiline))


def regex_search(value: Any, pattern: str, *groups: str, ignorecase: bool = False,
                 multiline: bool = False) -> Any:
    match = re.search(pattern, str(value), flags=_flags(ignorecase, multiline))
    if not match:
        return None
    if not groups:
        return match.group(0)
    out: list[Any] = []
    for g in groups:
        if g.startswith("\\g<") and g.endswith(">"):
            out.append(match.group(g[3:-1]))
        elif g.startswith("\\"):
            out.append(match.group(int(g[1:])))
        else:
            raise TemplateError(f"regex_search: unknown group argument {g!r}")
    return out


def regex_findall(value: Any, pattern: str, ignorecase: bool = False,
                  multiline: bool = False) -> list[Any]:
    return re.findall(pattern, str(value), flags=_flags(ignorecase, multiline))


def regex_escape(value: Any, re_type: str = "python") -> str:
    return re.escape(str(value))


def _hashable_unique(items: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def unique(value: Iterable[Any], case_sensitive: bool = True, attribute: str | None = None
           ) -> list[Any]:
    if attribute is None and case_sensitive:
        return _hashable_unique(value)
    seen: list[Any] = []
    out = []
    for item in value:
        key = item[attribute] if attribute else item
        if not case_sensitive and isinstance(key, str):
            key = key.lower()
        if key not in seen:
            seen.append(key)
            out.append(item)
    return out


def union(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    return _hashable_unique(itertools.chain(a, b))


def intersect(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    bl = list(b)
    return _hashable_unique(x for x in a if x in bl)


def difference(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    bl = list(b)
    return _hashable_unique(x for x in a if x not in bl)


def symmetric_difference(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    al, bl = list(a), list(b)
    return _hashable_unique([x for x in al if x not in bl] + [x for x in bl if x not in al])


def flatten(value: Any, levels: int | None = None, skip_nulls: bool = True) -> list[Any]:
    out: list[Any] = []
    for item in value:
        if item is None and skip_nulls:
            continue
        if isinstance(item, (list, tuple)) and (levels is None or levels > 0):
            out.extend(flatten(item, None if levels is None else levels - 1, skip_nulls))
        else:
            out.append(item)
    return out


def ternary(value: Any, true_val: Any, false_val: Any, none_val: Any = None) -> Any:
    if value is None and none_val is not None:
        return none_val
    return true_val if value else false_val


def b64encode(value: Any, encoding: str = "utf-8") -> str:
    data = value if isinstance(value, bytes) else str(value).encode(encoding)
    return base64.b64encode(data).decode("ascii")


def b64decode(value: Any, encoding: str = "utf-8") -> str:
    try:
        return base64.b64decode(str(value)).decode(encoding, errors="replace")
    except ValueError as err:
        raise TemplateError(f"b64decode: {err}") from None


def hash_filter(value: Any, hashtype: str = "sha1") -> str:
    try:
        h = hashlib.new(hashtype)
    except ValueError:
        raise TemplateError(f"hash: unknown hash type '{hashtype}'") from None
    h.update(str(value).encode())
    return h.hexdigest()


def checksum(value: Any) -> str:
    return hash_filter(value, "sha1")


def password_hash(value: Any, hashtype: str = "sha512", salt: str | None = None,
                  rounds: int | None = None, **_: Any) -> str:
    kinds = {"sha512": 512, "sha512_crypt": 512, "sha256": 256, "sha256_crypt": 256}
    if hashtype not in kinds:
        raise TemplateError(f"password_hash: unsupported hash type '{hashtype}' "
                            f"(supported: sha512, sha256)")
    return sha_crypt(str(value), salt, rounds, kinds[hashtype])


def quote(value: Any) -> str:
    return shlex.quote(str(value) if value is not None else "")


def split(value: Any, sep: str | None = None, maxsplit: int = -1) -> list[str]:
    return str(value).split(sep, maxsplit)


def zip_filter(*args: Iterable[Any]) -> list[Any]:
    return [list(x) for x in zip(*args, strict=False)]


def zip_longest(*args: Iterable[Any], fillvalue: Any = None) -> list[Any]:
    return [list(x) for x in itertools.zip_longest(*args, fillvalue=fillvalue)]


def product(*args: Iterable[Any], repeat: int = 1) -> list[Any]:
    return [list(x) for x in itertools.product(*args, repeat=repeat)]


def subelements(value: Any, key: str, skip_missing: bool = False) -> list[Any]:
    out: list[Any] = []
    for item in value:
        sub = item.get(key) if isinstance(item, Mapping) else None
        if sub is None:
            if skip_missing:
                continue
            raise TemplateError(f"subelements: '{key}' missing in {item!r}")
        out.extend([item, s] for s in sub)
    return out


def extract(key: Any, container: Any, morekeys: Any = None) -> Any:
    value = container[key]
    for k in ([] if morekeys is None else morekeys if isinstance(morekeys, list) else [morekeys]):
        value = value[k]
    return value


def basename(value: Any) -> str:
    return os.path.basename(str(value))


def dirname(value: Any) -> str:
    return os.path.dirname(str(value))


def splitext(value: Any) -> list[str]:
    return list(os.path.splitext(str(value)))


def to_uuid(value: Any, namespace: str = "361E6D51-FAEC-444A-9079-341386DA8E2E") -> str:
    return str(uuid.uuid5(uuid.UUID(namespace), str(value)))


def type_debug(value: Any) -> str:
    return type(value).__name__


_COMMENT_STYLES: dict[str, dict[str, str]] = {
    "plain": {"decoration": "# "},
    "erlang": {"decoration": "% "},
    "c": {"decoration": "// "},
    "cblock": {"beginning": "/*", "decoration": " * ", "end": " */"},
    "xml": {"beginning": "<!--", "decoration": " - ", "end": "-->"},
}


def comment(value: Any, style: str = "plain", **params: Any) -> str:
    """Ansible's `comment`: the text as a comment block, framed by a prefix and postfix
    line (`#\\n# x\\n#`). Every part can be changed: beginning, prefix (prefix_count times),
    decoration, postfix (postfix_count times), end, newline."""
    if style not in _COMMENT_STYLES:
        raise TemplateError(f"comment: invalid style {style!r} (available: "
                            f"{', '.join(_COMMENT_STYLES)})")
    preset = _COMMENT_STYLES[style]
    frame = str(params.get("decoration", preset["decoration"])).rstrip()
    opts: dict[str, Any] = {"newline": "\n", "beginning": "", "prefix": frame,
                            "prefix_count": 1, "decoration": "", "postfix": frame,
                            "postfix_count": 1, "end": ""}
    opts.update(preset)
    opts.update(params)
    nl, deco = str(opts["newline"]), str(opts["decoration"])
    parts: list[str] = []
    if opts["beginning"]:
        parts.append(f"{opts['beginning']}{nl}")
    if opts["prefix"]:
        line = nl if opts["prefix"] == nl else f"{opts['prefix']}{nl}"
        parts.append(line * int(opts["prefix_count"]))
    body = deco + str(value).replace(nl, nl + deco)
    parts.append(body.replace(deco + nl, deco.rstrip() + nl))  # no trailing blanks
    parts.append("".join(nl + str(opts["postfix"]) for _ in range(int(opts["postfix_count"]))))
    if opts["end"]:
        parts.append(f"{nl}{opts['end']}")
    return "".join(parts)


def random_filter(value: Any, start: int | None = None, step: int | None = None,
                  seed: Any = None) -> Any:
    """Ansible's `random`: a random number below an int, or a random item of a list;
    `seed` makes it repeatable (the same host, the same choice)."""
    import random

    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    if isinstance(value, int):
        return rng.randrange(start or 0, value, step or 1)
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TemplateError("random: can only be used on sequences and integers")
    items = list(value)
    return rng.choice(items)


def md5_filter(value: Any) -> str:
    return hash_filter(value, "md5")


def logarithm(value: Any, base: float | None = None) -> float:
    import math

    if base is None:
        return math.log(value)
    if base == 10:
        return math.log10(value)
    return math.log(value, base)


def power(value: Any, exponent: Any) -> float:
    import math

    return math.pow(value, exponent)


def root(value: Any, base: float = 2) -> float:
    import math

    return math.sqrt(value) if base == 2 else math.pow(value, 1.0 / base)


def win_basename(value: Any) -> str:
    import ntpath

    return ntpath.basename(str(value))


def win_dirname(value: Any) -> str:
    import ntpath

    return ntpath.dirname(str(value))


def win_splitdrive(value: Any) -> list[str]:
    import ntpath

    return list(ntpath.splitdrive(str(value)))


def shuffle(value: Iterable[Any], seed: Any = None) -> list[Any]:
    import random

    items = list(value)
    random.Random(seed).shuffle(items)
    return items


def path_join(parts: Any) -> str:
    return os.path.join(*[str(p) for p in parts]) if isinstance(parts, (list, tuple)) \
        else str(parts)


def expanduser(value: Any) -> str:
    return os.path.expanduser(str(value))


def realpath(value: Any) -> str:
    return os.path.realpath(str(value))


def relpath(value: Any, start: str = os.curdir) -> str:
    return os.path.relpath(str(value), start)


def strftime(fmt: str, second: Any = None, utc: bool = False) -> str:
    import time

    seconds = time.time() if second is None else float(second)
    return time.strftime(fmt, time.gmtime(seconds) if utc else time.localtime(seconds))


def to_datetime(value: Any, fmt: str = "%Y-%m-%d %H:%M:%S") -> Any:
    import datetime

    return datetime.datetime.strptime(str(value), fmt)


def urlsplit(value: Any, query: str = "") -> Any:
    from urllib.parse import urlsplit as split_url

    parts = split_url(str(value))
    result = {"scheme": parts.scheme, "netloc": parts.netloc, "path": parts.path,
              "query": parts.query, "fragment": parts.fragment, "hostname": parts.hostname,
              "port": parts.port, "username": parts.username, "password": parts.password}
    return result[query] if query else result


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def human_to_bytes(value: Any, default_unit: str | None = None, isbits: bool = False) -> int:
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGTP]?)(i?[Bb]?)?\s*", str(value), re.I)
    if not match:
        raise TemplateError(f"human_to_bytes: cannot read {value!r}")
    unit = (match.group(2) or (default_unit or "")[:1]).upper()
    return int(float(match.group(1)) * _UNITS.get(unit, 1))


def human_readable(value: Any, isbits: bool = False, unit: str | None = None) -> str:
    number = float(value)
    for suffix in ("", "K", "M", "G", "T", "P"):
        wanted = unit is not None and suffix == unit[:1].upper()
        if wanted or (unit is None and (abs(number) < 1024 or suffix == "P")):
            if suffix == "":
                return f"{number:.2f} {'bits' if isbits else 'Bytes'}"
            return f"{number:.2f} {suffix}{'b' if isbits else 'B'}"
        number /= 1024
    return str(value)


def from_yaml_all(value: Any) -> list[Any]:
    try:
        return list(yaml.safe_load_all(str(value)))
    except yaml.YAMLError as err:
        raise TemplateError(f"from_yaml_all: {err}") from None


@pass_environment
def map_format(_env: Any, value: Any, fmt: str) -> list[str]:
    return [fmt % v for v in value]


def combinations(value: Iterable[Any], r: int) -> list[Any]:
    return [list(c) for c in itertools.combinations(value, r)]


def permutations(value: Iterable[Any], r: int | None = None) -> list[Any]:
    return [list(c) for c in itertools.permutations(value, r)]


def commonpath(value: Any) -> str:
    if not isinstance(value, (list, tuple)):
        raise TemplateError(f"commonpath expects a list of paths, got {type(value).__name__}")
    return os.path.commonpath([str(v) for v in value])


def normpath(value: Any) -> str:
    return os.path.normpath(str(value))


def expandvars(value: Any) -> str:
    return os.path.expandvars(str(value))


def fileglob(pattern: Any) -> list[str]:
    """Controller files matching `pattern` (files only)."""
    import glob

    return [p for p in glob.glob(str(pattern)) if os.path.isfile(p)]


def rekey_on_member(data: Any, key: str, duplicates: str = "error") -> dict[Any, Any]:
    """A dict of `data`'s dicts keyed by their `key` member."""
    if duplicates not in ("error", "overwrite"):
        raise TemplateError(f"rekey_on_member: unknown duplicates value {duplicates!r}")
    if isinstance(data, Mapping):
        items: Iterable[Any] = data.values()
    elif isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise TemplateError("rekey_on_member: type is not a valid list, set, or dict")
    else:
        items = data
    out: dict[Any, Any] = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise TemplateError("rekey_on_member: list item is not a valid dict")
        if key not in item:
            raise TemplateError(f"rekey_on_member: key {key!r} was not found")
        if out.get(item[key]) and duplicates == "error":
            raise TemplateError(f"rekey_on_member: key {item[key]!r} is not unique")
        out[item[key]] = item
    return out


def urldecode(value: Any) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(str(value))


FILTERS: dict[str, Callable[..., Any]] = {
    "bool": to_bool,
    "mandatory": mandatory,
    "to_json": to_json,
    "to_nice_json": to_nice_json,
    "to_yaml": to_yaml,
    "to_nice_yaml": to_nice_yaml,
    "from_json": from_json,
    "from_yaml": from_yaml,
    "combine": combine,
    "dict2items": dict2items,
    "items2dict": items2dict,
    "regex_replace": regex_replace,
    "regex_search": regex_search,
    "regex_findall": regex_findall,
    "regex_escape": regex_escape,
    "unique": unique,
    "union": union,
    "intersect": intersect,
    "difference": difference,
    "symmetric_difference": symmetric_difference,
    "flatten": flatten,
    "ternary": ternary,
    "b64encode": b64encode,
    "b64decode": b64decode,
    "hash": hash_filter,
    "checksum": checksum,
    "password_hash": password_hash,
    "quote": quote,
    "split": split,
    "zip": zip_filter,
    "zip_longest": zip_longest,
    "product": product,
    "subelements": subelements,
    "extract": extract,
    "basename": basename,
    "dirname": dirname,
    "splitext": splitext,
    "to_uuid": to_uuid,
    "type_debug": type_debug,
    "comment": comment,
    "combinations": combinations,
    "permutations": permutations,
    "commonpath": commonpath,
    "normpath": normpath,
    "expandvars": expandvars,
    "fileglob": fileglob,
    "rekey_on_member": rekey_on_member,
    "urldecode": urldecode,
    "random": random_filter,
    "md5": md5_filter,
    "sha1": checksum,
    "log": logarithm,
    "pow": power,
    "root": root,
    "win_basename": win_basename,
    "win_dirname": win_dirname,
    "win_splitdrive": win_splitdrive,
    "map_format": map_format,
    "shuffle": shuffle,
    "path_join": path_join,
    "expanduser": expanduser,
    "realpath": realpath,
    "relpath": relpath,
    "strftime": strftime,
    "to_datetime": to_datetime,
    "urlsplit": urlsplit,
    "human_to_bytes": human_to_bytes,
    "human_readable": human_readable,
    "from_yaml_all": from_yaml_all,
}
