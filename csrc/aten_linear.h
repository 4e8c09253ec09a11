// The decode loops' linear layers over a block of rows as ATen runs them (MKL or oneDNN on
// CPUs, cuBLAS on GPUs): GpuKernels' GEMMs, and CpuKernels' where it does not take oneDNN's
// float32 matmul (cpu/cpu_gemm.h).
#pragma once

#include <ATen/ATen.h>

namespace searnn {

struct AtenLinear {
  // out <- input @ weight^T + bias; an undefined bias adds nothing.
  static void linear_out(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight,
                         const at::Tensor& bias) {
    if (bias.defined()) {
      at::addmm_out(out, bias, input, weight.t());
    } else {
      at::mm_out(out, input, weight.t());
    }
  }

  // out += input @ weight^T
  static void add_product(at::Tensor& out, const at::Tensor& input, const at::Tensor& weight) {
    out.addmm_(input, weight.t());
  }
};

}  // namespace searnn
