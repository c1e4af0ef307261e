"""`skillstack console` on the command line: what its options become in the backend it starts (built from the
parsed arguments as cmd_console builds it, not started: no simulator, no server, no Whisper model)."""
from __future__ import annotations

import pytest
from console_client import VOICE
from ros_helpers import requires_ros

from skill_stack_apps.cli import build_parser
from skill_stack_apps.commands.console import backend_from_args
from skill_stack_apps.commands.correct import DEFAULT_RECOGNISER, RECOGNISERS


def _backend(tmp_path, *options: str):
    args = build_parser().parse_args(["console", "--db", str(tmp_path / "corrections.db"), *options])
    return backend_from_args(args)


#: the in-process stack, and the client of a ROS graph (built, not connected)
MODES = [pytest.param((), id="in-process"), pytest.param(("--ros",), id="ros", marks=requires_ros)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("recogniser", RECOGNISERS)
def test_the_recogniser_given_is_the_one_the_backend_uses(tmp_path, recogniser, mode):
    backend = _backend(tmp_path, *mode, "--recogniser", recogniser)
    try:
        assert backend.mode == ("ros" if mode else "sim") and backend.recogniser == recogniser
    finally:
        backend.close()


def test_without_the_option_the_backend_uses_the_default_recogniser(tmp_path):
    backend = _backend(tmp_path)
    try:
        assert backend.recogniser == DEFAULT_RECOGNISER != "pocketsphinx"
    finally:
        backend.close()


def test_push_to_talk_is_decoded_by_the_recogniser_given_on_the_command_line(tmp_path):
    """pocketsphinx alone (not the default agreement rule, which would load Whisper and say "open
    vocabulary"): the WAV the page would post is heard by pocketsphinx's language model or grammar."""
    backend = _backend(tmp_path, "--recogniser", "pocketsphinx")
    try:
        result = backend.correct_audio((VOICE / "left_two_cm.wav").read_bytes())
    finally:
        backend.close()
    assert result["heard"]["text"] == "two centimeters to the left"
    assert result["heard"]["heard_by"] in ("language model", "grammar")


def test_an_unknown_recogniser_is_refused_by_the_command_line(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["console", "--recogniser", "fast"])
    assert "invalid choice: 'fast'" in capsys.readouterr().err
