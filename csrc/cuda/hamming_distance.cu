// CUDA Hamming distance: inputs checked (devices first, before the device guard), then
// launches/hamming_distance.h on the CUDA launcher.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../launches/hamming_distance.h"
#include "launcher.cuh"

namespace searnn {
namespace {

at::Tensor hamming_distance_cuda(const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                                 const at::Tensor& ref, const at::Tensor& ref_lengths,
                                 const std::optional<at::Tensor>& ref_index) {
  const PairInputs inputs =
      check_pair_inputs("hamming_distance", hyp, hyp_lengths, ref, ref_lengths, ref_index);
  const c10::cuda::CUDAGuard device_guard(hyp.device());
  return hamming_distance_gpu<CudaLauncher>(inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CUDA, m) { m.impl("hamming_distance", &hamming_distance_cuda); }

}  // namespace searnn
