#!/usr/bin/python3
"""Reference values for sj::GPT from PyTorch: a tiny GPT-2 (2 layers, 2 heads, 8 channels,
vocabulary 11, context 8) written here from GPT-2's definition with Hugging Face's parameter
names, random weights, fixed tokens. Writes tests/frontend/torch_gpt/: every weight
(<name>.npy), the tokens (x.npy, y.npy, i32 [2, 5]), the logits, the mean next-token loss, and
the gradient of the loss with respect to every weight (d.<name>.npy), all float64 but the
tokens. tests/frontend/torch_gpt_reference_test.cpp compares; CI needs no Python. Rerun:

    /usr/bin/python3 tests/frontend/torch_gpt_reference.py
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_gpt")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(13)
V, T_MAX, L, H, C = 11, 8, 2, 2, 8
B, T = 2, 5

shapes = {"wte.weight": (V, C), "wpe.weight": (T_MAX, C)}
for i in range(L):
    p = f"h.{i}."
    shapes.update({p + "ln_1.weight": (C,), p + "ln_1.bias": (C,),
                   p + "attn.c_attn.weight": (C, 3 * C), p + "attn.c_attn.bias": (3 * C,),
                   p + "attn.c_proj.weight": (C, C), p + "attn.c_proj.bias": (C,),
                   p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
                   p + "mlp.c_fc.weight": (C, 4 * C), p + "mlp.c_fc.bias": (4 * C,),
                   p + "mlp.c_proj.weight": (4 * C, C), p + "mlp.c_proj.bias": (C,)})
shapes.update({"ln_f.weight": (C,), "ln_f.bias": (C,)})
w = {}
for name, shape in shapes.items():
    # LayerNorm weights near 1, everything else of magnitude ~0.3 (larger than GPT-2's 0.02, so
    # every term of the gradient matters).
    base = 1.0 if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight" else 0.0
    w[name] = torch.tensor(base + rng.uniform(-0.3, 0.3, size=shape), requires_grad=True)

x = torch.tensor(rng.integers(0, V, size=(B, T)), dtype=torch.long)
y = torch.tensor(rng.integers(0, V, size=(B, T)), dtype=torch.long)


def layer_norm(h, name):
    return F.layer_norm(h, (C,), w[name + ".weight"], w[name + ".bias"], eps=1e-5)


h = w["wte.weight"][x] + w["wpe.weight"][torch.arange(T)]
for i in range(L):
    p = f"h.{i}."
    a = layer_norm(h, p + "ln_1")
    qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
    q, k, v = qkv.split(C, dim=2)
    q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
    att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
    att = att.masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf")).softmax(-1)
    o = (att @ v).transpose(1, 2).reshape(B, T, C)
    h = h + o @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
    m = layer_norm(h, p + "ln_2") @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
    m = F.gelu(m, approximate="tanh")
    h = h + m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
logits = layer_norm(h, "ln_f") @ w["wte.weight"].T
loss = F.cross_entropy(logits.reshape(B * T, V), y.reshape(B * T))
loss.backward()


def save(name, a, dtype=np.float64):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else a
    np.save(os.path.join(OUT, name + ".npy"), np.asarray(a, dtype=dtype))  # (0-d stays 0-d)


for name, t in w.items():
    save(name, t)
    save("d." + name, t.grad)
save("x", x, np.int32)
save("y", y, np.int32)
save("logits", logits)
save("loss", loss)
print(f"loss {loss.item():.6f}; wrote {len(os.listdir(OUT))} files to {OUT}")
