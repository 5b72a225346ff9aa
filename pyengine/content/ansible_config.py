"""ansible.cfg and the ANSIBLE_* variables, read as Ansible reads them.

Users who come from Ansible keep their settings in `ansible.cfg` and in the
environment; pyengine honours the ones that have a meaning here and says, in one
line each, which ones it does not use, so nothing is ignored in silence.

Ansible's rules, followed here:
- one file is read, the first found of `$ANSIBLE_CONFIG` (a file, or a folder holding
  `ansible.cfg`), `./ansible.cfg` (skipped when the folder is world-writable),
  `~/.ansible.cfg`, `/etc/ansible/ansible.cfg`;
- an `ANSIBLE_*` variable beats the file; the command line beats both;
- relative paths in the file are relative to the file's folder, in a variable to the
  working folder; `~` and `$VARS` are expanded; a path list (`roles_path`) is split
  on `:`, `inventory` on `,`;
- INI values are taken raw (no `%` interpolation), `;` starts an inline comment, and
  surrounding quotes are removed.
"""

from __future__ import annotations

import configparser
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyengine.booleans import boolean_word
from pyengine.errors import PlaybookError


@dataclass(frozen=True)
class _Spec:
    """One Ansible setting pyengine maps onto its own: where it is read and its type."""

    field: str          # AnsibleConfig attribute
    section: str
    key: str
    env: tuple[str, ...]
    kind: str           # str, int, bool, path, pathspec, pathlist


