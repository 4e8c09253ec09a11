"""TransformerSeq2Seq: its KV-cache steps equal the decoder recomputed over the whole prefix;
its roll-outs (compiled on the CPU, in emulated CUDA and on CUDA, and on the pure-PyTorch path)
equal a brute force whose every step recomputes the decoder over the whole prefix, without a
cache, for learned, reference and mixed roll-outs, EOS and fixed-length outputs, ragged source
lengths;
SearnnTrainer lowers its loss; --cell transformer trains, resumes, evaluates and beam-searches
from the command line; bad arguments are named."""

import re

import pytest
import torch
from checkpoint_files import forged
from conftest import BACKENDS, TARGETS
from rollout_oracle import oracle_costs
from seq2seq_cases import costs_by_policy
from torch import nn

import searnn_ext
from searnn_ext import checkpoint
from searnn_ext.cli import main
from searnn_ext.data.batching import Batch


def transformer(eos: bool, **options) -> searnn_ext.TransformerSeq2Seq:
    torch.manual_seed(7)
    settings = dict(target_vocab=6, source_vocab=(9, 4), d_model=16, heads=4, layers=2)
    settings.update(ffn_size=24, eos_id=5 if eos else None, **options)
    return searnn_ext.TransformerSeq2Seq(**settings).double().eval()


