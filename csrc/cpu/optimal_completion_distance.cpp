// CPU optimal-completion distance: every thread index of the CUDA launches, swept through the
// same functors (searnn_ext/optimal_completion_distance.h), split across CPU threads.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "../optimal_completion_inputs.h"
#include "searnn_ext/optimal_completion_distance.h"

namespace searnn {
namespace {

// Thread indices per CPU task: a sequence's walk is steps long, a candidate's one step.
constexpr int64_t kSequencesPerTask = 16;
constexpr int64_t kCandidatesPerTask = 4096;

template <typename Functor>
void sweep(const Functor& functor, int64_t grain_size) {
  at::parallel_for(0, functor.threads(), grain_size, [&](int64_t begin, int64_t end) {
    for (int64_t thread = begin; thread < end; ++thread) {
      functor(thread);
    }
  });
}

at::Tensor optimal_completion_distance_cpu(const at::Tensor& prefix, const at::Tensor& candidates,
                                           const at::Tensor& ref, const at::Tensor& ref_lengths,
                                           std::optional<int64_t> eos_id) {
  const CompletionInputs inputs =
      check_completion_inputs(prefix, candidates, ref, ref_lengths, eos_id);
  AT_DISPATCH_INDEX_TYPES(inputs.prefix.scalar_type(), "optimal_completion_distance_cpu", [&] {
    const CompletionBatch<index_t> batch = inputs.batch<index_t>();
    sweep(PrefixColumns<index_t>{batch}, kSequencesPerTask);
    sweep(CompletionCosts<index_t>{batch}, kCandidatesPerTask);
  });
  return inputs.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CPU, m) {
  m.impl("optimal_completion_distance", &optimal_completion_distance_cpu);
}

}  // namespace searnn
