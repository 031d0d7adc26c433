// ember::io: a model's parameters to and from a safetensors file, named as in a PyTorch
// state_dict ("0.weight", "fc1.bias", ...), so weights move between PyTorch and ember both ways:
//
//   io::save(model, "mlp.safetensors");   // torch: model.load_state_dict(safetensors.torch.load_file(...))
//   io::load(model, "mlp.safetensors");   // torch: safetensors.torch.save_file(model.state_dict(), ...)
//
// The format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N,
// N bytes of JSON mapping each name to {"dtype", "shape", "data_offsets": [begin, end]}, then the
// raw row-major little-endian data, offsets counted from the end of the header.
//
// save() is atomic: it writes a temporary file in the same folder, flushes it to disk and renames
// it over the target, so a failed save leaves the previous file as it was. load() treats the file
// as hostile: every length, offset, shape and dtype is checked against the file's real size and
// against the model before a byte is used; all mismatches are reported in one ember::Error, and
// the model is changed only when the whole file checks out. F32 and F64 tensors load into float or
// double models (converted as PyTorch's load_state_dict converts).
//
// Not in the umbrella header: this one needs nlohmann-json (Debian: nlohmann-json3-dev), which
// the rest of ember does not.
#pragma once

#if !__has_include(<nlohmann/json.hpp>)
#error "<ember/io.hpp> needs nlohmann-json: apt-get install nlohmann-json3-dev"
#endif

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "ember/error.hpp"
#include "ember/nn/module.hpp"
#include "ember/tensor.hpp"

namespace ember::io {

namespace detail {

static_assert(std::endian::native == std::endian::little, "ember::io writes and reads little-endian data");

// A header longer than this is refused before it is read (the reference implementation's limit).
inline constexpr std::uint64_t max_header_bytes = 100'000'000;

template <class T>
inline constexpr const char* dtype_of = std::is_same_v<T, double> ? "F64" : "F32";

inline std::uint64_t dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F64") return 8;
  return 0;
}

inline std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

// A temporary file next to the target, removed again unless commit() renamed it into place.
class AtomicFile {
 public:
  explicit AtomicFile(const std::filesystem::path& target) : target_(target) {
    const auto folder = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    std::string pattern = (folder / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
    fd_ = ::mkstemp(pattern.data());
    ember::detail::check(fd_ >= 0, "io::save: cannot create a temporary file in ", folder, " for ", target, ": ",
                         errno_text(errno));
    temp_ = pattern;
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_.empty()) ::unlink(temp_.c_str());
  }

  void write(const void* data, std::size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
      const ssize_t n = ::write(fd_, p, bytes);
      if (n < 0 && errno == EINTR) continue;
      ember::detail::check(n > 0, "io::save: writing ", target_, " failed: ", errno_text(errno),
                           " (the previous file, if any, is unchanged)");
      p += n;
      bytes -= static_cast<std::size_t>(n);
    }
  }

  // Flushes the data to disk, renames the file over the target and flushes the folder.
  void commit() {
    ember::detail::check(::fsync(fd_) == 0, "io::save: flushing ", target_, " to disk failed: ", errno_text(errno),
                         " (the previous file, if any, is unchanged)");
    // mkstemp creates the file 0600: keep the replaced file's permissions, or make it 0644
    // (reading the umask would change it for every thread while it is read).
    struct stat old {};
    ::fchmod(fd_, ::stat(target_.c_str(), &old) == 0 ? (old.st_mode & 07777) : 0644);
    const int fd = fd_;
    fd_ = -1;
    ember::detail::check(::close(fd) == 0, "io::save: closing ", target_, " failed: ", errno_text(errno),
                         " (the previous file, if any, is unchanged)");
    ember::detail::check(::rename(temp_.c_str(), target_.c_str()) == 0, "io::save: cannot replace ", target_, ": ",
                         errno_text(errno), " (the previous file, if any, is unchanged)");
    temp_.clear();
    const auto folder = target_.has_parent_path() ? target_.parent_path() : std::filesystem::path(".");
    if (const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY); dir >= 0) {
      ::fsync(dir);  // the rename itself reaches the disk
      ::close(dir);
    }
  }

 private:
  std::filesystem::path target_;
  std::string temp_;
  int fd_ = -1;
};

