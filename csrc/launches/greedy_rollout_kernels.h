// The GPU kernels of the roll-out decode loops (the Kernels policy of greedy_rollout_loop.h and
// transformer_rollout_loop.h),
// written once over a Launcher: compiled by nvcc for CUDA (cuda/greedy_rollout.cu) and by the
// C++ compiler for the emulated backend (emulated/greedy_rollout.cpp). The threads run the
// functors of searnn_ext/cells.h and searnn_ext/decoder_math.h.
#pragma once

#include <ATen/Dispatch.h>

#include "../aten_linear.h"
#include "../decoder_functors.h"
#include "../greedy_rollout_loop.h"
#include "../transformer_rollout_loop.h"
#include "launch_plan.h"
#include "searnn_ext/decoder_math.h"

namespace searnn {

template <typename Launcher>
struct GpuKernels : AtenLinear {
  // Reading `alive` on the host synchronises with the device: the loop checks for "every row
  // has ended" once per this many steps, not at every step.
  static constexpr int64_t kStepsBetweenEndChecks = 8;

  // One block of all rows: each launch covers the whole step.
  static int64_t scratch_rows(int64_t rows) { return rows; }

  template <typename Decode>
  static void for_row_blocks(int64_t rows, const Decode& decode) {
    decode(0, rows, 0);
  }

  // One thread per hidden unit.
  template <typename Cell>
  static void cell_update(const GateRows& input, const GateRows& hidden_gates,
                          const at::Tensor& hidden_bias, at::Tensor& state) {
    TORCH_INTERNAL_ASSERT(input.gates.is_contiguous() && hidden_gates.gates.is_contiguous() &&
                          state.is_contiguous());
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, state.scalar_type(),
                                    "cell_update_gpu", [&] {
      const auto update =
          cell_update_over<Cell, scalar_t>(input, hidden_gates, hidden_bias, state);
      Launcher::threads(plan_threads(update.units), update);
    });
  }

  static void tanh_(at::Tensor& values) { values.tanh_(); }

  // ATen's layer norm and index_copy_, a launch each; `out` is not needed.
  static at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias, double eps, at::Tensor& /*out*/) {
    return at::layer_norm(x, {x.size(1)}, weight, bias, eps);
  }

  static void copy_rows(const at::Tensor& destination, const at::Tensor& index,
                        const at::Tensor& source) {
    destination.index_copy_(0, index, source);
  }

  static void additive_attention(const at::Tensor& query, const at::Tensor& keys,
                                 const at::Tensor& values, const at::Tensor& lengths,
                                 const at::Tensor& row_batch, const at::Tensor& score_weight,
                                 at::Tensor& context) {
    const int64_t rows = query.size(0), source = keys.size(1);
    TORCH_INTERNAL_ASSERT(query.is_contiguous() && keys.is_contiguous() &&
                          values.is_contiguous() && context.stride(1) == 1);
    Launcher::poison(context);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, query.scalar_type(),
                                    "additive_attention_gpu", [&] {
      using Acc = accumulate_t<scalar_t>;
      at::Tensor scores =
          Launcher::empty({rows, source}, query.options().dtype(c10::CppTypeToScalarType<Acc>()));
      Launcher::warps(plan_warps(rows),
                      additive_attention_over<scalar_t>(query, keys, values, lengths, row_batch,
                                                        score_weight, scores, context));
    });
  }

  // A warp per row and head.
  static void dot_attention(const at::Tensor& query, const at::Tensor& shared_keys,
                            const at::Tensor& shared_values, const at::Tensor& row_batch,
                            const at::Tensor& shared_lengths, const at::Tensor& own_keys,
                            const at::Tensor& own_values, const at::Tensor& own_starts,
                            int64_t own_length, int64_t heads, at::Tensor& output) {
    const int64_t rows = query.size(0);
    const int64_t longest = shared_keys.size(1) + own_length;
    Launcher::poison(output);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, query.scalar_type(),
                                    "dot_attention_gpu", [&] {
      const auto acc = query.options().dtype(c10::CppTypeToScalarType<accumulate_t<scalar_t>>());
      at::Tensor scores = Launcher::empty({rows * heads, longest}, acc);
      at::Tensor sums = Launcher::empty(query.sizes(), acc);
      Launcher::warps(plan_warps(rows * heads),
                      dot_attention_over<scalar_t>(query, shared_keys, shared_values, row_batch,
                                                   shared_lengths, own_keys, own_values,
                                                   own_starts, own_length, heads, scores, sums,
                                                   output));
    });
  }

  static void greedy_pick(const at::Tensor& logits, int64_t eos_id, int64_t step,
                          at::Tensor alive, at::Tensor next_input, at::Tensor tokens,
                          at::Tensor lengths) {
    const int64_t rows = logits.size(0);
    TORCH_INTERNAL_ASSERT(logits.is_contiguous() && tokens.stride(1) == 1);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                    "greedy_pick_gpu", [&] {
      Launcher::warps(plan_warps(rows), greedy_pick_over<scalar_t>(logits, eos_id, step, alive,
                                                                   next_input, tokens, lengths));
    });
  }
};

}  // namespace searnn
