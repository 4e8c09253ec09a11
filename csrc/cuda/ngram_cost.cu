// CUDA BLEU and GLEU costs: inputs checked (devices first, before the device guard), then
// launches/ngram_cost.h on the CUDA launcher.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../launches/ngram_cost.h"
#include "launcher.cuh"

namespace searnn {
namespace {

template <typename Cost>
at::Tensor ngram_cost_cuda(const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                           const at::Tensor& ref, const at::Tensor& ref_lengths,
                           const std::optional<at::Tensor>& ref_index) {
  const PairInputs inputs =
      check_pair_inputs(Cost::kName, hyp, hyp_lengths, ref, ref_lengths, ref_index);
  const c10::cuda::CUDAGuard device_guard(hyp.device());
  return ngram_cost_gpu<Cost, CudaLauncher>(inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CUDA, m) {
  m.impl("bleu_cost", &ngram_cost_cuda<BleuCost>);
  m.impl("gleu_cost", &ngram_cost_cuda<GleuCost>);
}

}  // namespace searnn
