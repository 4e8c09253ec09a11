// CPU edit distance: pairs split across threads; each thread builds a reference's match table
// once and reuses it while consecutive pairs share that reference (the SEARNN shape, where
// every roll-out of a sequence is scored against the same ground truth).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../pair_inputs.h"
#include "searnn_ext/bit_parallel_edit_distance.h"
#include "searnn_ext/hashed_match_table.h"

namespace searnn {
namespace {

// Pairs per task: enough to amortise a thread's table set-up.
constexpr int64_t kPairsPerTask = 2048;

template <typename Token>
void edit_distance_cpu_kernel(const PairBatch<Token>& batch, int64_t max_ref_length,
                              int64_t* out) {
  at::parallel_for(0, batch.size, kPairsPerTask, [&](int64_t begin, int64_t end) {
    HashedMatchTable match_table(max_ref_length);
    std::vector<VerticalDeltas> columns(static_cast<size_t>(words_for_length(max_ref_length)));
    int64_t assigned_row = -1;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t row = batch.ref_row(i);
      if (row != assigned_row) {
        match_table.assign(batch.ref_tokens(row), batch.ref_lengths[row]);
        assigned_row = row;
      }
      out[i] = edit_distance_pair(batch.hyp_tokens(i), batch.hyp_lengths[i],
                                  batch.ref_lengths[row], match_table, columns.data(), 1);
    }
  });
}

at::Tensor edit_distance_cpu(const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                             const at::Tensor& ref, const at::Tensor& ref_lengths,
                             const std::optional<at::Tensor>& ref_index) {
  const PairInputs inputs =
      check_pair_inputs("edit_distance", hyp, hyp_lengths, ref, ref_lengths, ref_index);
  at::Tensor out = at::empty({inputs.size()}, hyp.options().dtype(at::kLong));
  AT_DISPATCH_INDEX_TYPES(inputs.hyp.scalar_type(), "edit_distance_cpu", [&] {
    edit_distance_cpu_kernel(inputs.batch<index_t>(), inputs.ref.size(1),
                             out.data_ptr<int64_t>());
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CPU, m) { m.impl("edit_distance", &edit_distance_cpu); }

}  // namespace searnn
