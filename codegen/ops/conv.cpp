// Lowering of conv2d and its two gradients. Each is the same sum over (n, oh, ow, kh, kw, f, c)
// of x * kernel * dy, taken over two of the three: the result (y, dx or dk) is zeroed, then
// every term whose input pixel is real adds a product into it, in one fixed order.
#include "codegen/lowerer.h"
#include "graph/ops/window.h"

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

void lower_conv2d(const LowerCall& c) { lower_conv_sum(c, kX, kKernel, kY); }
void lower_conv2d_backprop_input(const LowerCall& c) { lower_conv_sum(c, kY, kKernel, kX); }
void lower_conv2d_backprop_kernel(const LowerCall& c) { lower_conv_sum(c, kX, kY, kKernel); }

} // namespace

extern const Lowering conv2d_lowering{.lower = lower_conv2d};
extern const Lowering conv2d_backprop_input_lowering{.lower = lower_conv2d_backprop_input};
extern const Lowering conv2d_backprop_kernel_lowering{.lower = lower_conv2d_backprop_kernel};

} // namespace sj::codegen
