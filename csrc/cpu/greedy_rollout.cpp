// CPU kernels of the roll-out decode loops: threads share the rows in blocks (a step's, or, in
// the transformer's loop, all of a block's steps), and each kernel loops over one block's rows.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../decoder_functors.h"
#include "../greedy_rollout_loop.h"
#include "../transformer_rollout_loop.h"
#include "avx2_decoder_math.h"
#include "avx512_decoder_math.h"
#include "cpu_gemm.h"
#include "decode_blocks.h"
#include "kernel_choice.h"
#include "searnn_ext/decoder_math.h"

namespace searnn {
namespace {

// Rows per piece of the ATen attention, whose [rows, S, H] energies stay in cache-sized pieces.
// The kernels below run on one block of kDecodeRowsPerBlock rows, on the calling thread.
constexpr int64_t kAttentionRowsPerBlock = 64;

// A block's rows of a cell's step as the fused kernels read them.
template <typename T>
CellRows<T> cell_rows(const GateRows& input, const GateRows& hidden_gates,
                      const at::Tensor& hidden_bias, at::Tensor& state, int64_t hidden_size) {
  TORCH_INTERNAL_ASSERT(input.gates.is_contiguous() && hidden_gates.gates.is_contiguous() &&
                        state.is_contiguous());
  return CellRows<T>{input.gates.const_data_ptr<T>(),
                     input.row_data(),
                     hidden_gates.gates.const_data_ptr<T>(),
                     hidden_gates.row_data(),
                     hidden_bias.const_data_ptr<T>(),
                     state.data_ptr<T>(),
                     hidden_size};
}

// A step's rows as ATen tensors, as the cells' update.inc reads them (searnn_ext/cells.h): the
// float64 path, in torch's cells' order of operations (and float32 where the CPU has neither
// AVX2 nor AVX-512). The tensors carry their dtype; T only completes update.inc's signature.
template <typename T>
struct Lanes {
  at::Tensor input_gates;   // [rows, kGates * H]
  at::Tensor hidden_gates;  // [rows, kGates * H], the hidden bias added
  at::Tensor row_state;     // [rows, kStateVectors * H], updated in place
  int64_t hidden_size;

  at::Tensor input_gate(int64_t g) const { return slice(input_gates, g); }
  at::Tensor hidden_gate(int64_t g) const { return slice(hidden_gates, g); }
  at::Tensor gate(int64_t g) const { return hidden_gate(g) + input_gate(g); }
  at::Tensor state(int64_t v) const { return slice(row_state, v); }
  void store(int64_t v, const at::Tensor& x) const { slice(row_state, v).copy_(x); }
  static at::Tensor sigmoid(const at::Tensor& x) { return x.sigmoid(); }
  static at::Tensor tanh(const at::Tensor& x) { return x.tanh(); }
  // Two roundings, as torch's cells (at::addcmul may fuse them).
  static at::Tensor fma(const at::Tensor& a, const at::Tensor& b, const at::Tensor& c) {
    return a * b + c;
  }
  static at::Tensor mul(const at::Tensor& a, const at::Tensor& b) { return a * b; }
  static at::Tensor sub(const at::Tensor& a, const at::Tensor& b) { return a - b; }

 private:
  at::Tensor slice(const at::Tensor& rows, int64_t k) const {
    return rows.narrow(1, k * hidden_size, hidden_size);
  }
};

#define SEARNN_CELL_UPDATE inline
#include "searnn_ext/cells/updates.inc"
#undef SEARNN_CELL_UPDATE

// The cell updates and additive attention are transcendental-heavy, and a scalar loop is several
// times slower than vectorised tanh / sigmoid: float32 and bfloat16 run the fused kernels of
// avx512_decoder_math.h or avx2_decoder_math.h (one pass over each row, no temporaries) where
// the CPU has them (kernel_choice.h); float64 runs ATen's ops in the order torch's cells and
// Seq2Seq.attend use; bfloat16 without AVX512_BF16 runs the GPU's functors of cells.h and
// decoder_math.h row by row (a SerialWarp). The C++ test checks the fused kernels and the
// functors against torch's formulas; the Python tests check every path against the oracle.
struct CpuKernels {
  static constexpr int64_t kStepsBetweenEndChecks = 1;  // a host read costs nothing here

