// The GPU BLEU and GLEU costs around their launch, written once over a Launcher: compiled by nvcc
// for CUDA (cuda/ngram_cost.cu) and by the C++ compiler for the emulated backend
// (emulated/ngram_cost.cpp).
#pragma once

#include <ATen/Dispatch.h>

#include "../pair_inputs.h"
#include "launch_plan.h"
#include "searnn_ext/ngram_cost.h"

namespace searnn {

template <typename Cost, typename Launcher>
at::Tensor ngram_cost_gpu(const PairInputs& inputs) {
  at::Tensor out = Launcher::empty({inputs.size()}, inputs.hyp.options().dtype(at::kFloat));
  AT_DISPATCH_INDEX_TYPES(inputs.hyp.scalar_type(), "ngram_cost_gpu", [&] {
    Launcher::threads(plan_threads(inputs.size()),
                      NgramCostThreads<Cost, index_t>{inputs.batch<index_t>(),
                                                      out.data_ptr<float>()});
  });
  return out;
}

}  // namespace searnn
