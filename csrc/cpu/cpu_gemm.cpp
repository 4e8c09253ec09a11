#include "cpu_gemm.h"

#include <ATen/Config.h>

#include <cstdlib>
#include <string>

#include "../aten_linear.h"

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

bool onednn_runs_and_agrees() {
#if AT_MKLDNN_ENABLED()
  try {
    const at::Tensor input = at::arange(12, at::kFloat).reshape({3, 4}) / 7;
    const at::Tensor weight = at::arange(8, at::kFloat).reshape({2, 4}) / 5;
    const at::Tensor out = at::ones({3, 2}, at::kFloat);
    onednn_matmul(input, weight, out, 1.0f);
    return at::allclose(out, at::addmm(at::ones({3, 2}, at::kFloat), input, weight.t()));
  } catch (const c10::Error&) {
    return false;
  }
#else
  return false;
#endif
}

// Empty products stay with ATen, which writes zeros where a sum has no terms.
bool uses_onednn(const at::Tensor& out, const at::Tensor& input) {
  return out.scalar_type() == at::kFloat && input.numel() > 0 && out.numel() > 0 &&
         onednn_float_gemm();
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

const char* cpu_gemm_name(at::ScalarType dtype) {
  return dtype == at::kFloat && onednn_float_gemm() ? "onednn" : "aten";
}

void cpu_linear_out(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight,
                    const at::Tensor& bias) {
  if (!uses_onednn(out, input)) {
    AtenLinear::linear_out(out, input, weight, bias);
    return;
  }
  if (bias.defined()) {
    out.copy_(bias.expand_as(out));
  }
  onednn_matmul(input, weight, out, bias.defined() ? 1.0f : 0.0f);
}

void cpu_add_product(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight) {
  if (!uses_onednn(out, input)) {
    AtenLinear::add_product(out, input, weight);
    return;
  }
  onednn_matmul(input, weight, out, 1.0f);
}

}  // namespace searnn
