"""A model of the user's own, written here from nn.LSTMCell with a dict memory and a tuple
state, subclassing nothing of searnn_ext: roll-ins, roll-outs (on the pure-PyTorch path that
backend="auto" chooses for it), beam search and SearnnTrainer take it through the decoder
protocol, with costs equal to a brute force through its own step; a model that breaks the
protocol is refused, naming what is wrong."""

import dataclasses

import pytest
import torch
from rollout_oracle import oracle_costs
from seq2seq_cases import costs_by_policy
from torch import nn

import searnn_ext
from searnn_ext.beam import beam_search
from searnn_ext.config import SearnnConfig
from searnn_ext.data.batching import Batch
from searnn_ext.trainer import SearnnTrainer


class LstmDecoder(nn.Module):
    """An LSTM encoder's mean output conditions an LSTMCell decoder: the user's own model."""

    def __init__(self, source_vocab=6, target_vocab=5, hidden=12, eos_id=None):
        super().__init__()
        self.target_vocab, self.bos_id, self.eos_id = target_vocab, target_vocab, eos_id
        self.source_embedding = nn.Embedding(source_vocab, hidden)
        self.encoder = nn.LSTM(hidden, hidden, batch_first=True)
        self.target_embedding = nn.Embedding(target_vocab + 1, hidden)
        self.cell = nn.LSTMCell(2 * hidden, hidden)
        self.output = nn.Linear(hidden, target_vocab)

    def encode(self, src, src_lengths):
        outputs, _ = self.encoder(self.source_embedding(src))
        present = torch.arange(src.shape[1]) < src_lengths[:, None]
        summary = (outputs * present[..., None]).sum(1) / src_lengths.clamp(min=1)[:, None]
        return {"summary": summary, "lengths": src_lengths}

    def initial_state(self, memory):
        return (torch.tanh(memory["summary"]), torch.zeros_like(memory["summary"]))

    def step(self, prev_tokens, state, memory):
        inputs = torch.cat([self.target_embedding(prev_tokens), memory["summary"]], dim=-1)
        hidden, cell = self.cell(inputs, state)
        return self.output(hidden), (hidden, cell)


