// CPU optimal-completion distance: launches/optimal_completion_distance.h on a CPU launcher,
// each launch's thread indices split across CPU threads.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "../launches/optimal_completion_distance.h"

namespace searnn {
namespace {

// Runs a launch's threads in parallel; a launch ends before the next one starts, as on a stream.
struct ParallelCpuLauncher {
  // At least this many thread indices per CPU task (a candidate's thread is one column step).
  static constexpr int64_t kGrainSize = 16;

  static at::Tensor empty(at::IntArrayRef sizes, const at::TensorOptions& options) {
    return at::empty(sizes, options);
  }

  template <typename Threads>
  static void threads(const LaunchPlan& plan, const Threads& body) {
    at::parallel_for(0, plan.threads(), kGrainSize, [&](int64_t begin, int64_t end) {
      for (int64_t thread = begin; thread < end; ++thread) {
        body(thread);
      }
    });
  }
};

at::Tensor optimal_completion_distance_cpu(const at::Tensor& prefix, const at::Tensor& candidates,
                                           const at::Tensor& ref, const at::Tensor& ref_lengths,
                                           std::optional<int64_t> eos_id) {
  const CompletionInputs inputs =
      check_completion_inputs(prefix, candidates, ref, ref_lengths, eos_id);
  return optimal_completion_distance_gpu<ParallelCpuLauncher>(inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CPU, m) {
  m.impl("optimal_completion_distance", &optimal_completion_distance_cpu);
}

}  // namespace searnn
