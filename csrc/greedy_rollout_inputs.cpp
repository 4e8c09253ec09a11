#include "greedy_rollout_inputs.h"

#include <c10/util/Exception.h>

#include <limits>

namespace searnn {
namespace {

constexpr const char* kOp = "greedy_rollout";

void check_matrix(const char* name, const at::Tensor& t, int64_t rows, int64_t columns,
                  const at::Tensor& like) {
  TORCH_CHECK_VALUE(t.dim() == 2 && t.size(0) == rows && t.size(1) == columns, kOp, ": ", name,
                    " must have shape [", rows, ", ", columns, "], got ", t.sizes());
  TORCH_CHECK_TYPE(t.scalar_type() == like.scalar_type() && t.device() == like.device(), kOp,
                   ": ", name, " must be ", like.scalar_type(), " on ", like.device(), ", got ",
                   t.scalar_type(), " on ", t.device());
}

void check_vector(const char* name, const at::Tensor& t, int64_t size, const at::Tensor& like) {
  TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) == size, kOp, ": ", name, " must have shape [",
                    size, "], got ", t.sizes());
  TORCH_CHECK_TYPE(t.scalar_type() == like.scalar_type() && t.device() == like.device(), kOp,
                   ": ", name, " must be ", like.scalar_type(), " on ", like.device());
}

void check_index(const char* name, const at::Tensor& t, int64_t rows, int64_t bound,
                 const at::Device& device) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kLong, kOp, ": ", name, " must be int64");
  TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) == rows && t.device() == device, kOp, ": ", name,
                    " must have shape [", rows, "] on ", device, ", got ", t.sizes(), " on ",
                    t.device());
  if (rows > 0) {
    const auto [low, high] = at::aminmax(t);
    TORCH_CHECK_VALUE(low.item<int64_t>() >= 0 && high.item<int64_t>() < bound, kOp, ": ", name,
                      " values must lie in [0, ", bound, ")");
  }
}

}  // namespace

