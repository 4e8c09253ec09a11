#include "cpu_gemm.h"

#include <ATen/Config.h>
#include <ATen/Context.h>

#include <cstdlib>
#include <exception>
#include <string>

#include "../aten_linear.h"
#include "decode_blocks.h"

#if AT_MKLDNN_ENABLED()
// torch's oneDNN matmul (aten/src/ATen/native/mkldnn/Matmul.cpp): result <- beta * result +
// alpha * mat1 @ mat2. libtorch_cpu exports it; its header is not installed with torch.
namespace at::native {
TORCH_API void mkldnn_matmul(const at::Tensor& mat1, const at::Tensor& mat2,
                             const at::Tensor& result, float beta, float alpha);
}  // namespace at::native
#endif

namespace searnn {
namespace {

// out <- beta * out + input @ weight^T; beta 0 only writes out.
void onednn_matmul(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& out,
                   float beta) {
#if AT_MKLDNN_ENABLED()
  at::native::mkldnn_matmul(input, weight.t(), out, beta, 1.0f);
#else
  TORCH_INTERNAL_ASSERT(false, "onednn_matmul without oneDNN");
#endif
}

// 1 + input @ weight^T for input [3, 4] and weight [2, 4] of small integers, exact in float32,
// checked against plain loops: the first call may come under autocast, where ATen's own GEMM
// would answer in another dtype.
bool onednn_runs_and_agrees() {
#if AT_MKLDNN_ENABLED()
  try {
    const at::Tensor input = at::arange(12, at::kFloat).reshape({3, 4});
    const at::Tensor weight = at::arange(8, at::kFloat).reshape({2, 4});
    const at::Tensor out = at::ones({3, 2}, at::kFloat);
    onednn_matmul(input, weight, out, 1.0f);
    const float* got = out.const_data_ptr<float>();
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        float expected = 1;
        for (int64_t k = 0; k < 4; ++k) {
          expected += static_cast<float>((4 * i + k) * (4 * j + k));
        }
        if (got[2 * i + j] != expected) {
          return false;
        }
      }
    }
    return true;
  } catch (const std::exception&) {  // c10::Error, and oneDNN's own errors
    return false;
  }
#else
  return false;
#endif
}

// Whether a dtype's products go to oneDNN now: torch.backends.mkldnn.enabled is read at each call.
bool onednn_takes(at::ScalarType dtype) {
  return dtype == at::kFloat && at::globalContext().userEnabledMkldnn() && onednn_float_gemm();
}

// Empty products stay with ATen, which writes zeros where a sum has no terms.
bool uses_onednn(const at::Tensor& out, const at::Tensor& input) {
  return input.numel() > 0 && out.numel() > 0 && onednn_takes(out.scalar_type());
}

}  // namespace

bool onednn_float_gemm() {
  static const bool chosen = [] {
    const char* variable = std::getenv("SEARNN_CPU_GEMM");
    const std::string asked = variable == nullptr ? "" : variable;
    TORCH_CHECK(asked.empty() || asked == "onednn" || asked == "aten",
                "SEARNN_CPU_GEMM must be 'onednn', 'aten' or unset, got '", asked, "'");
    if (asked == "aten") {
      return false;
    }
    const bool runs = onednn_runs_and_agrees();
    TORCH_CHECK(runs || asked.empty(),
                "SEARNN_CPU_GEMM=onednn, but this torch's oneDNN matmul does not run here");
    return runs;
  }();
  return chosen;
}

const char* cpu_gemm_name(at::ScalarType dtype) { return onednn_takes(dtype) ? "onednn" : "aten"; }

namespace {

// oneDNN builds and caches a kernel per problem size, with buffers (up to about 8 MiB for 256 x
// 128 x 512): the decode loops' row counts, which vary from block to block and step to step,
// would fill its cache with hundreds. It takes the first multiple of kDecodeRowsPerBlock rows
// instead, one size per weight, and ATen the rest.
int64_t onednn_rows(const at::Tensor& out, const at::Tensor& input) {
  return uses_onednn(out, input) ? input.size(0) / kDecodeRowsPerBlock * kDecodeRowsPerBlock : 0;
}

}  // namespace

void cpu_linear_out(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight,
                    const at::Tensor& bias) {
  const int64_t head = onednn_rows(out, input), rows = input.size(0);
  if (head > 0) {
    at::Tensor head_out = out.narrow(0, 0, head);
    if (bias.defined()) {
      head_out.copy_(bias.expand_as(head_out));
    }
    onednn_matmul(input.narrow(0, 0, head), weight, head_out, bias.defined() ? 1.0f : 0.0f);
  }
  if (head < rows) {
    at::Tensor tail_out = out.narrow(0, head, rows - head);
    AtenLinear::linear_out(tail_out, input.narrow(0, head, rows - head), weight, bias);
  }
}

void cpu_add_product(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight) {
  const int64_t head = onednn_rows(out, input), rows = input.size(0);
  if (head > 0) {
    onednn_matmul(input.narrow(0, 0, head), weight, out.narrow(0, 0, head), 1.0f);
  }
  if (head < rows) {
    at::Tensor tail_out = out.narrow(0, head, rows - head);
    AtenLinear::add_product(tail_out, input.narrow(0, head, rows - head), weight);
  }
}

}  // namespace searnn
