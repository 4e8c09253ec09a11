// The GPU Hamming distance around its launch, written once over a Launcher: compiled by nvcc
// for CUDA (cuda/hamming_distance.cu) and by the C++ compiler for the emulated backend
// (emulated/hamming_distance.cpp).
#pragma once

#include <ATen/Dispatch.h>

#include "../pair_inputs.h"
#include "launch_plan.h"
#include "searnn_ext/hamming_distance.h"

namespace searnn {

template <typename Launcher>
at::Tensor hamming_distance_gpu(const PairInputs& inputs) {
  at::Tensor out = Launcher::empty({inputs.size()}, inputs.hyp.options().dtype(at::kLong));
  AT_DISPATCH_INDEX_TYPES(inputs.hyp.scalar_type(), "hamming_distance_gpu", [&] {
    Launcher::threads(plan_threads(inputs.size()),
                      HammingDistanceThreads<index_t>{inputs.batch<index_t>(),
                                                      out.data_ptr<int64_t>()});
  });
  return out;
}

}  // namespace searnn
