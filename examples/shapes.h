// "Shapes": a small image classification data set the project generates (docs/data.md), so the
// CNN example and its test need no download. Each example is a 16x16 grayscale image (NHWC,
// one channel) of one of four shapes drawn at a random position, size and brightness on a
// noisy background:
//
//   0 square outline    1 filled disk    2 plus sign    3 diagonal cross (an X)
//
// The values are a pure function of (seed, example index): the same seed gives the same set on
// every machine.
#pragma once

#include "graph/initializers.h"
#include "graph/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace shapes {

inline constexpr int64_t kSize = 16, kClasses = 4;
inline constexpr const char* kClassNames[kClasses] = {"square", "disk", "plus", "cross"};

struct DataSet {
  sj::Tensor images; // f32 [n, 16, 16, 1], pixels in about [-0.5, 1.5]
  sj::Tensor labels; // i32 [n], example i has label i % 4
};

/// n examples from `seed`.
inline DataSet generate(int64_t n, uint64_t seed) {
  std::vector<float> pixels(n * kSize * kSize);
  std::vector<int32_t> labels(n);
  uint64_t counter = 0;
  auto uniform = [&](double lo, double hi) {
    return lo + (hi - lo) * sj::random_uniform01(seed, counter++);
  };
  for (int64_t i = 0; i < n; ++i) {
    int label = static_cast<int>(i % kClasses);
    labels[i] = label;
    double r = uniform(3, 6.5); // half the shape's extent, in pixels
    double cy = uniform(r, kSize - 1 - r), cx = uniform(r, kSize - 1 - r);
    double brightness = uniform(0.6, 1.0);
    float* image = pixels.data() + i * kSize * kSize;
    for (int64_t y = 0; y < kSize; ++y)
      for (int64_t x = 0; x < kSize; ++x) {
        double dy = double(y) - cy, dx = double(x) - cx;
        bool on = false;
        switch (label) {
        case 0: { // the outline of a square: within r of the centre, 1.2 pixels from its edge
          double d = std::max(std::abs(dy), std::abs(dx));
          on = d <= r && d >= r - 1.2;
          break;
        }
        case 1:
          on = dy * dy + dx * dx <= r * r;
          break;
        case 2:
          on = (std::abs(dy) <= 0.8 && std::abs(dx) <= r) ||
               (std::abs(dx) <= 0.8 && std::abs(dy) <= r);
          break;
        case 3:
          on = std::max(std::abs(dy), std::abs(dx)) <= r &&
               (std::abs(dy - dx) <= 1.1 || std::abs(dy + dx) <= 1.1);
          break;
        }
        // Gaussian noise (Box-Muller) of standard deviation 0.2 on every pixel.
        double u1 = sj::random_uniform01(seed, counter++),
               u2 = sj::random_uniform01(seed, counter++);
        double noise = 0.2 * std::sqrt(-2 * std::log1p(-u1)) * std::cos(6.283185307179586 * u2);
        image[y * kSize + x] = static_cast<float>((on ? brightness : 0.0) + noise);
      }
  }
  return {sj::Tensor::from<float>({n, kSize, kSize, 1}, pixels),
          sj::Tensor::from<int32_t>({n}, labels)};
}

} // namespace shapes
