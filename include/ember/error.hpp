// ember::Error: the one exception type for every error a user can cause.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ember {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {

// Builds a message from any streamable pieces: concat("Linear(", 3, ")").
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// A user-facing check that stays on in every build type.
template <class... Args>
void check(bool ok, const Args&... message) {
  if (!ok) throw Error(concat(message...));
}

}  // namespace detail
}  // namespace ember
