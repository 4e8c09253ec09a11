// CUDA edit distance: one thread per pair running scanned_edit_distance_row, the same function
// the C++ test sweeps on the CPU.
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../pair_inputs.h"
#include "launch.h"
#include "searnn_ext/scanned_pattern_masks.h"

namespace searnn {
namespace {

// Scratch word w of pair i is columns[w * batch.size + i], so that neighbouring threads touch
// neighbouring words. Unused (null) when every reference fits one word.
template <typename Token>
__global__ void edit_distance_kernel(PairBatch<Token> batch, VerticalDeltas* columns,
                                     int64_t* out) {
  const int64_t i = global_thread_index();
  if (i < batch.size) {
    out[i] = scanned_edit_distance_row(batch, i, columns ? columns + i : nullptr, batch.size);
  }
}

at::Tensor edit_distance_cuda(const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                              const at::Tensor& ref, const at::Tensor& ref_lengths,
                              const std::optional<at::Tensor>& ref_index) {
  const c10::cuda::CUDAGuard device_guard(hyp.device());
  const PairInputs inputs =
      check_pair_inputs("edit_distance", hyp, hyp_lengths, ref, ref_lengths, ref_index);
  const int64_t size = inputs.size();
  at::Tensor out = at::empty({size}, hyp.options().dtype(at::kLong));
  if (size == 0) {
    return out;
  }
  const int64_t words = words_for_length(inputs.ref.size(1));
  static_assert(sizeof(VerticalDeltas) == 2 * sizeof(int64_t), "scratch is allocated as int64");
  at::Tensor columns =
      words > 1 ? at::empty({words * size * 2}, hyp.options().dtype(at::kLong)) : at::Tensor();
  VerticalDeltas* columns_data =
      words > 1 ? reinterpret_cast<VerticalDeltas*>(columns.data_ptr<int64_t>()) : nullptr;
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_INDEX_TYPES(inputs.hyp.scalar_type(), "edit_distance_cuda", [&] {
    edit_distance_kernel<<<blocks_for(size), kThreadsPerBlock, 0, stream>>>(
        inputs.batch<index_t>(), columns_data, out.data_ptr<int64_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CUDA, m) { m.impl("edit_distance", &edit_distance_cuda); }

}  // namespace searnn
