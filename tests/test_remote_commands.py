"""Every remote command of the program, as the synth registers it, under sshd's defaults."""

from __future__ import annotations

import pytest

from tests.conftest import ENVIRONMENTS

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
