// searnn_ext._C.cpu_linear_out: the CPU decode loops' GEMM (cpu/cpu_gemm.h) for Python, so that
// the benchmark's GEMM floor times the products the loops run, and the tests check them. In its
// own file: torch's pybind tensor casters make a file slow to compile.
#include <ATen/MemoryOverlap.h>
#include <torch/csrc/utils/pybind.h>

#include <optional>

#include "cpu/cpu_gemm.h"

namespace searnn {
namespace {

void checked_cpu_linear_out(at::Tensor out, const at::Tensor& input, const at::Tensor& weight,
                            const std::optional<at::Tensor>& bias) {
  const char* op = "cpu_linear_out";
  for (const auto& [name, t] : {std::pair{"out", out}, {"input", input}, {"weight", weight}}) {
    TORCH_CHECK_VALUE(t.device().is_cpu(), op, ": ", name, " must be a CPU tensor, got one on ",
                      t.device());
    TORCH_CHECK_VALUE(t.dim() == 2, op, ": ", name, " must be 2-D, got ", t.dim(), "-D");
    TORCH_CHECK_TYPE(t.scalar_type() == input.scalar_type() && at::isFloatingType(t.scalar_type()),
                     op, ": out, input and weight must share a floating dtype, got ",
                     out.scalar_type(), ", ", input.scalar_type(), " and ", weight.scalar_type());
  }
  TORCH_CHECK_VALUE(weight.size(1) == input.size(1) && out.size(0) == input.size(0) &&
                        out.size(1) == weight.size(0),
                    op, ": expected input [m, k], weight [n, k] and out [m, n], got input ",
                    input.sizes(), ", weight ", weight.sizes(), " and out ", out.sizes());
  TORCH_CHECK_VALUE(out.is_contiguous(), op, ": out must be contiguous");
  TORCH_CHECK_VALUE(!out.requires_grad(), op, ": out must not require grad");
  at::assert_no_overlap(out, input);
  at::assert_no_overlap(out, weight);
  if (bias) {
    TORCH_CHECK_VALUE(bias->device().is_cpu() && bias->dim() == 1 &&
                          bias->size(0) == weight.size(0),
                      op, ": bias must be a CPU tensor [n] = [", weight.size(0), "], got ",
                      bias->sizes(), " on ", bias->device());
    TORCH_CHECK_TYPE(bias->scalar_type() == input.scalar_type(), op,
                     ": bias must have the input's dtype ", input.scalar_type(), ", got ",
                     bias->scalar_type());
    at::assert_no_overlap(out, *bias);
  }
  cpu_linear_out(out, input, weight, bias.value_or(at::Tensor()));
}

}  // namespace

void bind_cpu_gemm(pybind11::module_& m) {
  m.def("cpu_linear_out", &checked_cpu_linear_out, pybind11::arg("out"), pybind11::arg("input"),
        pybind11::arg("weight"), pybind11::arg("bias") = pybind11::none(),
        "out <- input @ weight^T (+ bias) through the CPU decode loops' GEMM "
        "(build_info()['cpu_gemms']).");
}

}  // namespace searnn
