// Overloaded — the lambdas given, as one visitor (for std::visit over a message variant).
#pragma once

namespace cairn {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace cairn