def batch_of(eos: bool, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    batch, width = 4, 6
    src = torch.randint(0, 6, (batch, width), generator=generator)
    src_lengths = torch.tensor([6, 3, 5, 1])
    target = torch.randint(0, 4, (batch, width), generator=generator)
    target_lengths = torch.tensor([6, 2, 4, 1])
    if eos:  # targets end with EOS (4) at target_lengths - 1
        target[torch.arange(batch), target_lengths - 1] = 4
    return src, src_lengths, target, target_lengths


def model_for(eos: bool) -> LstmDecoder:
    torch.manual_seed(3)
    return LstmDecoder(eos_id=4 if eos else None).double()


@pytest.mark.parametrize("eos", [False, True], ids=["fixed-length", "eos"])
@pytest.mark.parametrize("rollin_policy", ["reference", "learned"])
@pytest.mark.parametrize("rollout", ["learned", "reference"])
@pytest.mark.parametrize("cost", ["hamming", "edit"])
def test_roll_outs_equal_a_brute_force_through_its_own_step(eos, rollin_policy, rollout, cost):
    model = model_for(eos)
    src, src_lengths, target, target_lengths = batch_of(eos)
    memory = model.encode(src, src_lengths)
    rollin = searnn_ext.roll_in(model, memory, target, target_lengths, policy=rollin_policy)
    candidates = torch.arange(model.target_vocab).expand(*rollin.tokens.shape, -1).clone()
    options = dict(rollout=rollout, cost=cost, normalize=False, max_length=8)
    costs = searnn_ext.rollout_costs(model, rollin, candidates, target, target_lengths, **options)
    learned_cells = torch.full(rollin.tokens.shape, rollout == "learned")
    want = oracle_costs(
        model,
        rollin,
        candidates,
        target,
        target_lengths,
        learned_cells,
        cost=cost,
        normalize=False,
        max_length=8,
    )
    scored = torch.isfinite(want)
    assert torch.equal(costs[scored].double(), want[scored])


@pytest.mark.parametrize("eos", [False, True], ids=["fixed-length", "eos"])
def test_mixed_roll_outs_are_each_cells_learned_or_reference_costs(eos):
    model = model_for(eos)
    src, src_lengths, target, target_lengths = batch_of(eos, seed=1)
    rollin = searnn_ext.roll_in(model, model.encode(src, src_lengths), target, target_lengths)
    candidates = torch.arange(model.target_vocab).expand(*rollin.tokens.shape, -1).clone()

    costs = costs_by_policy(model, rollin, candidates, target, target_lengths)
    learned, reference, mixed = costs("learned"), costs("reference"), costs("mixed")
    each = ((mixed == learned).all(dim=2) | (mixed == reference).all(dim=2))[rollin.lengths > 0]
    assert bool(each.all())
    assert torch.equal(costs("mixed", prob=1.0), learned)
    assert torch.equal(costs("mixed", prob=0.0), reference)


def test_auto_rolls_it_out_and_ext_refuses_it_naming_auto():
    model = model_for(eos=True)
    src, src_lengths, target, target_lengths = batch_of(eos=True)
    rollin = searnn_ext.roll_in(model, model.encode(src, src_lengths), target, target_lengths)
    candidates = rollin.tokens[..., None].clone()
    arguments = (model, rollin, candidates, target, target_lengths)
    auto = searnn_ext.rollout_costs(*arguments, rollout="learned")
    assert torch.equal(
        auto, searnn_ext.rollout_costs(*arguments, rollout="learned", backend="torch")
    )
    with pytest.raises(TypeError, match="backend='auto'"):
        searnn_ext.rollout_costs(*arguments, rollout="learned", backend="ext")


def test_beam_search_of_width_one_is_its_greedy_decoding():
    model = model_for(eos=True)
    src, src_lengths, _, _ = batch_of(eos=True)
    tokens, lengths = beam_search(model, src, src_lengths, 6, beam=1)
    memory = model.encode(src, src_lengths)
    blank = torch.zeros((src.shape[0], 6), dtype=torch.long)
    greedy = searnn_ext.roll_in(model, memory, blank, torch.zeros(4, dtype=torch.long))
    for row in range(src.shape[0]):
        want = greedy.tokens[row].tolist()
        want = want[: want.index(4)] if 4 in want else want
        assert tokens[row, : lengths[row]].tolist() == want


def test_searnn_trainer_lowers_its_loss_on_a_toy_task():
    torch.manual_seed(0)
    model = LstmDecoder(source_vocab=4, target_vocab=4, hidden=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    trainer = SearnnTrainer(model, optimizer, SearnnConfig(loss="ll", rollout="learned"))
    generator = torch.Generator().manual_seed(1)
    src = torch.randint(0, 4, (32, 5), generator=generator)
    lengths = torch.full((32,), 5)
    batch = Batch(src, lengths, src.flip(1), lengths)  # reverse the sequence
    losses = [trainer.step(batch).loss for _ in range(40)]
    assert sum(losses[-5:]) < 0.7 * sum(losses[:5])  # 6.8 to 4.2 per step when written


class Missing(nn.Module):
    target_vocab, bos_id, eos_id = 3, 3, None

    def encode(self, src, src_lengths):
        return src


@pytest.mark.parametrize("call", ["roll_in", "trainer"])
def test_a_model_missing_the_protocol_is_named(call):
    model = Missing()
    model.dummy = nn.Linear(1, 1)
    with pytest.raises(TypeError, match="lacks initial_state, step of the decoder protocol"):
        if call == "roll_in":
            searnn_ext.roll_in(model, None, torch.zeros((1, 2), dtype=torch.long), torch.ones(1))
        else:
            SearnnTrainer(model, torch.optim.SGD(model.parameters(), lr=0.1), SearnnConfig())


class WrongShape(LstmDecoder):
    def step(self, prev_tokens, state, memory):
        logits, state = super().step(prev_tokens, state, memory)
        return logits[:, :-1], state


def test_a_step_returning_the_wrong_shape_is_named():
    model = WrongShape().double()
    src, src_lengths, target, target_lengths = batch_of(eos=False)
    with pytest.raises(ValueError, match=r"model.step must return logits of shape \[4, 5\]"):
        searnn_ext.roll_in(model, model.encode(src, src_lengths), target, target_lengths)


class Unselectable(LstmDecoder):
    def initial_state(self, memory):
        return object()

    def step(self, prev_tokens, state, memory):
        logits, _ = super().step(prev_tokens, super().initial_state(memory), memory)
        return logits, object()


def test_a_state_that_cannot_be_selected_is_named():
    model = Unselectable().double()
    src, src_lengths, target, target_lengths = batch_of(eos=False)
    rollin = searnn_ext.roll_in(model, model.encode(src, src_lengths), target, target_lengths)
    candidates = rollin.tokens[..., None].clone()
    with pytest.raises(TypeError, match="select\\(rows\\) method.*got a object"):
        searnn_ext.rollout_costs(
            model, rollin, candidates, target, target_lengths, rollout="learned"
        )


def test_a_dropout_free_roll_in_keeps_the_states_its_roll_outs_start_from(monkeypatch):
    from searnn_ext import rollout

    model = model_for(eos=True).eval()
    src, src_lengths, target, target_lengths = batch_of(eos=True)
    rollin = searnn_ext.roll_in(model, model.encode(src, src_lengths), target, target_lengths)
    assert rollin.states is not None and len(rollin.states) == rollin.tokens.shape[1]
    candidates = torch.arange(model.target_vocab).expand(*rollin.tokens.shape, -1).clone()
    arguments = (candidates, target, target_lengths)
    decoded_again = searnn_ext.rollout_costs(
        model, dataclasses.replace(rollin, states=None), *arguments, rollout="learned"
    )
    calls = []
    monkeypatch.setattr(rollout, "_states_by_step", lambda *a: calls.append(a))
    kept = searnn_ext.rollout_costs(model, rollin, *arguments, rollout="learned")
    assert not calls and torch.equal(kept, decoded_again)
    # In training mode a model that does not say it has no dropout keeps none.
    model.train()
    rollin = searnn_ext.roll_in(model, model.encode(src, src_lengths), target, target_lengths)
    assert rollin.states is None
