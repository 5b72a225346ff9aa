"""Lookups: the controller-side ones playbooks use, and any lookup of an installed
collection (`community.general.flattened`), called as `lookup()`/`query()`/`q()` or as a
`with_<lookup>` loop.

`lookup(...)` returns one value (a single result as itself, several strings joined with
commas), `query`/`q` a list, as in Ansible. Relative file names are searched like
Ansible's: in each base folder of the task (its role, then the playbook folder), first
under the lookup's subfolder (`files/`, `templates/`, `vars/`) and then directly.
`pipe`, `lines` and `url` live in controller_lookups.py.
"""

from __future__ import annotations

import glob
import os
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from pyengine.errors import TemplateError
from pyengine.templating.controller_files import read_text
from pyengine.templating.controller_lookups import CONTROLLER_LOOKUPS
from pyengine.templating.filters import to_bool


@dataclass
class LookupCall:
    """What a lookup sees: the templar (variables, search folders) and how it was called."""

    templar: Any  # pyengine.templating.templar.Templar (not imported: it imports us)
    invoked_as_with: bool = False
    subdir: str | None = None  # with_first_found: vars/templates/files, from the task action

    @property
    def variables(self) -> Mapping[str, Any]:
        return self.templar._lazy if self.templar is not None else {}

    def bases(self) -> list[Path]:
        """The folders relative names start from: the role (and its tasks/), the playbook
        folder, the current folder last (the templar keeps them as search paths)."""
        paths = list(getattr(self.templar, "search_paths", []) or [])
        out: list[Path] = []
        for path in paths:
            base = path.parent if path.name in ("files", "templates", "vars", "tasks") else path
            if base not in out:
                out.append(base)
        playbook = self.templar._playbook_dir() if self.templar is not None else None
        roles = [b for b in out if b != playbook and (b / "tasks").is_dir()]
        for role in roles:  # a role's tasks/ folder comes right after the role (Ansible)
            out.insert(out.index(role) + 1, role / "tasks")
        if Path.cwd() not in out:
            out.append(Path.cwd())
        return out

    def find(self, name: str, subdir: str | None) -> Path | None:
        """The first existing path for `name` (Ansible's path_dwim_relative_stack)."""
        if name.startswith("~"):
            name = os.path.expanduser(name)
        if os.path.isabs(name):
            return Path(name) if os.path.exists(name) else None
        for base in self.bases():
            candidates = [base / name]
            if subdir and name.split("/")[0] != subdir:
                candidates.insert(0, base / subdir / name)
            for candidate in candidates:
                if candidate.exists():
                    return candidate
        return None


