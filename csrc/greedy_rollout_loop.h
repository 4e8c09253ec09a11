// The learned roll-out decode loop of greedy_rollout, written once over ATen for every device.
// The step's GEMMs and element-wise work go through `Kernels`, the device's own: CpuKernels
// (cpu/greedy_rollout.cpp: oneDNN's float32 GEMMs where they run, else ATen's, and fused
// kernels), and GpuKernels (launches/greedy_rollout_kernels.h: ATen's GEMMs, on cuBLAS)
// launched on CUDA or run by the emulated CUDA backend.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <tuple>
#include <vector>

#include "greedy_picks.h"
#include "greedy_rollout_inputs.h"
#include "rollout_checks.h"

namespace searnn {

// The [n, kGates * H] gate pre-activations of the n rows decoded at a step: row r's are
// gates[rows[r]] when `rows` is given (the embedding's table looked up by token, or per-cell
// gates looked up by cell), else gates[r]. Kernels read them in place, without a gather.
struct GateRows {
  at::Tensor gates;                // [m, kGates * H]
  std::optional<at::Tensor> rows;  // [n] int64 in [0, m)

  at::Tensor gathered() const { return rows ? gates.index_select(0, *rows) : gates; }
  const int64_t* row_data() const { return rows ? rows->const_data_ptr<int64_t>() : nullptr; }
};

// Cell is a record of searnn_ext/cells.h. Each layer's state is [rows, kStateVectors * H], its
// output h the first H columns. Kernels provides, for the rows decoded at a step:
//   cell_update<Cell>(input, hidden_gates, hidden_bias, state): state [n, kStateVectors * H]
//     <- the cell's step, from input = W_ih x + b_ih, hidden_gates = W_hh h and hidden_bias =
//     b_hh;
//   additive_attention(query, keys, values, lengths, row_batch, score_weight, context):
//     context [n, D] (a view, rows possibly strided) <- attention of query [n, H] over the
//     source memory of each row's sequence row_batch[r] (keys [B, S, H], values [B, S, D]);
//   tanh_(values): values <- tanh(values), in place;
//   greedy_pick(logits, eos_id, step, alive, next_input, tokens, lengths);
//   for_row_blocks(n, decode): runs decode(begin, size, scratch) over blocks covering rows
//     [0, n), a block's work in rows [scratch, scratch + size) of step buffers of
//     scratch_rows(rows) rows;
//   kStepsBetweenEndChecks: how often the host reads whether every roll-out has ended;
//   linear_out(out, input, weight, bias): out <- input @ weight^T + bias (an undefined bias:
//     none), and add_product(out, input, weight): out += input @ weight^T, as AtenLinear
//     (aten_linear.h).
template <typename Cell, typename Kernels>
std::tuple<at::Tensor, at::Tensor> greedy_rollout_loop(const RolloutInputs& in) {
  const int64_t rows = in.first_tokens.size(0);
  const int64_t layers = in.cell_hidden.size(0);
  const int64_t hidden_size = in.cell_hidden.size(2) / Cell::kStateVectors;
  const int64_t gates = Cell::kGates * hidden_size;
  // A layer's output h: the first H columns of its state.
  const auto output_of = [hidden_size](const at::Tensor& state) {
    return state.narrow(-1, 0, hidden_size);
  };
  const DecoderWeights& w = in.weights;
  const std::vector<int64_t> active = active_rows_per_step("greedy_rollout", in.budgets);
  const int64_t steps = static_cast<int64_t>(active.size());
  GreedyPicks picks(in.first_tokens, steps);
  if (steps == 0) {
    return {picks.tokens, picks.lengths};
  }

  // Without input feeding the embedding enters layer 0 only through W_ih: a [A + 1, kGates * H]
  // table replaces that GEMM. With input feeding, only the embedding's part is tabled.
  const int64_t embedding_size = w.embedding.size(1);
  const at::Tensor input_table =
      at::addmm(w.layers[0].input_bias, w.embedding,
                w.layers[0].input_weight.narrow(1, 0, embedding_size).t());
  std::optional<at::Tensor> feed_weight;
  at::Tensor feed;
  if (in.cell_feed) {
    // Contiguous: a GEMM may copy a strided weight at every call.
    feed_weight = w.layers[0].input_weight.narrow(1, embedding_size, hidden_size).contiguous();
    feed = in.cell_feed->index_select(0, in.row_cell);
  }

  // Every roll-out of a cell starts from the cell's state: the first step's hidden-side GEMMs
  // (and input-feeding GEMM) run once per cell and are looked up by each row's cell.
  at::Tensor layer_states = in.cell_hidden.index_select(1, in.row_cell);
  std::vector<at::Tensor> cell_hidden_gates;
  for (int64_t l = 0; l < layers; ++l) {
    cell_hidden_gates.push_back(
        at::mm(output_of(in.cell_hidden[l]), w.layers[l].hidden_weight.t()));
  }
  at::Tensor cell_feed_gates;
  if (feed_weight) {
    cell_feed_gates = at::mm(*in.cell_feed, feed_weight->t());
  }

  // Step buffers allocated once, for Kernels::scratch_rows rows: the loop allocates none of
  // them again (large per-step allocations cost page faults every step).
  const auto options = in.cell_hidden.options();
  const int64_t scratch_rows = Kernels::scratch_rows(rows);
  at::Tensor input_gates_buffer = at::empty({scratch_rows, gates}, options);
  at::Tensor hidden_gates_buffer = at::empty({scratch_rows, gates}, options);
  at::Tensor feed_gates_buffer =
      feed_weight ? at::empty({scratch_rows, gates}, options) : at::Tensor();
  at::Tensor logits_buffer = at::empty({scratch_rows, w.output_weight.size(0)}, options);
  // With attention, [output | context] side by side, so that the attention's output layer is
  // one GEMM over both.
  at::Tensor query_buffer, joined_buffer, attended_buffer;
  if (in.memory_keys) {
    query_buffer = at::empty({scratch_rows, hidden_size}, options);
    joined_buffer = at::empty({scratch_rows, hidden_size + in.memory_values->size(2)}, options);
    attended_buffer = at::empty({scratch_rows, hidden_size}, options);
  }

  for (int64_t step = 0; step < steps; ++step) {
    const int64_t n = active[step];
    // Rows are independent within a step: each block of rows runs the whole step (see
    // Kernels::for_row_blocks).
    Kernels::for_row_blocks(n, [&](int64_t begin, int64_t size, int64_t scratch) {
      const at::Tensor inputs = picks.next_input.narrow(0, begin, size);
      const at::Tensor cells = in.row_cell.narrow(0, begin, size);
      at::Tensor layer_input;
      for (int64_t l = 0; l < layers; ++l) {
        const LayerWeights& layer = w.layers[l];
        at::Tensor state = layer_states[l].narrow(0, begin, size);
        at::Tensor input_gates = input_gates_buffer.narrow(0, scratch, size);
        GateRows input{input_gates, std::nullopt};
        if (l == 0 && !feed_weight) {
          input = GateRows{input_table, inputs};
        } else if (l == 0) {
          at::Tensor feed_gates = feed_gates_buffer.narrow(0, scratch, size);
          if (step == 0) {
            at::index_select_out(feed_gates, cell_feed_gates, 0, cells);
          } else {
            Kernels::linear_out(feed_gates, feed.narrow(0, begin, size), *feed_weight, {});
          }
          at::index_select_out(input_gates, input_table, 0, inputs);
          input_gates.add_(feed_gates);
        } else {
          Kernels::linear_out(input_gates, layer_input, layer.input_weight, layer.input_bias);
        }
        GateRows hidden_gates{cell_hidden_gates[l], cells};
        if (step > 0) {
          hidden_gates = GateRows{hidden_gates_buffer.narrow(0, scratch, size), std::nullopt};
          Kernels::linear_out(hidden_gates.gates, output_of(state), layer.hidden_weight, {});
        }
        Kernels::template cell_update<Cell>(input, hidden_gates, layer.hidden_bias, state);
        layer_input = output_of(state);
      }
      at::Tensor output = layer_input;
      if (in.memory_keys) {
        at::Tensor query = query_buffer.narrow(0, scratch, size);
        Kernels::linear_out(query, output, w.attention_query, {});
        at::Tensor joined = joined_buffer.narrow(0, scratch, size);
        joined.narrow(1, 0, hidden_size).copy_(output);
        at::Tensor context = joined.narrow(1, hidden_size, joined.size(1) - hidden_size);
        Kernels::additive_attention(query, *in.memory_keys, *in.memory_values,
                                    in.memory_lengths, in.row_batch.narrow(0, begin, size),
                                    w.attention_score, context);
        at::Tensor attended = attended_buffer.narrow(0, scratch, size);
        Kernels::linear_out(attended, joined, w.attention_output_weight, w.attention_output_bias);
        Kernels::tanh_(attended);
        if (in.cell_feed) {
          feed.narrow(0, begin, size).copy_(attended);
        }
        output = attended;
      }
      at::Tensor logits = logits_buffer.narrow(0, scratch, size);
      Kernels::linear_out(logits, output, w.output_weight, w.output_bias);
      picks.pick<Kernels>(logits, in.eos_id, step, begin, size);
    });
    if (picks.all_ended<Kernels>(in.eos_id, step, 0, n)) {
      break;
    }
  }
  return {picks.tokens, picks.lengths};
}

}  // namespace searnn
