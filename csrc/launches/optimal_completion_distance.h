// optimal_completion_distance around its three launches, written once over a Launcher (see
// hamming_distance.h): the match tables of the references, then PrefixColumns (one thread
// per sequence), then CompletionCosts (one thread per candidate), each launch reading what the
// one before wrote. The CPU runs the same launches, its threads in parallel: with no decoding,
// the work is small enough that one algorithm serves every device.
#pragma once

#include <ATen/Dispatch.h>

#include "../optimal_completion_inputs.h"
#include "launch_plan.h"
#include "match_tables.h"
#include "searnn_ext/optimal_completion_distance.h"

namespace searnn {

template <typename Launcher>
at::Tensor optimal_completion_distance_gpu(const CompletionInputs& inputs) {
  const int64_t batch = inputs.candidates.size(0), steps = inputs.candidates.size(1);
  const auto long_options = inputs.prefix.options().dtype(at::kLong);
  at::Tensor out = Launcher::empty(inputs.candidates.sizes(), long_options);
  const MatchTableBuffers buffers = MatchTableBuffers::allocate<Launcher>(inputs.ref);
  static_assert(sizeof(VerticalDeltas) == 2 * sizeof(int64_t), "columns are allocated as int64");
  at::Tensor prefix_columns = Launcher::empty({batch, steps, buffers.words, 2}, long_options);
  at::Tensor prefix_distances = Launcher::empty({batch, steps}, long_options);
  AT_DISPATCH_INDEX_TYPES(inputs.prefix.scalar_type(), "optimal_completion_distance_gpu", [&] {
    const CompletionBatch<index_t> completions{
        inputs.prefix.const_data_ptr<index_t>(),
        inputs.candidates.const_data_ptr<index_t>(),
        inputs.ref_lengths.const_data_ptr<int64_t>(),
        batch,
        steps,
        inputs.candidates.size(2),
        inputs.eos_id.has_value(),
        inputs.eos_id.value_or(0),
        buffers.build<Launcher, index_t>(inputs.ref, inputs.ref_lengths),
        reinterpret_cast<VerticalDeltas*>(prefix_columns.data_ptr<int64_t>()),
        prefix_distances.data_ptr<int64_t>(),
        out.data_ptr<int64_t>()};
    const PrefixColumns<index_t> walk{completions};
    Launcher::threads(plan_threads(walk.threads()), walk);
    const CompletionCosts<index_t> costs{completions};
    Launcher::threads(plan_threads(costs.threads()), costs);
  });
  return out;
}

}  // namespace searnn
