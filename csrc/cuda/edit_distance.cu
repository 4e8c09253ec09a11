// CUDA edit distance: inputs checked (devices first, before the device guard), then
// launches/edit_distance.h on the CUDA launcher.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../launches/edit_distance.h"
#include "launcher.cuh"

namespace searnn {
namespace {

at::Tensor edit_distance_cuda(const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                              const at::Tensor& ref, const at::Tensor& ref_lengths,
                              const std::optional<at::Tensor>& ref_index) {
  const PairInputs inputs =
      check_pair_inputs("edit_distance", hyp, hyp_lengths, ref, ref_lengths, ref_index);
  const c10::cuda::CUDAGuard device_guard(hyp.device());
  return edit_distance_gpu<CudaLauncher>(inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CUDA, m) { m.impl("edit_distance", &edit_distance_cuda); }

}  // namespace searnn
