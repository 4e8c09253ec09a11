// CPU Hamming distance: a parallel loop over pairs around the shared per-row logic.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "../pair_inputs.h"
#include "searnn_ext/hamming_distance.h"

namespace searnn {
namespace {

constexpr int64_t kPairsPerTask = 4096;

at::Tensor hamming_distance_cpu(const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                                const at::Tensor& ref, const at::Tensor& ref_lengths,
                                const std::optional<at::Tensor>& ref_index) {
  const PairInputs inputs =
      check_pair_inputs("hamming_distance", hyp, hyp_lengths, ref, ref_lengths, ref_index);
  at::Tensor out = at::empty({inputs.size()}, hyp.options().dtype(at::kLong));
  int64_t* out_data = out.data_ptr<int64_t>();
  AT_DISPATCH_INDEX_TYPES(inputs.hyp.scalar_type(), "hamming_distance_cpu", [&] {
    const PairBatch<index_t> batch = inputs.batch<index_t>();
    at::parallel_for(0, batch.size, kPairsPerTask, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        out_data[i] = hamming_distance_row(batch, i);
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CPU, m) { m.impl("hamming_distance", &hamming_distance_cpu); }

}  // namespace searnn
