// float32 decoder math vectorised with AVX2 + FMA, eight units per instruction, with SLEEF's
// exp (1 ULP) and tanh (3.5 ULP) from the SLEEF build that ATen's vectorised kernels call.
// Selected at run time (kernel_choice.h) where AVX-512 is not available. The formulas are those
// of searnn_ext/decoder_math.h; the C++ test checks both against the same formulas.
#pragma once

#include <cstdint>

#include "cell_rows.h"
#include "dot_attention_row.h"

// Built with GCC or Clang for x86-64 (function-level target attributes); elsewhere the loop
// only has its ATen path.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEARNN_HAS_AVX2_KERNELS 1

namespace searnn::avx2 {

// True when this CPU can run the AVX2 + FMA kernels.
bool available();

// `rows` rows of a step of the cell at index `cell` of searnn_ext/cells.h's Cells (see
// cell_rows.h).
void cell_update(int64_t cell, const CellRows<float>& step, int64_t rows);

// Additive attention of one row, as AdditiveAttention of decoder_math.h: query [H],
// keys [S, H], values [S, D], score_weight [H]; length >= 1 positions count; scores: [S]
// scratch; context [D] is written.
void additive_attention_row(const float* query, const float* keys, const float* values,
                            int64_t length, const float* score_weight, int64_t hidden_size,
                            int64_t value_size, float* scores, float* context);

// Multi-head scaled dot-product attention of one row, as DotAttention of
// searnn_ext/dot_attention.h; scores: dot_attention_scratch_floats(row.heads, row.length())
// floats (dot_attention_row.h), 32-byte aligned.
void dot_attention_row(const DotAttentionRow<float>& row, float* scores);

}  // namespace searnn::avx2

#endif
