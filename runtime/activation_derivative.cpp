// Element-wise activation derivatives; mlp_gradients.cpp keeps a private copy of the same code.
#include "runtime/activation_derivative.h"

#include <cmath>

namespace kmr::runtime {

void scale_by_activation_derivative(Activation act, const Matrix& z, Matrix& delta) {
  switch (act) {
    case Activation::relu:
      delta = (z.array() > 0.0f).select(delta.array(), 0.0f).matrix();
      break;
    case Activation::tanh:
      delta.array() *= 1.0f - z.array().tanh().square();
      break;
    case Activation::gelu: {
      // d/dz [z Φ(z)] = Φ(z) + z φ(z)
      const Matrix d = z.unaryExpr([](float x) {
        const float cdf = 0.5f * (1.0f + std::erf(x * 0.70710678118654752f));
        const float pdf = 0.39894228040143268f * std::exp(-0.5f * x * x);
        return cdf + x * pdf;
      });
      delta.array() *= d.array();
      break;
    }
  }
}

}  // namespace kmr::runtime