# Settings with a meaning in pyengine. Deprecated spellings follow the current one.
SPECS: tuple[_Spec, ...] = (
    _Spec("home", "defaults", "home", ("ANSIBLE_HOME",), "path"),
    _Spec("inventory", "defaults", "inventory", ("ANSIBLE_INVENTORY",), "pathlist"),
    _Spec("inventory", "defaults", "hostfile", ("ANSIBLE_HOSTS",), "pathlist"),
    _Spec("remote_user", "defaults", "remote_user", ("ANSIBLE_REMOTE_USER",), "str"),
    _Spec("remote_port", "defaults", "remote_port", ("ANSIBLE_REMOTE_PORT",), "int"),
    _Spec("forks", "defaults", "forks", ("ANSIBLE_FORKS",), "int"),
    _Spec("timeout", "defaults", "timeout", ("ANSIBLE_TIMEOUT",), "int"),
    _Spec("connection", "defaults", "transport", ("ANSIBLE_TRANSPORT",), "str"),
    _Spec("private_key_file", "defaults", "private_key_file", ("ANSIBLE_PRIVATE_KEY_FILE",),
          "path"),
    _Spec("host_key_checking", "defaults", "host_key_checking",
          ("ANSIBLE_HOST_KEY_CHECKING",), "bool"),
    _Spec("ask_pass", "defaults", "ask_pass", ("ANSIBLE_ASK_PASS",), "bool"),
    _Spec("vault_password_file", "defaults", "vault_password_file",
          ("ANSIBLE_VAULT_PASSWORD_FILE",), "path"),
    _Spec("vault_identity_list", "defaults", "vault_identity_list",
          ("ANSIBLE_VAULT_IDENTITY_LIST",), "list"),
    _Spec("roles_path", "defaults", "roles_path", ("ANSIBLE_ROLES_PATH",), "pathspec"),
    _Spec("library", "defaults", "library", ("ANSIBLE_LIBRARY",), "pathspec"),
    _Spec("collections_path", "defaults", "collections_path",
          ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS"), "pathspec"),
    _Spec("collections_path", "defaults", "collections_paths", (), "pathspec"),
    _Spec("collections_scan_sys_path", "defaults", "collections_scan_sys_path",
          ("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH",), "bool"),
    _Spec("force_handlers", "defaults", "force_handlers", ("ANSIBLE_FORCE_HANDLERS",), "bool"),
    _Spec("become", "privilege_escalation", "become", ("ANSIBLE_BECOME",), "bool"),
    _Spec("become_user", "privilege_escalation", "become_user", ("ANSIBLE_BECOME_USER",),
          "str"),
    _Spec("become_method", "privilege_escalation", "become_method",
          ("ANSIBLE_BECOME_METHOD",), "str"),
    _Spec("become_ask_pass", "privilege_escalation", "become_ask_pass",
          ("ANSIBLE_BECOME_ASK_PASS",), "bool"),
    _Spec("ssh_common_args", "ssh_connection", "ssh_common_args",
          ("ANSIBLE_SSH_COMMON_ARGS",), "str"),
    _Spec("ssh_extra_args", "ssh_connection", "ssh_extra_args", ("ANSIBLE_SSH_EXTRA_ARGS",),
          "str"),
    # pyengine's own (no Ansible equivalent): `run --persist`'s default (warm connections).
    _Spec("persist", "pyengine", "persist", ("PYENGINE_PERSIST",), "str"),
)

# Settings that are harmless to ignore because pyengine already behaves that way.
ALREADY_SO = {
    ("ssh_connection", "pipelining"): "pyengine always sends tasks over one open channel",
    ("defaults", "gathering"): "facts come with the agent's first exchange",
    ("defaults", "interpreter_python"): "set ansible_python_interpreter per host if needed",
}

# Deprecated spellings: (section, key) or env name -> the current one.
DEPRECATED = {
    ("defaults", "hostfile"): "inventory",
    ("defaults", "collections_paths"): "collections_path",
    "ANSIBLE_COLLECTIONS_PATHS": "ANSIBLE_COLLECTIONS_PATH",
    "ANSIBLE_HOSTS": "ANSIBLE_INVENTORY",
}

# Variables that are not settings but that Ansible reads to find its settings.
_ENV_NOT_SETTINGS = {"ANSIBLE_CONFIG"}


@dataclass
class AnsibleConfig:
    """The Ansible settings that map onto pyengine's; None means "not set anywhere"."""

    path: Path | None = None  # the ansible.cfg that was read
    home: Path = field(default_factory=lambda: Path("~/.ansible").expanduser())
    inventory: list[str] | None = None
    remote_user: str | None = None
    remote_port: int | None = None
    forks: int | None = None
    timeout: int | None = None
    connection: str | None = None
    private_key_file: str | None = None
    host_key_checking: bool | None = None
    ask_pass: bool | None = None
    vault_password_file: str | None = None
    vault_identity_list: list[str] | None = None
    roles_path: list[Path] | None = None  # None: Ansible's default (see `role_paths`)
    collections_path: list[Path] | None = None  # None: the default (`collection_paths`)
    collections_scan_sys_path: bool = True
    library: list[Path] | None = None  # None: the default (`library_paths`)
    force_handlers: bool | None = None
    become: bool | None = None
    become_user: str | None = None
    become_method: str | None = None
    become_ask_pass: bool | None = None
    ssh_common_args: str | None = None
    ssh_extra_args: str | None = None
    persist: str | None = None  # [pyengine] persist = 5m
    origins: dict[str, str] = field(default_factory=dict)  # field -> "file:line" / "$VAR"
    warnings: list[str] = field(default_factory=list)

    @property
    def role_paths(self) -> list[Path]:
        """The configured roles path, or Ansible's default one."""
        if self.roles_path is not None:
            return list(self.roles_path)
        return [self.home / "roles", Path("/usr/share/ansible/roles"),
                Path("/etc/ansible/roles")]

    @property
    def collection_paths(self) -> list[Path]:
        """The configured collections path, or Ansible's default one."""
        if self.collections_path is not None:
            return list(self.collections_path)
        return [self.home / "collections", Path("/usr/share/ansible/collections")]

    @property
    def library_paths(self) -> list[Path]:
        """Folders of the user's own Ansible modules (`library`), or the default ones."""
        if self.library is not None:
            return list(self.library)
        return [self.home / "plugins" / "modules", Path("/usr/share/ansible/plugins/modules")]


def find_config_file(env: Mapping[str, str] | None = None, cwd: Path | None = None
                     ) -> tuple[Path | None, list[str]]:
    """The ansible.cfg Ansible would read (first found), and warnings about skipped ones."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    warnings: list[str] = []
    candidates: list[Path] = []
    from_env = env.get("ANSIBLE_CONFIG")
    if from_env is not None:
        path = _expand(from_env, env, cwd)
        candidates.append(path / "ansible.cfg" if path.is_dir() else path)
    local = cwd / "ansible.cfg"
    try:
        world_writable = bool(cwd.stat().st_mode & stat.S_IWOTH)
    except OSError:
        world_writable = False
    if world_writable:
        if local.exists():
            warnings.append(f"{local}: ignored, because {cwd} is world-writable (as Ansible "
                            f"does)")
    else:
        candidates.append(local)
    home = env.get("HOME")
    candidates.append(Path(home) / ".ansible.cfg" if home else
                      Path("~/.ansible.cfg").expanduser())
    candidates.append(Path("/etc/ansible/ansible.cfg"))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.R_OK):
            return candidate, warnings
    return None, warnings


def load_ansible_config(env: Mapping[str, str] | None = None, cwd: Path | None = None,
                        path: Path | None = None) -> AnsibleConfig:
    """Settings from the ansible.cfg found (or `path`) and the environment.

    Raises PlaybookError (file:line) for a file that cannot be parsed or a value of the
    wrong type."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    warnings: list[str] = []
    if path is None:
        path, warnings = find_config_file(env, cwd)
    config = AnsibleConfig(path=path, warnings=warnings)
    ini = _read_ini(path) if path is not None else _Ini({}, {})
    home_env = env.get("HOME")
    if home_env:
        config.home = Path(home_env) / ".ansible"
    for spec in SPECS:
        raw, origin, base = _raw_value(spec, ini, env, path, cwd)
        if raw is None:
            continue
        earlier = config.origins.get(spec.field)
        if earlier is not None and (earlier.startswith("$") or not origin.startswith("$")):
            continue  # the current spelling was read already; a deprecated one comes second
        value = _convert(raw, spec.kind, origin, env, base)
        if spec.field == "home":
            value = Path(value)
        setattr(config, spec.field, value)
        config.origins[spec.field] = origin
        deprecated = DEPRECATED.get((spec.section, spec.key))
        if deprecated and origin[:1] != "$":
            warnings.append(f"{origin}: '{spec.key}' is deprecated in Ansible, use "
                            f"'{deprecated}'")
    for name in sorted(env):
        if name in DEPRECATED:
            warnings.append(f"${name} is deprecated in Ansible, use ${DEPRECATED[name]}")
    _warn_unused(ini, env, warnings)
    return config


# -- INI reading ------------------------------------------------------------------


@dataclass
class _Ini:
    values: dict[tuple[str, str], str]  # (section, key) -> raw value
    lines: dict[tuple[str, str], int]   # (section, key) -> 1-based line


_SECTION = re.compile(r"^\s*\[([^\]]+)\]")
_KEY = re.compile(r"^([^\s=:;#][^=:]*?)\s*[=:]")


def _read_ini(path: Path) -> _Ini:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise PlaybookError(f"ansible.cfg is not UTF-8: {err}", str(path)) from None
    except OSError as err:
        raise PlaybookError(f"cannot read ansible.cfg: {err.strerror}", str(path)) from None
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",), interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as err:
        line = getattr(err, "lineno", None)
        message = str(err).splitlines()[0]
        raise PlaybookError(f"cannot parse ansible.cfg: {message}", str(path), line) from None
    values = {(s, k): parser.get(s, k, raw=True) for s in parser.sections()
              for k in parser.options(s) if k not in parser.defaults()}
    lines: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip()
            continue
        key = _KEY.match(line)
        if key and section:
            lines.setdefault((section, key.group(1).strip().lower()), number)
    return _Ini(values, lines)


def _raw_value(spec: _Spec, ini: _Ini, env: Mapping[str, str], path: Path | None, cwd: Path
               ) -> tuple[str | None, str, Path]:
    """(raw text, where it was set, folder relative paths start from); env wins."""
    for name in spec.env:
        if name in env:
            return env[name], f"${name}", cwd
    key = (spec.section, spec.key)
    if key in ini.values and path is not None:
        return _unquote(ini.values[key]), f"{path}:{ini.lines.get(key, 0)}", path.parent
    return None, "", cwd


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _expand(text: str, env: Mapping[str, str], base: Path) -> Path:
    """~ and $VARS expanded, made absolute against `base`, normalised (no symlinks)."""
    text = text.replace("{{CWD}}", str(Path.cwd()))
    text = re.sub(r"\$(\w+)|\$\{(\w+)\}",
                  lambda m: env.get(m.group(1) or m.group(2), m.group(0)), text)
    if text.startswith("~"):
        home = env.get("HOME")
        text = (home + text[1:]) if home and (text == "~" or text[1] == "/") else \
            os.path.expanduser(text)
    return Path(os.path.normpath(base / text))


def _convert(raw: str, kind: str, origin: str, env: Mapping[str, str], base: Path) -> Any:
    def bad(expected: str) -> PlaybookError:
        file, _, line = origin.rpartition(":")
        if origin.startswith("$") or not line.isdigit():
            return PlaybookError(f"{origin} must be {expected}, got {raw!r}", "environment")
        return PlaybookError(f"must be {expected}, got {raw!r}", file, int(line) or None)

    if kind == "str":
        return raw
    if kind == "int":
        try:
            return int(raw.strip())
        except ValueError:
            raise bad("a whole number") from None
    if kind == "bool":
        word = boolean_word(raw) if raw.strip() else False  # an empty setting is off
        if word is None:
            raise bad("a boolean (yes/no/true/false)")
        return word
    if kind == "path":
        return str(_expand(raw.strip(), env, base)) if raw.strip() else None
    if kind == "pathspec":
        return [_expand(p.strip(), env, base) for p in raw.split(os.pathsep) if p.strip()]
    if kind == "pathlist":
        return [str(_expand(p.strip(), env, base)) if _looks_like_path(p.strip())
                else p.strip() for p in raw.split(",") if p.strip()]
    if kind == "list":
        return [_unquote(p) for p in raw.split(",") if p.strip()]
    raise ValueError(kind)


def _looks_like_path(text: str) -> bool:
    """An inventory entry is a path unless it is a host list item ('h1,h2,')."""
    return "/" in text or text.startswith("~") or text.endswith((".ini", ".yml", ".yaml"))


def _warn_unused(ini: _Ini, env: Mapping[str, str], warnings: list[str]) -> None:
    """One line for each setting in the file or the environment that pyengine does not
    use (the user asked for something; they should know it had no effect)."""
    known = {(s.section, s.key) for s in SPECS}
    for (section, key), _ in sorted(ini.values.items(), key=lambda kv: ini.lines.get(kv[0], 0)):
        if (section, key) in known:
            continue
        where = ini.lines.get((section, key), 0)
        why = ALREADY_SO.get((section, key), "not used by pyengine")
        warnings.append(f"ansible.cfg line {where}: [{section}] {key} is ignored ({why})")
    known_env = {e for s in SPECS for e in s.env} | _ENV_NOT_SETTINGS
    unused = [f"${name}" for name in sorted(env)
              if name.startswith("ANSIBLE_") and name not in known_env]
    if unused:  # one line: a shell set up for Ansible often exports several
        warnings.append(f"{', '.join(unused)} {'is' if len(unused) == 1 else 'are'} ignored "
                        "(not used by pyengine)")


_cache: dict[tuple[Any, ...], AnsibleConfig] = {}


def current_config() -> AnsibleConfig:
    """The settings for this process (working folder + environment), read once per change
    of either, so every caller (role search, collection search, the run command) agrees."""
    cwd = Path.cwd()
    env_key = tuple(sorted((k, v) for k, v in os.environ.items()
                           if k.startswith("ANSIBLE_") or k == "HOME"))
    path, _ = find_config_file(os.environ, cwd)
    mtime = path.stat().st_mtime if path is not None else 0.0
    key = (str(cwd), env_key, str(path), mtime)
    config = _cache.get(key)
    if config is None:
        _cache.clear()
        config = _cache[key] = load_ansible_config(os.environ, cwd, path)
    return config
