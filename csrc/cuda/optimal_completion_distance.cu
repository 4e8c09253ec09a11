// CUDA optimal-completion distance: inputs checked (devices first, before the device guard),
// then launches/optimal_completion_distance.h on the CUDA launcher.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../launches/optimal_completion_distance.h"
#include "launcher.cuh"

namespace searnn {
namespace {

at::Tensor optimal_completion_distance_cuda(const at::Tensor& prefix,
                                            const at::Tensor& candidates, const at::Tensor& ref,
                                            const at::Tensor& ref_lengths,
                                            std::optional<int64_t> eos_id) {
  const CompletionInputs inputs =
      check_completion_inputs(prefix, candidates, ref, ref_lengths, eos_id);
  const c10::cuda::CUDAGuard device_guard(prefix.device());
  return optimal_completion_distance_gpu<CudaLauncher>(inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CUDA, m) {
  m.impl("optimal_completion_distance", &optimal_completion_distance_cuda);
}

}  // namespace searnn