def batch_of(eos: bool, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    batch, width = 4, 6
    src = torch.stack(
        [torch.randint(0, v, (batch, width), generator=generator) for v in (9, 4)], dim=-1
    )
    src_lengths = torch.tensor([6, 3, 5, 1])
    target = torch.randint(0, 5, (batch, width), generator=generator)
    target_lengths = torch.tensor([6, 2, 4, 1]) if eos else src_lengths.clone()
    if eos:
        target[torch.arange(batch), target_lengths - 1] = 5
    return src, src_lengths, target, target_lengths


class Recomputed(nn.Module):
    """The same transformer stepped without its cache: the state is the tokens fed so far, and
    each step runs the decoder over all of them (TransformerSeq2Seq.decode)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.target_vocab, self.bos_id, self.eos_id = model.target_vocab, model.bos_id, model.eos_id

    def encode(self, src, src_lengths):
        return self.model.encode(src, src_lengths)

    def initial_state(self, memory):
        return torch.zeros((memory.outputs.shape[0], 0), dtype=torch.long)

    def step(self, prev_tokens, state, memory):
        fed = torch.cat([state, prev_tokens[:, None]], dim=1)
        return self.model.decode(memory, fed)[:, -1], fed


@pytest.mark.parametrize("eos", [False, True], ids=["fixed-length", "eos"])
def test_cached_steps_equal_the_recomputed_decoder(eos):
    model = transformer(eos)
    src, src_lengths, target, _ = batch_of(eos)
    memory = model.encode(src, src_lengths)
    inputs = torch.cat([torch.full((4, 1), model.bos_id), target], dim=1)
    state, steps = model.initial_state(memory), []
    for t in range(inputs.shape[1]):
        logits, state = model.step(inputs[:, t], state, memory)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), model.decode(memory, inputs))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("eos", [False, True], ids=["fixed-length", "eos"])
@pytest.mark.parametrize("rollin_policy", ["reference", "learned"])
@pytest.mark.parametrize("rollout", ["learned", "reference"])
def test_roll_outs_equal_a_brute_force_without_the_cache(target, eos, rollin_policy, rollout):
    model = transformer(eos)
    src, src_lengths, target_tokens, target_lengths = batch_of(eos)
    memory = model.encode(src, src_lengths)
    rollin = searnn_ext.roll_in(model, memory, target_tokens, target_lengths, policy=rollin_policy)
    candidates = torch.arange(model.target_vocab).expand(*rollin.tokens.shape, -1).clone()
    cost = "edit" if eos else "hamming"
    options = dict(cost=cost, normalize=False, max_length=9)
    on_target = target.put(model)
    costs = searnn_ext.rollout_costs(
        on_target,
        searnn_ext.roll_in(
            on_target,
            on_target.encode(target.put(src), target.put(src_lengths)),
            target.put(target_tokens),
            target.put(target_lengths),
            policy=rollin_policy,
        ),
        target.put(candidates),
        target.put(target_tokens),
        target.put(target_lengths),
        rollout=rollout,
        backend=target.backend,
        **options,
    ).cpu()
    want = oracle_costs(
        Recomputed(model),
        rollin,
        candidates,
        target_tokens,
        target_lengths,
        torch.full(rollin.tokens.shape, rollout == "learned"),
        **options,
    )
    scored = torch.isfinite(want)
    assert scored.any() and torch.equal(costs[scored].double(), want[scored])


@pytest.mark.parametrize("backend", BACKENDS)
def test_mixed_roll_outs_are_each_cells_learned_or_reference_costs(backend):
    model = transformer(eos=True)
    src, src_lengths, target, target_lengths = batch_of(True, seed=1)
    rollin = searnn_ext.roll_in(model, model.encode(src, src_lengths), target, target_lengths)
    candidates = torch.arange(model.target_vocab).expand(*rollin.tokens.shape, -1).clone()

    costs = costs_by_policy(model, rollin, candidates, target, target_lengths, backend=backend)
    learned, reference, mixed = costs("learned"), costs("reference"), costs("mixed")
    as_learned, as_reference = (mixed == learned).all(dim=2), (mixed == reference).all(dim=2)
    assert bool((as_learned | as_reference).all())
    assert bool((as_learned & ~as_reference).any() and (as_reference & ~as_learned).any())


def test_padding_is_never_read():
    """A source's padding positions, however filled, change neither the memory of its real
    positions nor any logits: the encoder and the cross-attention mask them."""
    model = transformer(eos=True)
    src, src_lengths, target, _ = batch_of(True)
    junk = src.clone()
    padding = torch.arange(src.shape[1]) >= src_lengths[:, None]
    junk[padding] = torch.tensor([8, 3])
    inputs = torch.cat([torch.full((4, 1), model.bos_id), target], dim=1)
    clean, noisy = model.encode(src, src_lengths), model.encode(junk, src_lengths)
    assert torch.equal(clean.outputs[~padding], noisy.outputs[~padding])
    assert torch.equal(model.decode(clean, inputs), model.decode(noisy, inputs))


class OwnStep(searnn_ext.TransformerSeq2Seq):
    """A user's subclass that changes the step: the compiled loop does not know it."""

    def step(self, prev_tokens, state, memory):
        logits, state = super().step(prev_tokens, state, memory)
        return -logits, state


class OwnPositions(searnn_ext.TransformerSeq2Seq):
    """A user's subclass with positions of its own (all zero)."""

    def _positions(self, start, count, like):
        return torch.zeros_like(super()._positions(start, count, like))


def without_query_bias(model):
    query = model.decoder[1].self_query
    model.decoder[1].self_query = nn.Linear(query.in_features, query.out_features, bias=False)
    return model


CHANGED = {
    "its step": (OwnStep, lambda model: model, "overrides TransformerSeq2Seq.step"),
    "its positions": (OwnPositions, lambda model: model, "overrides TransformerSeq2Seq._positions"),
    "a module": (searnn_ext.TransformerSeq2Seq, without_query_bias, "nn.Linear layers with biases"),
}


@pytest.mark.parametrize("change", list(CHANGED))
def test_a_changed_model_falls_back_to_torch_and_ext_names_auto(change):
    kind, modify, reason = CHANGED[change]
    torch.manual_seed(7)
    model = kind(target_vocab=6, source_vocab=(9, 4), d_model=16, heads=4, ffn_size=24)
    model = modify(model).double().eval()
    src, src_lengths, target, target_lengths = batch_of(False)
    rollin = searnn_ext.roll_in(model, model.encode(src, src_lengths), target, target_lengths)
    candidates = torch.arange(model.target_vocab).expand(*rollin.tokens.shape, -1).clone()
    arguments = (model, rollin, candidates, target, target_lengths)
    with pytest.raises(ValueError, match=f"{re.escape(reason)}.*backend='auto'"):
        searnn_ext.rollout_costs(*arguments, backend="ext")
    auto = searnn_ext.rollout_costs(*arguments)
    assert torch.equal(auto, searnn_ext.rollout_costs(*arguments, backend="torch"))


def test_searnn_trainer_lowers_its_loss():
    torch.manual_seed(0)
    model = searnn_ext.TransformerSeq2Seq(
        target_vocab=6, source_vocab=6, d_model=32, heads=4, layers=1, ffn_size=64
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    config = searnn_ext.SearnnConfig(loss="ll", rollin="learned", rollout="mixed")
    trainer = searnn_ext.SearnnTrainer(model, optimizer, config)
    src = torch.randint(0, 6, (32, 5), generator=torch.Generator().manual_seed(1))
    lengths = torch.full((32,), 5)
    losses = [trainer.step(Batch(src, lengths, src, lengths)).loss for _ in range(40)]
    assert losses[-1] < 0.6 * losses[0]  # copying: 10.7 to 5.8 when written


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(d_model=10, heads=4), r"d_model \(10\) must be a multiple of heads \(4\)"),
        (dict(layers=0), "layers must be at least 1"),
        (dict(source_features=3), "exactly one of source_vocab and source_features"),
    ],
)
def test_bad_arguments_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        transformer(eos=False, **options)


