"""A play section compiled into a flat list of instructions with jumps.

Blocks become BlockEnter / body / BodyEnd / rescue / RescueEnd / always /
BlockExit, so the host worker can look ahead over consecutive tasks (across
block boundaries) to fill a batch, and still resume at the right place when a
task in the batch fails: the frame stack recorded with each planned task says
which rescue/always applies.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from pyengine.executor.stops import HOST_FAILED
from pyengine.playbook.model import Block, Task, TaskOrBlock

_ids = itertools.count(1)


@dataclass(frozen=True)
class TaskOp:
    task: Task


@dataclass(frozen=True)
class BlockEnter:
    block_id: int
    rescue_pc: int | None
    always_pc: int


@dataclass(frozen=True)
class BodyEnd:
    """End of a block's body on the normal path: skip the rescue, go to always."""

    block_id: int


@dataclass(frozen=True)
class RescueEnd:
    """End of a rescue that completed: the block's failure is rescued."""

    block_id: int


@dataclass(frozen=True)
class BlockExit:
    """After always: leave the block; re-raise a failure that was not rescued."""

    block_id: int


@dataclass(frozen=True)
class FlushHandlers:
    """End of a play section (pre_tasks, roles+tasks, post_tasks): notified handlers run."""


Op = TaskOp | BlockEnter | BodyEnd | RescueEnd | BlockExit | FlushHandlers


@dataclass(frozen=True)
class Frame:
    """One enclosing block at run time."""

    block_id: int
    rescue_pc: int | None
    always_pc: int
    phase: str = "body"  # body | rescue | always
    failed: bool = False  # a failure waits to be re-raised at BlockExit


Frames = tuple[Frame, ...]


@dataclass
class Program:
    ops: list[Op] = field(default_factory=list)


def compile_tasks(items: list[TaskOrBlock]) -> Program:
    """Compile tasks and blocks (an include's tasks, handlers)."""
    prog = Program()
    _emit(prog, items)
    return prog


def compile_sections(sections: list[list[TaskOrBlock]]) -> Program:
    """pre_tasks, roles+tasks, post_tasks: each followed by a handler flush (as Ansible)."""
    prog = Program()
    for items in sections:
        _emit(prog, items)
        prog.ops.append(FlushHandlers())
    return prog


def _emit(prog: Program, items: list[TaskOrBlock]) -> None:
    for item in items:
        if isinstance(item, Task):
            prog.ops.append(TaskOp(item))
        else:
            _emit_block(prog, item)


def _emit_block(prog: Program, block: Block) -> None:
    bid = next(_ids)
    enter_at = len(prog.ops)
    prog.ops.append(BlockEnter(bid, None, -1))  # patched below
    _emit(prog, block.block)
    prog.ops.append(BodyEnd(bid))
    rescue_pc = None
    if block.rescue:
        rescue_pc = len(prog.ops)
        _emit(prog, block.rescue)
        prog.ops.append(RescueEnd(bid))
    always_pc = len(prog.ops)
    _emit(prog, block.always)
    prog.ops.append(BlockExit(bid))
    prog.ops[enter_at] = BlockEnter(bid, rescue_pc, always_pc)


@dataclass(frozen=True)
class Cursor:
    """Where a host is in a program: the next instruction and the enclosing blocks."""

    pc: int = 0
    frames: Frames = ()



def advance(prog: Program, cur: Cursor) -> tuple[Cursor, Op | None, str | None]:
    """Step over structural instructions on the normal path until the next task or flush.

    Returns the cursor AT that op (not past it), the op (None at the end), and
    HOST_FAILED when a BlockExit re-raised a failure that nothing above catches.
    """
    while cur.pc < len(prog.ops):
        op = prog.ops[cur.pc]
        if isinstance(op, (TaskOp, FlushHandlers)):
            return cur, op, None
        if isinstance(op, BlockEnter):
            frame = Frame(op.block_id, op.rescue_pc, op.always_pc)
            cur = Cursor(cur.pc + 1, cur.frames + (frame,))
        elif isinstance(op, (BodyEnd, RescueEnd)):
            top = cur.frames[-1]
            cur = Cursor(top.always_pc, cur.frames[:-1] + (replace(top, phase="always"),))
        elif isinstance(op, BlockExit):
            top = cur.frames[-1]
            outer = Cursor(cur.pc + 1, cur.frames[:-1])
            if top.failed:
                failed = fail_at(prog, outer)
                if failed is None:
                    return outer, None, HOST_FAILED
                cur = failed[0]
            else:
                cur = outer
    return cur, None, None


def fail_at(prog: Program, cur: Cursor) -> tuple[Cursor, bool] | None:
    """Where control goes after a failure at `cur`: (cursor, rescued?) or None = host failed.

    `rescued` is True when a rescue section takes over (the failed task then
    counts as rescued, as in Ansible's recap).
    """
    frames = cur.frames
    while frames:
        top = frames[-1]
        if top.phase == "body" and top.rescue_pc is not None:
            return Cursor(top.rescue_pc, frames[:-1] + (replace(top, phase="rescue"),)), True
        if top.phase in ("body", "rescue"):
            return (
                Cursor(top.always_pc, frames[:-1] + (replace(top, phase="always", failed=True),)),
                False,
            )
        frames = frames[:-1]  # a failure in always leaves the block with the failure
    return None
