"""Every remote command of the program, as the synth registers it, under sshd's defaults."""

from __future__ import annotations

import ast

import pulumi
import pytest
from pulumi_command import remote

from components import ssh
from tests.conftest import ENVIRONMENTS, RECORDED, ROOT, registered

REMOTE_COMMAND = "command:remote:Command"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_remote_command_sends_its_previous_output_as_ssh_environment(env, synth_result):
    # pulumi-command (provider/pkg/provider/remote/commandOutputs.go) sends the previous stdout and
    # stderr with session.Setenv(PULUMI_COMMAND_STDOUT/STDERR) unless addPreviousOutputInEnv is
    # false; sshd accepts only the variables its AcceptEnv lists (Debian: LANG LC_*, Rocky: a LANG/
    # LC_* list), so every update warned, and the previous output (kubeconfig, tokens) went on the wire.
    commands = [r for r in synth_result(env).resources if r["type"] == REMOTE_COMMAND]
    assert commands, "the program runs remote commands"
    sending = [r["name"] for r in commands if r["inputs"].get("addPreviousOutputInEnv") is not False]
    assert sending == []


# The program's code (what `python -m synth` and `pulumi up` import); tests build their own stand-ins.
PROGRAM_DIRS = ("components", "stacks", "cloudinit", "synth", "policy", "pins")
FACTORY = ROOT / "components" / "ssh.py"


def _remote_command_calls(path) -> list[int]:
    """Lines of `path` that construct pulumi_command's remote.Command directly, however imported."""
    tree = ast.parse(path.read_text(), filename=str(path))
    direct = set()  # names bound to the class itself: from pulumi_command.remote import Command [as X]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "pulumi_command.remote":
            direct |= {alias.asname or alias.name for alias in node.names if alias.name == "Command"}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr == "Command" and isinstance(func.value, (ast.Name, ast.Attribute))
                and (getattr(func.value, "id", None) == "remote" or getattr(func.value, "attr", None) == "remote")):
            lines.append(node.lineno)
        elif isinstance(func, ast.Name) and func.id in direct:
            lines.append(node.lineno)
    return lines


def test_every_remote_command_of_the_program_is_made_by_the_ssh_factory():
    # One place holds the safe defaults (components/ssh.py); a remote.Command built elsewhere would
    # have to repeat them by hand, as five did before.
    files = sorted(p for d in PROGRAM_DIRS for p in (ROOT / d).rglob("*.py"))
    assert FACTORY in files and _remote_command_calls(FACTORY), "the factory itself builds remote.Command"
    elsewhere = [f"{p.relative_to(ROOT)}:{line}" for p in files if p != FACTORY for line in _remote_command_calls(p)]
    assert elsewhere == []


@pulumi.runtime.test
def test_the_ssh_factory_passes_every_argument_on_and_adds_its_defaults():
    connection = remote.ConnectionArgs(host="10.9.9.9", user="op", host_key="ssh-ed25519 AAAA")
    command = ssh.command(
        "factory-probe",
        connection=connection,
        create="create-it",
        update="update-it",
        delete="delete-it",
        stdin=pulumi.Output.secret("on-stdin"),
        triggers=["t1"],
        logging=remote.Logging.STDERR,
    )

    def check(_):
        (record,) = registered("factory-probe", REMOTE_COMMAND)
        inputs = RECORDED.revealed[record["urn"]]
        assert inputs["addPreviousOutputInEnv"] is False
        assert {k: inputs[k] for k in ("create", "update", "delete", "stdin", "triggers", "logging")} == {
            "create": "create-it", "update": "update-it", "delete": "delete-it", "stdin": "on-stdin",
            "triggers": ["t1"], "logging": "stderr"}
        assert inputs["connection"]["host"] == "10.9.9.9"
        assert inputs["connection"]["hostKey"] == "ssh-ed25519 AAAA"

    return command.urn.apply(check)


@pytest.mark.parametrize(("argv", "user", "line"), [
    (["bash", "-s"], "root", "bash -s"),
    (["bash", "-s"], "lavender", "sudo --non-interactive bash -s"),
    (["bash", "-c", "echo 'a b'; true"], "op", "sudo --non-interactive bash -c 'echo '\"'\"'a b'\"'\"'; true'"),
    (["systemctl", "disable", "--now", "named"], "root", "systemctl disable --now named"),
])
def test_as_root_runs_the_command_itself_for_root_and_behind_non_interactive_sudo_otherwise(argv, user, line):
    # A sudo that may prompt would wait for a password no one types over a non-interactive SSH session.
    assert ssh.as_root(argv, user) == line
