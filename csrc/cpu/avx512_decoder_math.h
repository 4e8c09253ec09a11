// float32 and bfloat16 decoder math vectorised with AVX-512, sixteen units per instruction,
// with inlined exp (about 1 ULP) and tanh (within 1.5 ULP). bfloat16 storage is widened to
// float32 in registers (the math accumulates in float32, as decoder_math.h does) and rounded
// back to nearest even with AVX512_BF16's conversion. Selected at run time
// (cpu/greedy_rollout.cpp): AVX-512, then AVX2, then the portable or ATen paths. The C++ test
// checks them against the same formulas.
#pragma once

#include <c10/util/BFloat16.h>

#include <cstdint>

#include "cell_rows.h"
#include "dot_attention_row.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEARNN_HAS_AVX512_KERNELS 1

namespace searnn::avx512 {

// True when this CPU can run the float32 kernels (AVX-512 F, BW, DQ, VL).
bool available();
// True when it can also run the bfloat16 kernels (AVX512_BF16).
bool available_bfloat16();

// `rows` rows of a step of the cell at index `cell` of searnn_ext/cells.h's Cells (see
// cell_rows.h); T is float or c10::BFloat16.
template <typename T>
void cell_update(int64_t cell, const CellRows<T>& step, int64_t rows);

// Additive attention of one row, as AdditiveAttention of decoder_math.h: query [H], keys
// [S, H], values [S, D], score_weight [H]; length >= 1 positions count; scores: [S] and
// unit_scratch: [2H] float scratch; context [D] is written.
template <typename T>
void additive_attention_row(const T* query, const T* keys, const T* values, int64_t length,
                            const T* score_weight, int64_t hidden_size, int64_t value_size,
                            float* scores, float* unit_scratch, T* context);

// Multi-head scaled dot-product attention of one row, as DotAttention of
// searnn_ext/dot_attention.h; scores: dot_attention_scratch_floats(row.heads, row.length())
// floats (dot_attention_row.h).
template <typename T>
void dot_attention_row(const DotAttentionRow<T>& row, float* scores);

// out[r] <- (x[r] - mean) / sqrt(variance + eps) * weight + bias for each of `rows` rows of
// `size` values (x and out [rows, size]), as torch.nn.LayerNorm, in float32.
template <typename T>
void layer_norm_rows(const T* x, const T* weight, const T* bias, int64_t rows, int64_t size,
                     float eps, T* out);

// values[0, count) <- tanh(values[0, count)).
template <typename T>
void tanh_in_place(T* values, int64_t count);

}  // namespace searnn::avx512

#endif
