// The boundary of optimal_completion_distance on every device: its arguments checked and
// normalised.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace searnn {

// Token tensors contiguous and of one dtype (int32 only when all three are int32), ref_lengths
// contiguous int64.
struct CompletionInputs {
  at::Tensor prefix;       // [B, T]
  at::Tensor candidates;   // [B, T, K]
  at::Tensor ref;          // [B, Lr]
  at::Tensor ref_lengths;  // [B]
  std::optional<int64_t> eos_id;
};

// Raises TypeError (dtype) or ValueError (rank, sizes, ranges, devices) naming the argument.
CompletionInputs check_completion_inputs(const at::Tensor& prefix, const at::Tensor& candidates,
                                         const at::Tensor& ref, const at::Tensor& ref_lengths,
                                         std::optional<int64_t> eos_id);

}  // namespace searnn
