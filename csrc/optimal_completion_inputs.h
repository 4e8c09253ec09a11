// The boundary of optimal_completion_distance on every device: its arguments checked and
// normalised, and the tensors its two passes write.
#pragma once

#include <ATen/ATen.h>

#include <optional>

#include "searnn_ext/optimal_completion_distance.h"

namespace searnn {

// Token tensors contiguous and of one dtype (int32 only when all three are int32), ref_lengths
// contiguous int64; the scratch and the result allocated on the inputs' device.
struct CompletionInputs {
  at::Tensor prefix;            // [B, T]
  at::Tensor candidates;        // [B, T, K]
  at::Tensor ref;               // [B, Lr]
  at::Tensor ref_lengths;       // [B]
  std::optional<int64_t> eos_id;
  at::Tensor prefix_columns;    // int64 [B, T, words_for_length(Lr), 2]: VerticalDeltas
  at::Tensor prefix_distances;  // int64 [B, T]
  at::Tensor out;               // int64 [B, T, K]

  template <typename Token>
  CompletionBatch<Token> batch() const {
    static_assert(sizeof(VerticalDeltas) == 2 * sizeof(int64_t),
                  "prefix_columns is allocated as int64 pairs");
    return CompletionBatch<Token>{
        prefix.const_data_ptr<Token>(),
        candidates.const_data_ptr<Token>(),
        ref.const_data_ptr<Token>(),
        ref_lengths.const_data_ptr<int64_t>(),
        candidates.size(0),
        candidates.size(1),
        candidates.size(2),
        ref.size(1),
        words_for_length(ref.size(1)),
        eos_id.has_value(),
        eos_id.value_or(0),
        reinterpret_cast<VerticalDeltas*>(prefix_columns.data_ptr<int64_t>()),
        prefix_distances.data_ptr<int64_t>(),
        out.data_ptr<int64_t>()};
  }
};

// Raises TypeError (dtype) or ValueError (rank, sizes, ranges, devices) naming the argument.
CompletionInputs check_completion_inputs(const at::Tensor& prefix, const at::Tensor& candidates,
                                         const at::Tensor& ref, const at::Tensor& ref_lengths,
                                         std::optional<int64_t> eos_id);

}  // namespace searnn
