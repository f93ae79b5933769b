#include "codegen/lower_to_llvm.h"

#include "codegen/lowerer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

namespace sj {

// ---- Index -------------------------------------------------------------------------------

llvm::Value* Index::linear(llvm::IRBuilder<>& b) {
  if (linear_) return linear_;
  llvm::Value* acc = b.getInt64(0);
  for (size_t d = 0; d < shape_.size(); ++d)
    acc = b.CreateAdd(b.CreateMul(acc, b.getInt64(shape_[d])), dims_[d]);
  return linear_ = acc;
}

const std::vector<llvm::Value*>& Index::dims(llvm::IRBuilder<>& b) {
  if (dims_.size() == shape_.size()) return dims_;
  dims_.assign(shape_.size(), nullptr);
  llvm::Value* rest = linear_;
  for (size_t d = shape_.size(); d-- > 0;) {
    llvm::Value* size = b.getInt64(shape_[d]);
    dims_[d] = d == 0 ? rest : b.CreateURem(rest, size);
    if (d > 0) rest = b.CreateUDiv(rest, size);
  }
  return dims_;
}

// ---- what rules see ------------------------------------------------------------------------

namespace {

// Operand `shape`'s index for result position `at` under NumPy broadcasting.
Index broadcast_index(llvm::IRBuilder<>& b, const Shape& shape, Index& at) {
  if (shape == at.shape()) return at;
  if (num_elements(shape) == 1) return Index::flat(shape, b.getInt64(0));
  const auto& dims = at.dims(b);
  size_t offset = at.shape().size() - shape.size();
  std::vector<llvm::Value*> mapped;
  for (size_t d = 0; d < shape.size(); ++d)
    mapped.push_back(shape[d] == 1 ? b.getInt64(0) : dims[offset + d]);
  return Index::dims(shape, mapped);
}

} // namespace

llvm::IRBuilder<>& ElementCall::b() const { return lowerer.b(); }
llvm::Value* ElementCall::operand(size_t i) const {
  ValueId o = node.operands[i];
  Index at = broadcast_index(b(), lowerer.graph().type(o).shape, index);
  return lowerer.element(o, at);
}
llvm::Value* ElementCall::operand_at(size_t i, Index& at) const {
  return lowerer.element(node.operands[i], at);
}
DType ElementCall::operand_dtype(size_t i) const {
  return lowerer.graph().type(node.operands[i]).dtype;
}
llvm::Type* ElementCall::type(DType t) const { return lowerer.reg_type(t); }

llvm::IRBuilder<>& LowerCall::b() const { return lowerer.b(); }
llvm::Value* LowerCall::result() const { return lowerer.buffer(id); }
llvm::Value* LowerCall::operand_at(size_t i, Index& at) const {
  return lowerer.element(node.operands[i], at);
}
void LowerCall::loop(llvm::Value* n, const std::function<void(llvm::Value*)>& body) const {
  lowerer.loop(lowerer.i64(0), n, body);
}
void LowerCall::loop(int64_t n, const std::function<void(llvm::Value*)>& body) const {
  lowerer.loop(lowerer.i64(0), lowerer.i64(n), body);
}
void LowerCall::parallel_rows(int64_t rows, const std::function<void(llvm::Value*)>& body) const {
  lowerer.parallel_rows(id, id, rows, body);
}
void LowerCall::for_each(const Shape& shape, const std::function<void(Index&)>& body) const {
  lowerer.for_each(shape, false, body);
}
llvm::Type* LowerCall::type(DType t) const { return lowerer.reg_type(t); }
llvm::Value* LowerCall::i64(int64_t v) const { return lowerer.i64(v); }
void LowerCall::error_if(llvm::Value* condition, llvm::Value* value, llvm::Value* position) const {
  lowerer.error_if(condition, id, value, position);
}

// ---- the driver --------------------------------------------------------------------------

Lowerer::Lowerer(const Graph& graph, const FusionPlan& fusion, const MemoryPlan& memory,
                 llvm::Module& module, bool check_numerics)
    : graph_(graph), fusion_(fusion), memory_(memory), module_(module), b_(module.getContext()),
      check_numerics_(check_numerics) {}

llvm::Type* Lowerer::reg_type(DType t) {
  switch (t) {
  case DType::f32:
    return b_.getFloatTy();
  case DType::f64:
    return b_.getDoubleTy();
  case DType::i32:
    return b_.getInt32Ty();
  case DType::i64:
    return b_.getInt64Ty();
  case DType::boolean:
    return b_.getInt1Ty();
  }
  internal_error("reg_type: bad dtype");
}

llvm::Type* Lowerer::mem_type(DType t) {
  return t == DType::boolean ? b_.getInt8Ty() : reg_type(t);
}

llvm::Value* Lowerer::buffer(ValueId v) {
  if (buffers_[v]) return buffers_[v];
  // The address is computed once per function, in its entry block, on first use.
  const Buffer& buf = memory_.buffers[v];
  if (outlining_ || buf.storage == Storage::none)
    internal_error(fmt::format("lowering: %{} has no buffer here", v));
  const Node& n = graph_.node(v);
  std::string name = n.name.empty() ? fmt::format("v{}", v) : n.name;
  llvm::IRBuilder<> at(addresses_->getTerminator());
  llvm::Type* ptr = b_.getPtrTy();
  llvm::Value* address = nullptr;
  switch (buf.storage) {
  case Storage::input:
    address = at.CreateLoad(ptr, at.CreateConstGEP1_64(ptr, inputs_, slot_[v]), name);
    break;
  case Storage::variable:
    address = at.CreateLoad(ptr, at.CreateConstGEP1_64(ptr, variables_, slot_[v]), name);
    break;
  case Storage::constant:
    address = constant_data(v);
    break;
  case Storage::alias: // an assign: the buffer of its (possibly in-place) value
    address = buffer(n.operands[1]);
    break;
  case Storage::arena:
    address = at.CreateInBoundsGEP(b_.getInt8Ty(), arena_, i64(buf.offset), name);
    break;
  case Storage::in_place:
    address = buffer(buf.target);
    break;
  case Storage::none:
    break;
  }
  return buffers_[v] = address;
}

llvm::Value* Lowerer::constant_data(ValueId v) {
  if (globals_[v]) return globals_[v];
  const Node& n = graph_.node(v);
  const Tensor& t = n.attrs.tensor("value");
  auto bytes = t.bytes();
  llvm::Constant* data = llvm::ConstantDataArray::getRaw(
      llvm::StringRef(reinterpret_cast<const char*>(bytes.data()), bytes.size()), t.num_elements(),
      mem_type(t.dtype()));
  auto* global =
      new llvm::GlobalVariable(module_, data->getType(), true, llvm::GlobalValue::PrivateLinkage,
                               data, n.name.empty() ? fmt::format("v{}", v) : n.name);
  global->setAlignment(llvm::Align(64));
  return globals_[v] = global;
}

llvm::Value* Lowerer::element(ValueId v, Index& at) {
  const Node& node = graph_.node(v);
  if (fusion_.inlined[v]) {
    ElementCall call{*this, node, v, at};
    llvm::Value* x = lowering_of(node.op).element(call);
    note(v, x, at);
    return x;
  }
  if (in_loop_ && at.shape() == node.type.shape && at.linear(b_) == in_loop_)
    if (auto it = computed_.find(v); it != computed_.end()) return it->second;
  DType t = node.type.dtype;
  auto load = [&](llvm::Value* linear) {
    llvm::Value* ptr = b_.CreateInBoundsGEP(mem_type(t), buffer(v), linear);
    llvm::Value* x = b_.CreateAlignedLoad(mem_type(t), ptr, llvm::Align(dtype_size(t)));
    return t == DType::boolean ? b_.CreateICmpNE(x, b_.getInt8(0)) : x;
  };
  if (in_loop_ && node.type.num_elements() == 1 && !computed_.count(v) && !preheaders_.empty() &&
      preheaders_.back().first == fn_) {
    // A stored scalar (a hyperparameter, a bias correction) read in a loop group: loaded once
    // before the outermost loop, computed as it is before the loop starts (not a member of this
    // loop, read through an index map). Loaded inside, LLVM must prove that the loop's stores
    // miss it, which it cannot when both are in the arena (an optimizer update written out of
    // place stayed scalar).
    llvm::BasicBlock* pre = preheaders_.back().second;
    llvm::Value*& hoisted = hoisted_[{pre, v}];
    if (!hoisted) {
      llvm::IRBuilderBase::InsertPointGuard guard(b_);
      b_.SetInsertPoint(pre->getTerminator());
      hoisted = load(i64(0));
    }
    return hoisted;
  }
  return load(at.linear(b_));
}

void Lowerer::store(ValueId v, llvm::Value* linear, llvm::Value* value) {
  DType t = graph_.node(v).type.dtype;
  if (t == DType::boolean) value = b_.CreateZExt(value, b_.getInt8Ty());
  llvm::Value* ptr = b_.CreateInBoundsGEP(mem_type(t), buffer(v), linear);
  b_.CreateAlignedStore(value, ptr, llvm::Align(dtype_size(t)));
}

void Lowerer::loop(llvm::Value* begin, llvm::Value* end,
                   const std::function<void(llvm::Value*)>& body) {
  llvm::BasicBlock* pre = b_.GetInsertBlock();
  llvm::BasicBlock* head = llvm::BasicBlock::Create(context(), "loop", fn_);
  llvm::BasicBlock* exit = llvm::BasicBlock::Create(context(), "loop.end", fn_);
  b_.CreateCondBr(b_.CreateICmpSLT(begin, end), head, exit);
  bool outermost = preheaders_.empty() || preheaders_.back().first != fn_;
  if (outermost) preheaders_.emplace_back(fn_, pre);
  b_.SetInsertPoint(head);
  llvm::PHINode* i = b_.CreatePHI(b_.getInt64Ty(), 2, "i");
  i->addIncoming(begin, pre);
  body(i);
  llvm::Value* next = b_.CreateAdd(i, b_.getInt64(1), "", /*HasNUW=*/true, /*HasNSW=*/true);
  i->addIncoming(next, b_.GetInsertBlock());
  llvm::BranchInst* latch = b_.CreateCondBr(b_.CreateICmpSLT(next, end), head, exit);
  // No unrolling beyond the vectorizer's interleaving: full unrolling of the small constant
  // loops (a 768-element slice, the rows of a 64-row nest) made straight-line blocks of
  // thousands of instructions whose scheduling cost seconds of compile time, for no measured
  // gain in the step.
  llvm::Metadata* disable =
      llvm::MDNode::get(context(), {llvm::MDString::get(context(), "llvm.loop.unroll.disable")});
  llvm::MDNode* self = llvm::MDNode::getDistinct(context(), {nullptr, disable});
  self->replaceOperandWith(0, self);
  latch->setMetadata(llvm::LLVMContext::MD_loop, self);
  if (outermost) preheaders_.pop_back();
  b_.SetInsertPoint(exit);
}

void Lowerer::for_each(const Shape& shape, bool flat, const std::function<void(Index&)>& body) {
  if (shape.empty() || flat) {
    if (shape.empty()) {
      Index at = Index::flat(shape, i64(0));
      body(at);
      return;
    }
    loop(i64(0), i64(num_elements(shape)), [&](llvm::Value* i) {
      Index at = Index::flat(shape, i);
      body(at);
    });
    return;
  }
  std::vector<llvm::Value*> ivs;
  std::function<void(size_t)> nest = [&](size_t d) {
    if (d == shape.size()) {
      Index at = Index::dims(shape, ivs);
      body(at);
      return;
    }
    loop(i64(0), i64(shape[d]), [&](llvm::Value* i) {
      ivs.push_back(i);
      nest(d + 1);
      ivs.pop_back();
    });
  };
  nest(0);
}

void Lowerer::error_if(llvm::Value* condition, ValueId node, llvm::Value* value,
                       llvm::Value* position) {
  // plan_memory relies on the table to know which ops can fail (in-place variable updates),
  // and an outlined loop may run on several threads at once.
  if (!graph_.node(node).def().can_fail())
    internal_error(fmt::format("lowering: {} reports run-time errors but its table row has no "
                               "explain",
                               graph_.node(node).def().name));
  record(1, condition, node, value, position);
}

void Lowerer::record(int64_t code, llvm::Value* condition, ValueId node, llvm::Value* value,
                     llvm::Value* position) {
  if (fn_ != step_fn_) internal_error("lowering: a run-time check inside an outlined loop");
  llvm::Type* i64t = b_.getInt64Ty();
  llvm::BasicBlock* fail = llvm::BasicBlock::Create(context(), "error", fn_);
  llvm::BasicBlock* first = llvm::BasicBlock::Create(context(), "error.first", fn_);
  llvm::BasicBlock* cont = llvm::BasicBlock::Create(context(), "ok", fn_);
  b_.CreateCondBr(condition, fail, cont);
  b_.SetInsertPoint(fail);
  llvm::Value* none_yet = b_.CreateICmpEQ(b_.CreateLoad(i64t, status_), i64(0));
  llvm::Value* later =
      b_.CreateICmpUGT(b_.CreateLoad(i64t, b_.CreateConstGEP1_64(i64t, status_, 1)), i64(node));
  b_.CreateCondBr(b_.CreateOr(none_yet, later), first, cont);
  b_.SetInsertPoint(first);
  b_.CreateStore(i64(code), status_);
  b_.CreateStore(i64(node), b_.CreateConstGEP1_64(i64t, status_, 1));
  b_.CreateStore(b_.CreateSExtOrTrunc(value, i64t), b_.CreateConstGEP1_64(i64t, status_, 2));
  b_.CreateStore(b_.CreateSExtOrTrunc(position, i64t), b_.CreateConstGEP1_64(i64t, status_, 3));
  b_.CreateBr(cont);
  b_.SetInsertPoint(cont);
}

llvm::Value* Lowerer::nonfinite_flag() {
  llvm::Value*& flag = nonfinite_flags_[fn_];
  if (!flag) {
    llvm::BasicBlock& entry = fn_->getEntryBlock();
    llvm::IRBuilder<> at(&entry, entry.begin());
    flag = at.CreateAlloca(b_.getFloatTy(), nullptr, "nonfinite");
    at.CreateStore(llvm::ConstantFP::get(b_.getFloatTy(), 0.0), flag);
  }
  return flag;
}

void Lowerer::note(ValueId v, llvm::Value* x, Index& at) {
  if (!check_numerics_ || !is_float(graph_.type(v).dtype)) return;
  if (locating_) {
    // !(|x| < inf): true for NaN and both infinities.
    llvm::Value* abs = b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
    llvm::Value* bad =
        b_.CreateFCmpUGE(abs, llvm::ConstantFP::getInfinity(x->getType()), "nonfinite");
    llvm::Value* bits = b_.CreateBitCast(b_.CreateFPExt(x, b_.getDoubleTy()), b_.getInt64Ty());
    record(2, bad, v, bits, at.linear(b_));
    return;
  }
  // x - x is 0 for finite x and NaN otherwise; its sum (a plain reassociable float reduction,
  // which vectorizes where an i1 OR chain across a loop's members did not) is NaN exactly when
  // some element was not finite. The subtraction has no fast-math flags, so nothing folds it.
  llvm::Value* zero = b_.CreateFSub(x, x, "nonfinite");
  if (zero->getType() != b_.getFloatTy()) zero = b_.CreateFPTrunc(zero, b_.getFloatTy());
  llvm::Value* flag = nonfinite_flag();
  b_.CreateStore(accumulate(b_.CreateLoad(b_.getFloatTy(), flag), zero), flag);
}

void Lowerer::scan(ValueId v) {
  const TensorType& type = graph_.type(v);
  if (!check_numerics_ || !is_float(type.dtype) || type.num_elements() == 0) return;
  loop(i64(0), i64(type.num_elements()), [&](llvm::Value* i) {
    Index at = Index::flat(type.shape, i);
    DType t = type.dtype;
    llvm::Value* ptr = b_.CreateInBoundsGEP(mem_type(t), buffer(v), i);
    note(v, b_.CreateAlignedLoad(mem_type(t), ptr, llvm::Align(dtype_size(t))), at);
  });
}

void Lowerer::sync(const std::function<void()>& locate) {
  if (!check_numerics_ || locating_) return;
  llvm::Type* i64t = b_.getInt64Ty();
  llvm::Value* flag = nonfinite_flag();
  llvm::Value* shared = b_.CreateConstGEP1_64(i64t, status_, 4);
  llvm::Value* sum = b_.CreateLoad(b_.getFloatTy(), flag);
  llvm::Value* any =
      b_.CreateOr(b_.CreateFCmpUNO(sum, sum), b_.CreateICmpNE(b_.CreateLoad(i64t, shared), i64(0)));
  llvm::BasicBlock* bad = llvm::BasicBlock::Create(context(), "nonfinite.locate", fn_);
  llvm::BasicBlock* cont = llvm::BasicBlock::Create(context(), "nonfinite.done", fn_);
  b_.CreateCondBr(any, bad, cont);
  b_.SetInsertPoint(bad);
  b_.CreateStore(llvm::ConstantFP::get(b_.getFloatTy(), 0.0), flag);
  b_.CreateStore(i64(0), shared);
  locating_ = true;
  locate();
  locating_ = false;
  b_.CreateBr(cont);
  b_.SetInsertPoint(cont);
}

bool Lowerer::has_inlined_operand(ValueId v) const {
  for (ValueId o : graph_.node(v).operands)
    if (fusion_.inlined[o]) return true;
  return false;
}

void Lowerer::emit_checks(ValueId first, ValueId last) {
  for (ValueId m = first; m <= last; ++m)
    if (m == first || fusion_.loop[m] == first)
      for (ValueId v : checks_[m])
        lowering_of(graph_.node(v).op).check(LowerCall{*this, graph_.node(v), v});
}

llvm::Value* Lowerer::slot(llvm::Type* type) {
  llvm::IRBuilder<> entry(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
  return entry.CreateAlloca(type);
}

llvm::Value* Lowerer::accumulate(llvm::Value* a, llvm::Value* b) {
  if (!a->getType()->isFloatingPointTy()) return b_.CreateAdd(a, b);
  llvm::FastMathFlags reassoc;
  reassoc.setAllowReassoc();
  llvm::Value* sum = b_.CreateFAdd(a, b);
  if (auto* inst = llvm::dyn_cast<llvm::Instruction>(sum)) inst->setFastMathFlags(reassoc);
  return sum;
}

llvm::FunctionCallee Lowerer::math(const std::string& name, llvm::Type* type, int arity) {
  std::vector<llvm::Type*> params(arity, type);
  return module_.getOrInsertFunction(name, llvm::FunctionType::get(type, params, false));
}

void Lowerer::compute_members(ValueId first, const Index& position) {
  // Every member in order; a member reads an earlier member's element from `computed_`
  // instead of memory.
  Index first_at = position;
  llvm::Value* i = first_at.linear(b_);
  in_loop_ = i;
  for (ValueId m = first; m <= fusion_.loop_end[first]; ++m) {
    if (fusion_.loop[m] != first || fusion_.inlined[m] || lowering_of(graph_.node(m).op).source)
      continue;
    Index at = first_at;
    ElementCall call{*this, graph_.node(m), m, at};
    llvm::Value* x = lowering_of(graph_.node(m).op).element(call);
    note(m, x, at);
    if (!locating_) store(m, i, x); // locating recomputes what is stored already
    computed_[m] = x;
  }
  in_loop_ = nullptr;
  computed_.clear();
}

void Lowerer::lower_loop_group(ValueId first) {
  emit_checks(first, fusion_.loop_end[first]);
  const Shape& shape = graph_.type(first).shape;
  auto members = [&](llvm::Value* i) { compute_members(first, Index::flat(shape, i)); };
  flat_loop(first, fusion_.loop_end[first], num_elements(shape), members);
  sync([&] { loop(i64(0), i64(num_elements(shape)), members); });
}

std::string Lowerer::label(ValueId first, ValueId last) const {
  // The ops of the values the loop stores, in order, each once: "add+relu.v5".
  std::vector<std::string> ops;
  for (ValueId m = first; m <= last; ++m) {
    if (m != first && (fusion_.loop[m] != first || fusion_.inlined[m])) continue;
    std::string op(graph_.node(m).def().name);
    if (std::find(ops.begin(), ops.end(), op) == ops.end()) ops.push_back(op);
  }
  if (ops.size() > 3) ops.resize(3), ops.back() = "etc";
  return fmt::format("{}.v{}", fmt::join(ops, "+"), first);
}

void Lowerer::lower_node(ValueId v) {
  // What v's node emits (a loop nest, a loop group at its last member, a kernel call) goes
  // into a function of its own when it is large: `sj_step.<ops>.v<id>`, so a profile
  // (STEPJIT_PERF_MAP, jit.h) names the op that costs. A call per node costs nothing next to
  // such a loop, and the function sees the same addresses (arena offsets) as the step.
  const Node& node = graph_.node(v);
  bool emits = fusion_.live[v] && !fusion_.inlined[v] && !lowering_of(node.op).source &&
               fusion_.epilogue_of[fusion_.loop[v]] == fusion_.loop[v] && fusion_.loop_end[v] == v;
  ValueId first = fusion_.loop[v];
  int64_t work = 0;
  if (emits) {
    for (ValueId m = first; m <= v; ++m)
      if (m == v || fusion_.loop[m] == first) {
        work = std::max(work, graph_.type(m).num_elements());
        for (ValueId o : graph_.node(m).operands)
          work = std::max(work, graph_.type(o).num_elements());
      }
  }
  if (!emits || work < kOwnFunctionElements) return lower_node_here(v);
  llvm::Type* ptr = b_.getPtrTy();
  auto* type = llvm::FunctionType::get(b_.getVoidTy(), {ptr, ptr, ptr, ptr, ptr, ptr}, false);
  auto* f = llvm::Function::Create(type, llvm::Function::InternalLinkage,
                                   fmt::format("{}.{}", kStepFunction, label(first, v)), module_);
  f->addFnAttr(llvm::Attribute::NoInline);
  std::vector<llvm::Value*> args{inputs_, variables_, outputs_, arena_, status_, pool_};
  b_.CreateCall(f, args);
  // The caller's state, restored after.
  auto ip = b_.saveIP();
  llvm::Function* caller = fn_;
  std::vector<llvm::Value*> caller_buffers = std::move(buffers_);
  begin_function(f);
  lower_node_here(v);
  b_.CreateRetVoid();
  enter(caller);
  buffers_ = std::move(caller_buffers);
  b_.restoreIP(ip);
}

void Lowerer::lower_node_here(ValueId v) {
  if (!fusion_.live[v]) return; // dead code: no loop, no buffer
  const Node& node = graph_.node(v);
  const Lowering& rule = lowering_of(node.op);
  if (node.op == Op::assign && memory_.buffers[v].storage == Storage::arena) {
    // The assigned value is another variable: keep its value from before the step.
    auto align = llvm::MaybeAlign(dtype_size(node.type.dtype));
    b_.CreateMemCpy(buffer(v), align, buffer(node.operands[1]), align,
                    i64(int64_t(node.type.byte_size())));
    return;
  }
  if (rule.source && node.op == Op::input) {
    // check_numerics: feeds are values of the step too (a NaN pixel is then
    // named as such, with its row, rather than as the first op that reads it).
    scan(v);
    sync([&] { scan(v); });
    return;
  }
  if (fusion_.inlined[v] || rule.source) return;
  if (fusion_.epilogue_of[fusion_.loop[v]] != fusion_.loop[v]) return; // in its GEMM
  if (node.type.num_elements() == 0 && !node.def().can_fail()) {
    // Nothing to compute: a loop nest over [2^40, 0] would still walk 2^40 empty rows. The
    // checks of the failing ops fused into it run all the same (their indices may be many).
    if (fusion_.loop_end[v] == v) emit_checks(fusion_.loop[v], v);
    return;
  }
  if (fusion_.loop[v] != v || fusion_.loop_end[v] != v) {
    // A loop group runs once, at its last member, after the code it does not depend on.
    if (fusion_.loop_end[v] == v)
      unless_failed(fusion_.loop[v], v, [&] { lower_loop_group(fusion_.loop[v]); });
    return;
  }
  if (rule.element && !rule.lower) { // an op with both rules is stored by its whole-buffer rule
    emit_checks(v, v);
    auto compute = [&](Index& at) {
      ElementCall call{*this, node, v, at};
      llvm::Value* x = rule.element(call);
      note(v, x, at);
      if (!locating_) store(v, at.linear(b_), x);
    };
    auto emit = [&] {
      if (node.type.rank() == 0) return for_each(node.type.shape, false, compute);
      if (!fusion_.flat[v])
        return parallel_rows(v, v, node.type.shape[0], [&](llvm::Value* i) {
          // The loop nest over the other dimensions, at row i of the first.
          const Shape& shape = node.type.shape;
          std::vector<llvm::Value*> ivs{i};
          std::function<void(size_t)> nest = [&](size_t d) {
            if (d == shape.size()) {
              Index at = Index::dims(shape, ivs);
              return compute(at);
            }
            loop(i64(0), i64(shape[d]), [&](llvm::Value* j) {
              ivs.push_back(j);
              nest(d + 1);
              ivs.pop_back();
            });
          };
          nest(1);
        });
      flat_loop(v, v, node.type.num_elements(), [&](llvm::Value* i) {
        Index at = Index::flat(node.type.shape, i);
        compute(at);
      });
    };
    unless_failed(v, v, [&] {
      emit();
      sync(emit);
    });
    return;
  }
  if (!rule.lower) internal_error(fmt::format("no lowering for {}", node.def().name));
  // A GEMM with an epilogue loop runs that loop too (so it is skipped on failure with it).
  ValueId epilogue = fusion_.epilogue[v];
  emit_checks(v, v);
  if (epilogue != v) emit_checks(epilogue, fusion_.loop_end[epilogue]);
  unless_failed(epilogue, fusion_.loop_end[epilogue], [&] {
    rule.lower(LowerCall{*this, node, v});
    // A kernel's or whole-buffer rule's result is checked in a pass over it (its epilogue's
    // members in the epilogue, which flags status[4]).
    scan(v);
    sync([&] {
      scan(v);
      // The values fused into the rule (a reduction's operand chain), computed again.
      if (has_inlined_operand(v)) rule.lower(LowerCall{*this, node, v});
      if (epilogue != v) {
        const Shape& shape = graph_.type(v).shape;
        loop(i64(0), i64(num_elements(shape)),
             [&](llvm::Value* i) { compute_members(epilogue, Index::flat(shape, i)); });
      }
    });
  });
}

std::vector<ValueId> Lowerer::loop_buffers(ValueId first, ValueId last) {
  // Its members, and what they and the values inlined into them read.
  std::vector<ValueId> used;
  std::vector<bool> seen(graph_.size(), false);
  std::function<void(ValueId, bool)> visit = [&](ValueId v, bool member) {
    if (seen[v]) return;
    seen[v] = true;
    if (memory_.buffers[v].storage != Storage::none) used.push_back(v);
    if (member || fusion_.inlined[v])
      for (ValueId o : graph_.node(v).operands)
        visit(o, false);
  };
  for (ValueId m = first; m <= last; ++m)
    if (m == first || (fusion_.loop[m] == first && !fusion_.inlined[m])) visit(m, true);
  return used;
}

void Lowerer::flat_loop(ValueId first, ValueId last, int64_t n,
                        const std::function<void(llvm::Value*)>& body) {
  if (n < kParallelElements || locating_) return loop(i64(0), i64(n), body);
  std::vector<ValueId> used = loop_buffers(first, last);
  auto [outlined, ctx] =
      outline(fmt::format("{}.{}.loop", kStepFunction, label(first, last)), used, 2,
              [&](const std::vector<llvm::Value*>& range) { loop(range[0], range[1], body); });
  llvm::Type* ptr = b_.getPtrTy();
  llvm::FunctionCallee parallel_for = module_.getOrInsertFunction(
      "sj_parallel_for",
      llvm::FunctionType::get(b_.getVoidTy(), {ptr, b_.getInt64Ty(), ptr, ptr}, false));
  b_.CreateCall(parallel_for, {pool_, i64(n), outlined, ctx});
}

void Lowerer::parallel_rows(ValueId first, ValueId last, int64_t rows,
                            const std::function<void(llvm::Value*)>& body) {
  int64_t work = 0; // what the values and their operands hold (a pooling op reads more)
  for (ValueId m = first; m <= last; ++m)
    if (m == first || fusion_.loop[m] == first) {
      work = std::max(work, graph_.type(m).num_elements());
      for (ValueId o : graph_.node(m).operands)
        work = std::max(work, graph_.type(o).num_elements());
    }
  if (work < kParallelElements || rows < 2 || locating_) return loop(i64(0), i64(rows), body);
  std::vector<ValueId> used = loop_buffers(first, last);
  auto [outlined, ctx] =
      outline(fmt::format("{}.{}.rows", kStepFunction, label(first, last)), used, 2,
              [&](const std::vector<llvm::Value*>& range) { loop(range[0], range[1], body); });
  llvm::Type* ptr = b_.getPtrTy();
  llvm::FunctionCallee parallel_for = module_.getOrInsertFunction(
      "sj_parallel_for",
      llvm::FunctionType::get(b_.getVoidTy(), {ptr, b_.getInt64Ty(), ptr, ptr}, false));
  b_.CreateCall(parallel_for, {pool_, i64(rows), outlined, ctx});
}

std::pair<llvm::Value*, llvm::Value*> Lowerer::gemm_epilogue(ValueId c) {
  ValueId first = fusion_.epilogue[c];
  llvm::Value* null = llvm::ConstantPointerNull::get(b_.getPtrTy());
  if (first == c) return {null, null};
  std::vector<ValueId> used = loop_buffers(first, fusion_.loop_end[first]);
  const Shape& shape = graph_.type(c).shape;
  // void epilogue(ctx, m0, m1, n0, n1): the loop's members at every element of the block, C
  // seen as a matrix of its last dimension's rows (a conv2d's [N*OH*OW, F]).
  return outline(
      fmt::format("{}.{}.epilogue", kStepFunction, label(first, fusion_.loop_end[first])), used, 4,
      [&](const std::vector<llvm::Value*>& block) {
        loop(block[0], block[1], [&](llvm::Value* m) {
          llvm::Value* row = b_.CreateMul(m, i64(shape.back()));
          // The row's leading indices, once per row.
          std::vector<llvm::Value*> dims(shape.size() - 1);
          llvm::Value* rest = m;
          for (size_t d = dims.size(); d-- > 0;) {
            dims[d] = d == 0 ? rest : b_.CreateURem(rest, i64(shape[d]));
            if (d > 0) rest = b_.CreateUDiv(rest, i64(shape[d]));
          }
          loop(block[2], block[3], [&](llvm::Value* n) {
            std::vector<llvm::Value*> at = dims;
            at.push_back(n);
            compute_members(first, Index::both(shape, at, b_.CreateAdd(row, n)));
          });
        });
      });
}

std::pair<llvm::Function*, llvm::Value*>
Lowerer::outline(const std::string& name, const std::vector<ValueId>& used, int index_args,
                 const std::function<void(const std::vector<llvm::Value*>&)>& emit) {
  // `void name(ctx, index...)` reads the buffers' addresses (and the status word)
  // from ctx, and the pool runs it in chunks. Each element is computed by one thread exactly as
  // inline, so the result does not depend on the thread count. The loop itself is in
  // `loop.body(p0, p1, ..., begin, end)`, inlined into it, whose distinct buffers are `noalias`
  // parameters: live buffers never overlap (an in-place value shares its variable's address,
  // and gets the same parameter), and without it the vectorizer would need a run-time overlap
  // check for every pair of the many pointers an optimizer update touches.
  llvm::Type* ptr = b_.getPtrTy();
  std::vector<llvm::Value*> addresses; // distinct, in first-use order
  std::vector<size_t> param(used.size());
  for (size_t j = 0; j < used.size(); ++j) {
    llvm::Value* address = buffer(used[j]);
    auto it = std::find(addresses.begin(), addresses.end(), address);
    param[j] = size_t(it - addresses.begin());
    if (it == addresses.end()) addresses.push_back(address);
  }
  addresses.push_back(status_);
  llvm::Value* ctx = slot(llvm::ArrayType::get(ptr, addresses.size()));
  for (size_t j = 0; j < addresses.size(); ++j)
    b_.CreateStore(addresses[j], b_.CreateConstInBoundsGEP1_64(ptr, ctx, j));

  std::vector<llvm::Type*> params(addresses.size(), ptr);
  for (int k = 0; k < index_args; ++k)
    params.push_back(b_.getInt64Ty());
  auto* inner = llvm::Function::Create(llvm::FunctionType::get(b_.getVoidTy(), params, false),
                                       llvm::Function::InternalLinkage, name + ".body", module_);
  inner->addFnAttr(llvm::Attribute::AlwaysInline);
  for (unsigned j = 0; j < addresses.size(); ++j)
    inner->addParamAttr(j, llvm::Attribute::NoAlias);
  std::vector<llvm::Type*> outer_params(1, ptr);
  for (int k = 0; k < index_args; ++k)
    outer_params.push_back(b_.getInt64Ty());
  auto* outlined =
      llvm::Function::Create(llvm::FunctionType::get(b_.getVoidTy(), outer_params, false),
                             llvm::Function::InternalLinkage, name, module_);

  auto ip = b_.saveIP();
  llvm::Function* step = std::exchange(fn_, inner);
  std::vector<llvm::Value*> step_buffers = buffers_;
  llvm::Value* step_status = status_;
  llvm::Value* step_pool = std::exchange(pool_, llvm::ConstantPointerNull::get(b_.getPtrTy()));
  bool was_outlining = std::exchange(outlining_, true);
  b_.SetInsertPoint(llvm::BasicBlock::Create(context(), "entry", inner));
  for (size_t j = 0; j < used.size(); ++j)
    buffers_[used[j]] = inner->getArg(unsigned(param[j]));
  status_ = inner->getArg(unsigned(addresses.size() - 1));
  std::vector<llvm::Value*> index;
  for (int k = 0; k < index_args; ++k)
    index.push_back(inner->getArg(unsigned(addresses.size()) + unsigned(k)));
  emit(index);
  if (auto it = nonfinite_flags_.find(inner); it != nonfinite_flags_.end()) {
    // check_numerics: the chunk's non-finite flag, for the step's sync() (other chunks may set
    // it at the same time).
    llvm::BasicBlock* set = llvm::BasicBlock::Create(context(), "nonfinite.set", inner);
    llvm::BasicBlock* done = llvm::BasicBlock::Create(context(), "nonfinite.done", inner);
    llvm::Value* sum = b_.CreateLoad(b_.getFloatTy(), it->second);
    b_.CreateCondBr(b_.CreateFCmpUNO(sum, sum), set, done);
    b_.SetInsertPoint(set);
    b_.CreateAtomicRMW(llvm::AtomicRMWInst::Or, b_.CreateConstGEP1_64(b_.getInt64Ty(), status_, 4),
                       i64(1), llvm::Align(8), llvm::AtomicOrdering::Monotonic);
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
  }
  b_.CreateRetVoid();

  b_.SetInsertPoint(llvm::BasicBlock::Create(context(), "entry", outlined));
  std::vector<llvm::Value*> args;
  for (size_t j = 0; j < addresses.size(); ++j)
    args.push_back(b_.CreateLoad(ptr, b_.CreateConstInBoundsGEP1_64(ptr, outlined->getArg(0), j)));
  for (int k = 0; k < index_args; ++k)
    args.push_back(outlined->getArg(unsigned(k) + 1));
  b_.CreateCall(inner, args);
  b_.CreateRetVoid();

  fn_ = step;
  outlining_ = was_outlining;
  buffers_ = std::move(step_buffers);
  status_ = step_status;
  pool_ = step_pool;
  b_.restoreIP(ip);
  return {outlined, ctx};
}

void Lowerer::unless_failed(ValueId first, ValueId last, const std::function<void()>& body) {
  bool in_place = false;
  for (ValueId m = first; m <= last; ++m)
    in_place |= memory_.buffers[m].storage == Storage::in_place;
  if (!in_place) return body();
  // It writes variables: skipped once a run-time error is recorded, so none changes then.
  llvm::BasicBlock* run = llvm::BasicBlock::Create(context(), "in_place", fn_);
  llvm::BasicBlock* after = llvm::BasicBlock::Create(context(), "in_place.done", fn_);
  b_.CreateCondBr(b_.CreateICmpEQ(b_.CreateLoad(b_.getInt64Ty(), status_), i64(0)), run, after);
  b_.SetInsertPoint(run);
  body();
  b_.CreateBr(after);
  b_.SetInsertPoint(after);
}

void Lowerer::commit() {
  llvm::BasicBlock* store_all = llvm::BasicBlock::Create(context(), "commit", fn_);
  llvm::BasicBlock* done = llvm::BasicBlock::Create(context(), "done", fn_);
  llvm::Value* code = b_.CreateLoad(b_.getInt64Ty(), status_);
  b_.CreateCondBr(b_.CreateICmpEQ(code, i64(0)), store_all, done);
  b_.SetInsertPoint(store_all);
  // Outputs first: an output that reads a variable must see its value from before the step.
  for (size_t i = 0; i < graph_.outputs().size(); ++i) {
    ValueId v = graph_.outputs()[i].value;
    llvm::Value* dst =
        b_.CreateLoad(b_.getPtrTy(), b_.CreateConstGEP1_64(b_.getPtrTy(), outputs_, i));
    b_.CreateMemCpy(dst, llvm::MaybeAlign(dtype_size(graph_.type(v).dtype)), buffer(v),
                    llvm::MaybeAlign(dtype_size(graph_.type(v).dtype)),
                    i64(int64_t(graph_.type(v).byte_size())));
  }
  for (ValueId v = 0; v < graph_.size(); ++v) {
    const Node& n = graph_.node(v);
    if (n.op != Op::assign || memory_.buffers[n.operands[1]].storage == Storage::in_place)
      continue; // written into the variable during the step
    auto align = llvm::MaybeAlign(dtype_size(n.type.dtype));
    b_.CreateMemMove(buffer(n.operands[0]), align, buffer(v), align,
                     i64(int64_t(n.type.byte_size())));
  }
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
}

void Lowerer::enter(llvm::Function* f) {
  fn_ = step_fn_ = f;
  inputs_ = f->getArg(0);
  variables_ = f->getArg(1);
  outputs_ = f->getArg(2);
  arena_ = f->getArg(3);
  status_ = f->getArg(4);
  pool_ = f->getArg(5);
  buffers_.assign(graph_.size(), nullptr);
  addresses_ = &f->getEntryBlock();
}

void Lowerer::begin_function(llvm::Function* f) {
  const char* arg_names[] = {"inputs", "variables", "outputs", "arena", "status", "pool"};
  for (unsigned i = 0; i < 6; ++i)
    f->getArg(i)->setName(arg_names[i]);
  // "entry" holds the allocas and the buffer addresses (filled as they are used); code goes on
  // in "body".
  llvm::BasicBlock* entry = llvm::BasicBlock::Create(context(), "entry", f);
  llvm::BasicBlock* body = llvm::BasicBlock::Create(context(), "body", f);
  llvm::IRBuilder<>(entry).CreateBr(body);
  enter(f);
  b_.SetInsertPoint(body);
}

void Lowerer::run() {
  llvm::Type* ptr = b_.getPtrTy();
  auto* type = llvm::FunctionType::get(b_.getVoidTy(), {ptr, ptr, ptr, ptr, ptr, ptr}, false);
  llvm::Function* step =
      llvm::Function::Create(type, llvm::Function::ExternalLinkage, kStepFunction, module_);
  begin_function(step);

  slot_.assign(graph_.size(), 0);
  int inputs = 0, variables = 0;
  for (ValueId v = 0; v < graph_.size(); ++v) {
    if (graph_.node(v).op == Op::input) slot_[v] = inputs++;
    if (graph_.node(v).op == Op::variable) slot_[v] = variables++;
  }
  globals_.assign(graph_.size(), nullptr);
  // The checks of failing ops, by the root whose loop computes them.
  checks_.assign(graph_.size(), {});
  for (ValueId v = 0; v < graph_.size(); ++v)
    if (fusion_.live[v] && lowering_of(graph_.node(v).op).check)
      checks_[fusion_.root[v]].push_back(v);

  // A large step is split into functions of kNodesPerFunction live nodes, called in order: LLVM's
  // code generator is superlinear in the size of a basic block, and tiny loops unrolled one after
  // another make one block of the whole step (a 10^5-op chain took a minute in one function).
  std::vector<std::pair<ValueId, ValueId>> parts{{0, 0}};
  int in_part = 0;
  for (ValueId v = 0; v < graph_.size(); ++v) {
    if (fusion_.live[v] && ++in_part > kNodesPerFunction) {
      parts.back().second = v;
      parts.push_back({v, v});
      in_part = 1;
    }
  }
  parts.back().second = static_cast<ValueId>(graph_.size());

  b_.CreateStore(i64(0), status_);
  if (parts.size() == 1) {
    for (ValueId v = 0; v < graph_.size(); ++v)
      lower_node(v);
  } else {
    std::vector<llvm::Value*> args;
    for (llvm::Argument& a : step->args())
      args.push_back(&a);
    std::vector<llvm::Function*> functions;
    for (size_t k = 0; k < parts.size(); ++k) {
      functions.push_back(llvm::Function::Create(type, llvm::Function::InternalLinkage,
                                                 fmt::format("{}.part{}", kStepFunction, k),
                                                 module_));
      functions.back()->addFnAttr(llvm::Attribute::NoInline);
      b_.CreateCall(functions.back(), args);
    }
    llvm::IRBuilderBase::InsertPoint main = b_.saveIP();
    for (size_t k = 0; k < parts.size(); ++k) {
      begin_function(functions[k]);
      for (ValueId v = parts[k].first; v < parts[k].second; ++v)
        lower_node(v);
      b_.CreateRetVoid();
    }
    enter(step); // the commit follows the calls
    b_.restoreIP(main);
  }
  commit();
  b_.CreateRetVoid();
}

std::unique_ptr<llvm::Module> lower_to_llvm(const Graph& graph, const FusionPlan& fusion,
                                            const MemoryPlan& memory, llvm::LLVMContext& context,
                                            bool check_numerics) {
  auto module = std::make_unique<llvm::Module>(graph.name(), context);
  Lowerer lowerer(graph, fusion, memory, *module, check_numerics);
  lowerer.run();
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyModule(*module, &os))
    internal_error("lower_to_llvm produced invalid LLVM IR: " + os.str());
  return module;
}

} // namespace sj
