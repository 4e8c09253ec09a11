// Every op's schema, the contract the CPU, CUDA and fake implementations follow. The same
// schemas are declared twice: in `searnn`, the ops users call, and in `searnn_emulated`, the
// CUDA kernels' code run on CPU tensors (backend="cuda_emulated"), so that the GPU code is
// tested where no GPU is.
#include <torch/library.h>

namespace {

void define_ops(torch::Library& m) {
  m.def(
      "edit_distance(Tensor hyp, Tensor hyp_lengths, Tensor ref, Tensor ref_lengths, "
      "Tensor? ref_index) -> Tensor");
  m.def(
      "hamming_distance(Tensor hyp, Tensor hyp_lengths, Tensor ref, Tensor ref_lengths, "
      "Tensor? ref_index) -> Tensor");
  // 1 - sentence BLEU-4 (add-one smoothing of the 2- to 4-gram precisions) and 1 - GLEU of each
  // pair, float32 [N] in [0, 1] (searnn_ext/ngram_costs.py defines them).
  m.def(
      "bleu_cost(Tensor hyp, Tensor hyp_lengths, Tensor ref, Tensor ref_lengths, "
      "Tensor? ref_index) -> Tensor");
  m.def(
      "gleu_cost(Tensor hyp, Tensor hyp_lengths, Tensor ref, Tensor ref_lengths, "
      "Tensor? ref_index) -> Tensor");
  // The optimal reference policy for edit distance: out[b, t, k] is the least edit distance to
  // ref[b, :ref_lengths[b]] of any sequence that starts with prefix[b, :t] then
  // candidates[b, t, k]. eos_id given: completions of any length, and a candidate equal to
  // eos_id ends the sequence; none: a finished sequence is as long as its reference (or as
  // prefix + candidate, if longer). Returns int64 [B, T, K].
  m.def(
      "optimal_completion_distance(Tensor prefix, Tensor candidates, Tensor ref, "
      "Tensor ref_lengths, int? eos_id) -> Tensor");
  // The learned roll-outs of rollout_costs: R greedy decodes from their cells' prefix states,
  // with the decoder's weights in the order of searnn_ext/rollout_ext.py and its recurrent cell
  // ("gru" or "lstm"). Returns the tokens before EOS [R, max budget] and their counts [R].
  m.def(
      "greedy_rollout(Tensor cell_hidden, Tensor? cell_feed, Tensor row_cell, Tensor row_batch, "
      "Tensor first_tokens, Tensor budgets, Tensor? memory_values, Tensor? memory_keys, "
      "Tensor memory_lengths, Tensor[] weights, int eos_id, str cell=\"gru\") -> "
      "(Tensor, Tensor)");
  // The learned roll-outs of a searnn_ext.TransformerSeq2Seq: row r reads the first
  // row_prefix[r] positions of its sequence's cached keys and values (the roll-in's, shared by
  // every roll-out of the sequence), feeds first_tokens[r] at position row_prefix[r] and decodes
  // greedily; weights in the order of searnn_ext/rollout_transformer.py. Returns as
  // greedy_rollout does.
  m.def(
      "transformer_rollout(Tensor prefix_keys, Tensor prefix_values, Tensor row_batch, "
      "Tensor row_prefix, Tensor first_tokens, Tensor budgets, Tensor memory_keys, "
      "Tensor memory_values, Tensor memory_lengths, Tensor[] weights, int heads, int eos_id) -> "
      "(Tensor, Tensor)");
}

}  // namespace

TORCH_LIBRARY(searnn, m) { define_ops(m); }
TORCH_LIBRARY(searnn_emulated, m) { define_ops(m); }
