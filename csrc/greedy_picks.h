// What the greedy choices of a decode loop (greedy_rollout_loop.h, transformer_rollout_loop.h)
// write, and when the loop may stop: each roll-out's tokens before EOS [R, steps] and their
// counts [R] (the results), whether it is still decoding [R], and its next input [R] (its forced
// candidate first).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace searnn {

struct GreedyPicks {
  at::Tensor tokens, lengths, alive, next_input;

  GreedyPicks(const at::Tensor& first_tokens, int64_t steps) {
    const int64_t rows = first_tokens.size(0);
    const auto options = first_tokens.options();
    tokens = at::zeros({rows, steps}, options);
    lengths = at::zeros({rows}, options);
    alive = at::ones({rows}, options.dtype(at::kBool));
    next_input = first_tokens.clone();
  }

  // Rows [begin, begin + size) choose at `step` from their logits [size, A], with Kernels'
  // greedy_pick (eos_id < 0: a fixed-length task).
  template <typename Kernels>
  void pick(const at::Tensor& logits, int64_t eos_id, int64_t step, int64_t begin,
            int64_t size) {
    Kernels::greedy_pick(logits, eos_id, step, alive.narrow(0, begin, size),
                         next_input.narrow(0, begin, size), tokens.narrow(0, begin, size),
                         lengths.narrow(0, begin, size));
  }

  // Whether roll-outs [begin, begin + size) have all emitted EOS after `step`. Asked only every
  // Kernels::kStepsBetweenEndChecks steps: it is a host read, a device synchronisation on GPUs.
  template <typename Kernels>
  bool all_ended(int64_t eos_id, int64_t step, int64_t begin, int64_t size) const {
    const bool checks = (step + 1) % Kernels::kStepsBetweenEndChecks == 0;
    return eos_id >= 0 && checks && !alive.narrow(0, begin, size).any().item<bool>();
  }
};

}  // namespace searnn
