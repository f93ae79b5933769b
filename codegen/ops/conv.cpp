// Lowering of conv2d and its two gradients. Each is the same sum over (n, oh, ow, kh, kw, f, c)
// of x * kernel * dy, taken over two of the three: the result (y, dx or dk) is zeroed, then
// every term whose input pixel is real adds a product into it, in one fixed order. That loop
// nest is the lowering of f64; f32 calls the implicit-GEMM kernels of kernels/conv.h instead,
// on the step's thread pool.
#include "codegen/lowerer.h"
#include "graph/ops/window.h"
#include "kernels/conv.h"

#include <cstddef>

namespace sj::codegen {

namespace {

using V = llvm::Value*;

// Which tensor of the sum each operand and the result are: x, kernel or dy (y).
enum Role { kX, kKernel, kY };

// result[out] += a[ia] * b[ib] over every term of the convolution of `c`'s node.
void lower_conv_sum(const LowerCall& c, Role ra, Role rb, Role rout) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  ops::ConvGeometry conv = ops::conv_geometry(L.graph(), c.node);
  const ops::Window2d& w = conv.window;
  DType dt = c.node.type.dtype;
  llvm::Type* t = L.reg_type(dt);
  b.CreateMemSet(c.result(), b.getInt8(0), c.i64(int64_t(c.node.type.byte_size())),
                 llvm::MaybeAlign(dtype_size(dt)));
  int64_t C = conv.x[3], F = conv.y[3], cg = C / conv.groups, fg = F / conv.groups;
  const Shape* shapes[3] = {&conv.x, &conv.kernel, &conv.y};
  auto mul = [&](V x, int64_t k) { return b.CreateMul(x, c.i64(k)); };
  auto add = [&](V x, V y) { return b.CreateAdd(x, y); };
  c.loop(conv.y[0], [&](V n) {
    c.loop(w.out[0], [&](V oh) {
      c.loop(w.out[1], [&](V ow) {
        c.loop(w.window[0], [&](V kh) {
          V ih = add(b.CreateSub(mul(oh, w.stride[0]), c.i64(w.pad_before[0])),
                     mul(kh, w.dilation[0]));
          c.loop(w.window[1], [&](V kw) {
            V iw = add(b.CreateSub(mul(ow, w.stride[1]), c.i64(w.pad_before[1])),
                       mul(kw, w.dilation[1]));
            // A padding pixel contributes nothing: its index is clamped to 0 for a safe load
            // and the product replaced by 0.
            V inside = b.CreateAnd(
                b.CreateAnd(b.CreateICmpSGE(ih, c.i64(0)), b.CreateICmpSLT(ih, c.i64(w.in[0]))),
                b.CreateAnd(b.CreateICmpSGE(iw, c.i64(0)), b.CreateICmpSLT(iw, c.i64(w.in[1]))));
            V x_pixel = b.CreateSelect(
                inside, mul(add(mul(add(mul(n, w.in[0]), ih), w.in[1]), iw), C), c.i64(0));
            V y_pixel = mul(add(mul(add(mul(n, w.out[0]), oh), w.out[1]), ow), F);
            V tap = mul(add(mul(kh, w.window[1]), kw), cg);
            c.loop(F, [&](V f) {
              V x_group = mul(b.CreateUDiv(f, c.i64(fg)), cg);
              c.loop(cg, [&](V ci) {
                V index[3] = {add(x_pixel, add(x_group, ci)), add(mul(add(tap, ci), F), f),
                              add(y_pixel, f)};
                auto read = [&](size_t operand, Role role) {
                  Index at = Index::flat(*shapes[role], index[role]);
                  return c.operand_at(operand, at);
                };
                V product = b.CreateFMul(read(0, ra), read(1, rb));
                V term = b.CreateSelect(inside, product, llvm::ConstantFP::get(t, 0.0));
                V ptr = b.CreateInBoundsGEP(t, c.result(), index[rout]);
                b.CreateStore(b.CreateFAdd(b.CreateLoad(t, ptr), term), ptr);
              });
            });
          });
        });
      });
    });
  });
}

// A call of `kernel` (kernels/conv.h) with the buffers of the operands and the result in the
// roles ra, rb and rout.
void lower_conv_call(const LowerCall& c, const char* kernel, Role ra, Role rb, Role rout) {
  Lowerer& L = c.lowerer;
  auto& b = c.b();
  ops::ConvGeometry conv = ops::conv_geometry(L.graph(), c.node);
  const ops::Window2d& w = conv.window;
  llvm::Value* args = L.slot(llvm::ArrayType::get(b.getInt64Ty(), sizeof(SjConvArgs) / 8));
  auto field = [&](size_t offset, V value) {
    b.CreateStore(value, b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), args, offset));
  };
  auto word = [&](size_t offset, int64_t value) { field(offset, c.i64(value)); };
  word(offsetof(SjConvArgs, n), conv.x[0]);
  word(offsetof(SjConvArgs, h), conv.x[1]);
  word(offsetof(SjConvArgs, w), conv.x[2]);
  word(offsetof(SjConvArgs, c), conv.x[3]);
  word(offsetof(SjConvArgs, oh), w.out[0]);
  word(offsetof(SjConvArgs, ow), w.out[1]);
  word(offsetof(SjConvArgs, f), conv.y[3]);
  word(offsetof(SjConvArgs, kh), w.window[0]);
  word(offsetof(SjConvArgs, kw), w.window[1]);
  word(offsetof(SjConvArgs, stride_h), w.stride[0]);
  word(offsetof(SjConvArgs, stride_w), w.stride[1]);
  word(offsetof(SjConvArgs, dilation_h), w.dilation[0]);
  word(offsetof(SjConvArgs, dilation_w), w.dilation[1]);
  word(offsetof(SjConvArgs, pad_top), w.pad_before[0]);
  word(offsetof(SjConvArgs, pad_left), w.pad_before[1]);
  word(offsetof(SjConvArgs, groups), conv.groups);
  const size_t offsets[3] = {offsetof(SjConvArgs, x), offsetof(SjConvArgs, kernel),
                             offsetof(SjConvArgs, y)};
  field(offsets[ra], L.buffer(c.node.operands[0]));
  field(offsets[rb], L.buffer(c.node.operands[1]));
  field(offsets[rout], c.result());
  auto [epilogue, epilogue_ctx] = L.gemm_epilogue(c.id); // conv2d, groups = 1 (passes/fuse)
  field(offsetof(SjConvArgs, epilogue), epilogue);
  field(offsetof(SjConvArgs, epilogue_ctx), epilogue_ctx);
  field(offsetof(SjConvArgs, pool), L.pool());
  llvm::FunctionCallee fn = L.module().getOrInsertFunction(
      kernel, llvm::FunctionType::get(b.getVoidTy(), {b.getPtrTy()}, false));
  b.CreateCall(fn, {args});
}

void lower_conv(const LowerCall& c, const char* kernel, Role ra, Role rb, Role rout) {
  if (c.node.type.dtype == DType::f32 && c.node.type.num_elements() > 0)
    lower_conv_call(c, kernel, ra, rb, rout);
  else
    lower_conv_sum(c, ra, rb, rout);
}

void lower_conv2d(const LowerCall& c) { lower_conv(c, "sj_conv2d_f32", kX, kKernel, kY); }
void lower_conv2d_backprop_input(const LowerCall& c) {
  lower_conv(c, "sj_conv2d_backprop_input_f32", kY, kKernel, kX);
}
void lower_conv2d_backprop_kernel(const LowerCall& c) {
  lower_conv(c, "sj_conv2d_backprop_kernel_f32", kX, kY, kKernel);
}

} // namespace

extern const Lowering conv2d_lowering{.lower = lower_conv2d};
extern const Lowering conv2d_backprop_input_lowering{.lower = lower_conv2d_backprop_input};
extern const Lowering conv2d_backprop_kernel_lowering{.lower = lower_conv2d_backprop_kernel};

} // namespace sj::codegen
