"""Lookups that reach outside the variables on the controller: `pipe`, `lines`, `url`.

Roles use them for things like a build date (`lookup('pipe', 'date +%F')`), a key read
from a local command, or a checksum list fetched over HTTP. They run where Ansible runs
them: on the controller, a command in the playbook's folder through `/bin/sh`, the same
trust a playbook already has (it may run any command on every host).
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyengine.errors import TemplateError
from pyengine.templating.filters import to_bool

if TYPE_CHECKING:
    import urllib.request

Lookup = Callable[..., list[Any]]


def _command_output(call: Any, name: str, term: Any) -> str:
    """stdout of `term` run by /bin/sh in the playbook folder; a failure is an error."""
    folder = call.templar._playbook_dir() if call.templar is not None else None
    try:
        proc = subprocess.run(str(term), shell=True, cwd=folder or Path.cwd(),
                              stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, check=False)
    except OSError as err:
        raise TemplateError(f"lookup('{name}'): cannot run {term!r}: {err}") from None
    if proc.returncode != 0:
        raise TemplateError(f"lookup('{name}'): {term!r} returned {proc.returncode}")
    return proc.stdout.decode("utf-8", errors="replace")


def pipe(call: Any, terms: list[Any], **kw: Any) -> list[Any]:
    """Each command's output, trailing whitespace removed."""
    return [_command_output(call, "pipe", term).rstrip() for term in terms]


def lines(call: Any, terms: list[Any], **kw: Any) -> list[Any]:
    """Each command's output, one item per line."""
    out: list[Any] = []
    for term in terms:
        out.extend(_command_output(call, "lines", term).splitlines())
    return out


_URL_OPTIONS = frozenset({"validate_certs", "split_lines", "use_proxy", "username", "password",
                          "headers", "force", "timeout", "http_agent", "force_basic_auth",
                          "follow_redirects", "ca_path", "unredirected_headers"})


def url(call: Any, terms: list[Any], **kw: Any) -> list[Any]:
    """The body of each URL (one item per line unless `split_lines=false`)."""
    import urllib.error  # urllib.request costs ~70 ms to import: only when a url lookup runs
    import urllib.request

    unknown = sorted(set(kw) - _URL_OPTIONS)
    if unknown:
        raise TemplateError(f"lookup('url'): unsupported option(s) {', '.join(unknown)}")
    split = to_bool(kw.get("split_lines", True))
    out: list[Any] = []
    for term in terms:
        opener = _url_opener(str(term), kw)
        request = urllib.request.Request(str(term), headers=_url_headers(kw))
        try:
            with opener.open(request, timeout=float(kw.get("timeout", 10))) as response:
                body = response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as err:
            raise TemplateError(f"lookup('url'): HTTP error for {term}: {err.code} "
                                f"{err.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            raise TemplateError(f"lookup('url'): cannot fetch {term}: {reason}") from None
        out.extend(body.splitlines() if split else [body])
    return out


def _url_headers(kw: dict[str, Any]) -> dict[str, str]:
    headers = {str(k): str(v) for k, v in (kw.get("headers") or {}).items()}
    headers.setdefault("User-Agent", str(kw.get("http_agent") or "ansible-httpget"))
    if kw.get("username") is not None and to_bool(kw.get("force_basic_auth", False)):
        pair = f"{kw['username']}:{kw.get('password') or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    if to_bool(kw.get("force", False)):
        headers["Cache-Control"] = "no-cache"
    return headers


def _url_opener(target: str, kw: dict[str, Any]) -> urllib.request.OpenerDirector:
    import ssl
    import urllib.request

    handlers: list[urllib.request.BaseHandler] = []
    if not to_bool(kw.get("use_proxy", True)):
        handlers.append(urllib.request.ProxyHandler({}))
    if to_bool(kw.get("validate_certs", True)):
        context = ssl.create_default_context(cafile=kw.get("ca_path") or None)
    else:
        context = ssl._create_unverified_context()  # noqa: S323 - the user asked for it
    handlers.append(urllib.request.HTTPSHandler(context=context))
    if kw.get("username") is not None and not to_bool(kw.get("force_basic_auth", False)):
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, target, str(kw["username"]), str(kw.get("password") or ""))
        handlers.append(urllib.request.HTTPBasicAuthHandler(passwords))
    if str(kw.get("follow_redirects", "urllib2")).lower() in ("no", "none", "false"):
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        handlers.append(NoRedirect())
    return urllib.request.build_opener(*handlers)


CONTROLLER_LOOKUPS: dict[str, Lookup] = {"pipe": pipe, "lines": lines, "url": url}
