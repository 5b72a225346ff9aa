"""The apt proxy's pure rules: what may be cached and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyengine.lab.aptproxy import ALLOWED_HOSTS, cache_path, cacheable


@pytest.mark.parametrize(
    "path",
    [
        "/debian/pool/main/h/hello/hello_2.10-3_amd64.deb",
        "/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/0123abcd",
        "/debian/pool/main/h/hello/hello_2.10.orig.tar.gz",
    ],
)
def test_content_addressed_files_are_cached(path: str) -> None:
    assert cacheable(path)


@pytest.mark.parametrize(
    "path",
    [
        "/debian/dists/bookworm/InRelease",
        "/debian/dists/bookworm/main/binary-amd64/Packages.xz",
        "/debian/dists/bookworm-updates/Release",
    ],
)
def test_indexes_that_change_under_one_name_pass_through(path: str) -> None:
    assert not cacheable(path)


def test_cache_path_keeps_host_and_path(tmp_path: Path) -> None:
    got = cache_path("deb.debian.org", "/debian/pool/main/a/a.deb", tmp_path)
    assert got == tmp_path / "deb.debian.org" / "debian/pool/main/a/a.deb"


@pytest.mark.parametrize("path", ["/debian/../../etc/passwd", "/", "/./x"])
def test_cache_path_refuses_paths_that_climb_out(tmp_path: Path, path: str) -> None:
    assert cache_path("deb.debian.org", path, tmp_path) is None


def test_only_debian_archive_hosts_are_allowed() -> None:
    assert "deb.debian.org" in ALLOWED_HOSTS
    assert all(host.endswith("debian.org") for host in ALLOWED_HOSTS)
