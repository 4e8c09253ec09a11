// Every op's schema, the contract the CPU, CUDA and fake implementations follow.
#include <torch/library.h>

TORCH_LIBRARY(searnn, m) {
  m.def(
      "edit_distance(Tensor hyp, Tensor hyp_lengths, Tensor ref, Tensor ref_lengths, "
      "Tensor? ref_index) -> Tensor");
  m.def(
      "hamming_distance(Tensor hyp, Tensor hyp_lengths, Tensor ref, Tensor ref_lengths, "
      "Tensor? ref_index) -> Tensor");
  // The learned roll-outs of rollout_costs: R greedy decodes from their cells' prefix states,
  // with the decoder's weights in the order of searnn_ext/rollout_ext.py. Returns the tokens
  // before EOS [R, max budget] and their counts [R].
  m.def(
      "greedy_rollout(Tensor cell_hidden, Tensor? cell_feed, Tensor row_cell, Tensor row_batch, "
      "Tensor first_tokens, Tensor budgets, Tensor? memory_values, Tensor? memory_keys, "
      "Tensor memory_lengths, Tensor[] weights, int eos_id) -> (Tensor, Tensor)");
}
