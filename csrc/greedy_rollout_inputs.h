// The arguments of greedy_rollout, checked and named: the roll-outs to decode and the
// decoder's weights, in the order searnn_ext/rollout_ext.py passes them.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/string_view.h>

#include <optional>
#include <vector>

#include "searnn_ext/cells.h"

namespace searnn {

struct LayerWeights {
  // torch.nn.GRUCell's or torch.nn.LSTMCell's
  at::Tensor input_weight, hidden_weight, input_bias, hidden_bias;
};

struct DecoderWeights {
  at::Tensor embedding;  // [A + 1, E], the last row is BOS
  std::vector<LayerWeights> layers;
  at::Tensor attention_query, attention_score;                // [H, H], [H]
  at::Tensor attention_output_weight, attention_output_bias;  // [H, H + D], [H]
  at::Tensor output_weight, output_bias;                      // [A, H], [A]
};

struct RolloutInputs {
  int64_t cell;                          // the cell's index in Cells (searnn_ext/cells.h)
  at::Tensor cell_hidden;                // [L, C, kStateVectors * H]: each cell's prefix state
  std::optional<at::Tensor> cell_feed;   // [C, H] with input feeding
  at::Tensor row_cell;                   // [R] int64: each roll-out's cell
  at::Tensor row_batch;                  // [R] int64: each roll-out's sequence (memory row)
  at::Tensor first_tokens;               // [R] int64: the forced candidates
  at::Tensor budgets;                    // [R] int64, non-increasing: tokens to decode at most
  std::optional<at::Tensor> memory_values, memory_keys;  // [B, S, D], [B, S, H] with attention
  at::Tensor memory_lengths;             // [B] int64
  int64_t eos_id;                        // < 0: a fixed-length task
  DecoderWeights weights;
};

// Raises ValueError (devices, ranks, sizes, ranges) or TypeError (dtypes) naming the argument;
// devices are checked first.
RolloutInputs check_rollout_inputs(const at::Tensor& cell_hidden,
                                   const std::optional<at::Tensor>& cell_feed,
                                   const at::Tensor& row_cell, const at::Tensor& row_batch,
                                   const at::Tensor& first_tokens, const at::Tensor& budgets,
                                   const std::optional<at::Tensor>& memory_values,
                                   const std::optional<at::Tensor>& memory_keys,
                                   const at::Tensor& memory_lengths,
                                   const std::vector<at::Tensor>& weights, int64_t eos_id,
                                   c10::string_view cell);

// The same inputs with every floating-point tensor converted to `dtype`.
RolloutInputs with_dtype(const RolloutInputs& in, at::ScalarType dtype);

}  // namespace searnn
