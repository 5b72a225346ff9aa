"""`pyengine doc MODULE`, `pyengine doc --list`, `pyengine doc --connections`: the
documentation comes from the same ARGS declaration that validates tasks."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pyengine.errors import PlaybookError, did_you_mean
from pyengine.modspec import ModuleSpec, find_module, list_modules, read_spec


def _default(value: object) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def render_doc(spec: ModuleSpec) -> str:
    """The text `pyengine doc NAME` prints."""
    lines = [f"{spec.name} ({spec.kind}: {spec.path or 'built into the executor'})"]
    if spec.ps1_path and spec.ps1_path != spec.path:
        lines[0] += f" [Windows: {spec.ps1_path}]"
    if spec.doc:
        lines += ["", spec.doc.strip()]
    lines += ["", "Arguments:" if spec.args else "Arguments: none"]
    for name in sorted(spec.args, key=lambda n: (not spec.args[n].get("required"), n)):
        opt = spec.args[name]
        facts = [opt.get("type", "str")]
        if opt.get("elements"):
            facts[0] += f" of {opt['elements']}"
        if opt.get("required"):
            facts.append("required")
        if "default" in opt:
            facts.append(f"default: {_default(opt['default'])}")
        if opt.get("choices"):
            facts.append("choices: " + ", ".join(str(c) for c in opt["choices"]))
        if opt.get("aliases"):
            facts.append("aliases: " + ", ".join(opt["aliases"]))
        if opt.get("no_log"):
            facts.append("secret")
        lines.append(f"  {name}  ({'; '.join(facts)})")
        if opt.get("help"):
            lines.append(f"      {opt['help']}")
    if spec.free_form:
        lines += ["", f"Free-form text (`{spec.name}: some text`) goes to '{spec.free_form}'."]
    if spec.any_args:
        lines += ["", "Any other argument name is accepted."]
    for title, groups in (("Mutually exclusive", spec.mutually_exclusive),
                          ("Required: one of", spec.required_one_of),
                          ("Required together", spec.required_together)):
        for group in groups:
            lines.append(f"{title}: {', '.join(group)}")
    for rule in spec.required_if:
        lines.append(f"Required if {rule[0]}={rule[1]}: {', '.join(rule[2])}")
    return "\n".join(lines)


def _connections() -> str:
    import importlib

    lines = []
    for module, cls in (("ssh", "SSHConnection"), ("local", "LocalConnection"),
                        ("winrm", "WinRMConnection")):
        try:
            conn = getattr(importlib.import_module(f"pyengine.connection.{module}"), cls)
        except (ImportError, AttributeError):
            continue
        lines.append(f"{module}:")
        for name, text in conn.OPTIONS.items():
            lines.append(f"  {name}: {text}")
    return "\n".join(lines)


@click.command()
@click.argument("module", required=False)
@click.option("--list", "list_all", is_flag=True, help="List every module and action.")
@click.option("--connections", is_flag=True, help="List the options of each connection type.")
@click.option("-p", "--project", type=click.Path(exists=True, file_okay=False),
              help="A playbook folder whose modules/ folder is searched first.")
def doc(module: str | None, list_all: bool, connections: bool, project: str | None) -> None:
    """Show a module's arguments (types, defaults, choices, aliases) and description."""
    dirs = [Path(project)] if project else [Path.cwd()]
    if connections:
        click.echo(_connections())
        return
    if list_all or not module:
        found = list_modules(dirs)
        width = max(len(n) for n in found)
        for name in sorted(found):
            path = found[name]
            try:
                spec = find_module(name, dirs) if path is None else read_spec(
                    path, "action" if path.parent.name == "actions" else "module")
                summary = spec.summary if spec else ""
            except PlaybookError as err:
                summary = f"(unreadable spec: {err})"
            click.echo(f"{name:<{width}}  {summary}")
        return
    spec = find_module(module, dirs)
    if spec is None:
        raise PlaybookError(f"unknown module '{module}'",
                            hint=did_you_mean(module, list_modules(dirs)))
    click.echo(render_doc(spec))