inline std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

template <class T>
std::vector<std::int64_t> dims_of(const Tensor<T>& t) {
  std::vector<std::int64_t> dims(static_cast<std::size_t>(t.dim()));
  for (int d = 0; d < t.dim(); ++d) dims[static_cast<std::size_t>(d)] = t.size(d);
  return dims;
}

// One tensor of the file, checked: where its bytes are in the buffer and what they are.
struct Entry {
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

// Parses and checks a safetensors header against the data buffer's size. Problems are appended
// to `errors`; the entries that passed are returned.
inline std::map<std::string, Entry> parse_header(const std::string& text, std::uint64_t buffer_bytes,
                                                 std::vector<std::string>& errors) {
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    errors.push_back(std::string("the header is not valid JSON: ") + e.what());
    return {};
  }
  if (!header.is_object()) {
    errors.push_back("the header is not a JSON object");
    return {};
  }
  std::map<std::string, Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string where = "tensor \"" + name + "\": ";
    if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets") ||
        !value["dtype"].is_string() || !value["shape"].is_array() || !value["data_offsets"].is_array() ||
        value["data_offsets"].size() != 2) {
      errors.push_back(where + "expected {\"dtype\": string, \"shape\": [...], \"data_offsets\": [begin, end]}");
      continue;
    }
    Entry e;
    e.dtype = value["dtype"].get<std::string>();
    const std::uint64_t item = dtype_size(e.dtype);
    if (item == 0) {
      errors.push_back(where + "dtype " + e.dtype + " is not supported (ember reads F32 and F64)");
      continue;
    }
    bool ok = true;
    std::uint64_t numel = 1;
    for (const auto& d : value["shape"]) {
      if (!d.is_number_unsigned() || d.get<std::uint64_t>() > (std::uint64_t(1) << 40)) {
        ok = false;
        break;
      }
      const std::uint64_t size = d.get<std::uint64_t>();
      e.shape.push_back(static_cast<std::int64_t>(size));
      // Saturates past the buffer (too big either way) instead of overflowing.
      numel = size != 0 && numel > buffer_bytes / size ? buffer_bytes + 1 : numel * size;
    }
    if (!ok) {
      errors.push_back(where + "shape " + value["shape"].dump() + " is not a list of sizes");
      continue;
    }
    const auto& off = value["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      errors.push_back(where + "data_offsets " + off.dump() + " are not two byte offsets");
      continue;
    }
    e.begin = off[0].get<std::uint64_t>();
    e.end = off[1].get<std::uint64_t>();
    if (e.begin > e.end || e.end > buffer_bytes) {
      errors.push_back(where + "data_offsets " + off.dump() + " lie outside the " + std::to_string(buffer_bytes) +
                       " bytes of data");
      continue;
    }
    if (e.end - e.begin != numel * item) {
      errors.push_back(where + "data_offsets " + off.dump() + " hold " + std::to_string(e.end - e.begin) +
                       " bytes, but " + e.dtype + " of shape " + shape_text(e.shape) + " takes " +
                       std::to_string(numel * item));
      continue;
    }
    entries.emplace(name, std::move(e));
  }
  // The tensors tile the data exactly, as the format requires: no overlap, no hole.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
  for (const auto& [name, e] : entries) spans.emplace_back(e.begin, e.end);
  std::sort(spans.begin(), spans.end());
  std::uint64_t at = 0;
  for (const auto& [b, e] : spans) {
    if (b != at) {
      errors.push_back(b < at ? "tensors overlap at byte " + std::to_string(b) + " of the data"
                              : "no tensor covers bytes " + std::to_string(at) + "-" + std::to_string(b) +
                                    " of the data");
      break;
    }
    at = e;
  }
  if (errors.empty() && at != buffer_bytes)
    errors.push_back("the data has " + std::to_string(buffer_bytes - at) + " bytes after the last tensor");
  return entries;
}

inline std::string join_errors(const std::filesystem::path& path, const std::vector<std::string>& errors) {
  std::string s = ember::detail::concat("io::load: ", path, ": ");
  if (errors.size() == 1) return s + errors[0];
  s += std::to_string(errors.size()) + " problems:";
  for (const auto& e : errors) s += "\n  " + e;
  return s;
}

}  // namespace detail

