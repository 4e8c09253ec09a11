#include "optimal_completion_inputs.h"

#include <c10/util/Exception.h>

#include "input_checks.h"

namespace searnn {

constexpr const char* kOp = "optimal_completion_distance";

CompletionInputs check_completion_inputs(const at::Tensor& prefix, const at::Tensor& candidates,
                                         const at::Tensor& ref, const at::Tensor& ref_lengths,
                                         std::optional<int64_t> eos_id) {
  // Devices first: on CUDA this runs before the device guard, and names the argument at fault.
  check_same_device(kOp, "candidates", candidates, "prefix", prefix);
  check_same_device(kOp, "ref", ref, "prefix", prefix);
  check_same_device(kOp, "ref_lengths", ref_lengths, "prefix", prefix);
  check_index_tensor(kOp, "prefix", prefix, 2);
  check_index_tensor(kOp, "candidates", candidates, 3);
  check_index_tensor(kOp, "ref", ref, 2);
  check_index_tensor(kOp, "ref_lengths", ref_lengths, 1);
  const int64_t batch = prefix.size(0), steps = prefix.size(1);
  TORCH_CHECK_VALUE(candidates.size(0) == batch && candidates.size(1) == steps, kOp,
                    ": candidates must have shape [", batch, ", ", steps,
                    ", K] (prefix's rows and steps), got ", candidates.sizes());
  TORCH_CHECK_VALUE(ref.size(0) == batch, kOp, ": ref must have one row per prefix row (", batch,
                    "), got ", ref.size(0));
  TORCH_CHECK_VALUE(ref_lengths.size(0) == batch, kOp,
                    ": ref_lengths must have one entry per prefix row (", batch, "), got ",
                    ref_lengths.size(0));
  check_range(kOp, "ref_lengths", ref_lengths, 0, ref.size(1), "the width of ref");

  const auto token_dtype = at::promote_types(
      at::promote_types(prefix.scalar_type(), candidates.scalar_type()), ref.scalar_type());
  const auto tokens = [&](const at::Tensor& t) { return t.to(token_dtype).contiguous(); };
  return CompletionInputs{tokens(prefix), tokens(candidates), tokens(ref),
                          ref_lengths.to(at::kLong).contiguous(), eos_id};
}

}  // namespace searnn
