// The arguments of transformer_rollout, checked and named: the roll-outs to decode, the roll-in's
// shared KV cache, the source memory and the decoder's weights, in the order
// searnn_ext/rollout_transformer.py passes them.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace searnn {

struct LayerNormWeights {
  at::Tensor weight, bias;  // [D] each
};

struct LinearWeights {
  at::Tensor weight, bias;  // [out, in], [out]
};

// One decoder layer of searnn_ext.transformer._Block (pre-LN): self-attention, cross-attention
// and the feed-forward network, each behind its LayerNorm.
struct TransformerLayerWeights {
  LayerNormWeights self_norm;
  LinearWeights self_query, self_key_value, self_output;  // [D, D], [2D, D], [D, D]
  LayerNormWeights cross_norm;
  LinearWeights cross_query, cross_output;  // [D, D] each
  LayerNormWeights ffn_norm;
  LinearWeights ffn_input, ffn_output;  // [F, D], [D, F]
};

struct TransformerWeights {
  at::Tensor embedding;  // [A + 1, D], the last row is BOS
  at::Tensor positions;  // [P_max, D] sinusoids
  std::vector<TransformerLayerWeights> layers;
  LayerNormWeights final_norm;
  LinearWeights output;  // [A, D]
};

// Every layer's keys and values are [B, L, positions, D]: layer l of sequence b at [b, l].
struct TransformerRolloutInputs {
  at::Tensor prefix_keys, prefix_values;  // [B, L, P, D]: the roll-in's cache (BOS first)
  at::Tensor row_batch;                   // [R] int64: each roll-out's sequence
  at::Tensor row_prefix;                  // [R] int64 in [1, P]: cached positions it reads
  at::Tensor first_tokens;                // [R] int64: the forced candidates
  at::Tensor budgets;                     // [R] int64, non-increasing: tokens to decode at most
  at::Tensor memory_keys, memory_values;  // [B, L, S, D]: cross-attention's projections
  at::Tensor memory_lengths;              // [B] int64 in [1, S]
  int64_t heads;
  int64_t eos_id;  // < 0: a fixed-length task
  TransformerWeights weights;
};

// Raises ValueError (devices, ranks, sizes, ranges) or TypeError (dtypes) naming the argument;
// devices are checked first.
TransformerRolloutInputs check_transformer_inputs(
    const at::Tensor& prefix_keys, const at::Tensor& prefix_values, const at::Tensor& row_batch,
    const at::Tensor& row_prefix, const at::Tensor& first_tokens, const at::Tensor& budgets,
    const at::Tensor& memory_keys, const at::Tensor& memory_values,
    const at::Tensor& memory_lengths, const std::vector<at::Tensor>& weights, int64_t heads,
    int64_t eos_id);

// The same inputs with every floating-point tensor converted to `dtype`.
TransformerRolloutInputs with_dtype(const TransformerRolloutInputs& in, at::ScalarType dtype);

}  // namespace searnn