def _env(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    default = kw.get("default", "")
    out = []
    for term in terms:
        for name in str(term).split():
            out.append(os.environ.get(name, default))
    return out


def _file(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    out = []
    for term in terms:
        found = call.find(str(term), "files")
        if found is None or not found.is_file():
            raise TemplateError(f"lookup('file'): could not locate file in lookup: {term}")
        text = read_text(found)
        if to_bool(kw.get("lstrip", False)):
            text = text.lstrip()
        if to_bool(kw.get("rstrip", True)):
            text = text.rstrip()
        out.append(text)
    return out


def _unvault(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    """A vault-encrypted controller file's plaintext (a plain file as it is), unstripped."""
    out = []
    for term in terms:
        found = call.find(str(term), "files")
        if found is None or not found.is_file():
            raise TemplateError(f"lookup('unvault'): could not locate file in lookup: {term}")
        out.append(read_text(found))
    return out


def _vars(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    variables = call.variables
    out = []
    for term in terms:
        if not isinstance(term, str):
            raise TemplateError(f"lookup('vars'): invalid variable name {term!r}, a string "
                                f"is required")
        if term in variables:
            out.append(variables[term])
        elif "default" in kw:
            out.append(kw["default"])
        else:
            raise TemplateError(f"undefined variable '{term}' (in lookup('vars'))")
    return out


def _varnames(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    """Names of the variables matching each regular expression (searched, not anchored)."""
    names = [n for n in call.variables if n not in _NOT_VARIABLES]
    out: list[str] = []
    for term in terms:
        if not isinstance(term, str):
            raise TemplateError(f"lookup('varnames'): {term!r} is not a string")
        try:
            pattern = re.compile(term)
        except re.error as err:
            raise TemplateError(f"lookup('varnames'): bad regular expression {term!r}: {err}"
                                ) from None
        out.extend(n for n in names if pattern.search(n))
    return out


# Jinja globals are visible to templates but are not variables.
_NOT_VARIABLES = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace", "now",
                            "lookup", "query", "q", "undef"})


def _flatten_once(terms: list[Any]) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        if isinstance(term, (list, tuple)):
            out.extend(term)
        else:
            out.append(term)
    return out


def _items(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    return _flatten_once(terms)


def _list(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    return list(terms)


def _flattened(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    """Every nested list flattened; a string naming a variable is that variable (as the
    old `with_flattened` did)."""
    out: list[Any] = []
    for term in terms:
        if isinstance(term, str):
            name = term.strip()
            if name in call.variables and name not in ("None", "null"):
                term = call.variables[name]
        if isinstance(term, (list, tuple)):
            out.extend(_flattened(call, list(term)))
        elif term is not None:
            out.append(term)
    return out


def _dict(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        if not isinstance(term, Mapping):
            raise TemplateError(f"the 'dict' lookup expects a dictionary, got "
                                f"{type(term).__name__}")
        out.extend({"key": k, "value": term[k]} for k in term)
    return out


def _together(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    if not terms:
        raise TemplateError("with_together requires at least one element in each list")
    import itertools

    return [_flatten_once(list(row)) for row in itertools.zip_longest(*terms)]


def _nested(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    if not terms:
        raise TemplateError("with_nested requires at least one element in the nested list")
    result: list[Any] = list(terms[0])
    for more in terms[1:]:
        result = [_flatten_once([x, y]) for x in result for y in more]
    return [_flatten_once(x) if isinstance(x, list) else [x] for x in result]


def _indexed_items(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    items = _flatten_once(terms)
    return [[i, item] for i, item in enumerate(items)]


def _random_choice(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    return [random.SystemRandom().choice(terms)] if terms else terms


def _subelements(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    """Pairs (element, one item of element[key]) as Ansible's subelements lookup makes
    them (the key is `a.b` for a nested one; the pair's element keeps every key)."""
    def bad(msg: str = "") -> TemplateError:
        return TemplateError("subelements lookup expects a list of two or three items" + msg)

    if not 2 <= len(terms) <= 3:
        raise bad()
    elements, key = terms[0], terms[1]
    if not isinstance(elements, (list, Mapping)) or not isinstance(key, str):
        raise bad(", first a dict or a list, second a string pointing to the subkey")
    flags = terms[2] if len(terms) == 3 else {}
    if not isinstance(flags, Mapping) or any(k != "skip_missing" for k in flags):
        raise bad(", the optional third item must be a dict with flags ('skip_missing',)")
    skip_missing = to_bool(flags.get("skip_missing", False))
    if isinstance(elements, Mapping):
        if elements.get("skipped", False) is not False:
            return []
        elements = list(elements.values())
    keys = key.split(".")
    out: list[Any] = []
    for element in elements:
        if not isinstance(element, Mapping):
            raise TemplateError(f"subelements lookup expects a dictionary, got '{element}'")
        if element.get("skipped", False) is not False:
            continue
        value: Any = element
        sub: list[Any] = []
        for i, part in enumerate(keys):
            if part not in value:
                if skip_missing:
                    value = None
                    break
                raise TemplateError(f"could not find '{part}' key in iterated item '{value}'")
            if i < len(keys) - 1:
                if not isinstance(value[part], Mapping):
                    if skip_missing:
                        value = None
                        break
                    raise TemplateError(f"the key {part} should point to a dictionary, got "
                                        f"'{value[part]}'")
                value = value[part]
            else:
                if not isinstance(value[part], list):
                    raise TemplateError(f"the key {part} should point to a list, got "
                                        f"'{value[part]}'")
                sub = value[part]
        shown = _without(element, keys) if sub else element
        out.extend([shown, item] for item in sub)
    return out


def _without(element: Mapping[str, Any], keys: list[str]) -> dict[str, Any]:
    """A copy of `element` without the list at `keys` (ansible-core's subelements lookup
    takes it out of the element it pairs with each item)."""
    out = dict(element)
    if len(keys) == 1:
        out.pop(keys[0], None)
    else:
        out[keys[0]] = _without(out[keys[0]], keys[1:])
    return out


_SEQ_SHORTCUT = re.compile(r"^(0[xX][0-9a-fA-F]+|0o?[0-7]+|\d+)?-?(0[xX][0-9a-fA-F]+|0o?[0-7]+|"
                           r"\d+)(/([0-9a-fA-F]+|0x[0-9a-fA-F]+))?(:(.+))?$")


def _sequence(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    """Numbers as text: `start=1 end=4 stride=1 format=web%02d`, `count=4`, or `1-4/1:fmt`."""
    out: list[Any] = []
    for term in terms or [""]:
        args: dict[str, Any] = {"start": 1, "end": None, "count": None, "stride": 1,
                                "format": "%d"}
        text = str(term).strip()
        if text:
            pairs = re.findall(r"(\w+)=(\S+)", text)
            if pairs:
                for key, value in pairs:
                    if key not in args:
                        raise TemplateError(f"lookup('sequence'): unknown argument '{key}'")
                    args[key] = value
            else:
                match = _SEQ_SHORTCUT.match(text)
                if not match:
                    raise TemplateError(f"lookup('sequence'): can't parse arg {text!r}")
                start, end, _, stride, _, fmt = match.groups()
                args.update({"start": start or 1, "end": end, "stride": stride or 1})
                if fmt:
                    args["format"] = fmt
        args.update({k: v for k, v in kw.items() if k in args})
        try:
            start = _number(args["start"])
            stride = _number(args["stride"])
            if args["count"] is not None and args["end"] is not None:
                raise TemplateError("lookup('sequence'): can't specify both count and end")
            if args["count"] is not None:
                count = _number(args["count"])
                end = start + count * stride - 1 if count else 0
                if not count:
                    start, stride = 1, 1
            elif args["end"] is not None:
                end = _number(args["end"])
            else:
                raise TemplateError("lookup('sequence'): must specify count or end")
        except ValueError as err:
            raise TemplateError(f"lookup('sequence'): {err}") from None
        if stride == 0:
            continue
        if stride > 0 and end < start:
            raise TemplateError("lookup('sequence'): to count backwards make stride negative")
        if stride < 0 and end > start:
            raise TemplateError("lookup('sequence'): to count forward don't make stride negative")
        stop = end + (1 if stride > 0 else -1)
        fmt = str(args["format"])
        try:
            out.extend(fmt % i for i in range(start, stop, stride))
        except (TypeError, ValueError):
            raise TemplateError(f"lookup('sequence'): bad formatting string: {fmt}") from None
    return out


def _number(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int(str(value), 0) if str(value).startswith(("0x", "0X", "0o")) else int(str(value))


def _first_found(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    """The first file that exists, from file names and optional `paths`; `skip: true`
    makes 'none found' an empty list. Relative names are searched in the task's folders
    (a `with_first_found` in an include_vars task looks in vars/ first, and so on)."""
    if call.invoked_as_with:
        terms = _drop_undefined(terms)
    skip = [to_bool(kw.get("skip", False))]
    candidates = _candidates(terms or [{"files": kw.get("files", [])}], kw, skip)
    for name in candidates:
        found = call.find(name, call.subdir)
        if found is not None:
            return [os.path.normpath(os.path.abspath(found))]
    if skip[0]:
        return []
    raise TemplateError("No file was found when using first_found.")


def _candidates(terms: Sequence[Any], kw: dict[str, Any], skip: list[bool]) -> list[str]:
    """The paths first_found tries, in order: each file under each of `paths` (or the
    file alone); a dict term brings its own files/paths/skip, a list is searched inside."""
    out: list[str] = []
    for term in terms:
        if isinstance(term, Mapping):
            unknown = set(term) - {"files", "paths", "skip"}
            if unknown:
                raise TemplateError(f"lookup('first_found'): unknown option "
                                    f"'{sorted(unknown)[0]}' (files, paths, skip)")
            skip[0] = to_bool(term.get("skip", skip[0]))
            files, paths = term.get("files", kw.get("files", [])), term.get(
                "paths", kw.get("paths", []))
        elif isinstance(term, str):
            files, paths = [term], kw.get("paths", [])
        elif isinstance(term, Sequence):
            out.extend(_candidates(term, kw, skip))
            continue
        else:
            raise TemplateError(f"lookup('first_found'): invalid term {term!r} (a string, "
                                f"dict or list is required)")
        file_list, path_list = _split(files, ",;"), _split(paths, ",:;")
        if path_list:
            out.extend(os.path.join(p, f) for p in path_list for f in file_list)
        else:
            out.extend(file_list)
    return out


def _split(value: Any, separators: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return re.split("[" + re.escape(separators) + "]", value) if value else []
    out: list[str] = []
    for item in value:
        out.extend(_split(item, separators))
    return out


def _drop_undefined(value: Any) -> Any:
    from jinja2 import Undefined

    if isinstance(value, Mapping):
        return {k: _drop_undefined(v) for k, v in value.items() if not isinstance(v, Undefined)}
    if isinstance(value, list):
        return [_drop_undefined(v) for v in value if not isinstance(v, Undefined)]
    return value


def _fileglob(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    out: list[str] = []
    for term in terms:
        pattern = str(term)
        directory = os.path.dirname(pattern)
        if os.path.isabs(pattern):
            out.extend(m for m in sorted(glob.glob(pattern)) if os.path.isfile(m))
            continue
        folder = call.find(directory or ".", "files")
        if folder is None:
            continue
        matches = sorted(glob.glob(os.path.join(str(folder), os.path.basename(pattern))))
        out.extend(m for m in matches if os.path.isfile(m))
    return out


def _template(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    templar = call.templar
    out = []
    overrides = {k: kw[k] for k in ("variable_start_string", "variable_end_string",
                                     "comment_start_string", "comment_end_string",
                                     "trim_blocks") if k in kw}
    for term in terms:
        found = call.find(str(term), "templates")
        if found is None or not found.is_file():
            raise TemplateError(f"lookup('template'): template not found: {term}")
        source = read_text(found)
        extra = dict(kw.get("template_vars") or {})
        child = templar.child(extra) if extra else templar
        out.append(child.render_text(source, overrides) if templar is not None else source)
    return out


_PASSWORD_PARAMS = ("length", "chars", "seed", "encrypt", "ident")
_CRYPT_SALT = {"sha512_crypt": 16, "sha256_crypt": 16}


def _password(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    """A random password, kept in a file on the controller (created on first use) so the
    same one comes back; `/dev/null` keeps nothing. `length=20`, `chars=ascii_letters,
    digits,.,:-_` (names from Python's `string` module or literal characters), `seed`
    for a repeatable one, `encrypt=sha512_crypt|sha256_crypt` for a crypt hash."""
    import string

    out: list[Any] = []
    for term in terms:
        path_text, _, rest = str(term).partition(" ")
        params: dict[str, Any] = {k: v for k, v in kw.items() if k in _PASSWORD_PARAMS}
        for key, value in re.findall(r"(\w+)=(\S+)", rest):
            if key not in _PASSWORD_PARAMS:
                raise TemplateError(f"lookup('password'): unknown parameter '{key}'")
            params[key] = value
        chars = params.get("chars", ["ascii_letters", "digits", ".,:-_"])
        if isinstance(chars, str):
            specs = ([","] if ",," in chars else []) + \
                [c for c in chars.replace(",,", ",").split(",") if c]
        else:
            specs = [str(c) for c in chars]
        pool = "".join(str(getattr(string, c, c)) for c in specs).replace('"', "")
        pool = pool.replace("'", "")
        length = int(params.get("length", 20))
        seed = params.get("seed")
        encrypt = params.get("encrypt")
        if encrypt and encrypt not in _CRYPT_SALT:
            raise TemplateError(f"lookup('password'): encrypt={encrypt} is not supported "
                                f"(sha512_crypt, sha256_crypt)")
        path = Path(os.path.expanduser(path_text))
        if not path.is_absolute():  # relative to the playbook, as Ansible's loader does
            base = call.templar._playbook_dir() if call.templar is not None else None
            path = (base or Path.cwd()) / path
        password, salt = None, None
        if str(path) != "/dev/null" and path.exists():
            content = path.read_text(encoding="utf-8").rstrip()
            password, _, salt_part = content.rpartition(" salt=") if " salt=" in content \
                else (content, "", "")
            salt = salt_part.split(" ident=")[0] or None
        changed = password is None
        if password is None:
            rng = random.Random(seed) if seed is not None else random.SystemRandom()
            password = "".join(rng.choice(pool) for _ in range(length))
        if encrypt and not salt:
            changed = True
            salt_pool = string.ascii_letters + string.digits + "./"
            salt = "".join(random.SystemRandom().choice(salt_pool)
                           for _ in range(_CRYPT_SALT[encrypt]))
        if changed and str(path) != "/dev/null":
            path.parent.mkdir(parents=True, exist_ok=True)
            text = password + (f" salt={salt}" if encrypt else "")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        if encrypt:
            from pyengine.templating.shacrypt import sha_crypt

            bits = 512 if encrypt == "sha512_crypt" else 256
            out.append(sha_crypt(password, salt, None, bits))
        else:
            out.append(password)
    return out


def _inline(term: str, options: dict[str, Any], what: str) -> str:
    """Split `key opt=value ...` into the key and `options` (updated in place)."""
    key = ""
    for part in term.split():
        name, sep, value = part.partition("=")
        if not sep:
            key = key or part
            continue
        if name not in options:
            raise TemplateError(f"lookup('{what}'): {name!r} is not a valid option")
        options[name] = value
    if not key:
        raise TemplateError(f"lookup('{what}'): no key to look up in {term!r}")
    return key


def _controller_file(call: LookupCall, name: str, what: str) -> Path:
    found = call.find(name, "files")
    if found is None or not found.is_file():
        raise TemplateError(f"lookup('{what}'): file not found: {name}")
    return found


def _ini(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    """A value from an INI (or Java properties) file on the controller:
    `lookup('ini', 'user section=db file=app.ini default=x')`; `re=true` for a pattern."""
    import configparser

    out: list[Any] = []
    for term in terms:
        opts: dict[str, Any] = {"file": "ansible.ini", "section": "global", "default": "",
                                "re": False, "type": "ini", "encoding": "utf-8",
                                "case_sensitive": False, "allow_no_value": False,
                                "allow_none": False, "interpolation": True, **kw}
        key = _inline(str(term), opts, "ini")
        parser = configparser.ConfigParser(
            allow_no_value=to_bool(opts["allow_no_value"]) or to_bool(opts["allow_none"]),
            interpolation=configparser.BasicInterpolation() if to_bool(opts["interpolation"])
            else None)
        if to_bool(opts["case_sensitive"]):
            parser.optionxform = str  # type: ignore[assignment,method-assign]
        text = _controller_file(call, str(opts["file"]), "ini").read_text(
            encoding=str(opts["encoding"]))
        section = str(opts["section"])
        if opts["type"] == "properties":
            text, section = "[java_properties]\n" + text, "java_properties"
        try:
            parser.read_string(text)
            if to_bool(opts["re"]):
                out.extend(v for k, v in parser.items(section) if re.match(key, k))
            elif parser.has_option(section, key):
                out.append(parser.get(section, key))
            elif not parser.has_section(section):
                raise configparser.NoSectionError(section)
            else:
                out.append(opts["default"])
        except configparser.Error as err:
            raise TemplateError(f"lookup('ini'): {opts['file']}: {err}") from None
    return out


def _csvfile(call: LookupCall, terms: list[Any], **kw: Any) -> list[Any]:
    """A column of the row whose key column matches, from a CSV/TSV file on the controller:
    `lookup('csvfile', 'alice file=users.csv delimiter=, col=2')`."""
    import csv

    out: list[Any] = []
    for term in terms:
        opts: dict[str, Any] = {"file": "ansible.csv", "delimiter": "TAB", "col": 1,
                                "keycol": 0, "default": None, "encoding": "utf-8", **kw}
        key = _inline(str(term), opts, "csvfile")
        delimiter = "\t" if opts["delimiter"] in ("TAB", "\\t") else str(opts["delimiter"])
        path = _controller_file(call, str(opts["file"]), "csvfile")
        value = opts["default"]
        with open(path, encoding=str(opts["encoding"])) as handle:
            for row in csv.reader(handle, dialect=csv.excel, delimiter=delimiter):
                if row and row[int(opts["keycol"])] == key:
                    value = row[int(opts["col"])]
                    break
        if value is not None:
            out.append(value)
    return out


LOOKUPS: dict[str, Callable[..., list[Any]]] = {
    "template": _template,
    "env": _env, "file": _file, "unvault": _unvault, "vars": _vars, "varnames": _varnames,
    "items": _items, "list": _list, "flattened": _flattened,
    "dict": _dict, "together": _together, "nested": _nested, "subelements": _subelements,
    "indexed_items": _indexed_items, "sequence": _sequence, "random_choice": _random_choice,
    "first_found": _first_found, "fileglob": _fileglob, "password": _password,
    "ini": _ini, "csvfile": _csvfile,
    **CONTROLLER_LOOKUPS,
}


def add_lookups(table: dict[str, Callable[..., list[Any]]]) -> None:
    """Lookups that a higher layer provides (`inventory_hostnames` needs the inventory's
    pattern matcher)."""
    LOOKUPS.update(table)


def _builtin(name: str) -> Callable[..., list[Any]] | None:
    for prefix in ("ansible.builtin.", "ansible.legacy."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return LOOKUPS.get(name)


def run(call: LookupCall, name: str, terms: list[Any], kw: dict[str, Any]) -> list[Any]:
    """Run lookup `name` (builtin or from an installed collection); always a list."""
    kw = dict(kw)
    kw.pop("wantlist", None)
    kw.pop("errors", None)
    fn = _builtin(name)
    if fn is not None:
        return fn(call, list(terms), **kw)
    from pyengine.templating.plugins import is_collection_name, run_lookup

    if not is_collection_name(name):
        from pyengine.errors import did_you_mean

        raise TemplateError(f"unknown lookup '{name}'{did_you_mean(name, LOOKUPS)}")
    variables = {k: call.variables[k] for k in call.variables}
    bases = call.bases()
    return run_lookup(name, list(terms), variables, bases[0] if bases else Path.cwd(), kw)


class WithLoop(dict[str, Any]):
    """A task's `with_<lookup>: terms`, kept unrendered until the loop runs.

    A dict, so that code walking a task's values (which variables does it read?) sees
    the terms; the templar turns it into the loop's items with `with_items()`.
    """

    def __init__(self, lookup: str, terms: Any, subdir: str | None = None) -> None:
        super().__init__(lookup=lookup, terms=terms)
        self.subdir = subdir

    @property
    def lookup(self) -> str:
        return str(self["lookup"])


def with_items(templar: Any, loop: WithLoop) -> list[Any]:
    """The items of a `with_<lookup>` loop, as Ansible's task executor makes them: a
    string is rendered (it must give the terms), a single value is one term, and the lookup
    runs with wantlist semantics."""
    terms = loop["terms"]
    if isinstance(terms, str):
        terms = templar.render(terms.strip())
    elif isinstance(terms, list):
        terms = templar.render(terms)
    else:
        terms = templar.render(terms)
    if not isinstance(terms, list):
        terms = [terms]
    call = LookupCall(templar, invoked_as_with=True, subdir=loop.subdir)
    return run(call, loop.lookup, terms, {})


def _call(context: Context) -> LookupCall:
    return LookupCall(getattr(context.parent, "_templar", None))


def single(result: list[Any]) -> Any:
    """What `lookup()` returns for `result` (Ansible's rules for wantlist=False)."""
    if not result:
        return result
    if len(result) == 1:
        return result[0]
    if all(isinstance(r, str) for r in result):
        return ",".join(result)
    return result


def _invoke(context: Context, name: str, terms: tuple[Any, ...], kw: dict[str, Any]
            ) -> list[Any] | None:
    """The lookup's list, or None when it failed and `errors` is 'ignore' or 'warn'."""
    errors = kw.get("errors", "strict")
    try:
        return run(_call(context), name, list(terms), kw)
    except TemplateError:
        if errors in ("ignore", "warn"):
            return None
        raise


@pass_context
def lookup(context: Context, name: str, *terms: Any, **kw: Any) -> Any:
    wantlist = to_bool(kw.get("wantlist", False))
    result = _invoke(context, name, terms, dict(kw))
    if result is None:
        return [] if wantlist else None
    return result if wantlist else single(result)


@pass_context
def query(context: Context, name: str, *terms: Any, **kw: Any) -> list[Any]:
    return _invoke(context, name, terms, dict(kw)) or []