RolloutInputs check_rollout_inputs(const at::Tensor& cell_hidden,
                                   const std::optional<at::Tensor>& cell_feed,
                                   const at::Tensor& row_cell, const at::Tensor& row_batch,
                                   const at::Tensor& first_tokens, const at::Tensor& budgets,
                                   const std::optional<at::Tensor>& memory_values,
                                   const std::optional<at::Tensor>& memory_keys,
                                   const at::Tensor& memory_lengths,
                                   const std::vector<at::Tensor>& weights, int64_t eos_id) {
  TORCH_CHECK_VALUE(cell_hidden.dim() == 3, kOp, ": cell_hidden must be [L, C, H], got ",
                    cell_hidden.sizes());
  TORCH_CHECK_TYPE(cell_hidden.scalar_type() == at::kFloat ||
                       cell_hidden.scalar_type() == at::kDouble,
                   kOp, ": cell_hidden must be float32 or float64");
  const int64_t layers = cell_hidden.size(0), cells = cell_hidden.size(1);
  const int64_t hidden = cell_hidden.size(2);
  const bool attention = memory_keys.has_value();
  TORCH_CHECK_VALUE(attention == memory_values.has_value(), kOp,
                    ": memory_keys and memory_values come together (attention)");
  const size_t expected = 1 + 4 * layers + (attention ? 4 : 0) + 2;
  TORCH_CHECK_VALUE(weights.size() == expected, kOp, ": expected ", expected, " weights for ",
                    layers, " layers", attention ? " with attention" : "", ", got ",
                    weights.size());
  const at::Device device = cell_hidden.device();
  const int64_t rows = first_tokens.size(0);
  const int64_t batch = memory_lengths.size(0);

  RolloutInputs in;
  in.cell_hidden = cell_hidden.contiguous();
  in.eos_id = eos_id;
  auto next = weights.begin();
  DecoderWeights& w = in.weights;
  w.embedding = (next++)->contiguous();
  const int64_t vocab = w.embedding.size(0) - 1;
  const int64_t embedding_size = w.embedding.size(1);
  check_matrix("embedding", w.embedding, vocab + 1, embedding_size, cell_hidden);
  const int64_t first_input = embedding_size + (cell_feed ? hidden : 0);
  for (int64_t l = 0; l < layers; ++l) {
    LayerWeights layer{(next)[0].contiguous(), next[1].contiguous(), next[2].contiguous(),
                       next[3].contiguous()};
    next += 4;
    check_matrix("weight_ih", layer.input_weight, 3 * hidden, l == 0 ? first_input : hidden,
                 cell_hidden);
    check_matrix("weight_hh", layer.hidden_weight, 3 * hidden, hidden, cell_hidden);
    check_vector("bias_ih", layer.input_bias, 3 * hidden, cell_hidden);
    check_vector("bias_hh", layer.hidden_bias, 3 * hidden, cell_hidden);
    w.layers.push_back(layer);
  }
  in.memory_lengths = memory_lengths.contiguous();
  check_index("memory_lengths", in.memory_lengths, batch, std::numeric_limits<int64_t>::max(),
              device);
  if (attention) {
    in.memory_values = memory_values->contiguous();
    in.memory_keys = memory_keys->contiguous();
    const int64_t source = in.memory_values->size(1);
    const int64_t value_size = in.memory_values->size(2);
    TORCH_CHECK_VALUE(in.memory_values->dim() == 3 && in.memory_values->size(0) == batch, kOp,
                      ": memory_values must be [B, S, D], got ", in.memory_values->sizes());
    TORCH_CHECK_VALUE(in.memory_keys->sizes() == at::IntArrayRef({batch, source, hidden}), kOp,
                      ": memory_keys must be [", batch, ", ", source, ", ", hidden, "], got ",
                      in.memory_keys->sizes());
    TORCH_CHECK_VALUE(batch == 0 || (in.memory_lengths.min().item<int64_t>() >= 1 &&
                                     in.memory_lengths.max().item<int64_t>() <= source),
                      kOp, ": memory_lengths must lie in [1, ", source,
                      "] with attention (a softmax needs at least one position)");
    w.attention_query = (next++)->contiguous();
    w.attention_score = (next++)->contiguous().view({-1});
    w.attention_output_weight = (next++)->contiguous();
    w.attention_output_bias = (next++)->contiguous();
    check_matrix("attention_query", w.attention_query, hidden, hidden, cell_hidden);
    check_vector("attention_score", w.attention_score, hidden, cell_hidden);
    check_matrix("attention_output_weight", w.attention_output_weight, hidden,
                 hidden + value_size, cell_hidden);
    check_vector("attention_output_bias", w.attention_output_bias, hidden, cell_hidden);
  }
  w.output_weight = (next++)->contiguous();
  w.output_bias = (next++)->contiguous();
  check_matrix("output_weight", w.output_weight, vocab, hidden, cell_hidden);
  check_vector("output_bias", w.output_bias, vocab, cell_hidden);
  if (cell_feed) {
    in.cell_feed = cell_feed->contiguous();
    check_matrix("cell_feed", *in.cell_feed, cells, hidden, cell_hidden);
  }
  in.row_cell = row_cell.contiguous();
  in.row_batch = row_batch.contiguous();
  in.first_tokens = first_tokens.contiguous();
  in.budgets = budgets.contiguous();
  check_index("row_cell", in.row_cell, rows, cells, device);
  check_index("row_batch", in.row_batch, rows, batch, device);
  check_index("first_tokens", in.first_tokens, rows, vocab + 1, device);
  check_index("budgets", in.budgets, rows, std::numeric_limits<int64_t>::max(), device);
  TORCH_CHECK_VALUE(eos_id < vocab, kOp, ": eos_id must be below the vocabulary size ", vocab);
  return in;
}

std::vector<int64_t> active_rows_per_step(const at::Tensor& budgets) {
  const at::Tensor host = budgets.to(at::kCPU);
  const int64_t* budget = host.const_data_ptr<int64_t>();
  const int64_t rows = host.size(0);
  std::vector<int64_t> active;
  for (int64_t r = 0; r < rows; ++r) {
    TORCH_CHECK_VALUE(r == 0 || budget[r] <= budget[r - 1], kOp,
                      ": budgets must be sorted in non-increasing order");
    while (static_cast<int64_t>(active.size()) < budget[r]) {
      active.push_back(0);
    }
    for (int64_t step = 0; step < budget[r]; ++step) {
      active[step] = r + 1;
    }
  }
  return active;
}

}  // namespace searnn
