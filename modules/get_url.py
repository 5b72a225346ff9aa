"""Download a file over HTTP(S), FTP or file:// to the host (ansible.builtin.get_url).

The host fetches the URL itself (the controller never sees the bytes). A file that
is already there is kept when its `checksum` matches (no download at all), when the
server answers 304 to If-Modified-Since (unless `force`), or when the download is
byte-identical (sha1); otherwise it is replaced atomically, keeping mode and owner
unless given. `checksum` is `ALGO:HEX` or `ALGO:URL` of a checksum file (GNU or BSD
format). Unlike Ansible, check mode downloads (a GET, nothing written) so it can
say exactly whether the file would change; Ansible's HEAD request cannot.
Downloads are held in memory before the atomic write (fine for packages and
configs, not for disk images).
"""

import base64
import email.message
import email.utils
import hashlib
import os
import re
import ssl
import time

try:  # Python 3 only; kept importable for `pyengine doc`
    import urllib.error as urlerror
    import urllib.parse as urlparse
    import urllib.request as urlrequest
except ImportError:  # pragma: no cover
    urlerror = urlparse = urlrequest = None

ARGS = {
    "url": {"type": "str", "required": True,
            "help": "http, https, ftp or file URL (user:password@ allowed)."},
    "dest": {"type": "path", "required": True,
             "help": "File to write, or a folder (the name then comes from the server or "
                     "the URL)."},
    "force": {"type": "bool", "default": False, "aliases": ["thirsty"],
              "help": "Download even when the file is there (and replace it if it differs)."},
    "checksum": {"type": "str", "default": "",
                 "help": "ALGO:HEX or ALGO:URL (sha256:https://.../SHA256SUMS); the download "
                         "must match, and a matching file is not downloaded again."},
    "timeout": {"type": "int", "default": 10, "help": "Seconds for the request."},
    "headers": {"type": "dict", "help": "Extra request headers."},
    "validate_certs": {"type": "bool", "default": True,
                       "help": "Check the server's TLS certificate."},
    "url_username": {"type": "str", "aliases": ["username"], "help": "HTTP basic auth user."},
    "url_password": {"type": "str", "aliases": ["password"], "no_log": True,
                     "help": "HTTP basic auth password."},
    "force_basic_auth": {"type": "bool", "default": False,
                         "help": "Send the credentials without waiting for a 401."},
    "use_proxy": {"type": "bool", "default": True,
                  "help": "Honour the http_proxy/https_proxy environment variables."},
    "http_agent": {"type": "str", "default": "ansible-httpget", "help": "User-Agent."},
    "client_cert": {"type": "path", "help": "PEM client certificate (may hold the key)."},
    "client_key": {"type": "path", "help": "PEM key of client_cert."},
    "tmp_dest": {"type": "path", "help": "Folder for the temporary download."},
    "backup": {"type": "bool", "default": False,
               "help": "Keep a timestamped copy of a file that is replaced."},
    "owner": {"type": "str", "help": "Owner of the file."},
    "group": {"type": "str", "help": "Group of the file."},
    "mode": {"type": "raw", "help": "Octal (0644) or symbolic mode."},
    "unsafe_writes": {"type": "bool", "default": False,
                      "help": "Write in place if the atomic rename is refused."},
    "decompress": {"type": "bool", "default": True,
                   "help": "Accepted; no compressed transfer encoding is asked for."},
    "use_netrc": {"type": "bool", "default": True, "help": "Accepted; ~/.netrc is not read."},
}

_CHUNK = 1024 * 1024


class Fetched(object):
    """A finished download: bytes, status, headers and the final URL."""

    def __init__(self, data, status, headers, url):
        self.data = data
        self.status = status
        self.headers = headers
        self.url = url


class NotModified(Exception):
    pass


class RequestFailed(Exception):
    def __init__(self, msg, status=-1, response=""):
        Exception.__init__(self, msg)
        self.msg = msg
        self.status = status
        self.response = response


def split_credentials(url):
    """(url without user:password@, user or None, password or None)."""
    parts = urlparse.urlsplit(url)
    if not parts.username and not parts.password:
        return url, None, None
    host = parts.hostname or ""
    if ":" in host:
        host = "[%s]" % host
    netloc = host + (":%d" % parts.port if parts.port else "")
    clean = urlparse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, urlparse.unquote(parts.username or ""), urlparse.unquote(parts.password or "")