def test_positions_past_the_table_are_named():
    model = transformer(eos=False, max_positions=4)
    src, src_lengths, _, _ = batch_of(False)
    with pytest.raises(ValueError, match="position 5 is past max_positions"):
        model.encode(src, src_lengths)


TINY = ["--task=synthetic", "--limit=48", "--cell=transformer", "--hidden-size=16", "--quiet"]


def test_cell_transformer_trains_resumes_evaluates_and_beam_searches(tmp_path, capsys):
    output = tmp_path / "run"
    command = ["train", *TINY, "--heads=2", "--ffn-size=32", "--loss=ll", f"--output={output}"]
    assert main([*command, "--epochs=1"]) == 0
    state = checkpoint.load(output / "checkpoint.pt")
    model = state["run"]["model"]
    assert (model["cell"], model["heads"], model["ffn_size"]) == ("transformer", 2, 32)
    assert model["attention"] is None  # the recurrent cells' options stay unset
    assert main([*command, "--epochs=2", "--resume"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(output / "checkpoint.pt"), "--beam=3"]) == 0
    assert re.fullmatch(r"synthetic test error: \d+\.\d\d%\n", capsys.readouterr().out)


@pytest.mark.parametrize(
    "options, message",
    [
        (["--attention=none"], "--attention: an option of the recurrent cells"),
        (["--bidirectional"], "--bidirectional: an option of the recurrent cells"),
        (["--heads=3"], r"--hidden-size \(16\) must be a multiple of --heads \(3\)"),
    ],
)
def test_the_command_line_names_what_a_transformer_cannot_take(tmp_path, capsys, options, message):
    assert main(["train", *TINY, *options, f"--output={tmp_path / 'run'}"]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_a_recurrent_model_refuses_the_transformers_options(tmp_path, capsys):
    command = ["train", "--task=synthetic", "--limit=48", "--heads=2", "--quiet"]
    assert main([*command, f"--output={tmp_path / 'run'}"]) == 2
    assert "--heads: an option of the transformer (--cell transformer)" in capsys.readouterr().err


def test_a_recurrent_checkpoint_recording_the_transformers_options_still_loads(tmp_path, capsys):
    """Some versions recorded --heads and --ffn-size for every model: they are unset on load."""
    output = tmp_path / "run"
    command = ["train", "--task=synthetic", "--limit=48", "--hidden-size=8", "--quiet"]
    assert main([*command, "--epochs=1", f"--output={output}"]) == 0
    path = output / "checkpoint.pt"

    def record_them(content):
        content["run"]["model"].update(heads=4, ffn_size=512)

    forged(path, record_them)
    assert main(["evaluate", str(path)]) == 0
    assert main([*command, "--epochs=2", "--resume", f"--output={output}"]) == 0
    assert checkpoint.load(path)["run"]["model"]["heads"] is None
