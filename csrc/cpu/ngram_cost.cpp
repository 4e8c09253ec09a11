// CPU BLEU and GLEU costs: a parallel loop over pairs around the shared per-pair logic.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "../pair_inputs.h"
#include "searnn_ext/ngram_cost.h"

namespace searnn {
namespace {

constexpr int64_t kPairsPerTask = 1024;

template <typename Cost>
at::Tensor ngram_cost_cpu(const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                          const at::Tensor& ref, const at::Tensor& ref_lengths,
                          const std::optional<at::Tensor>& ref_index) {
  const PairInputs inputs =
      check_pair_inputs(Cost::kName, hyp, hyp_lengths, ref, ref_lengths, ref_index);
  at::Tensor out = at::empty({inputs.size()}, hyp.options().dtype(at::kFloat));
  float* out_data = out.data_ptr<float>();
  AT_DISPATCH_INDEX_TYPES(inputs.hyp.scalar_type(), "ngram_cost_cpu", [&] {
    const PairBatch<index_t> batch = inputs.batch<index_t>();
    at::parallel_for(0, batch.size, kPairsPerTask, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        out_data[i] = ngram_cost_row<Cost>(batch, i);
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CPU, m) {
  m.impl("bleu_cost", &ngram_cost_cpu<BleuCost>);
  m.impl("gleu_cost", &ngram_cost_cpu<GleuCost>);
}

}  // namespace searnn
