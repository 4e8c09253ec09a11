"""Malformed inputs to the raw ops (torch.ops.searnn.* and torch.ops.searnn_emulated.*), each
call in a forked process: it must raise a TypeError or ValueError, or return the right answer;
never crash the process, hang, or return garbage."""

import multiprocessing
import traceback

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import hamming, levenshtein, pairwise, sentence_bleu, sentence_gleu
from test_greedy_rollout import op_arguments
from test_optimal_completion_distance import closed_form
from test_transformer_rollout import op_arguments as transformer_op_arguments

NAMESPACES = ["searnn", "searnn_emulated"]
SECONDS_PER_CALL = 60
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _child(connection, op, arguments):
    torch.set_num_threads(1)  # OpenMP's pool does not survive a fork
    try:
        result = op(*arguments)
        connection.send(
            ("ok", [r.tolist() for r in result] if isinstance(result, tuple) else result.tolist())
        )
    except (TypeError, ValueError) as error:
        connection.send(("named", f"{type(error).__name__}: {error}"))
    except BaseException as error:  # noqa: B036 - reported to the parent, which fails the test
        connection.send(("other", "".join(traceback.format_exception(error))))


def call_in_child(op, arguments):
    """("ok", result as lists) or ("named", message); fails the test on a crash, a hang, or an
    exception that is not a TypeError or ValueError."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child, op, arguments))
    process.start()
    child.close()
    ready = parent.poll(SECONDS_PER_CALL)
    outcome = parent.recv() if ready else None
    process.join(SECONDS_PER_CALL)
    if process.is_alive():
        process.kill()
        pytest.fail(f"{op} hung on {describe(arguments)}")
    if outcome is None:
        pytest.fail(f"{op} killed the process (exit {process.exitcode}) on {describe(arguments)}")
    if outcome[0] == "other":
        pytest.fail(f"{op} raised an unnamed error on {describe(arguments)}:\n{outcome[1]}")
    return outcome


def describe(arguments):
    def one(a):
        if isinstance(a, torch.Tensor):
            return f"{a.dtype} {list(a.shape)} on {a.device}"
        if isinstance(a, list):
            return f"[{', '.join(one(x) for x in a)}]"
        return repr(a)

    return ", ".join(one(a) for a in arguments)


# A malformed variant of a tensor: another dtype, rank, size, layout, device or values.
def mutations(tensor: torch.Tensor):
    size = tensor.shape[0] if tensor.dim() else 1
    return st.sampled_from(
        [
            lambda t: t.float(),
            lambda t: t.bool(),
            lambda t: t.to(torch.int16),
            lambda t: t.to(torch.uint8),
            lambda t: t.double(),
            lambda t: t.int(),
            lambda t: t.to("meta"),
            lambda t: t.unsqueeze(0),
            lambda t: t.reshape(-1) if t.dim() > 1 else t.reshape(1, -1),
            lambda t: t[:0],
            lambda t: t[: max(size - 1, 0)],
            lambda t: torch.cat([t, t]),
            lambda t: t.flip(0),
            lambda t: t.repeat_interleave(2, 0)[::2],  # non-contiguous, same values
            lambda t: t - 100,
            lambda t: t + 2**40 if not t.is_floating_point() else t * float("inf"),
            lambda t: torch.full_like(t, -1),
            lambda t: torch.zeros(()),
            lambda t: torch.empty((0, 0, 0)),
        ]
    )


def cost_inputs():
    generator = torch.Generator().manual_seed(0)
    return [
        torch.randint(0, 5, (4, 6), generator=generator),
        torch.tensor([0, 6, 3, 1]),
        torch.randint(0, 5, (3, 7), generator=generator),
        torch.tensor([7, 0, 2]),
        torch.tensor([0, 2, 1, 2]),
    ]


@st.composite
def malformed_cost_inputs(draw):
    inputs = cost_inputs()
    for position in draw(st.sets(st.integers(0, 4), min_size=1, max_size=2)):
        inputs[position] = draw(mutations(inputs[position]))(inputs[position])
    if draw(st.booleans()) and draw(st.booleans()):
        inputs[4] = None
    return inputs


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize(
    "name, oracle",
    [
        ("edit_distance", levenshtein),
        ("hamming_distance", hamming),
        ("bleu_cost", lambda hyp, ref: 1 - sentence_bleu(hyp, ref)),
        ("gleu_cost", lambda hyp, ref: 1 - sentence_gleu(hyp, ref)),
    ],
)
@FUZZ
@given(inputs=malformed_cost_inputs())
def test_cost_ops_refuse_or_answer(namespace, name, oracle, inputs):
    outcome = call_in_child(getattr(getattr(torch.ops, namespace), name), inputs)
    if outcome[0] == "ok":  # the inputs were valid after all: the answer must be right
        assert outcome[1] == pytest.approx(pairwise(oracle, *inputs), abs=1e-6)


def completion_inputs():
    generator = torch.Generator().manual_seed(0)
    return [
        torch.randint(0, 5, (4, 6), generator=generator),
        torch.randint(0, 5, (4, 6, 3), generator=generator),
        torch.randint(0, 5, (4, 7), generator=generator),
        torch.tensor([7, 0, 2, 5]),
    ]


@st.composite
def malformed_completion_inputs(draw):
    inputs = completion_inputs()
    for position in draw(st.sets(st.integers(0, 3), min_size=1, max_size=2)):
        inputs[position] = draw(mutations(inputs[position]))(inputs[position])
    return [*inputs, draw(st.sampled_from([None, 0, 4, -1, 2**40]))]


@pytest.mark.parametrize("namespace", NAMESPACES)
@FUZZ
@given(inputs=malformed_completion_inputs())
def test_optimal_completion_distance_refuses_or_answers(namespace, inputs):
    op = getattr(torch.ops, namespace).optimal_completion_distance
    outcome = call_in_child(op, inputs)
    if outcome[0] == "ok":
        assert outcome[1] == closed_form(*inputs)


OPTIONAL = (1, 6, 7)  # cell_feed, memory_values, memory_keys


@st.composite
def malformed_weights(draw, weights):
    """The weights list with one weight mutated, dropped or duplicated."""
    weights = list(weights)
    which = draw(st.integers(0, len(weights) - 1))
    choice = draw(st.sampled_from(["mutate", "drop", "duplicate"]))
    if choice == "mutate":
        weights[which] = draw(mutations(weights[which]))(weights[which])
    elif choice == "drop":
        del weights[which]
    else:
        weights.insert(which, weights[which])
    return weights


@st.composite
def malformed_rollout_arguments(draw):
    arguments = op_arguments()
    position = draw(st.integers(0, 9))
    if position == 9:
        arguments[9] = draw(malformed_weights(arguments[9]))
    elif position in OPTIONAL and (arguments[position] is None or draw(st.booleans())):
        # An optional argument left out, or given where the others imply it is not.
        arguments[position] = None if arguments[position] is not None else arguments[0][0]
    else:
        arguments[position] = draw(mutations(arguments[position]))(arguments[position])
    if draw(st.booleans()):
        arguments[10] = draw(st.sampled_from([-5, -1, 0, 4, 5, 2**40]))
    return arguments


@FUZZ
@given(arguments=malformed_rollout_arguments())
def test_greedy_rollout_refuses_or_answers(arguments):
    assert_refused_or_agreed("greedy_rollout", arguments)


@st.composite
def malformed_transformer_arguments(draw):
    arguments = transformer_op_arguments()
    position = draw(st.integers(0, 9))
    if position == 9:
        arguments[9] = draw(malformed_weights(arguments[9]))
    else:
        arguments[position] = draw(mutations(arguments[position]))(arguments[position])
    if draw(st.booleans()):
        arguments[10] = draw(st.sampled_from([-1, 0, 1, 3, 16, 32, 2**40]))  # heads
    if draw(st.booleans()):
        arguments[11] = draw(st.sampled_from([-5, -1, 0, 5, 6, 2**40]))  # eos_id
    return arguments


@FUZZ
@given(arguments=malformed_transformer_arguments())
def test_transformer_rollout_refuses_or_answers(arguments):
    assert_refused_or_agreed("transformer_rollout", arguments)


def assert_refused_or_agreed(op, arguments):
    """Where both namespaces answer, they agree (float64: exact), and the answer is well formed."""
    outcomes = [
        call_in_child(getattr(getattr(torch.ops, namespace), op), arguments)
        for namespace in NAMESPACES
    ]
    assert [o[0] for o in outcomes] == [outcomes[0][0]] * 2, outcomes
    if outcomes[0][0] == "ok":
        assert outcomes[0][1] == outcomes[1][1]
        tokens, lengths = outcomes[0][1]
        vocab = arguments[9][-1].shape[0]
        assert all(0 <= n <= len(row) for row, n in zip(tokens, lengths, strict=True))
        assert all(0 <= token < vocab for row in tokens for token in row)
