// CPU kernels of the roll-out decode loop: parallel loops over rows (or units) calling the
// shared math of searnn_ext/decoder_math.h.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>

#include "../greedy_rollout_loop.h"
#include "searnn_ext/decoder_math.h"

namespace searnn {
namespace {

// Rows per task of the per-row argmax; rows per block of the attention, whose [rows, S, H]
// energies stay in cache-sized pieces.
constexpr int64_t kPicksPerTask = 256;
constexpr int64_t kAttentionRowsPerBlock = 256;

// The GRU update and additive attention are transcendental-heavy: on the CPU they go through
// ATen's vectorised tanh / sigmoid (as torch.nn.GRUCell and Seq2Seq.attend do), which beat a
// scalar loop over decoder_math.h several times. The CUDA kernels use decoder_math.h, and the
// C++ test sweeps those per-row functions on the host against these formulas.
struct CpuKernels {
  // In the work buffers; input_gates is consumed. Each step works on contiguous [n, 2H] and
  // [n, H] pieces, where ATen's vectorised sigmoid / tanh run several times faster than on
  // strided views of the [n, 3H] gates.
  static void gru_update(at::Tensor& input_gates, const at::Tensor& hidden_gates,
                         at::Tensor& hidden) {
    const int64_t hidden_size = hidden.size(1);
    at::Tensor reset_update = input_gates.narrow(1, 0, 2 * hidden_size)
                                  .add_(hidden_gates.narrow(1, 0, 2 * hidden_size))
                                  .sigmoid_();
    at::Tensor candidate = at::addcmul(input_gates.narrow(1, 2 * hidden_size, hidden_size),
                                       reset_update.narrow(1, 0, hidden_size),
                                       hidden_gates.narrow(1, 2 * hidden_size, hidden_size))
                               .tanh_();
    // (1 - z) * n + z * h, in torch's gru_cell order of operations.
    hidden.sub_(candidate).mul_(reset_update.narrow(1, hidden_size, hidden_size)).add_(candidate);
  }

  // keys [n, S, H], values [n, S, D], lengths [n]: each row's own source memory.
  static at::Tensor additive_attention(const at::Tensor& query, const at::Tensor& keys,
                                       const at::Tensor& values, const at::Tensor& lengths,
                                       const at::Tensor& score_weight) {
    const int64_t rows = query.size(0), source = keys.size(1);
    at::Tensor context = at::empty({rows, values.size(2)}, values.options());
    const at::Tensor positions = at::arange(source, lengths.options());
    at::Tensor energy = at::empty({std::min(kAttentionRowsPerBlock, rows), source, keys.size(2)},
                                  keys.options());
    for (int64_t begin = 0; begin < rows; begin += kAttentionRowsPerBlock) {
      const int64_t size = std::min(kAttentionRowsPerBlock, rows - begin);
      at::Tensor block_energy = energy.narrow(0, 0, size);
      at::add_out(block_energy, keys.narrow(0, begin, size),
                  query.narrow(0, begin, size).unsqueeze(1));
      block_energy.tanh_();
      const at::Tensor padding =
          positions.unsqueeze(0) >= lengths.narrow(0, begin, size).unsqueeze(1);
      const at::Tensor weights =
          at::matmul(block_energy, score_weight).masked_fill_(padding, -INFINITY).softmax(1);
      at::Tensor block_context = context.narrow(0, begin, size).unsqueeze(1);
      at::bmm_out(block_context, weights.unsqueeze(1), values.narrow(0, begin, size));
    }
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
