// CUDA Hamming distance: one thread per pair running hamming_distance_row, the same function
// as the CPU loop.
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../pair_inputs.h"
#include "launch.h"
#include "searnn_ext/hamming_distance.h"

namespace searnn {
namespace {

template <typename Token>
__global__ void hamming_distance_kernel(PairBatch<Token> batch, int64_t* out) {
  const int64_t i = global_thread_index();
  if (i < batch.size) {
    out[i] = hamming_distance_row(batch, i);
  }
}

at::Tensor hamming_distance_cuda(const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                                 const at::Tensor& ref, const at::Tensor& ref_lengths,
                                 const std::optional<at::Tensor>& ref_index) {
  const c10::cuda::CUDAGuard device_guard(hyp.device());
  const PairInputs inputs =
      check_pair_inputs("hamming_distance", hyp, hyp_lengths, ref, ref_lengths, ref_index);
  const int64_t size = inputs.size();
  at::Tensor out = at::empty({size}, hyp.options().dtype(at::kLong));
  if (size == 0) {
    return out;
  }
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_INDEX_TYPES(inputs.hyp.scalar_type(), "hamming_distance_cuda", [&] {
    hamming_distance_kernel<<<blocks_for(size), kThreadsPerBlock, 0, stream>>>(
        inputs.batch<index_t>(), out.data_ptr<int64_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CUDA, m) { m.impl("hamming_distance", &hamming_distance_cuda); }

}  // namespace searnn
