"""Per-host seed: files land in the overlay upper layer with the image's directory attributes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pyengine.lab.keys import new_host_keys
from pyengine.lab.seed import apply_seed, host_seed_files, passwd_ids, write_seed


def _fake_image(root: Path) -> Path:
    uid, gid = os.getuid(), os.getgid()
    (root / "etc/ssh").mkdir(parents=True)
    (root / "root").mkdir(mode=0o700)
    (root / "home/labuser").mkdir(parents=True)
    (root / "home/labpw").mkdir(parents=True)
    os.chmod(root / "root", 0o700)
    os.chmod(root / "etc/ssh", 0o755)
    (root / "etc/passwd").write_text(
        f"root:x:{uid}:{gid}:root:/root:/bin/bash\n"
        f"labuser:x:{uid}:{gid}::/home/labuser:/bin/bash\n"
        f"labpw:x:{uid}:{gid}::/home/labpw:/bin/bash\n"
    )
    os.chmod(root, 0o755)
    return root


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_seed_carries_identity_keys_and_authorized_keys(tmp_path: Path) -> None:
    image = _fake_image(tmp_path / "image")
    homes = {u: h for u, (_a, _b, h) in passwd_ids(image).items()}
    files = host_seed_files("h3", new_host_keys("h3"), "ssh-ed25519 AAAA lab", homes)
    by_path = {f.path: f for f in files}
    assert by_path["etc/hostname"].data == b"h3\n"
    assert b"127.0.1.1\th3" in by_path["etc/hosts"].data
    assert len(by_path["etc/machine-id"].data.strip()) == 32
    assert by_path["etc/ssh/ssh_host_ed25519_key"].mode == 0o600
    for home in ("root", "home/labuser", "home/labpw"):
        assert by_path[f"{home}/.ssh/authorized_keys"].data == b"ssh-ed25519 AAAA lab\n"


def test_machine_ids_differ_between_hosts() -> None:
    ids = {
        next(f.data for f in host_seed_files(h, [], "k", {}) if f.path == "etc/machine-id")
        for h in ("h1", "h2")
    }
    assert len(ids) == 2


def test_upper_layer_directories_keep_the_image_modes(tmp_path: Path) -> None:
    image = _fake_image(tmp_path / "image")
    homes = {u: h for u, (_a, _b, h) in passwd_ids(image).items()}
    seed = tmp_path / "seed"
    write_seed(seed, host_seed_files("h1", new_host_keys("h1"), "k", homes), image)
    upper = tmp_path / "upper"
    upper.mkdir()
    apply_seed(seed, upper)
    # An overlay shows the upper directory's attributes: /root must stay 0700, / 0755.
    assert _mode(upper) == 0o755
    assert _mode(upper / "root") == 0o700
    assert _mode(upper / "etc/ssh") == 0o755
    # ~/.ssh does not exist in the image: it is created 0700.
    assert _mode(upper / "root/.ssh") == 0o700
    assert _mode(upper / "home/labuser/.ssh") == 0o700
    assert _mode(upper / "etc/ssh/ssh_host_ed25519_key") == 0o600
    assert _mode(upper / "etc/ssh/ssh_host_ed25519_key.pub") == 0o644
    assert (upper / "etc/hostname").read_text() == "h1\n"


def test_applying_the_seed_twice_gives_the_same_files(tmp_path: Path) -> None:
    image = _fake_image(tmp_path / "image")
    seed = tmp_path / "seed"
    write_seed(seed, host_seed_files("h1", new_host_keys("h1"), "k", {}), image)
    first, second = tmp_path / "u1", tmp_path / "u2"
    for upper in (first, second):
        upper.mkdir()
        apply_seed(seed, upper)
    names = sorted(str(p.relative_to(first)) for p in first.rglob("*"))
    assert names == sorted(str(p.relative_to(second)) for p in second.rglob("*"))
    key = "etc/ssh/ssh_host_ed25519_key"
    assert (first / key).read_bytes() == (second / key).read_bytes()
