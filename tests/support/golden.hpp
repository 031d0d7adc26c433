// Reader for the PyTorch golden-value files in tests/golden/*.txt
// (written by tests/golden/make_golden.py). Standard library only.
//
// File format:
//   # comment lines (first non-blank character '#') are allowed anywhere
//   tensor <name> <ndim> <d0> <d1> ...
//   <all values, row-major, separated by whitespace>
// The values line is the first non-comment line after the header (it is
// empty for a tensor with zero elements). A scalar has ndim 0 and one value.
// Blank lines between tensors are ignored.
//
// The data is float32: every value token that is not a plain integer
// ([+-]digits) is parsed with std::strtod and then rounded to float, so
// Tensor::values holds the exact float32 values PyTorch produced (the files
// store the shortest decimal that rounds back to that float32). Plain integer
// tokens (labels) are kept exactly as parsed.
//
// Usage:
//   golden::File f("linear.txt");          // EMBER_GOLDEN_DIR "/linear.txt"
//   const golden::Tensor& w = f["weight"];  // w.shape == {3, 5}
#pragma once

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef EMBER_GOLDEN_DIR
#error "EMBER_GOLDEN_DIR must be defined as a string literal path to tests/golden"
#endif

namespace golden {

struct Tensor {
  std::vector<std::int64_t> shape;
  std::vector<double> values;

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return n;
  }
};

namespace detail {

inline bool is_blank(const std::string& line) {
  for (unsigned char c : line)
    if (!std::isspace(c)) return false;
  return true;
}

inline bool is_comment(const std::string& line) {
  for (unsigned char c : line) {
    if (std::isspace(c)) continue;
    return c == '#';
  }
  return false;
}

inline std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    std::size_t j = i;
    while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

inline bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (!(std::isalnum(c) || c == '_' || c == '.')) return false;
  return true;
}

inline bool is_plain_integer(const std::string& tok) {
  std::size_t i = (!tok.empty() && (tok[0] == '+' || tok[0] == '-')) ? 1 : 0;
  if (i == tok.size()) return false;
  for (; i < tok.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(tok[i]))) return false;
  return true;
}

// Parses a non-negative integer token (ndim or a dimension); false on error.
inline bool parse_count(const std::string& tok, std::int64_t& out) {
  if (tok.empty() || tok.size() > 12) return false;
  std::int64_t v = 0;
  for (unsigned char c : tok) {
    if (!std::isdigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

}  // namespace detail

class File {
 public:
  explicit File(const std::string& name) : path_(std::string(EMBER_GOLDEN_DIR) + "/" + name) {
    std::ifstream in(path_);
    if (!in) throw std::runtime_error("golden file '" + path_ + "': cannot open");

    std::string line;
    std::size_t line_no = 0;
    auto fail = [&](const std::string& what) {
      throw std::runtime_error("golden file '" + path_ + "' line " + std::to_string(line_no) +
                               ": " + what);
    };

    while (std::getline(in, line)) {
      ++line_no;
      if (detail::is_blank(line) || detail::is_comment(line)) continue;

      // header: tensor <name> <ndim> <dims...>
      const std::vector<std::string> head = detail::split(line);
      // "tensor64": doubles, kept as written; "tensor": float32 values (or integers)
      if (head.size() < 3 || (head[0] != "tensor" && head[0] != "tensor64"))
        fail("expected 'tensor <name> <ndim> <dims...>'");
      const bool doubles = head[0] == "tensor64";
      const std::string& tname = head[1];
      if (!detail::valid_name(tname)) fail("bad tensor name '" + tname + "'");
      if (tensors_.count(tname) != 0) fail("duplicate tensor '" + tname + "'");
      std::int64_t ndim = 0;
      if (!detail::parse_count(head[2], ndim)) fail("bad ndim for tensor '" + tname + "'");
      if (static_cast<std::int64_t>(head.size()) != 3 + ndim)
        fail("tensor '" + tname + "': ndim is " + head[2] + " but " +
             std::to_string(head.size() - 3) + " dims are given");
      Tensor t;
      std::int64_t expected = 1;
      for (std::int64_t i = 0; i < ndim; ++i) {
        std::int64_t d = 0;
        if (!detail::parse_count(head[3 + i], d)) fail("tensor '" + tname + "': bad dim '" + head[3 + i] + "'");
        t.shape.push_back(d);
        expected *= d;
        if (expected > (std::int64_t{1} << 40)) fail("tensor '" + tname + "': too many elements");
      }

      // values: the next non-comment line
      bool have_values = false;
      while (std::getline(in, line)) {
        ++line_no;
        if (detail::is_comment(line)) continue;
        have_values = true;
        break;
      }
      if (!have_values) fail("tensor '" + tname + "': missing values line");

      t.values.reserve(static_cast<std::size_t>(expected));
      for (const std::string& tok : detail::split(line)) {
        const char* begin = tok.c_str();
        char* end = nullptr;
        errno = 0;
        double v = std::strtod(begin, &end);
        if (end != begin + tok.size() || errno == ERANGE)
          fail("tensor '" + tname + "': bad value '" + tok + "'");
        if (!doubles && !detail::is_plain_integer(tok)) v = static_cast<double>(static_cast<float>(v));
        t.values.push_back(v);
      }
      if (static_cast<std::int64_t>(t.values.size()) != expected)
        fail("tensor '" + tname + "': expected " + std::to_string(expected) + " values, got " +
             std::to_string(t.values.size()));
      tensors_.emplace(tname, std::move(t));
    }
    if (in.bad()) throw std::runtime_error("golden file '" + path_ + "': read error");
  }

  const Tensor& operator[](const std::string& tensor_name) const {
    auto it = tensors_.find(tensor_name);
    if (it == tensors_.end())
      throw std::runtime_error("golden file '" + path_ + "': no tensor named '" + tensor_name + "'");
    return it->second;
  }

  bool contains(const std::string& tensor_name) const { return tensors_.count(tensor_name) != 0; }

  // All tensor names, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& kv : tensors_) out.push_back(kv.first);
    return out;
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::map<std::string, Tensor> tensors_;
};

}  // namespace golden
