// CUDA kernels of the roll-out decode loop: index math around the shared per-row math of
// searnn_ext/decoder_math.h; the loop itself (csrc/greedy_rollout_loop.h) is the CPU's.
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../greedy_rollout_loop.h"
#include "launch.h"
#include "searnn_ext/decoder_math.h"

namespace searnn {
namespace {

// One thread per hidden unit of each row; a row's gates are looked up through input_rows /
// hidden_rows when given (see GateRows).
template <typename T>
__global__ void gru_update_kernel(const T* input_gates, const int64_t* input_rows,
                                  const T* hidden_gates, const int64_t* hidden_rows,
                                  const T* hidden_bias, T* hidden, int64_t units,
                                  int64_t hidden_size) {
  const int64_t unit = global_thread_index();
  if (unit < units) {
    const int64_t row = unit / hidden_size;
    const int64_t gates_stride = 3 * hidden_size;
    gru_update_unit(input_gates + (input_rows ? input_rows[row] : row) * gates_stride,
                    hidden_gates + (hidden_rows ? hidden_rows[row] : row) * gates_stride,
                    hidden_bias, hidden + row * hidden_size, unit % hidden_size, hidden_size);
  }
}

// One thread per roll-out, over the source memory of its sequence row_batch[r]; scores is
// [rows, source] scratch; context rows are context_stride apart.
template <typename T>
__global__ void additive_attention_kernel(const T* query, const T* keys, const T* values,
                                          const int64_t* lengths, const int64_t* row_batch,
                                          const T* score_weight, int64_t rows, int64_t source,
                                          int64_t hidden_size, int64_t value_size, T* scores,
                                          T* context, int64_t context_stride) {
  const int64_t r = global_thread_index();
  if (r < rows) {
    const int64_t b = row_batch[r];
    additive_attention_row(query + r * hidden_size, keys + b * source * hidden_size,
                           values + b * source * value_size, lengths[b], score_weight,
                           hidden_size, value_size, scores + r * source,
                           context + r * context_stride);
  }
}

// One thread per roll-out.
template <typename T>
__global__ void greedy_pick_kernel(const T* logits, int64_t rows, int64_t vocab, int64_t eos_id,
                                   int64_t step, bool* alive, int64_t* next_input,
                                   int64_t* tokens, int64_t width, int64_t* lengths) {
  const int64_t r = global_thread_index();
  if (r < rows) {
    greedy_pick_row(logits + r * vocab, vocab, eos_id, step, alive + r, next_input + r,
                    tokens + r * width, lengths + r);
  }
}

struct CudaKernels {
  // One block of all rows: each kernel launch covers the whole step.
  template <typename Decode>
  static void for_row_blocks(int64_t rows, const Decode& decode) {
    decode(0, rows);
  }

  static void gru_update(const GateRows& input, const GateRows& hidden_gates,
                         const at::Tensor& hidden_bias, at::Tensor& hidden) {
    const int64_t units = hidden.numel();
    if (units == 0) {
      return;
    }
    auto rows = [](const GateRows& g) {
      return g.rows ? g.rows->const_data_ptr<int64_t>() : nullptr;
    };
    AT_DISPATCH_FLOATING_TYPES(hidden.scalar_type(), "gru_update_cuda", [&] {
      gru_update_kernel<<<blocks_for(units), kThreadsPerBlock, 0,
                          at::cuda::getCurrentCUDAStream()>>>(
          input.gates.const_data_ptr<scalar_t>(), rows(input),
          hidden_gates.gates.const_data_ptr<scalar_t>(), rows(hidden_gates),
          hidden_bias.const_data_ptr<scalar_t>(), hidden.data_ptr<scalar_t>(), units,
          hidden.size(1));
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }

  static void additive_attention(const at::Tensor& query, const at::Tensor& keys,
                                 const at::Tensor& values, const at::Tensor& lengths,
                                 const at::Tensor& row_batch, const at::Tensor& score_weight,
                                 at::Tensor& context) {
    const int64_t rows = query.size(0), source = keys.size(1);
    if (rows == 0) {
      return;
    }
    at::Tensor scores = at::empty({rows, source}, values.options());
    AT_DISPATCH_FLOATING_TYPES(query.scalar_type(), "additive_attention_cuda", [&] {
      additive_attention_kernel<<<blocks_for(rows), kThreadsPerBlock, 0,
                                  at::cuda::getCurrentCUDAStream()>>>(
          query.const_data_ptr<scalar_t>(), keys.const_data_ptr<scalar_t>(),
          values.const_data_ptr<scalar_t>(), lengths.const_data_ptr<int64_t>(),
          row_batch.const_data_ptr<int64_t>(), score_weight.const_data_ptr<scalar_t>(), rows,
          source, keys.size(2), values.size(2), scores.data_ptr<scalar_t>(),
          context.data_ptr<scalar_t>(), context.stride(0));
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }

  static void greedy_pick(const at::Tensor& logits, int64_t eos_id, int64_t step,
                          at::Tensor alive, at::Tensor next_input, at::Tensor tokens,
                          at::Tensor lengths) {
    const int64_t rows = logits.size(0);
    if (rows == 0) {
      return;
    }
    AT_DISPATCH_FLOATING_TYPES(logits.scalar_type(), "greedy_pick_cuda", [&] {
      greedy_pick_kernel<<<blocks_for(rows), kThreadsPerBlock, 0,
                           at::cuda::getCurrentCUDAStream()>>>(
          logits.const_data_ptr<scalar_t>(), rows, logits.size(1), eos_id, step,
          alive.data_ptr<bool>(), next_input.data_ptr<int64_t>(), tokens.data_ptr<int64_t>(),
          tokens.size(1), lengths.data_ptr<int64_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
};

std::tuple<at::Tensor, at::Tensor> greedy_rollout_cuda(
    const at::Tensor& cell_hidden, const std::optional<at::Tensor>& cell_feed,
    const at::Tensor& row_cell, const at::Tensor& row_batch, const at::Tensor& first_tokens,
    const at::Tensor& budgets, const std::optional<at::Tensor>& memory_values,
    const std::optional<at::Tensor>& memory_keys, const at::Tensor& memory_lengths,
    at::TensorList weights, int64_t eos_id) {
  const c10::cuda::CUDAGuard device_guard(cell_hidden.device());
  const RolloutInputs inputs = check_rollout_inputs(
      cell_hidden, cell_feed, row_cell, row_batch, first_tokens, budgets, memory_values,
      memory_keys, memory_lengths, weights.vec(), eos_id);
  return greedy_rollout_loop<CudaKernels>(inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CUDA, m) { m.impl("greedy_rollout", &greedy_rollout_cuda); }

}  // namespace searnn