def mask_url(url):
    """The URL with its password replaced, for output."""
    parts = urlparse.urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":********@", 1)
    return urlparse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def fetch(p, url, if_modified_since=None):
    """GET `url` (raises NotModified on 304, RequestFailed otherwise)."""
    url, user, password = split_credentials(url)
    user = p["url_username"] if p["url_username"] is not None else user
    password = p["url_password"] if p["url_password"] is not None else password
    handlers = []
    if not p["use_proxy"]:
        handlers.append(urlrequest.ProxyHandler({}))
    if url.startswith("https:"):
        context = ssl.create_default_context()
        if not p["validate_certs"]:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if p["client_cert"]:
            context.load_cert_chain(p["client_cert"], p["client_key"])
        handlers.append(urlrequest.HTTPSHandler(context=context))
    headers = {"User-Agent": p["http_agent"]}
    if user is not None and url.split(":", 1)[0] in ("http", "https"):
        if p["force_basic_auth"]:
            token = base64.b64encode(("%s:%s" % (user, password or "")).encode("utf-8"))
            headers["Authorization"] = "Basic " + token.decode("ascii")
        else:
            manager = urlrequest.HTTPPasswordMgrWithDefaultRealm()
            manager.add_password(None, url, user, password or "")
            handlers.append(urlrequest.HTTPBasicAuthHandler(manager))
    if if_modified_since is not None:
        headers["If-Modified-Since"] = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                     time.gmtime(if_modified_since))
    for key, value in (p["headers"] or {}).items():
        headers[str(key)] = str(value)
    opener = urlrequest.build_opener(*handlers)
    request = urlrequest.Request(url, headers=headers)
    try:
        response = opener.open(request, timeout=p["timeout"])
    except urlerror.HTTPError as exc:
        if exc.code == 304:
            raise NotModified()
        raise RequestFailed("Request failed", exc.code, "HTTP Error %s: %s" % (exc.code,
                                                                                 exc.reason))
    except urlerror.URLError as exc:
        raise RequestFailed("Request failed: %s" % (exc.reason,))
    except (OSError, ValueError, ssl.SSLError) as exc:
        raise RequestFailed("Request failed: %s" % (exc,))
    try:
        chunks = []
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
    except (OSError, ValueError) as exc:
        raise RequestFailed("failed to read the response: %s" % (exc,))
    finally:
        response.close()
    data = b"".join(chunks)
    status = response.getcode()  # None for file:// URLs, as Ansible reports it
    info = response.info()
    length = info.get("Content-Length") if info is not None else None
    if length and length.isdigit() and int(length) != len(data) and url.startswith("http"):
        raise RequestFailed("Incomplete read: got %d of %s bytes" % (len(data), length))
    if status not in (200, None) and not url.startswith(("file:", "ftp:")):
        raise RequestFailed("Request failed", status, "status %s" % status)
    return Fetched(data, status, info, response.geturl() or url)


def filename_from(headers, url):
    """The name a folder dest gets: Content-Disposition's filename, else the URL's last part."""
    if headers is not None and headers.get("Content-Disposition"):
        msg = email.message.Message()
        msg["content-disposition"] = headers.get("Content-Disposition")
        name = msg.get_param("filename", header="content-disposition")
        if isinstance(name, tuple):
            name = email.utils.collapse_rfc2231_value(name)
        if name:
            return os.path.basename(str(name))
    name = os.path.basename(urlparse.unquote(urlparse.urlsplit(url).path))
    return name or "index.html"


def parse_checksum_lines(lines, filename):
    """The digest for `filename` in a checksum file (GNU `HEX  name`, BSD `ALG (name) = HEX`,
    or a lone digest), or None."""
    lines = [line.rstrip("\r\n") for line in lines if line.strip()]
    if len(lines) == 1 and len(lines[0].split()) == 1:
        return lines[0]
    bsd = re.compile(r"^(\w+) ?\((?P<path>.+)\) ?= (?P<digest>[\w.]+)$")
    gnu = re.compile(r"^(?P<digest>[\w.]+)\s+(\*|\./|\.)?(?P<path>.+)$")
    for line in lines:
        match = bsd.match(line)
        path = None
        if match:
            path = match.group("path")
        else:
            match = gnu.match(line)
            if match:
                path = match.group("path").lstrip("./")
        if match and path == filename:
            return match.group("digest")
    return None


def digest(data, algorithm):
    return hashlib.new(algorithm, data).hexdigest()


def file_digest(path, algorithm):
    h = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _md5(path):
    try:
        return file_digest(path, "md5")
    except ValueError:  # FIPS
        return None


