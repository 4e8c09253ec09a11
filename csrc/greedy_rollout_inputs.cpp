#include "greedy_rollout_inputs.h"

#include <c10/util/Exception.h>

#include <limits>
#include <string>

#include "rollout_checks.h"

namespace searnn {
namespace {

constexpr const char* kOp = "greedy_rollout";

// Every tensor argument on cell_hidden's device, checked before anything reads them (and, on
// CUDA, before the device guard), so that a mixed call names the argument at fault.
void check_devices(const at::Tensor& cell_hidden, const std::optional<at::Tensor>& cell_feed,
                   const at::Tensor& row_cell, const at::Tensor& row_batch,
                   const at::Tensor& first_tokens, const at::Tensor& budgets,
                   const std::optional<at::Tensor>& memory_values,
                   const std::optional<at::Tensor>& memory_keys,
                   const at::Tensor& memory_lengths, const std::vector<at::Tensor>& weights) {
  const at::Device device = cell_hidden.device();
  const auto check = [&](const std::string& name, const at::Tensor& t) {
    TORCH_CHECK_VALUE(t.device() == device, kOp, ": ", name, " is on ", t.device(),
                      " but cell_hidden is on ", device, "; all inputs must be on one device");
  };
  if (cell_feed) {
    check("cell_feed", *cell_feed);
  }
  check("row_cell", row_cell);
  check("row_batch", row_batch);
  check("first_tokens", first_tokens);
  check("budgets", budgets);
  if (memory_values) {
    check("memory_values", *memory_values);
  }
  if (memory_keys) {
    check("memory_keys", *memory_keys);
  }
  check("memory_lengths", memory_lengths);
  for (size_t i = 0; i < weights.size(); ++i) {
    check("weights[" + std::to_string(i) + "]", weights[i]);
  }
}

int64_t check_cell(c10::string_view cell) {
  const int64_t index = cell_index(std::string_view(cell.data(), cell.size()));
  if (index < 0) {
    std::string names;
    for (const std::string_view name : kCellNames) {
      names += (names.empty() ? "'" : ", '") + std::string(name) + "'";
    }
    TORCH_CHECK_VALUE(false, kOp, ": cell must be one of ", names, ", got '", std::string(cell),
                      "'");
  }
  return index;
}

}  // namespace

RolloutInputs check_rollout_inputs(const at::Tensor& cell_hidden,
                                   const std::optional<at::Tensor>& cell_feed,
                                   const at::Tensor& row_cell, const at::Tensor& row_batch,
                                   const at::Tensor& first_tokens, const at::Tensor& budgets,
                                   const std::optional<at::Tensor>& memory_values,
                                   const std::optional<at::Tensor>& memory_keys,
                                   const at::Tensor& memory_lengths,
                                   const std::vector<at::Tensor>& weights, int64_t eos_id,
                                   c10::string_view cell) {
  check_devices(cell_hidden, cell_feed, row_cell, row_batch, first_tokens, budgets,
                memory_values, memory_keys, memory_lengths, weights);
  const int64_t kind = check_cell(cell);
  const int64_t state_vectors = visit_cell(kind, [](auto c) { return c.kStateVectors; });
  const int64_t gate_count = visit_cell(kind, [](auto c) { return c.kGates; });
  TORCH_CHECK_VALUE(cell_hidden.dim() == 3 && cell_hidden.size(0) >= 1 &&
                        cell_hidden.size(2) % state_vectors == 0,
                    kOp, ": cell_hidden must be [L, C, ", state_vectors == 1 ? "H" : "2H",
                    "] with at least one layer", state_vectors == 1 ? "" : " (an LSTM's [h | c])",
                    ", got ", cell_hidden.sizes());
  const at::ScalarType dtype = cell_hidden.scalar_type();
  TORCH_CHECK_TYPE(is_float_dtype(dtype), kOp,
                   ": cell_hidden must be float32, float64, float16 or bfloat16, got ", dtype);
  const RolloutChecks check{kOp, "cell_hidden", dtype};
  const int64_t layers = cell_hidden.size(0), cells = cell_hidden.size(1);
  const int64_t hidden = cell_hidden.size(2) / state_vectors;
  const bool attention = memory_keys.has_value();
  TORCH_CHECK_VALUE(attention == memory_values.has_value(), kOp,
                    ": memory_keys and memory_values come together (attention)");
  TORCH_CHECK_VALUE(!cell_feed || attention, kOp,
                    ": cell_feed (input feeding) needs attention (memory_values, memory_keys)");
  const size_t expected = 1 + 4 * layers + (attention ? 4 : 0) + 2;
  TORCH_CHECK_VALUE(weights.size() == expected, kOp, ": expected ", expected, " weights for ",
                    layers, " layers", attention ? " with attention" : "", ", got ",
                    weights.size());
  TORCH_CHECK_VALUE(first_tokens.dim() == 1, kOp, ": first_tokens must be 1-D, got shape ",
                    first_tokens.sizes());
  const int64_t rows = first_tokens.size(0);

  RolloutInputs in;
  in.cell = kind;
  in.cell_hidden = cell_hidden.contiguous();
  in.eos_id = eos_id;
  auto next = weights.begin();
  DecoderWeights& w = in.weights;
  w.embedding = (next++)->contiguous();
  TORCH_CHECK_VALUE(w.embedding.dim() == 2 && w.embedding.size(0) >= 2, kOp,
                    ": embedding must be [A + 1, E] with A >= 1 output tokens, got ",
                    w.embedding.sizes());
  const int64_t vocab = w.embedding.size(0) - 1;
  const int64_t embedding_size = w.embedding.size(1);
  check.matrix("embedding", w.embedding, vocab + 1, embedding_size);
  const int64_t first_input = embedding_size + (cell_feed ? hidden : 0);
  for (int64_t l = 0; l < layers; ++l) {
    LayerWeights layer{next[0].contiguous(), next[1].contiguous(), next[2].contiguous(),
                       next[3].contiguous()};
    next += 4;
    const int64_t gates = gate_count * hidden;
    check.matrix("weight_ih", layer.input_weight, gates, l == 0 ? first_input : hidden);
    check.matrix("weight_hh", layer.hidden_weight, gates, hidden);
    check.vector("bias_ih", layer.input_bias, gates);
    check.vector("bias_hh", layer.hidden_bias, gates);
    w.layers.push_back(layer);
  }

  // B, the sequences the roll-outs read memory from: memory_values' rows with attention,
  // else memory_lengths' entries.
  int64_t batch = 0;
  if (attention) {
    in.memory_values = memory_values->contiguous();
    in.memory_keys = memory_keys->contiguous();
    TORCH_CHECK_VALUE(in.memory_values->dim() == 3, kOp,
                      ": memory_values must be [B, S, D], got ", in.memory_values->sizes());
    TORCH_CHECK_TYPE(in.memory_values->scalar_type() == dtype, kOp, ": memory_values must be ",
                     dtype, " like cell_hidden, got ", in.memory_values->scalar_type());
    batch = in.memory_values->size(0);
    const int64_t source = in.memory_values->size(1);
    const int64_t value_size = in.memory_values->size(2);
    TORCH_CHECK_VALUE(in.memory_keys->sizes() == at::IntArrayRef({batch, source, hidden}), kOp,
                      ": memory_keys must be [", batch, ", ", source, ", ", hidden, "], got ",
                      in.memory_keys->sizes());
    TORCH_CHECK_TYPE(in.memory_keys->scalar_type() == dtype, kOp, ": memory_keys must be ",
                     dtype, " like cell_hidden, got ", in.memory_keys->scalar_type());
    in.memory_lengths = memory_lengths.contiguous();
    check.index("memory_lengths", in.memory_lengths, batch, source + 1);
    TORCH_CHECK_VALUE(batch == 0 || in.memory_lengths.min().item<int64_t>() >= 1, kOp,
                      ": memory_lengths must lie in [1, ", source,
                      "] with attention (a softmax needs at least one position)");
    w.attention_query = (next++)->contiguous();
    w.attention_score = (next++)->contiguous();
    w.attention_output_weight = (next++)->contiguous();
    w.attention_output_bias = (next++)->contiguous();
    check.matrix("attention_query", w.attention_query, hidden, hidden);
    check.matrix("attention_score", w.attention_score, 1, hidden);
    w.attention_score = w.attention_score.view({-1});
    check.matrix("attention_output_weight", w.attention_output_weight, hidden,
                 hidden + value_size);
    check.vector("attention_output_bias", w.attention_output_bias, hidden);
  } else {
    TORCH_CHECK_VALUE(memory_lengths.dim() == 1, kOp, ": memory_lengths must be 1-D, got shape ",
                      memory_lengths.sizes());
    batch = memory_lengths.size(0);
    in.memory_lengths = memory_lengths.contiguous();
    check.index("memory_lengths", in.memory_lengths, batch, std::numeric_limits<int64_t>::max());
  }
  w.output_weight = (next++)->contiguous();
  w.output_bias = (next++)->contiguous();
  check.matrix("output_weight", w.output_weight, vocab, hidden);
  check.vector("output_bias", w.output_bias, vocab);
  if (cell_feed) {
    in.cell_feed = cell_feed->contiguous();
    check.matrix("cell_feed", *in.cell_feed, cells, hidden);
  }
  in.row_cell = row_cell.contiguous();
  in.row_batch = row_batch.contiguous();
  in.first_tokens = first_tokens.contiguous();
  in.budgets = budgets.contiguous();
  check.index("row_cell", in.row_cell, rows, cells);
  check.index("row_batch", in.row_batch, rows, batch);
  check.index("first_tokens", in.first_tokens, rows, vocab + 1);
  check.budgets(in.budgets, rows);
  TORCH_CHECK_VALUE(eos_id < vocab, kOp, ": eos_id must be below the vocabulary size ", vocab);
  return in;
}

RolloutInputs with_dtype(const RolloutInputs& in, at::ScalarType dtype) {
  RolloutInputs out = in;
  const auto cast = [dtype](const at::Tensor& t) { return t.to(dtype); };
  out.cell_hidden = cast(in.cell_hidden);
  if (in.cell_feed) {
    out.cell_feed = cast(*in.cell_feed);
  }
  if (in.memory_values) {
    out.memory_values = cast(*in.memory_values);
    out.memory_keys = cast(*in.memory_keys);
  }
  DecoderWeights& w = out.weights;
  for (at::Tensor* t : {&w.embedding, &w.attention_query, &w.attention_score,
                        &w.attention_output_weight, &w.attention_output_bias, &w.output_weight,
                        &w.output_bias}) {
    if (t->defined()) {
      *t = cast(*t);
    }
  }
  for (LayerWeights& layer : w.layers) {
    for (at::Tensor* t : {&layer.input_weight, &layer.hidden_weight, &layer.input_bias,
                          &layer.hidden_bias}) {
      *t = cast(*t);
    }
  }
  return out;
}

}  // namespace searnn
