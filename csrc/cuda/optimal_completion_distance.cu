// CUDA optimal-completion distance: two launches, each a shell around a functor of
// searnn_ext/optimal_completion_distance.h that the CPU kernel and the C++ test sweep on the host.
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../optimal_completion_inputs.h"
#include "launch.h"
#include "searnn_ext/optimal_completion_distance.h"

namespace searnn {
namespace {

template <typename Token>
__global__ void prefix_columns_kernel(PrefixColumns<Token> walk) {
  walk(global_thread_index());
}

template <typename Token>
__global__ void completion_costs_kernel(CompletionCosts<Token> costs) {
  costs(global_thread_index());
}

at::Tensor optimal_completion_distance_cuda(const at::Tensor& prefix,
                                            const at::Tensor& candidates, const at::Tensor& ref,
                                            const at::Tensor& ref_lengths,
                                            std::optional<int64_t> eos_id) {
  const c10::cuda::CUDAGuard device_guard(prefix.device());
  const CompletionInputs inputs =
      check_completion_inputs(prefix, candidates, ref, ref_lengths, eos_id);
  if (inputs.out.numel() == 0) {
    return inputs.out;
  }
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_INDEX_TYPES(inputs.prefix.scalar_type(), "optimal_completion_distance_cuda", [&] {
    const CompletionBatch<index_t> batch = inputs.batch<index_t>();
    const PrefixColumns<index_t> walk{batch};
    prefix_columns_kernel<<<blocks_for(walk.threads()), kThreadsPerBlock, 0, stream>>>(walk);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    // Same stream: the costs launch starts after every prefix column is written.
    const CompletionCosts<index_t> costs{batch};
    completion_costs_kernel<<<blocks_for(costs.threads()), kThreadsPerBlock, 0, stream>>>(costs);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return inputs.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CUDA, m) {
  m.impl("optimal_completion_distance", &optimal_completion_distance_cuda);
}

}  // namespace searnn