def main(m):
    p = m.params
    url, dest, force = p["url"], p["dest"], p["force"]
    result = {"changed": False, "checksum_dest": None, "checksum_src": None, "dest": dest,
              "elapsed": 0, "url": mask_url(url)}
    algorithm, wanted = None, ""
    if p["checksum"]:
        if ":" not in p["checksum"]:
            m.fail("The checksum parameter has to be in format <algorithm>:<checksum>", **result)
        algorithm, wanted = p["checksum"].split(":", 1)
        algorithm = algorithm.lower()
        try:
            hashlib.new(algorithm)
        except ValueError:
            m.fail("Could not hash file with unsupported algorithm %s" % algorithm, **result)
        if urlparse.urlsplit(wanted).scheme in ("http", "https", "ftp", "file"):
            try:
                listing = fetch(p, wanted)
            except (RequestFailed, NotModified) as exc:
                m.fail("Unable to fetch the checksum file %s: %s" % (mask_url(wanted), exc),
                       **result)
            name = os.path.basename(urlparse.unquote(urlparse.urlsplit(url).path))
            found = parse_checksum_lines(
                listing.data.decode("utf-8", "replace").splitlines(), name)
            if found is None:
                m.fail("Unable to find a checksum for file '%s' in '%s'" % (
                    name, mask_url(wanted)))
            wanted = found
        wanted = re.sub(r"\W+", "", wanted).lower()
        try:
            int(wanted, 16)
        except ValueError:
            m.fail("The checksum format is invalid", **result)

    dest_is_dir = os.path.isdir(dest)
    since = None
    if not dest_is_dir and os.path.exists(dest):
        mismatch = False
        if not force and wanted:
            if file_digest(dest, algorithm) == wanted:
                return _finish(m, p, dest, result, False, "file already exists")
            mismatch = True
        since = os.path.getmtime(dest)
        if mismatch:
            force = True
    if p["tmp_dest"] and not os.path.isdir(p["tmp_dest"]):
        m.fail("%s directory does not exist." % p["tmp_dest"] if not os.path.exists(
            p["tmp_dest"]) else "%s is a file but should be a directory." % p["tmp_dest"])

    started = time.time()
    try:
        got = fetch(p, url, None if force else since)
    except NotModified:
        result["elapsed"] = int(time.time() - started)
        return _finish(m, p, dest, result, False, "Not Modified", status_code=304)
    except RequestFailed as exc:
        data = {"status_code": exc.status} if exc.status != -1 else {}
        if exc.response:
            data["response"] = exc.response
        result.update(data)
        m.fail(exc.msg, **result)
    result["elapsed"] = int(time.time() - started)
    if dest_is_dir:
        dest = os.path.join(dest, filename_from(got.headers, got.url))
        result["dest"] = dest
    result["checksum_src"] = digest(got.data, "sha1")
    if os.path.exists(dest):
        if os.path.isdir(dest):
            m.fail("Destination %s is a directory" % dest, **result)
        result["checksum_dest"] = file_digest(dest, "sha1")
    elif not os.path.isdir(os.path.dirname(dest) or "."):
        m.fail("Destination %s does not exist" % os.path.dirname(dest), **result)
    if wanted and digest(got.data, algorithm) != wanted:
        m.fail("The checksum for %s did not match %s; it was %s." % (
            dest, wanted, digest(got.data, algorithm)), **result)
    differs = result["checksum_src"] != result["checksum_dest"]
    msg = "OK (%d bytes)" % len(got.data)
    if differs:
        if m.diff_mode:
            result["diff"] = {"before": {"checksum": result["checksum_dest"]},
                              "after": {"checksum": result["checksum_src"]}}
        if not m.check_mode:
            out = m.atomic_write(dest, got.data, mode=p["mode"], owner=p["owner"],
                                 group=p["group"], backup=p["backup"],
                                 unsafe_writes=p["unsafe_writes"]) or {}
            result.update(out)
    return _finish(m, p, dest, result, differs, msg if differs else msg + ", file unchanged",
                   status_code=got.status)


def _finish(m, p, dest, result, changed, msg, **extra):
    result.update(extra)
    result["msg"] = msg
    if os.path.exists(dest):
        attrs = m.set_attributes(dest, p["owner"], p["group"], p["mode"])
        if attrs[0] and not changed:
            result["msg"] = msg + " but file attributes changed"
            if m.diff_mode:
                result["diff"] = {"before": attrs[1], "after": attrs[2]}
        changed = changed or attrs[0]
        if not m.check_mode or not changed:
            result["md5sum"] = _md5(dest)
    result["changed"] = changed
    return result
