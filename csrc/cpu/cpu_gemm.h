// The CPU decode loops' linear layers. float32 runs through oneDNN's matmul, which torch links,
// where it takes float32 (x86 CPUs with AVX-512). On some CPUs it is much faster than ATen's
// float32 GEMM (MKL): on an AMD Zen 4, about 2x at the loops' shapes (256 rows x 128..512).
// bfloat16 and float64 keep ATen's GEMMs: ATen chooses its own bfloat16 GEMM (oneDNN or MKL),
// and float64 keeps torch's own rounding.
#pragma once

#include <ATen/ATen.h>

namespace searnn {

// Whether the float32 products run through oneDNN: SEARNN_CPU_GEMM=onednn or =aten chooses;
// unset, oneDNN where torch was built with it and a first small product through it runs and
// gives the right answer (it refuses float32 on CPUs without AVX-512). Another value, or
// "onednn" where it does not run, is an error. torch.backends.mkldnn.enabled = False turns it
// off as it turns off ATen's own use of oneDNN.
bool onednn_float_gemm();

// "onednn" or "aten", as build_info() reports the choice for a dtype.
const char* cpu_gemm_name(at::ScalarType dtype);

// out <- input @ weight^T + bias (an undefined bias: none), as AtenLinear::linear_out
// (aten_linear.h). Through oneDNN, the bias is copied into out first and the product added to
// it, as ATen's CPU addmm does.
void cpu_linear_out(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight,
                    const at::Tensor& bias);

// out += input @ weight^T
void cpu_add_product(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight);

}  // namespace searnn
