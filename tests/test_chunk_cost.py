"""The chunk F1 cost (--cost chunk_f1): 1 - F1 of each tag sequence's BIO chunks against its
reference's, against a plain-Python oracle written here from conlleval's rules; made for a
task's tag names, refused without them or for tokens that are not BIO tags; roll-outs scored
with it equal on the compiled and the pure-PyTorch decode; the command line trains with it."""

import random

import pytest
import torch
from data_files import write_conll
from seq2seq_cases import every_token, make_task

import searnn_ext
from searnn_ext import checkpoint, costs
from searnn_ext.cli import main

TAGS = ["B-NP", "B-VP", "I-NP", "I-VP", "O"]


def oracle_chunks(tags: list[str]) -> set:
    """conlleval: a chunk ends before B-, O, an I- of another type, or the end; it starts at B-
    or at an I- that does not continue the chunk before it."""
    found, open_chunk = set(), None  # open_chunk: (start, type)
    for position, tag in enumerate(tags):
        prefix, kind = (tag[0], tag[2:]) if tag != "O" else ("O", None)
        if open_chunk and (prefix != "I" or kind != open_chunk[1]):
            found.add((open_chunk[0], position, open_chunk[1]))
            open_chunk = None
        if prefix in "BI" and open_chunk is None:
            open_chunk = (position, kind)
    if open_chunk:
        found.add((open_chunk[0], len(tags), open_chunk[1]))
    return found


def oracle_cost(hyp: list[str], ref: list[str]) -> float:
    guess, truth = oracle_chunks(hyp), oracle_chunks(ref)
    if not guess and not truth:
        return 0.0
    return 1 - 2 * len(guess & truth) / (len(guess) + len(truth))


def padded(rows):
    """Padded with -7, an id no tag has: padding is never read."""
    width = max((len(r) for r in rows), default=0)
    tokens = torch.full((len(rows), width), -7, dtype=torch.long)
    for i, row in enumerate(rows):
        tokens[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return tokens, torch.tensor([len(r) for r in rows])


@pytest.mark.parametrize("seed", range(5))
def test_costs_equal_the_oracle(seed):
    rng = random.Random(seed)
    refs = [[rng.randrange(len(TAGS)) for _ in range(rng.randrange(0, 12))] for _ in range(5)]
    index = [rng.randrange(len(refs)) for _ in range(40)]
    hyps = [[rng.randrange(len(TAGS)) for _ in range(len(refs[i]))] for i in index]
    hyps += [refs[0], []]
    index += [0, 1]
    score = costs.COSTS["chunk_f1"].named(TAGS, "test").score
    got = score(*padded(hyps), *padded(refs), torch.tensor(index))
    names = [[TAGS[t] for t in row] for row in hyps]
    want = [oracle_cost(h, [TAGS[t] for t in refs[i]]) for h, i in zip(names, index, strict=True)]
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float32))
    assert float(got[-2]) == 0.0  # a sequence against itself


def test_it_needs_the_tasks_bio_tag_names():
    task = make_task("chunking")
    optimizer = torch.optim.SGD(task.model.parameters(), lr=0.1)
    config = searnn_ext.SearnnConfig(cost="chunk_f1")
    with pytest.raises(ValueError, match="'chunk_f1' scores the output tokens' names.*token_names"):
        searnn_ext.SearnnTrainer(task.model, optimizer, config)
    with pytest.raises(ValueError, match="BIO tags .* include 'a'"):
        searnn_ext.SearnnTrainer(task.model, optimizer, config, token_names=list("abcde"))
    rollin, candidates = every_token(task)
    with pytest.raises(ValueError, match="'chunk_f1' scores the output tokens' names"):
        searnn_ext.rollout_costs(
            task.model, rollin, candidates, task.target, task.target_lengths, cost="chunk_f1"
        )


def test_roll_outs_scored_by_chunk_f1_are_equal_on_every_decode():
    task = make_task("chunking", seed=2)
    model = task.model.eval()
    rollin, candidates = every_token(task)
    cost = costs.COSTS["chunk_f1"].named(TAGS, "test")
    arguments = (model, rollin, candidates, task.target, task.target_lengths)
    results = {
        backend: searnn_ext.rollout_costs(*arguments, cost=cost, backend=backend)
        for backend in ("ext", "cuda_emulated", "torch")
    }
    finite = torch.isfinite(results["torch"])
    assert finite.any() and bool(
        ((results["torch"][finite] >= 0) & (results["torch"][finite] <= 1)).all()
    )
    assert torch.equal(results["ext"], results["torch"])
    assert torch.equal(results["cuda_emulated"], results["torch"])


def test_cost_chunk_f1_trains_and_evaluates_on_conll(tmp_path, capsys):
    data = write_conll(tmp_path / "conll2000")
    output = tmp_path / "run"
    command = ["train", "--task=conll", f"--data={data}", "--epochs=1", "--hidden-size=8"]
    assert main([*command, "--cost=chunk_f1", "--quiet", f"--output={output}"]) == 0
    state = checkpoint.load(output / "checkpoint.pt")
    assert state["run"]["searnn"]["cost"] == "chunk_f1"
    capsys.readouterr()
    assert main(["evaluate", str(output / "checkpoint.pt")]) == 0
    error = float(capsys.readouterr().out.splitlines()[0].split()[-1].rstrip("%"))
    assert 0 <= error <= 100  # 100 * the mean of 1 - each sentence's chunk F1