  // Each thread's blocks share its block of the step buffers, which stays in cache from one
  // block to the next (buffers as large as every row would be touched once per block and step,
  // and their pages faulted in on every call).
  static int64_t scratch_rows(int64_t rows) {
    return std::min(rows, kDecodeRowsPerBlock) * at::get_num_threads();
  }

  // Each thread takes a share of the rows and runs `decode` on blocks of kDecodeRowsPerBlock:
  // a block's gates, logits and attention stay in cache from the GEMM that writes them to the
  // kernel that reads them. ATen ops inside run on the calling thread (ATen does not nest
  // parallel regions), so the GEMMs are per-thread too.
  template <typename Decode>
  static void for_row_blocks(int64_t rows, const Decode& decode) {
    const int64_t rows_per_thread = std::min(rows, kDecodeRowsPerBlock);
    at::parallel_for(0, rows, kDecodeRowsPerBlock, [&](int64_t begin, int64_t end) {
      const int64_t scratch = at::get_thread_num() * rows_per_thread;
      for (int64_t block = begin; block < end; block += kDecodeRowsPerBlock) {
        decode(block, std::min(kDecodeRowsPerBlock, end - block), scratch);
      }
    });
  }

  // The GEMMs: cpu_gemm.h (oneDNN's float32 matmul where it runs, else ATen's).
  static void linear_out(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight,
                         const at::Tensor& bias) {
    cpu_linear_out(out, input, weight, bias);
  }

  static void add_product(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight) {
    cpu_add_product(out, input, weight);
  }

  // float32 and bfloat16 with AVX-512 (weights of x's dtype) write the loop's buffer: ATen's
  // layer norm allocates its output, mean and rstd at each call, and outputs of 128 KiB and up
  // (a block of 256 rows) make malloc consolidate its heap at every free. The rest: ATen's.
  static at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias, double eps, at::Tensor& out) {
#ifdef SEARNN_HAS_AVX512_KERNELS
    const at::ScalarType dtype = x.scalar_type();
    if (decoder_kernels(dtype) == DecoderKernels::kAvx512 && weight.scalar_type() == dtype &&
        bias.scalar_type() == dtype) {
      TORCH_INTERNAL_ASSERT(x.is_contiguous() && out.is_contiguous() &&
                            weight.is_contiguous() && bias.is_contiguous());
      const auto rows = [&](auto type) {
        using T = decltype(type);
        avx512::layer_norm_rows<T>(x.const_data_ptr<T>(), weight.const_data_ptr<T>(),
                                   bias.const_data_ptr<T>(), x.size(0), x.size(1),
                                   static_cast<float>(eps), out.data_ptr<T>());
      };
      dtype == at::kFloat ? rows(float{}) : rows(c10::BFloat16{});
      return out;
    }
#endif
    return at::layer_norm(x, {x.size(1)}, weight, bias, eps);
  }

  // A row copy each: index_copy_'s element-wise loop cost more than the copies.
  static void copy_rows(const at::Tensor& destination, const at::Tensor& index,
                        const at::Tensor& source) {
    TORCH_INTERNAL_ASSERT(destination.is_contiguous() && source.stride(1) == 1 &&
                          index.is_contiguous() && destination.size(1) == source.size(1) &&
                          source.scalar_type() == destination.scalar_type());
    const int64_t width = source.size(1), bytes = width * source.element_size();
    const auto* from = static_cast<const char*>(source.const_data_ptr());
    auto* to = static_cast<char*>(destination.data_ptr());
    const int64_t* at_row = index.const_data_ptr<int64_t>();
    const int64_t from_stride = source.stride(0) * source.element_size();
    for (int64_t r = 0; r < source.size(0); ++r) {
      std::memcpy(to + at_row[r] * bytes, from + r * from_stride, static_cast<size_t>(bytes));
    }
  }

