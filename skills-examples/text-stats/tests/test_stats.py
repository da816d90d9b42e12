"""text-stats, natively: the script runs as the interpreter runs it (argv, stdin, captured
output, exit code). Run with `python -m pytest skills-examples/text-stats`."""

import json
import os

from molecule_skill.testing import run_script

SKILL = os.path.join(os.path.dirname(__file__), "..")


def test_counts_and_top_words_as_json():
    result = run_script(SKILL, "stats.py", ["--top", "2", "--json"],
                        stdin="The cat and the hat.\nThe end\n")
    assert result["exit_code"] == 0, result["stderr"]
    assert json.loads(result["stdout"]) == {
        "lines": 2, "words": 7, "characters": 29, "unique_words": 5,
        "top_words": [{"word": "the", "count": 3}, {"word": "and", "count": 1}],
    }


def test_text_output_and_min_length():
    result = run_script(SKILL, "scripts/stats.py", ["--top", "1", "--min-length", "4"],
                        stdin="tea tea coffee")
    assert result["stdout"].splitlines()[-1] == "     1  coffee"


def test_empty_stdin_and_bad_options():
    assert run_script(SKILL, "stats.py", stdin="  \n") == {
        "exit_code": 3, "stdout": "", "stderr": "stats.py: no text on stdin\n"}
    bad = run_script(SKILL, "stats.py", ["--top", "x"])
    assert bad["exit_code"] == 2 and "invalid int value: 'x'" in bad["stderr"]
