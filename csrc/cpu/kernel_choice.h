// Which of the CPU's element-wise decoder kernels runs for a dtype, chosen at run time from
// what this CPU can do: AVX-512, then AVX2, then the portable functors of cells.h and
// decoder_math.h or
// ATen's ops. ATEN_CPU_CAPABILITY (e.g. "avx2", "default") caps the choice as it caps ATen's
// own kernels, so that one variable runs every tier on one machine, side by side.
#pragma once

#include <c10/core/ScalarType.h>

namespace searnn {

enum class DecoderKernels {
  kAten,      // ATen's vectorised ops, in torch's cells' and Seq2Seq.attend's order
  kPortable,  // cells.h's and decoder_math.h's functors, a row at a time, in float
  kAvx2,      // avx2_decoder_math.h (float32)
  kAvx512,    // avx512_decoder_math.h (float32, bfloat16)
};

DecoderKernels decoder_kernels(at::ScalarType dtype);

// "aten", "portable", "avx2" or "avx512", as build_info() reports them.
const char* kernels_name(DecoderKernels kernels);

}  // namespace searnn