  template <typename Cell>
  static void cell_update(const GateRows& input, const GateRows& hidden_gates,
                          const at::Tensor& hidden_bias, at::Tensor& state) {
    const int64_t rows = state.size(0), hidden_size = state.size(1) / Cell::kStateVectors;
    constexpr int64_t index = cell_index(Cell::kName);
    static_assert(index >= 0, "a cell of cells.h's Cells");
    switch (decoder_kernels(state.scalar_type())) {
#ifdef SEARNN_HAS_AVX512_KERNELS
      case DecoderKernels::kAvx512:
        if (state.scalar_type() == at::kFloat) {
          avx512::cell_update(
              index, cell_rows<float>(input, hidden_gates, hidden_bias, state, hidden_size),
              rows);
        } else {
          avx512::cell_update(
              index, cell_rows<at::BFloat16>(input, hidden_gates, hidden_bias, state, hidden_size),
              rows);
        }
        return;
#endif
#ifdef SEARNN_HAS_AVX2_KERNELS
      case DecoderKernels::kAvx2:
        avx2::cell_update(
            index, cell_rows<float>(input, hidden_gates, hidden_bias, state, hidden_size), rows);
        return;
#endif
      case DecoderKernels::kPortable: {
        const auto update =
            cell_update_over<Cell, at::BFloat16>(input, hidden_gates, hidden_bias, state);
        for (int64_t unit = 0; unit < rows * hidden_size; ++unit) {
          update(unit);
        }
        return;
      }
      default:
        update(Cell{}, Lanes<double>{input.gathered(), hidden_gates.gathered() + hidden_bias,
                                     state, hidden_size});
    }
  }

  // ATen's tanh calls MKL's high-accuracy vector tanh, several times slower here than the
  // inlined AVX-512 one.
  static void tanh_(at::Tensor& values) {
#ifdef SEARNN_HAS_AVX512_KERNELS
    if (decoder_kernels(values.scalar_type()) == DecoderKernels::kAvx512) {
      TORCH_INTERNAL_ASSERT(values.is_contiguous());
      if (values.scalar_type() == at::kFloat) {
        avx512::tanh_in_place(values.data_ptr<float>(), values.numel());
      } else {
        avx512::tanh_in_place(values.data_ptr<at::BFloat16>(), values.numel());
      }
      return;
    }
#endif
    values.tanh_();
  }

  static void additive_attention(const at::Tensor& query, const at::Tensor& keys,
                                 const at::Tensor& values, const at::Tensor& lengths,
                                 const at::Tensor& row_batch, const at::Tensor& score_weight,
                                 at::Tensor& context) {
    switch (decoder_kernels(query.scalar_type())) {
#ifdef SEARNN_HAS_AVX512_KERNELS
      case DecoderKernels::kAvx512:
        if (query.scalar_type() == at::kFloat) {
          attention_by_rows<float>(avx512::additive_attention_row<float>, query, keys, values,
                                   lengths, row_batch, score_weight, context);
        } else {
          attention_by_rows<at::BFloat16>(avx512::additive_attention_row<at::BFloat16>, query,
                                          keys, values, lengths, row_batch, score_weight,
                                          context);
        }
        return;
#endif
#ifdef SEARNN_HAS_AVX2_KERNELS
      case DecoderKernels::kAvx2:
        attention_by_rows<float>(avx2_attention_row, query, keys, values, lengths, row_batch,
                                 score_weight, context);
        return;
#endif
      case DecoderKernels::kPortable:
        attention_portable(query, keys, values, lengths, row_batch, score_weight, context);
        return;
      default:
        attention_aten(query, keys, values, lengths, row_batch, score_weight, context);
    }
  }

#ifdef SEARNN_HAS_AVX2_KERNELS
  // avx2::additive_attention_row with the per-row scratch the AVX-512 kernels take.
  static void avx2_attention_row(const float* query, const float* keys, const float* values,
                                 int64_t length, const float* score_weight, int64_t hidden_size,
                                 int64_t value_size, float* scores, float* /*unit_scratch*/,
                                 float* context) {
    avx2::additive_attention_row(query, keys, values, length, score_weight, hidden_size,
                                 value_size, scores, context);
  }
#endif

