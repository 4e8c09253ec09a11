// The softmax step of the AVX2 additive attention: one row's scores turned into weights in place,
// in scalar code (std::exp).
#pragma once

#include <cmath>
#include <cstdint>

namespace searnn {

// scores[s] <- exp(scores[s] - best) / sum over s of exp(scores[s] - best); `best` is the
// largest score, so no exponent overflows.
inline void softmax_scores(float* scores, int64_t length, float best) {
  float total = 0;
  for (int64_t s = 0; s < length; ++s) {
    scores[s] = std::exp(scores[s] - best);
    total += scores[s];
  }
  for (int64_t s = 0; s < length; ++s) {
    scores[s] /= total;
  }
}

}  // namespace searnn