// Writes the parameters to `path` in safetensors format, under their names.
template <class T>
void save(const nn::NamedParameters<T>& params, const std::filesystem::path& path) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::uint64_t offset = 0;
  for (const auto& [name, p] : params) {
    ember::detail::check(!header.contains(name), "io::save: two parameters are named \"", name, "\"");
    const std::uint64_t bytes = static_cast<std::uint64_t>(p.value.numel()) * sizeof(T);
    header[name] = {{"dtype", detail::dtype_of<T>}, {"shape", detail::dims_of(p.value)},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // the data starts 8-byte aligned
  const std::uint64_t length = text.size();

  detail::AtomicFile file(path);
  file.write(&length, sizeof length);
  file.write(text.data(), text.size());
  for (const auto& [name, p] : params) file.write(p.value.data(), static_cast<std::size_t>(p.value.numel()) * sizeof(T));
  file.commit();
}

// The model's named_parameters() (an ember layer, Sequential, or a struct of your own with one).
template <class Model>
  requires requires(Model& m) { m.named_parameters(); }
void save(Model& model, const std::filesystem::path& path) {
  save(model.named_parameters(), path);
}

// Reads `path` into the parameters: every parameter must be in the file with its shape, and the
// file must hold nothing else (PyTorch's load_state_dict with strict=True).
template <class T>
void load(const nn::NamedParameters<T>& params, const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  ember::detail::check(!ec, "io::load: cannot read ", path, ": ", ec.message());
  std::ifstream in(path, std::ios::binary);
  ember::detail::check(static_cast<bool>(in), "io::load: cannot open ", path);
  ember::detail::check(size >= 8, "io::load: ", path, ": ", size,
                       " bytes is too short for a safetensors file (it starts with an 8-byte header length)");
  std::uint64_t length = 0;
  in.read(reinterpret_cast<char*>(&length), sizeof length);
  ember::detail::check(length <= size - 8 && length <= detail::max_header_bytes, "io::load: ", path,
                       ": the header length says ", length, " bytes, but the file has ", size - 8,
                       " after it; not a safetensors file, or a truncated one");
  std::string text(length, '\0');
  std::vector<char> data(size - 8 - length);
  in.read(text.data(), static_cast<std::streamsize>(length));
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  ember::detail::check(static_cast<bool>(in), "io::load: reading ", path, " failed");

  std::vector<std::string> errors;
  const auto entries = detail::parse_header(text, data.size(), errors);
  if (errors.empty()) {
    std::vector<std::string> seen;
    for (const auto& [name, p] : params) {
      seen.push_back(name);
      const auto it = entries.find(name);
      if (it == entries.end()) {
        errors.push_back("\"" + name + "\" is missing (the model's " + detail::shape_text(detail::dims_of(p.value)) +
                         ")");
      } else if (it->second.shape != detail::dims_of(p.value)) {
        errors.push_back("\"" + name + "\" has shape " + detail::shape_text(it->second.shape) +
                         " in the file, the model's is " + detail::shape_text(detail::dims_of(p.value)));
      }
    }
    for (const auto& [name, e] : entries)
      if (std::find(seen.begin(), seen.end(), name) == seen.end())
        errors.push_back("\"" + name + "\" " + detail::shape_text(e.shape) + " is not a parameter of the model");
  }
  if (!errors.empty()) throw Error(detail::join_errors(path, errors));

  // Everything checked: only now is the model changed.
  for (const auto& [name, p] : params) {
    const auto& e = entries.at(name);
    const char* src = data.data() + e.begin;
    T* dst = p.value.data();
    const index_t n = p.value.numel();
    if (e.dtype == "F32") {
      for (index_t i = 0; i < n; ++i) {
        float v;
        std::memcpy(&v, src + i * 4, 4);
        dst[i] = static_cast<T>(v);
      }
    } else {
      for (index_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, src + i * 8, 8);
        dst[i] = static_cast<T>(v);
      }
    }
  }
}

template <class Model>
  requires requires(Model& m) { m.named_parameters(); }
void load(Model& model, const std::filesystem::path& path) {
  load(model.named_parameters(), path);
}

}  // namespace ember::io
