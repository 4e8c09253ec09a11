"""Seq2Seq.roll_in and the step protocol."""

import pytest
import torch
from seq2seq_cases import CONFIGS, make_task

import searnn_ext


@pytest.mark.parametrize("config", CONFIGS)
def test_reference_rollin_feeds_the_target(config):
    task = make_task(config)
    memory = task.model.encode(task.src, task.src_lengths)
    rollin = task.model.roll_in(memory, task.target, task.target_lengths)
    inside = torch.arange(task.target.shape[1]) < task.target_lengths[:, None]
    assert torch.equal(rollin.tokens[inside], task.target[inside])
    assert torch.equal(rollin.lengths, task.target_lengths)
    assert rollin.logits.shape == (*task.target.shape, task.model.target_vocab)
    assert rollin.logits.requires_grad


@pytest.mark.parametrize("config", CONFIGS)
def test_learned_rollin_feeds_its_argmax_and_matches_step_by_step(config):
    task = make_task(config)
    task.model.eval()
    memory = task.model.encode(task.src, task.src_lengths)
    rollin = task.model.roll_in(memory, task.target, task.target_lengths, policy="learned")
    assert torch.equal(rollin.tokens, rollin.logits.argmax(-1))
    state = task.model.initial_state(memory)
    prev = torch.full((task.target.shape[0],), task.model.bos_id)
    for t in range(task.target.shape[1]):
        logits, state = task.model.step(prev, state, memory)
        assert torch.allclose(logits, rollin.logits[:, t])
        prev = rollin.tokens[:, t]
    if task.model.eos_id is not None:
        for b in range(task.target.shape[0]):
            row = rollin.tokens[b].tolist()
            eos = task.model.eos_id
            assert rollin.lengths[b] == (row.index(eos) + 1 if eos in row else len(row))


def test_mixed_rollin_is_seeded_and_mixes():
    task = make_task("spelling", batch=32, length=8)
    memory = task.model.encode(task.src, task.src_lengths)

    def tokens(seed, mix_prob=0.5):
        generator = torch.Generator().manual_seed(seed)
        return task.model.roll_in(
            memory,
            task.target,
            task.target_lengths,
            policy="mixed",
            mix_prob=mix_prob,
            generator=generator,
        ).tokens

    reference = task.model.roll_in(memory, task.target, task.target_lengths).tokens
    assert torch.equal(tokens(4), tokens(4))
    assert torch.equal(tokens(4, mix_prob=0.0), reference)
    inside = torch.arange(task.target.shape[1]) < task.target_lengths[:, None]
    assert not torch.equal(tokens(4)[inside], reference[inside])


def test_bad_policy_and_model_arguments():
    task = make_task("ocr")
    memory = task.model.encode(task.src, task.src_lengths)
    with pytest.raises(ValueError, match="policy must be one of"):
        task.model.roll_in(memory, task.target, task.target_lengths, policy="greedy")
    with pytest.raises(ValueError, match="exactly one of source_vocab and source_features"):
        searnn_ext.Seq2Seq(target_vocab=4)
    with pytest.raises(ValueError, match="input_feeding .* needs attention"):
        searnn_ext.Seq2Seq(target_vocab=4, source_vocab=3, input_feeding=True)
    with pytest.raises(ValueError, match="eos_id must be in"):
        searnn_ext.Seq2Seq(target_vocab=4, source_vocab=3, eos_id=4)
    with pytest.raises(ValueError, match="attention must be None or 'additive'"):
        searnn_ext.Seq2Seq(target_vocab=4, source_vocab=3, attention="dot")
