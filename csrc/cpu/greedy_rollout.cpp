// CPU kernels of the roll-out decode loop: parallel loops over rows (or units) calling the
// shared math of searnn_ext/decoder_math.h.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../greedy_rollout_loop.h"
#include "searnn_ext/decoder_math.h"

namespace searnn {
namespace {

// Rows per task for per-row work; units per task for element-wise work.
constexpr int64_t kRowsPerTask = 16;
constexpr int64_t kUnitsPerTask = 4096;
constexpr int64_t kPicksPerTask = 256;

struct CpuKernels {
  static void gru_update(const at::Tensor& input_gates, const at::Tensor& hidden_gates,
                         at::Tensor& hidden) {
    const int64_t hidden_size = hidden.size(1);
    AT_DISPATCH_FLOATING_TYPES(hidden.scalar_type(), "gru_update_cpu", [&] {
      const scalar_t* gi = input_gates.const_data_ptr<scalar_t>();
      const scalar_t* gh = hidden_gates.const_data_ptr<scalar_t>();
      scalar_t* h = hidden.data_ptr<scalar_t>();
      at::parallel_for(0, hidden.numel(), kUnitsPerTask, [&](int64_t begin, int64_t end) {
        for (int64_t unit = begin; unit < end; ++unit) {
          gru_update_unit(gi, gh, h, unit / hidden_size, unit % hidden_size, hidden_size);
        }
      });
    });
  }

  static at::Tensor additive_attention(const at::Tensor& query, const at::Tensor& keys,
                                       const at::Tensor& values, const at::Tensor& lengths,
                                       const at::Tensor& score_weight,
                                       const at::Tensor& row_batch) {
    const int64_t rows = query.size(0), source = keys.size(1);
    const int64_t hidden_size = keys.size(2), value_size = values.size(2);
    at::Tensor context = at::empty({rows, value_size}, values.options());
    AT_DISPATCH_FLOATING_TYPES(query.scalar_type(), "additive_attention_cpu", [&] {
      const scalar_t* q = query.const_data_ptr<scalar_t>();
      const scalar_t* k = keys.const_data_ptr<scalar_t>();
      const scalar_t* v = values.const_data_ptr<scalar_t>();
      const scalar_t* weight = score_weight.const_data_ptr<scalar_t>();
      const int64_t* length = lengths.const_data_ptr<int64_t>();
      const int64_t* batch = row_batch.const_data_ptr<int64_t>();
      scalar_t* out = context.data_ptr<scalar_t>();
      at::parallel_for(0, rows, kRowsPerTask, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> scores(static_cast<size_t>(source));
        for (int64_t r = begin; r < end; ++r) {
          const int64_t b = batch[r];
          additive_attention_row(q + r * hidden_size, k + b * source * hidden_size,
                                 v + b * source * value_size, length[b], weight, hidden_size,
                                 value_size, scores.data(), out + r * value_size);
        }
      });
    });
    return context;
  }

  static void greedy_pick(const at::Tensor& logits, int64_t eos_id, int64_t step,
                          at::Tensor alive, at::Tensor next_input, at::Tensor tokens,
                          at::Tensor lengths) {
    const int64_t vocab = logits.size(1), width = tokens.size(1);
    AT_DISPATCH_FLOATING_TYPES(logits.scalar_type(), "greedy_pick_cpu", [&] {
      const scalar_t* scores = logits.const_data_ptr<scalar_t>();
      bool* is_alive = alive.data_ptr<bool>();
      int64_t* next = next_input.data_ptr<int64_t>();
      int64_t* out = tokens.data_ptr<int64_t>();
      int64_t* length = lengths.data_ptr<int64_t>();
      at::parallel_for(0, logits.size(0), kPicksPerTask, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          greedy_pick_row(scores + r * vocab, vocab, eos_id, step, is_alive + r, next + r,
                          out + r * width, length + r);
        }
      });
    });
  }
};

std::tuple<at::Tensor, at::Tensor> greedy_rollout_cpu(
    const at::Tensor& cell_hidden, const std::optional<at::Tensor>& cell_feed,
    const at::Tensor& row_cell, const at::Tensor& row_batch, const at::Tensor& first_tokens,
    const at::Tensor& budgets, const std::optional<at::Tensor>& memory_values,
    const std::optional<at::Tensor>& memory_keys, const at::Tensor& memory_lengths,
    at::TensorList weights, int64_t eos_id) {
  const RolloutInputs inputs = check_rollout_inputs(
      cell_hidden, cell_feed, row_cell, row_batch, first_tokens, budgets, memory_values,
      memory_keys, memory_lengths, weights.vec(), eos_id);
  return greedy_rollout_loop<CpuKernels>(inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CPU, m) { m.impl("greedy_rollout", &greedy_rollout_cpu); }

}  // namespace searnn
