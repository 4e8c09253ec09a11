// Every op's schema, the contract the CPU, CUDA and fake implementations follow.
#include <torch/library.h>

TORCH_LIBRARY(searnn, m) {
  m.def(
      "edit_distance(Tensor hyp, Tensor hyp_lengths, Tensor ref, Tensor ref_lengths, "
      "Tensor? ref_index) -> Tensor");
  m.def(
      "hamming_distance(Tensor hyp, Tensor hyp_lengths, Tensor ref, Tensor ref_lengths, "
      "Tensor? ref_index) -> Tensor");
}
