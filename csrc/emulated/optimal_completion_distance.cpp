// Emulated CUDA optimal-completion distance: the CUDA path of cuda/optimal_completion_distance.cu
// with the emulated launcher, on CPU tensors (torch.ops.searnn_emulated.optimal_completion_distance).
#include <torch/library.h>

#include "../launches/optimal_completion_distance.h"
#include "launcher.h"

namespace searnn {
namespace {

at::Tensor optimal_completion_distance_emulated(const at::Tensor& prefix,
                                                const at::Tensor& candidates,
                                                const at::Tensor& ref,
                                                const at::Tensor& ref_lengths,
                                                std::optional<int64_t> eos_id) {
  const CompletionInputs inputs =
      check_completion_inputs(prefix, candidates, ref, ref_lengths, eos_id);
  return optimal_completion_distance_gpu<EmulatedLauncher>(inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn_emulated, CPU, m) {
  m.impl("optimal_completion_distance", &optimal_completion_distance_emulated);
}

}  // namespace searnn