  // A fused kernel of one row at a time, each reading its sequence's memory in place.
  template <typename T, typename AttendRow>
  static void attention_by_rows(const AttendRow& attend_row, const at::Tensor& query,
                                const at::Tensor& keys, const at::Tensor& values,
                                const at::Tensor& lengths, const at::Tensor& row_batch,
                                const at::Tensor& score_weight, at::Tensor& context) {
    const int64_t source = keys.size(1), hidden_size = keys.size(2), value_size = values.size(2);
    TORCH_INTERNAL_ASSERT(query.is_contiguous() && keys.is_contiguous() &&
                          values.is_contiguous() && score_weight.is_contiguous() &&
                          row_batch.is_contiguous() && context.stride(1) == 1);
    const T* q = query.const_data_ptr<T>();
    const T* k = keys.const_data_ptr<T>();
    const T* v = values.const_data_ptr<T>();
    const T* score = score_weight.const_data_ptr<T>();
    const int64_t* length = lengths.const_data_ptr<int64_t>();
    const int64_t* batch = row_batch.const_data_ptr<int64_t>();
    T* out = context.data_ptr<T>();
    const int64_t context_stride = context.stride(0);
    std::vector<float> scores(static_cast<size_t>(source));
    std::vector<float> unit_scratch(static_cast<size_t>(2 * hidden_size));
    for (int64_t r = 0; r < query.size(0); ++r) {
      const int64_t b = batch[r];
      attend_row(q + r * hidden_size, k + b * source * hidden_size, v + b * source * value_size,
                 length[b], score, hidden_size, value_size, scores.data(), unit_scratch.data(),
                 out + r * context_stride);
    }
  }

  static void attention_portable(const at::Tensor& query, const at::Tensor& keys,
                                 const at::Tensor& values, const at::Tensor& lengths,
                                 const at::Tensor& row_batch, const at::Tensor& score_weight,
                                 at::Tensor& context) {
    using T = at::BFloat16;
    const int64_t rows = query.size(0);
    at::Tensor scores = at::empty({rows, keys.size(1)}, query.options().dtype(at::kFloat));
    const AdditiveAttention<T> attend = additive_attention_over<T>(
        query, keys, values, lengths, row_batch, score_weight, scores, context);
    for (int64_t r = 0; r < rows; ++r) {
      attend(SerialWarp{}, r);
    }
  }

  // Blocks of rows, each with its rows' source memory gathered, as Seq2Seq.attend computes it.
  static void attention_aten(const at::Tensor& query, const at::Tensor& keys,
                             const at::Tensor& values, const at::Tensor& lengths,
                             const at::Tensor& row_batch, const at::Tensor& score_weight,
                             at::Tensor& context) {
    const int64_t rows = query.size(0);
    const at::Tensor positions = at::arange(keys.size(1), lengths.options());
    for (int64_t begin = 0; begin < rows; begin += kAttentionRowsPerBlock) {
      const int64_t size = std::min(kAttentionRowsPerBlock, rows - begin);
      const at::Tensor block_batch = row_batch.narrow(0, begin, size);
      const at::Tensor energy =
          (keys.index_select(0, block_batch) + query.narrow(0, begin, size).unsqueeze(1)).tanh_();
      const at::Tensor padding =
          positions.unsqueeze(0) >= lengths.index_select(0, block_batch).unsqueeze(1);
      const at::Tensor weights =
          at::matmul(energy, score_weight).masked_fill_(padding, -INFINITY).softmax(1);
      context.narrow(0, begin, size)
          .copy_(at::bmm(weights.unsqueeze(1), values.index_select(0, block_batch)).squeeze(1));
    }
  }

