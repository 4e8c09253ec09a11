"""CoNLL's reference roll-outs (copying the tags, the optimal reference for Hamming) cost what
the learned roll-outs of an oracle that copies cost: a decoder of the protocol whose greedy
choice at step s is the tag at s, whatever came before. Checked on the CoNLL loader's data with
the CoNLL model (two input streams, fixed length), from a learned roll-in with mistakes in it."""

import dataclasses

import pytest
import torch
from data_files import write_conll
from torch import nn

import searnn_ext
from searnn_ext import tasks
from searnn_ext.config import RunConfig
from searnn_ext.data import batches


class CopyingOracle(nn.Module):
    """Logits one-hot at the target's tag of the current step: greedy decoding copies it."""

    def __init__(self, target_vocab: int):
        super().__init__()
        self.target_vocab, self.bos_id, self.eos_id = target_vocab, target_vocab, None
        self.anchor = nn.Parameter(torch.zeros(()))  # a parameter, for the dtype

    def encode(self, src, src_lengths):
        return {"target": self.tags}

    def initial_state(self, memory):
        return torch.zeros(memory["target"].shape[0], dtype=torch.long)  # the step of each row

    def step(self, prev_tokens, state, memory):
        target = memory["target"]
        tag = target.gather(1, state.clamp(max=target.shape[1] - 1)[:, None])[:, 0]
        logits = nn.functional.one_hot(tag, self.target_vocab).double() + self.anchor
        return logits, state + 1


@pytest.mark.parametrize("normalize", [False, True])
def test_reference_roll_outs_cost_what_an_oracle_that_copies_decodes(tmp_path, normalize):
    folder = write_conll(tmp_path / "conll2000", train=8, test=2)
    run = tasks.resolve(RunConfig(task="conll", data=str(folder), seed=0))
    data = tasks.load_data(run)
    record = tasks.TaskRecord.of(data)
    torch.manual_seed(0)
    model = tasks.build_model(run, record).double().eval()
    batch = next(iter(batches(data.train, 8)))
    memory = model.encode(batch.src, batch.src_lengths)
    rollin = model.roll_in(memory, batch.target, batch.target_lengths, policy="learned")
    assert not torch.equal(rollin.tokens, batch.target)  # an untrained model: mistakes to cost
    vocab = model.target_vocab
    candidates = torch.arange(vocab).expand(*rollin.tokens.shape, vocab).clone()
    options = dict(cost="hamming", normalize=normalize)
    reference = searnn_ext.rollout_costs(
        model,
        rollin,
        candidates,
        batch.target,
        batch.target_lengths,
        rollout="reference",
        **options,
    )
    oracle = CopyingOracle(vocab).double()
    oracle.tags = batch.target
    # Not the oracle's own greedy trajectory: no roll-out may be taken from the roll-in.
    oracle_rollin = dataclasses.replace(
        rollin, memory=oracle.encode(None, None), states=None, greedy=False
    )
    learned = searnn_ext.rollout_costs(
        oracle,
        oracle_rollin,
        candidates,
        batch.target,
        batch.target_lengths,
        rollout="learned",
        **options,
    )
    assert torch.equal(reference, learned)
    assert torch.isfinite(reference).any()
