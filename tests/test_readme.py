"""The README's example of a model of your own runs as written."""

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def python_block_after(heading: str) -> str:
    text = README.read_text()
    section = text[text.index(heading) :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_your_own_model_example_trains(capsys):
    exec(compile(python_block_after("## Your own model"), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert re.fullmatch(r"loss \d+\.\d{3} after 20 steps, \d+ roll-outs a step\n", printed)