  // float32 and bfloat16 run a fused kernel per row where the CPU has one, as the additive
  // attention does; float64 (and bfloat16 without AVX512_BF16) run the GPU's functor of
  // searnn_ext/dot_attention.h, a SerialWarp per row and head.
  static void dot_attention(const at::Tensor& query, const at::Tensor& shared_keys,
                            const at::Tensor& shared_values, const at::Tensor& row_batch,
                            const at::Tensor& shared_lengths, const at::Tensor& own_keys,
                            const at::Tensor& own_values, const at::Tensor& own_starts,
                            int64_t own_length, int64_t heads, at::Tensor& output) {
    const auto rows_with = [&](auto attend_row, auto type) {
      using T = decltype(type);
      dot_attention_by_rows<T>(attend_row, query, shared_keys, shared_values, row_batch,
                               shared_lengths, own_keys, own_values, own_starts, own_length,
                               heads, output);
    };
    switch (decoder_kernels(query.scalar_type())) {
#ifdef SEARNN_HAS_AVX512_KERNELS
      case DecoderKernels::kAvx512:
        if (query.scalar_type() == at::kFloat) {
          rows_with(avx512::dot_attention_row<float>, float{});
        } else {
          rows_with(avx512::dot_attention_row<at::BFloat16>, at::BFloat16{});
        }
        return;
#endif
#ifdef SEARNN_HAS_AVX2_KERNELS
      case DecoderKernels::kAvx2:
        rows_with(avx2::dot_attention_row, float{});
        return;
#endif
      default:
        dot_attention_functor(query, shared_keys, shared_values, row_batch, shared_lengths,
                              own_keys, own_values, own_starts, own_length, heads, output);
    }
  }

  template <typename T, typename AttendRow>
  static void dot_attention_by_rows(const AttendRow& attend_row, const at::Tensor& query,
                                    const at::Tensor& shared_keys,
                                    const at::Tensor& shared_values, const at::Tensor& row_batch,
                                    const at::Tensor& shared_lengths,
                                    const at::Tensor& own_keys, const at::Tensor& own_values,
                                    const at::Tensor& own_starts, int64_t own_length,
                                    int64_t heads, at::Tensor& output) {
    const int64_t model_size = query.size(1), batch_stride = shared_keys.stride(0);
    TORCH_INTERNAL_ASSERT(query.is_contiguous() && output.is_contiguous() &&
                          shared_rows_as_read(shared_keys, shared_values) &&
                          own_keys.is_contiguous() && own_values.is_contiguous());
    const int64_t* batch = row_batch.const_data_ptr<int64_t>();
    const int64_t* shared_length = shared_lengths.const_data_ptr<int64_t>();
    const int64_t* own_start = own_starts.const_data_ptr<int64_t>();
    const at::Tensor scores =
        at::empty({dot_attention_scratch_floats(heads, shared_keys.size(1) + own_length)},
                  query.options().dtype(at::kFloat));
    for (int64_t r = 0; r < query.size(0); ++r) {
      const int64_t shared_at = batch[r] * batch_stride;
      const int64_t own_at = own_length > 0 ? own_start[r] * model_size : 0;
      const DotAttentionRow<T> row{query.const_data_ptr<T>() + r * model_size,
                                   shared_keys.const_data_ptr<T>() + shared_at,
                                   shared_values.const_data_ptr<T>() + shared_at,
                                   shared_length[r],
                                   own_keys.const_data_ptr<T>() + own_at,
                                   own_values.const_data_ptr<T>() + own_at,
                                   own_length,
                                   heads,
                                   model_size,
                                   output.data_ptr<T>() + r * model_size};
      attend_row(row, scores.data_ptr<float>());
    }
  }

