"""devsec.hardening (os_hardening + ssh_hardening) runs unedited on a lab host, twice.

The playbook is the roles' README "Example Playbook" (bench/compat/devsec.py PLAYBOOK),
the collection sits in a temporary collections path (ANSIBLE_COLLECTIONS_PATH) and the
collections it needs come from the installed `ansible` package. The first run must end
with exit 0 and the second report 0 changed. The comparison with ansible-playbook's end
state is a benchmark (bench/compat/), not this test.

The collection is not part of the repository: DEVSEC_COLLECTION_SRC names it (see
bench/compat/devsec_source.py), or the test is skipped. It uses the session lab's LAST host
and puts it back to pristine (`Lab.reset_host`) before and after.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

COMPAT = Path(__file__).resolve().parents[2] / "bench" / "compat"
sys.path.insert(0, str(COMPAT))

import devsec_source as collection  # noqa: E402

try:
    SOURCE: Path | None = collection.find_source()
    WHY_NOT = ""
except collection.SourceMissing as err:
    SOURCE, WHY_NOT = None, str(err)

pytestmark = [pytest.mark.lab, pytest.mark.skipif(SOURCE is None, reason=WHY_NOT)]


@pytest.fixture(scope="module")
def host(lab: Any) -> Iterator[Any]:
    if not hasattr(lab, "reset_host"):
        pytest.skip("needs Lab.reset_host (the roles change the host deeply)")
    try:
        import ansible_collections.community.general  # noqa: F401
    except ImportError:
        pytest.skip("the collections devsec.hardening needs come from `pip install ansible`")
    target = lab.hosts[-1]
    lab.reset_host(target.name)
    yield target
    lab.reset_host(target.name)


def test_readme_playbook_runs_unedited_and_second_run_changes_nothing(
        lab: Any, host: Any, tmp_path: Path) -> None:
    import devsec

    assert SOURCE is not None
    inputs = devsec.prepare(tmp_path, lab, SOURCE, host)
    first = devsec.run_pyengine(tmp_path, inputs.env, 1, host=host.name)
    log = Path(first.log).read_text()[-3000:]
    assert first.exit_code == 0 and first.failed == 0, log
    assert first.changed and first.changed > 20, log  # a pristine host gets hardened
    second = devsec.run_pyengine(tmp_path, inputs.env, 2, host=host.name)
    assert second.exit_code == 0, Path(second.log).read_text()[-3000:]
    assert second.changed == 0, second.changed_tasks
    # Checked inside the host (not through the SSH the role just hardened).
    sshd = host.exec(["sshd", "-T", "-C", "user=root,host=localhost,addr=127.0.0.1"]).stdout
    assert "permitrootlogin no" in sshd
    modprobe = host.exec(["cat", "/etc/modprobe.d/dev-sec.conf"]).stdout
    assert "install cramfs /bin/true" in modprobe
