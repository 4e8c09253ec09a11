#include "kernel_choice.h"

#include <ATen/Version.h>

#include <string>

#include "avx2_decoder_math.h"
#include "avx512_decoder_math.h"

namespace searnn {
namespace {

enum class Tier { kNone, kAvx2, kAvx512 };

Tier vector_tier() {
  static const Tier tier = [] {
    const std::string aten = at::get_cpu_capability();  // "AVX512", "AVX2", "DEFAULT", ...
#ifdef SEARNN_HAS_AVX512_KERNELS
    if (aten == "AVX512" && avx512::available()) {
      return Tier::kAvx512;
    }
#endif
#ifdef SEARNN_HAS_AVX2_KERNELS
    if ((aten == "AVX512" || aten == "AVX2") && avx2::available()) {
      return Tier::kAvx2;
    }
#endif
    return Tier::kNone;
  }();
  return tier;
}

}  // namespace

DecoderKernels decoder_kernels(at::ScalarType dtype) {
  const Tier tier = vector_tier();
  switch (dtype) {
    case at::kFloat:
      return tier == Tier::kAvx512 ? DecoderKernels::kAvx512
             : tier == Tier::kAvx2 ? DecoderKernels::kAvx2
                                   : DecoderKernels::kAten;
    case at::kBFloat16:
      // ATen's bfloat16 ops round every intermediate to bfloat16: the functors instead.
#ifdef SEARNN_HAS_AVX512_KERNELS
      if (tier == Tier::kAvx512 && avx512::available_bfloat16()) {
        return DecoderKernels::kAvx512;
      }
#endif
      return DecoderKernels::kPortable;
    default:  // float64: ATen's ops give the pure-PyTorch path's own rounding
      return DecoderKernels::kAten;
  }
}

const char* kernels_name(DecoderKernels kernels) {
  switch (kernels) {
    case DecoderKernels::kPortable:
      return "portable";
    case DecoderKernels::kAvx2:
      return "avx2";
    case DecoderKernels::kAvx512:
      return "avx512";
    default:
      return "aten";
  }
}

}  // namespace searnn
