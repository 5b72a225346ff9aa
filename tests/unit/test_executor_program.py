"""The compiled program (blocks as jumps) and the meeting points, as pure logic."""

from __future__ import annotations

import threading
import time

from pyengine.executor import program as prg
from pyengine.executor.sync import HostGroup
from pyengine.playbook.model import Block, Origin, Task

AT = Origin("t.yml", 1, 1)


def t(name: str) -> Task:
    return Task("debug", {"msg": name}, AT, name=name)


def names_on_normal_path(prog: prg.Program) -> list[str]:
    out = []
    cur = prg.Cursor()
    while True:
        cur, op, err = prg.advance(prog, cur)
        if op is None or err:
            return out
        if isinstance(op, prg.TaskOp):
            out.append(op.task.name or "")
        cur = prg.Cursor(cur.pc + 1, cur.frames)


def cursor_at(prog: prg.Program, name: str) -> prg.Cursor:
    cur = prg.Cursor()
    while True:
        cur, op, _ = prg.advance(prog, cur)
        assert op is not None, name
        if isinstance(op, prg.TaskOp) and op.task.name == name:
            return cur
        cur = prg.Cursor(cur.pc + 1, cur.frames)


def test_normal_path_skips_rescue_and_runs_always() -> None:
    prog = prg.compile_tasks([t("a"), Block([t("b")], AT, rescue=[t("r")], always=[t("w")]),
                              t("c")])
    assert names_on_normal_path(prog) == ["a", "b", "w", "c"]


def test_failure_in_body_goes_to_rescue_then_always_then_on() -> None:
    prog = prg.compile_tasks([Block([t("b1"), t("b2")], AT, rescue=[t("r")], always=[t("w")]),
                              t("c")])
    got = prg.fail_at(prog, cursor_at(prog, "b1"))
    assert got is not None
    cur, rescued = got
    assert rescued
    cur, op, _ = prg.advance(prog, cur)
    assert isinstance(op, prg.TaskOp) and op.task.name == "r"
    rest = []
    while op is not None:
        if isinstance(op, prg.TaskOp):
            rest.append(op.task.name)
        cur, op, err = prg.advance(prog, prg.Cursor(cur.pc + 1, cur.frames))
        assert err is None
    assert rest == ["r", "w", "c"]


def test_failure_without_rescue_runs_always_then_fails_the_host() -> None:
    prog = prg.compile_tasks([Block([t("b")], AT, always=[t("w")]), t("c")])
    got = prg.fail_at(prog, cursor_at(prog, "b"))
    assert got is not None and got[1] is False
    cur, op, _ = prg.advance(prog, got[0])
    assert isinstance(op, prg.TaskOp) and op.task.name == "w"
    cur, op, err = prg.advance(prog, prg.Cursor(cur.pc + 1, cur.frames))
    assert op is None and err == prg.HOST_FAILED


def test_nested_block_failure_in_inner_rescue_reaches_the_outer_rescue() -> None:
    inner = Block([t("i")], AT, rescue=[t("ir")])
    prog = prg.compile_tasks([Block([inner, t("after_inner")], AT, rescue=[t("or")])])
    got = prg.fail_at(prog, cursor_at(prog, "i"))
    assert got is not None
    cur, op, _ = prg.advance(prog, got[0])
    assert op.task.name == "ir"  # type: ignore[union-attr]
    got = prg.fail_at(prog, cur)  # the inner rescue fails too
    assert got is not None
    cur, op, err = prg.advance(prog, got[0])
    assert err is None and op.task.name == "or"  # type: ignore[union-attr]


def test_failure_outside_blocks_fails_the_host() -> None:
    prog = prg.compile_tasks([t("a")])
    assert prg.fail_at(prog, cursor_at(prog, "a")) is None


def test_meeting_releases_the_earliest_point_first_and_only_when_nobody_runs() -> None:
    group = HostGroup(["a", "b", "c"])
    for h in ("a", "b", "c"):
        group.join(h)
    order: list[tuple[str, tuple[int, ...]]] = []
    lock = threading.Lock()

    def go(host: str, pos: tuple[int, ...], delay: float) -> None:
        time.sleep(delay)
        meeting = group.meet(host, pos)
        with lock:
            order.append((host, pos))
        if host == meeting.leader:
            time.sleep(0.05)
        group.leave(host)

    threads = [threading.Thread(target=go, args=("a", (5,), 0.0)),
               threading.Thread(target=go, args=("b", (3,), 0.1)),
               threading.Thread(target=go, args=("c", (5,), 0.2))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(5)
    assert order[0] == ("b", (3,))
    assert {h for h, _ in order[1:]} == {"a", "c"}


def test_a_host_that_leaves_is_not_waited_for() -> None:
    group = HostGroup(["a", "b"])
    group.join("a")
    group.join("b")
    result = {}

    def go() -> None:
        result["m"] = group.meet("a", (1,))

    th = threading.Thread(target=go)
    th.start()
    time.sleep(0.1)
    assert th.is_alive()
    group.leave("b")
    th.join(2)
    assert result["m"].hosts == ["a"]
