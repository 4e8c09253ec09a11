// The GPU edit distance around its launches, written once over a Launcher (see
// hamming_distance.h): one thread per (reference, word) builds the match tables, then one thread
// per pair runs the bit-parallel distance.
#pragma once

#include <ATen/Dispatch.h>

#include "../pair_inputs.h"
#include "launch_plan.h"
#include "match_tables.h"

namespace searnn {

template <typename Launcher>
at::Tensor edit_distance_gpu(const PairInputs& inputs) {
  const int64_t pairs = inputs.size();
  const auto long_options = inputs.hyp.options().dtype(at::kLong);
  at::Tensor out = Launcher::empty({pairs}, long_options);
  const MatchTableBuffers buffers = MatchTableBuffers::allocate<Launcher>(inputs.ref);
  const int64_t words = buffers.words;
  static_assert(sizeof(VerticalDeltas) == 2 * sizeof(int64_t), "scratch is allocated as int64");
  at::Tensor columns = Launcher::empty({words > 1 ? words * pairs * 2 : 0}, long_options);
  VerticalDeltas* columns_data =
      words > 1 ? reinterpret_cast<VerticalDeltas*>(columns.data_ptr<int64_t>()) : nullptr;
  AT_DISPATCH_INDEX_TYPES(inputs.hyp.scalar_type(), "edit_distance_gpu", [&] {
    const auto tables = buffers.build<Launcher, index_t>(inputs.ref, inputs.ref_lengths);
    Launcher::threads(plan_threads(pairs),
                      EditDistanceThreads<index_t>{inputs.batch<index_t>(), tables, columns_data,
                                                   out.data_ptr<int64_t>()});
  });
  return out;
}

}  // namespace searnn
