// The learned roll-out decode loop of transformer_rollout (searnn_ext.TransformerSeq2Seq), written
// once over ATen for every device, as greedy_rollout_loop.h is for the recurrent cells. The
// projections, the feed-forward networks and the output layer are GEMMs over all live rows
// (Kernels::linear_out and add_product: oneDNN or ATen on CPUs, cuBLAS); the attention is
// Kernels::dot_attention (the functor of searnn_ext/dot_attention.h), which reads the roll-in's
// cache in place: K roll-outs of a cell share their prefix's keys and values, and each row
// stores only the keys and values of the tokens it decodes itself.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "greedy_picks.h"
#include "rollout_checks.h"
#include "transformer_rollout_inputs.h"

namespace searnn {

// torch.nn.LayerNorm's default, which searnn_ext/rollout_transformer.py requires of the model.
constexpr double kLayerNormEps = 1e-5;

// Kernels provides, besides greedy_pick, for_row_blocks, kStepsBetweenEndChecks, linear_out and
// add_product (see greedy_rollout_loop.h):
//   layer_norm(x, weight, bias, eps, out): torch.nn.LayerNorm of the rows of x [n, D], either
//     written into out [n, D] or in a new tensor: the returned tensor holds it;
//   copy_rows(destination, index, source): destination[index[r]] <- source[r] (index_copy_);
//   dot_attention(query, shared_keys, shared_values, row_batch, shared_lengths, own_keys,
//                 own_values, own_starts, own_length, heads, output): output [n, D] <- the
//     multi-head attention of query [n, D] over row r's sequence's first shared_lengths[r]
//     positions of shared_keys / shared_values ([B, positions, D], rows may be strided), then
//     own_length positions of own_keys / own_values ([positions, D]) from own_starts[r] on.
template <typename Kernels>
std::tuple<at::Tensor, at::Tensor> transformer_rollout_loop(const TransformerRolloutInputs& in) {
  const int64_t rows = in.first_tokens.size(0);
  const int64_t layers = in.prefix_keys.size(1), model_size = in.prefix_keys.size(3);
  const TransformerWeights& w = in.weights;
  const std::vector<int64_t> active = active_rows_per_step("transformer_rollout", in.budgets);
  const int64_t steps = static_cast<int64_t>(active.size());
  GreedyPicks picks(in.first_tokens, steps);
  if (steps == 0) {
    return {picks.tokens, picks.lengths};
  }

  // Each row's own keys and values, budgets[r] positions from own_starts[r] on in every layer:
  // the rows' suffixes packed back to back, the only per-row cache.
  const at::Tensor own_starts = at::cumsum(in.budgets, 0) - in.budgets;
  const int64_t own_positions = in.budgets.sum().item<int64_t>();
  const auto options = in.prefix_keys.options();
  at::Tensor own_keys = at::empty({layers, own_positions, model_size}, options);
  at::Tensor own_values = at::empty({layers, own_positions, model_size}, options);
  const at::Tensor row_source = in.memory_lengths.index_select(0, in.row_batch);
  const double embedding_scale = std::sqrt(static_cast<double>(model_size));

  // Step buffers allocated once, for Kernels::scratch_rows rows (see greedy_rollout_loop.h).
  const int64_t ffn_size = w.layers[0].ffn_input.weight.size(0);
  const int64_t scratch_rows = Kernels::scratch_rows(rows);
  at::Tensor x_buffer = at::empty({scratch_rows, model_size}, options);
  at::Tensor query_buffer = at::empty({scratch_rows, model_size}, options);
  at::Tensor key_value_buffer = at::empty({scratch_rows, 2 * model_size}, options);
  at::Tensor mixed_buffer = at::empty({scratch_rows, model_size}, options);
  at::Tensor ffn_buffer = at::empty({scratch_rows, ffn_size}, options);
  at::Tensor logits_buffer = at::empty({scratch_rows, w.output.weight.size(0)}, options);
  at::Tensor normed_buffer = at::empty({scratch_rows, model_size}, options);
  // x += linear(input), as the model's residual connections add: the GEMM accumulates into x
  // (no temporary), then the bias.
  const auto add_linear = [](at::Tensor& x, const at::Tensor& input, const LinearWeights& l) {
    Kernels::add_product(x, input, l.weight);
    x.add_(l.bias);
  };
  const auto linear_out = [](at::Tensor& out, const at::Tensor& input, const LinearWeights& l) {
    Kernels::linear_out(out, input, l.weight, l.bias);
  };

  // Each block of rows decodes all its steps before the next block starts: its own keys and
  // values, written at one step and read at every later one, stay in cache.
  Kernels::for_row_blocks(active[0], [&](int64_t begin, int64_t block_rows, int64_t scratch) {
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t size = std::min(block_rows, active[step] - begin);
      if (size <= 0) {
        break;
      }
      const at::Tensor inputs = picks.next_input.narrow(0, begin, size);
      const at::Tensor batch = in.row_batch.narrow(0, begin, size);
      const at::Tensor prefix = in.row_prefix.narrow(0, begin, size);
      // This step's token sits at position row_prefix[r] + step, and its keys and values at
      // own_starts[r] + step.
      const at::Tensor own_at = own_starts.narrow(0, begin, size) + step;
      at::Tensor x = x_buffer.narrow(0, scratch, size);
      at::index_select_out(x, w.embedding, 0, inputs);
      x.mul_(embedding_scale).add_(w.positions.index_select(0, prefix + step));
      at::Tensor query = query_buffer.narrow(0, scratch, size);
      at::Tensor key_value = key_value_buffer.narrow(0, scratch, size);
      at::Tensor mixed = mixed_buffer.narrow(0, scratch, size);
      at::Tensor ffn = ffn_buffer.narrow(0, scratch, size);
      // One buffer serves every layer norm of the block: each result is read before the next
      // one is computed.
      at::Tensor normed_out = normed_buffer.narrow(0, scratch, size);
      const auto norm = [&normed_out](const at::Tensor& input, const LayerNormWeights& weights) {
        return Kernels::layer_norm(input, weights.weight, weights.bias, kLayerNormEps,
                                   normed_out);
      };
      for (int64_t l = 0; l < layers; ++l) {
        const TransformerLayerWeights& layer = w.layers[l];
        at::Tensor normed = norm(x, layer.self_norm);
        linear_out(query, normed, layer.self_query);
        linear_out(key_value, normed, layer.self_key_value);
        Kernels::copy_rows(own_keys[l], own_at, key_value.narrow(1, 0, model_size));
        Kernels::copy_rows(own_values[l], own_at,
                           key_value.narrow(1, model_size, model_size));
        Kernels::dot_attention(query, in.prefix_keys.select(1, l), in.prefix_values.select(1, l),
                               batch, prefix, own_keys[l], own_values[l],
                               own_starts.narrow(0, begin, size), step + 1, in.heads, mixed);
        add_linear(x, mixed, layer.self_output);
        normed = norm(x, layer.cross_norm);
        linear_out(query, normed, layer.cross_query);
        Kernels::dot_attention(query, in.memory_keys.select(1, l), in.memory_values.select(1, l),
                               batch, row_source.narrow(0, begin, size), own_keys[l],
                               own_values[l], own_starts.narrow(0, begin, size), 0, in.heads,
                               mixed);
        add_linear(x, mixed, layer.cross_output);
        linear_out(ffn, norm(x, layer.ffn_norm), layer.ffn_input);
        add_linear(x, ffn.relu_(), layer.ffn_output);
      }
      at::Tensor logits = logits_buffer.narrow(0, scratch, size);
      linear_out(logits, norm(x, w.final_norm), w.output);
      picks.pick<Kernels>(logits, in.eos_id, step, begin, size);
      if (picks.all_ended<Kernels>(in.eos_id, step, begin, size)) {
        break;
      }
    }
  });
  return {picks.tokens, picks.lengths};
}

}  // namespace searnn
