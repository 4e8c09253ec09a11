// The functors of searnn_ext/cells.h and searnn_ext/decoder_math.h over a decode step's tensors,
// each built in one place for every caller: the CPU's portable kernels (cpu/greedy_rollout.cpp),
// the GPU kernels (launches/greedy_rollout_kernels.h) and the C++ test. The tensors must outlive
// the functor.
#pragma once

#include <ATen/ATen.h>

#include "greedy_rollout_loop.h"
#include "searnn_ext/cells.h"
#include "searnn_ext/decoder_math.h"
#include "searnn_ext/dot_attention.h"

namespace searnn {

// state [rows, kStateVectors * H] updated in place, one thread per hidden unit.
template <typename Cell, typename T>
CellUpdate<Cell, T> cell_update_over(const GateRows& input, const GateRows& hidden_gates,
                                     const at::Tensor& hidden_bias, at::Tensor& state) {
  const int64_t hidden_size = state.size(1) / Cell::kStateVectors;
  return CellUpdate<Cell, T>{input.gates.const_data_ptr<T>(),
                             input.row_data(),
                             hidden_gates.gates.const_data_ptr<T>(),
                             hidden_gates.row_data(),
                             hidden_bias.const_data_ptr<T>(),
                             state.data_ptr<T>(),
                             state.size(0) * hidden_size,
                             hidden_size};
}

// context's rows (stride(0) apart) from query [rows, H] over keys [B, S, H] and values
// [B, S, D]; scores [rows, S] is scratch in accumulate_t<T>.
template <typename T>
AdditiveAttention<T> additive_attention_over(const at::Tensor& query, const at::Tensor& keys,
                                             const at::Tensor& values, const at::Tensor& lengths,
                                             const at::Tensor& row_batch,
                                             const at::Tensor& score_weight, at::Tensor& scores,
                                             at::Tensor& context) {
  return AdditiveAttention<T>{query.const_data_ptr<T>(),
                              keys.const_data_ptr<T>(),
                              values.const_data_ptr<T>(),
                              lengths.const_data_ptr<int64_t>(),
                              row_batch.const_data_ptr<int64_t>(),
                              score_weight.const_data_ptr<T>(),
                              scores.data_ptr<accumulate_t<T>>(),
                              context.data_ptr<T>(),
                              context.stride(0),
                              query.size(0),
                              keys.size(1),
                              keys.size(2),
                              values.size(2)};
}

// Whether [B, positions, D] keys and values lie as DotAttention reads them: positions D apart,
// features adjacent, the values' sequences as far apart as the keys' (a dimension of size 1
// may have any stride: it is never stepped over).
inline bool shared_rows_as_read(const at::Tensor& keys, const at::Tensor& values) {
  const auto apart = [](const at::Tensor& t, int64_t dim, int64_t stride) {
    return t.size(dim) <= 1 || t.stride(dim) == stride;
  };
  const int64_t model_size = keys.size(2);
  return keys.sizes() == values.sizes() && apart(values, 0, keys.stride(0)) &&
         apart(keys, 1, model_size) && apart(values, 1, model_size) && apart(keys, 2, 1) &&
         apart(values, 2, 1);
}

// output [rows, D] from query [rows, D] over shared_keys / shared_values [B, positions, D] (rows
// may be strided) and own_keys / own_values [positions, D]; scores [rows * heads, longest run]
// and sums [rows, D] are scratch in accumulate_t<T> (see transformer_rollout_loop.h).
template <typename T>
DotAttention<T> dot_attention_over(const at::Tensor& query, const at::Tensor& shared_keys,
                                   const at::Tensor& shared_values, const at::Tensor& row_batch,
                                   const at::Tensor& shared_lengths, const at::Tensor& own_keys,
                                   const at::Tensor& own_values, const at::Tensor& own_starts,
                                   int64_t own_length, int64_t heads, at::Tensor& scores,
                                   at::Tensor& sums, at::Tensor& output) {
  const int64_t model_size = query.size(1);
  TORCH_INTERNAL_ASSERT(query.is_contiguous() && output.is_contiguous() &&
                        shared_rows_as_read(shared_keys, shared_values) &&
                        own_keys.is_contiguous() && own_values.is_contiguous() &&
                        row_batch.is_contiguous() && shared_lengths.is_contiguous() &&
                        own_starts.is_contiguous());
  using Acc = accumulate_t<T>;
  return DotAttention<T>{query.const_data_ptr<T>(),
                         shared_keys.const_data_ptr<T>(),
                         shared_values.const_data_ptr<T>(),
                         shared_keys.stride(0),
                         row_batch.const_data_ptr<int64_t>(),
                         shared_lengths.const_data_ptr<int64_t>(),
                         own_keys.const_data_ptr<T>(),
                         own_values.const_data_ptr<T>(),
                         own_starts.const_data_ptr<int64_t>(),
                         own_length,
                         scores.data_ptr<Acc>(),
                         sums.data_ptr<Acc>(),
                         output.data_ptr<T>(),
                         scores.size(1),
                         query.size(0),
                         heads,
                         model_size};
}

// The argmax of each row of logits [rows, A] recorded at `step`.
template <typename T>
GreedyPick<T> greedy_pick_over(const at::Tensor& logits, int64_t eos_id, int64_t step,
                               at::Tensor& alive, at::Tensor& next_input, at::Tensor& tokens,
                               at::Tensor& lengths) {
  return GreedyPick<T>{logits.const_data_ptr<T>(),     logits.size(0),
                       logits.size(1),                  eos_id,
                       step,                            alive.data_ptr<bool>(),
                       next_input.data_ptr<int64_t>(), tokens.data_ptr<int64_t>(),
                       tokens.size(1),                  lengths.data_ptr<int64_t>()};
}

}  // namespace searnn
