"""The keywords each level of a playbook accepts (anything else is an error, with a
"did you mean"). Some Ansible keywords are accepted and ignored because they do not
change what pyengine does (`gather_subset`, ...); they are listed
in IGNORED so that a ported playbook loads."""

from __future__ import annotations

# Keywords a block passes down to its tasks (and a play or a role entry too).
INHERITED = {
    "when", "tags", "become", "become_user", "become_method", "become_flags", "environment",
    "vars", "check_mode", "diff", "ignore_errors", "ignore_unreachable", "no_log",
    "delegate_to", "run_once", "any_errors_fatal",
}

IGNORED = {
    "module_defaults", "throttle", "timeout", "debugger", "connection",
    "remote_user", "port", "delegate_facts", "async", "poll", "gather_subset",
    "gather_timeout", "fact_path", "strategy", "order", "ignore_unreachable",
}

PLAY = {
    "hosts", "name", "vars", "vars_files", "pre_tasks", "tasks", "post_tasks", "handlers",
    "roles", "become", "become_user", "become_method", "become_flags", "serial",
    "max_fail_percentage", "any_errors_fatal", "gather_facts", "tags", "environment",
    "check_mode", "diff", "remote_user", "connection", "force_handlers", "ignore_errors",
    "no_log", "run_once", "ignore_unreachable", "vars_prompt", "collections",
} | IGNORED

TASK = {
    "name", "action", "local_action", "args", "when", "loop", "loop_control", "register",
    "notify", "listen", "changed_when", "failed_when", "ignore_errors", "ignore_unreachable",
    "retries", "delay", "until", "no_log", "tags", "become", "become_user", "become_method",
    "become_flags", "environment", "vars", "check_mode", "diff", "delegate_to", "run_once",
    "any_errors_fatal", "collections",
} | IGNORED

# A block's `notify` reaches the tasks inside that set none (Ansible's inheritance).
BLOCK = {"block", "rescue", "always", "name", "notify", "collections"} | INHERITED | \
    (IGNORED & TASK)

# `collections:` on a role entry is accepted and, as in Ansible, has no effect (a role
# uses its own collection and its meta/main.yml list).
ROLE_ENTRY = {"role", "name", "collections"} | INHERITED | (IGNORED & TASK)

IMPORT_PLAYBOOK = {"import_playbook", "ansible.builtin.import_playbook", "name", "tags", "vars",
                   "when"}

LOOP_CONTROL = {"loop_var", "index_var", "label", "pause", "extended", "extended_allitems",
                "break_when"}

# with_<lookup> forms that are rewritten to `loop`.
WITH_LOOPS = {"with_items", "with_list", "with_dict", "with_indexed_items", "with_together",
              "with_nested", "with_subelements", "with_sequence", "with_fileglob",
              "with_first_found", "with_flattened", "with_random_choice"}

# Accepted keywords that pyengine does not act on, with what happens instead.
WARN_IGNORED = {
    "async": "tasks run to completion (no background jobs)",
    "poll": "tasks run to completion (no background jobs)",
    "throttle": "use the run's --forks",
    "strategy": "pyengine runs the linear strategy",
    "order": "hosts run in inventory order",
    "module_defaults": "give the arguments on each task",
    "debugger": "there is no task debugger",
    "timeout": "tasks have no time limit",
    "delegate_facts": "facts stay with the task's host",
    "remote_user": "set ansible_user in the inventory",
    "port": "set ansible_port in the inventory",
}