  static void dot_attention_functor(const at::Tensor& query, const at::Tensor& shared_keys,
                                    const at::Tensor& shared_values, const at::Tensor& row_batch,
                                    const at::Tensor& shared_lengths,
                                    const at::Tensor& own_keys, const at::Tensor& own_values,
                                    const at::Tensor& own_starts, int64_t own_length,
                                    int64_t heads, at::Tensor& output) {
    const int64_t rows = query.size(0);
    const int64_t longest = shared_keys.size(1) + own_length;
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, query.scalar_type(), "dot_attention_cpu", [&] {
      const auto acc = c10::CppTypeToScalarType<accumulate_t<scalar_t>>();
      at::Tensor scores = at::empty({rows * heads, longest}, query.options().dtype(acc));
      at::Tensor sums = at::empty(query.sizes(), query.options().dtype(acc));
      const DotAttention<scalar_t> attend = dot_attention_over<scalar_t>(
          query, shared_keys, shared_values, row_batch, shared_lengths, own_keys, own_values,
          own_starts, own_length, heads, scores, sums, output);
      for (int64_t item = 0; item < rows * heads; ++item) {
        attend(SerialWarp{}, item);
      }
    });
  }

  static void greedy_pick(const at::Tensor& logits, int64_t eos_id, int64_t step,
                          at::Tensor alive, at::Tensor next_input, at::Tensor tokens,
                          at::Tensor lengths) {
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, logits.scalar_type(), "greedy_pick_cpu", [&] {
      const int64_t rows = logits.size(0);
      const GreedyPick<scalar_t> pick =
          greedy_pick_over<scalar_t>(logits, eos_id, step, alive, next_input, tokens, lengths);
      for (int64_t r = 0; r < rows; ++r) {
        pick(SerialWarp{}, r);
      }
    });
  }
};

std::tuple<at::Tensor, at::Tensor> greedy_rollout_cpu(
    const at::Tensor& cell_hidden, const std::optional<at::Tensor>& cell_feed,
    const at::Tensor& row_cell, const at::Tensor& row_batch, const at::Tensor& first_tokens,
    const at::Tensor& budgets, const std::optional<at::Tensor>& memory_values,
    const std::optional<at::Tensor>& memory_keys, const at::Tensor& memory_lengths,
    at::TensorList weights, int64_t eos_id, c10::string_view cell) {
  const RolloutInputs inputs = check_rollout_inputs(
      cell_hidden, cell_feed, row_cell, row_batch, first_tokens, budgets, memory_values,
      memory_keys, memory_lengths, weights.vec(), eos_id, cell);
  // float16 decodes in float32: this CPU path has no float16 arithmetic, and ATen's float16
  // GEMMs on CPUs run far slower than float32 ones.
  const RolloutInputs decoded =
      inputs.cell_hidden.scalar_type() == at::kHalf ? with_dtype(inputs, at::kFloat) : inputs;
  return visit_cell(decoded.cell, [&](auto cell) {
    return greedy_rollout_loop<decltype(cell), CpuKernels>(decoded);
  });
}

std::tuple<at::Tensor, at::Tensor> transformer_rollout_cpu(
    const at::Tensor& prefix_keys, const at::Tensor& prefix_values, const at::Tensor& row_batch,
    const at::Tensor& row_prefix, const at::Tensor& first_tokens, const at::Tensor& budgets,
    const at::Tensor& memory_keys, const at::Tensor& memory_values,
    const at::Tensor& memory_lengths, at::TensorList weights, int64_t heads, int64_t eos_id) {
  const TransformerRolloutInputs inputs = check_transformer_inputs(
      prefix_keys, prefix_values, row_batch, row_prefix, first_tokens, budgets, memory_keys,
      memory_values, memory_lengths, weights.vec(), heads, eos_id);
  // float16 decodes in float32, as greedy_rollout_cpu does.
  return transformer_rollout_loop<CpuKernels>(
      inputs.prefix_keys.scalar_type() == at::kHalf ? with_dtype(inputs, at::kFloat) : inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, CPU, m) {
  m.impl("greedy_rollout", &greedy_rollout_cpu);
  m.impl("transformer_rollout", &transformer_rollout_cpu);
}

}  // namespace searnn
